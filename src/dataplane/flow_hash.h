// The software dispatcher's symmetric hash: CRC32C over the session's
// endpoints put in a canonical order, so both directions of a conversation
// pick the same worker. DPDK-free (SSE4.2 CRC32C), unit-tested for symmetry.
// ICMP uses the echo identifier instead of type/code, which differ between a
// request and its reply.
#pragma once

#include <nmmintrin.h>

#include <cstdint>
#include <cstring>

#include "packet/parsed_packet.h"

namespace flowtrail::dataplane {

inline uint32_t Crc32c16(uint32_t crc, const uint8_t* p) {
  uint64_t a, b;
  std::memcpy(&a, p, 8);
  std::memcpy(&b, p + 8, 8);
  crc = static_cast<uint32_t>(_mm_crc32_u64(crc, a));
  return static_cast<uint32_t>(_mm_crc32_u64(crc, b));
}

inline uint32_t SymmetricFlowHash(const packet::ParsedPacket& p) {
  uint16_t sport = p.src_port;
  uint16_t dport = p.dst_port;
  if (p.protocol == packet::kProtoIcmp || p.protocol == packet::kProtoIcmpV6) {
    sport = dport = p.icmp_id;
  }
  const int c = std::memcmp(p.src.bytes.data(), p.dst.bytes.data(), 16);
  const bool src_low = c < 0 || (c == 0 && sport <= dport);
  const IpAddress& lo = src_low ? p.src : p.dst;
  const IpAddress& hi = src_low ? p.dst : p.src;
  const uint16_t lo_port = src_low ? sport : dport;
  const uint16_t hi_port = src_low ? dport : sport;
  uint32_t crc = 0xffffffffu;
  crc = Crc32c16(crc, lo.bytes.data());
  crc = Crc32c16(crc, hi.bytes.data());
  const uint64_t tail = (uint64_t{lo_port} << 32) | (uint64_t{hi_port} << 16) | p.protocol;
  return ~static_cast<uint32_t>(_mm_crc32_u64(crc, tail));
}

// Worker index for a hash; multiply-shift avoids a division per packet.
inline uint32_t WorkerForHash(uint32_t hash, uint32_t workers) {
  return static_cast<uint32_t>((uint64_t{hash} * workers) >> 32);
}

}  // namespace flowtrail::dataplane
