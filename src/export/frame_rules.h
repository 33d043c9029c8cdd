// The rules every reader of a segment applies to each frame
// (proto/flowtrail/v1/session.proto): the length prefix, then for a parsed
// frame its size cap, a header first (its sequence agreeing with its
// first_sequence, schema version 1), consecutive sequence numbers (a data
// frame's below 2^64 - 1, so one can follow it), valid records, a trailer
// whose counts match, frames of unknown type skipped.
// One definition for the file reader (StreamReader) and the collector's
// network decoder (collect/frame_decoder.h), so both give the same verdict
// and the same message for every stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::exporter {

// The varint length prefix at p (n bytes available): true with *len and
// *prefix (its bytes) once complete within 10 bytes. A caller with 10 or more
// bytes and no complete varint has a malformed length; with fewer, it needs
// more input. A 10-byte varint whose last byte exceeds 1 overflows 64 bits:
// LengthPrefixOverflows.
bool ParseLengthPrefix(const uint8_t* p, size_t n, uint64_t* len, size_t* prefix);
inline bool LengthPrefixOverflows(const uint8_t* p, size_t prefix) {
  return prefix == 10 && p[prefix - 1] > 1;
}

// "header", "record", ... for messages.
const char* FrameBodyName(v1::Frame::BodyCase body);

class SegmentRules {
 public:
  // Checks a parsed frame of `len` body bytes against the frames before it
  // and counts it; the error names the problem (callers add the byte offset).
  // Frames other than snapshots are held to `max_frame_bytes`.
  absl::Status Check(const v1::Frame& frame, size_t len, size_t max_frame_bytes);

  bool has_header() const { return has_header_; }
  bool has_trailer() const { return has_trailer_; }
  uint64_t first_sequence() const { return first_sequence_; }
  // One past the last frame accepted (the trailer included).
  uint64_t next_sequence() const { return next_sequence_; }
  uint64_t records() const { return records_; }
  uint64_t snapshots() const { return snapshots_; }
  uint64_t frames_skipped() const { return frames_skipped_; }

 private:
  bool has_header_ = false;
  bool has_trailer_ = false;
  uint64_t first_sequence_ = 0;
  uint64_t next_sequence_ = 0;
  uint64_t records_ = 0;
  uint64_t snapshots_ = 0;
  uint64_t frames_skipped_ = 0;
};

}  // namespace flowtrail::exporter
