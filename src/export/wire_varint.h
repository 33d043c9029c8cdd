// Protobuf's base-128 varint, written by hand: the record frame encoder
// (record_encoder.cc) and the stream writer's frame prefixes (stream_writer.cc)
// produce exactly protobuf's bytes without a message object per record.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace flowtrail::exporter {

// Bytes of the minimal varint encoding of v (what protobuf writes).
inline size_t VarintSize(uint64_t v) {
  return static_cast<size_t>((64 - std::countl_zero(v | 1)) * 9 + 64) / 64;
}

// Writes v at p (at most kMaxVarintBytes) and returns the end.
inline uint8_t* PutVarint(uint64_t v, uint8_t* p) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

}  // namespace flowtrail::exporter
