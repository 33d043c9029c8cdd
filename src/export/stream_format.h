// Constants of the record stream framing (proto/flowtrail/v1/session.proto),
// shared by the writer and the reader so both agree on the limits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowtrail::exporter {

// Largest frame body a reader accepts. Real frames are a few hundred bytes;
// the cap stops a corrupt length from making a reader allocate gigabytes.
inline constexpr size_t kMaxFrameBytes = 1 << 20;
// Analytics snapshot frames (AnalyticsSnapshot) may be larger, up to this; a
// reader grows its buffer only as the bytes arrive, so a corrupt length costs
// at most twice the bytes actually present.
inline constexpr size_t kMaxSnapshotFrameBytes = size_t{64} << 20;
// A frame (over a few KiB) may hold at most one message per this many of its
// bytes (sub-messages, repeated string elements, unknown fields: FrameShape
// in frame_rules.h), checked on the wire before the parse: an empty message
// costs 2 bytes there and ~170 in memory (84 times its bytes). Every element
// a snapshot writer writes takes 11 bytes or more (a 64-bit hash or a
// 16-byte address, with its tag and length): real snapshots hold one per
// 36-83 bytes, dense synthetic tables one per 26, a table of silent scans
// all at time 0 one per 14. At one per 8 a parse takes at most ~27 times the
// frame's bytes (a real snapshot's: 2-5 times).
inline constexpr size_t kMinBytesPerMessage = 8;

// StreamHeader.schema_revision: 1 records only, 2 snapshot frames may appear,
// 3 segments (run_id, first_sequence). Writers write the newest.
inline constexpr uint32_t kSchemaRevisionRecords = 1;
inline constexpr uint32_t kSchemaRevisionSnapshots = 2;
inline constexpr uint32_t kSchemaRevisionSegments = 3;

// The writer encodes into blocks of this size and hands whole blocks (always
// whole frames) to its ByteSink.
inline constexpr size_t kBlockBytes = size_t{64} * 1024;

// Longest sensor id the writer accepts (it is repeated in every record).
inline constexpr size_t kMaxSensorIdBytes = 256;

// A varint length prefix takes at most this many bytes.
inline constexpr size_t kMaxVarintBytes = 10;

}  // namespace flowtrail::exporter
