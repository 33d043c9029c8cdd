// Constants of the record stream framing (proto/flowtrail/v1/session.proto),
// shared by the writer and the reader so both agree on the limits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowtrail::exporter {

// Largest frame body a reader accepts. Real frames are a few hundred bytes;
// the cap stops a corrupt length from making a reader allocate gigabytes.
inline constexpr size_t kMaxFrameBytes = 1 << 20;

// The writer encodes into blocks of this size and hands whole blocks (always
// whole frames) to its ByteSink.
inline constexpr size_t kBlockBytes = size_t{64} * 1024;

// Longest sensor id the writer accepts (it is repeated in every record).
inline constexpr size_t kMaxSensorIdBytes = 256;

// A varint length prefix takes at most this many bytes.
inline constexpr size_t kMaxVarintBytes = 10;

}  // namespace flowtrail::exporter
