// The rules every reader of a segment applies to each frame
// (proto/flowtrail/v1/session.proto): the length prefix; before the body is
// parsed, its size cap and what its parse would allocate (FrameShape); then
// for the parsed frame a header first (its sequence agreeing with its
// first_sequence, schema version 1), consecutive sequence numbers (a data
// frame's below 2^64 - 1, so one can follow it), valid records, a trailer
// whose counts match, frames of unknown type skipped.
// One definition for the file reader (StreamReader) and the collector's
// network decoder (collect/frame_decoder.h), so both give the same verdict
// and the same message for every stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

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

// A frame body read from its wire format without building it (the
// Descriptor says which fields are sub-messages, and the walk goes into
// them).
struct FrameShape {
  uint64_t sequence = 0;  // as far as the walk went (writers write it first)
  v1::Frame::BodyCase body = v1::Frame::BODY_NOT_SET;
  // What a parse would create besides the Frame: sub-messages, elements of
  // repeated string and bytes fields, unknown fields (a group and each field
  // in it). Exact for what writers write; a singular sub-message repeated on
  // the wire (a merge) may count more than once. The walk stops at
  // max_messages + 1.
  uint64_t messages = 0;
};
// False if `body` is not wire format the parser could accept (the walk is
// more lenient than the parser, never stricter: UTF-8 and packed contents
// are left to the parse).
bool WalkFrame(std::span<const uint8_t> body, uint64_t max_messages, FrameShape* shape);

class SegmentRules {
 public:
  // The checks a frame body needs before it is parsed: a frame other than a
  // snapshot is held to `max_frame_bytes`, and a frame over a few KiB to one
  // message per kMinBytesPerMessage bytes (stream_format.h), so that no body
  // makes its parse allocate more than a real frame of its size does.
  // Stateless; the error names the problem (callers add the byte offset).
  static absl::Status CheckBeforeParse(std::span<const uint8_t> body, size_t max_frame_bytes);

  // Checks a parsed frame (that passed CheckBeforeParse) against the frames
  // before it and counts it; the error names the problem (callers add the
  // byte offset).
  absl::Status Check(const v1::Frame& frame);

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
