// Reads and validates a record stream (proto/flowtrail/v1/session.proto) from
// a file, stdin or memory. Every frame is checked: the length prefix (a
// well-formed varint within the frame size cap), before the body is parsed
// its cap by type and the messages its parse would create
// (SegmentRules::CheckBeforeParse), the body (present in full, a valid
// Frame), the order (a header with sequence 0 first, then sequence
// numbers rising by one, nothing after the trailer, a trailer whose count
// matches) and each record (every field within its range: ValidateRecord in
// record_encoder.h).
// The first problem ends the stream with an error that names the byte offset
// where the bad frame starts; every good record before it has been returned.
//
// Versioning: a frame whose body this reader does not know (a Frame with
// unknown fields and none of the known bodies, from a newer writer) is
// skipped and counted in frames_skipped(); it still takes its sequence
// number. A frame with no body at all is an error. Snapshot frames
// (schema_revision 2) are not returned by Next(): each is validated as a
// message, counted, and kept as last_snapshot() (the last one of a stream is
// the most complete). The trailer must count them (`snapshots`).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "export/frame_rules.h"
#include "export/stream_format.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::exporter {

// Where the reader gets bytes. Read() returns 0 at the end of the input.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual absl::StatusOr<size_t> Read(std::span<uint8_t> buf) = 0;
};

// A file ("-" = stdin).
absl::StatusOr<std::unique_ptr<ByteSource>> OpenFileSource(const std::string& path);
// Bytes the caller keeps alive while reading.
std::unique_ptr<ByteSource> MemorySource(std::span<const uint8_t> bytes);

struct ReaderOptions {
  size_t max_frame_bytes = kMaxFrameBytes;
  // Snapshot frames may be this large (any other frame is held to the limit
  // above).
  size_t max_snapshot_frame_bytes = kMaxSnapshotFrameBytes;
  // A stream that stops after a whole frame but before the trailer (a sensor
  // still writing, or killed) is an error unless this is false.
  bool require_trailer = true;
};

class StreamReader {
 public:
  explicit StreamReader(std::unique_ptr<ByteSource> source, ReaderOptions options = {});
  static absl::StatusOr<std::unique_ptr<StreamReader>> OpenFile(const std::string& path,
                                                                ReaderOptions options = {});
  static std::unique_ptr<StreamReader> FromBytes(std::span<const uint8_t> bytes,
                                                 ReaderOptions options = {});

  // The next record (valid until the next call), nullptr at the clean end of
  // the stream, or the error that ended it ("byte N: ..."). Once ended, every
  // call returns the same result.
  absl::StatusOr<const v1::SessionRecord*> Next();

  // Null until read.
  const v1::StreamHeader* header() const { return rules_.has_header() ? &header_ : nullptr; }
  const v1::StreamTrailer* trailer() const { return rules_.has_trailer() ? &trailer_ : nullptr; }
  uint64_t records_read() const { return rules_.records(); }
  // The segment's first data sequence (StreamHeader.first_sequence, 1 for a
  // stream before revision 3), once the header is read.
  uint64_t first_sequence() const { return rules_.first_sequence(); }
  // Frame.sequence of the frame read last: of the record Next() just
  // returned (0 before any data frame).
  uint64_t last_sequence() const { return last_sequence_; }
  // One past the last data frame read (records, snapshots, frames of unknown
  // types): where the next segment of the run would start. 0 before the
  // header.
  uint64_t next_data_sequence() const {
    return rules_.has_trailer() ? rules_.next_sequence() - 1 : rules_.next_sequence();
  }
  uint64_t frames_skipped() const { return rules_.frames_skipped(); }
  uint64_t snapshots_read() const { return rules_.snapshots(); }
  // The last snapshot frame read so far, null if none.
  const v1::AnalyticsSnapshot* last_snapshot() const {
    return rules_.snapshots() != 0 ? &last_snapshot_ : nullptr;
  }
  // Moves that snapshot into *out (no copy of a snapshot of up to 64 MiB),
  // freeing what *out held; false, *out unchanged, if none. last_snapshot()
  // is empty after it.
  bool TakeLastSnapshot(v1::AnalyticsSnapshot* out) {
    if (rules_.snapshots() == 0) return false;
    out->Swap(&last_snapshot_);
    v1::AnalyticsSnapshot().Swap(&last_snapshot_);  // Clear() would keep the rows allocated
    return true;
  }
  // Byte offset of the frame the error is about (meaningful after an error).
  uint64_t error_offset() const { return error_offset_; }

 private:
  // Makes at least `n` unread bytes available unless the input ends first;
  // returns how many are available.
  absl::StatusOr<size_t> Ensure(size_t n);
  absl::Status Fail(uint64_t offset, const std::string& message);
  absl::StatusOr<const v1::SessionRecord*> ReadFrame();

  std::unique_ptr<ByteSource> source_;
  ReaderOptions options_;
  std::vector<uint8_t> buf_;
  size_t begin_ = 0;  // unread bytes are buf_[begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t offset_ = 0;  // stream offset of buf_[begin_]

  v1::Frame frame_;
  v1::StreamHeader header_;
  v1::StreamTrailer trailer_;
  bool done_ = false;
  SegmentRules rules_;  // order, counts, validation
  uint64_t last_sequence_ = 0;
  v1::AnalyticsSnapshot last_snapshot_;
  uint64_t error_offset_ = 0;
  absl::Status status_;
};

// Everything in a stream at once (tests, small tools): the records before the
// first error, and that error (OK for a clean stream).
struct StreamContents {
  std::optional<v1::StreamHeader> header;
  std::vector<v1::SessionRecord> records;
  std::optional<v1::StreamTrailer> trailer;
  absl::Status status;
  uint64_t error_offset = 0;
};
StreamContents ReadAll(StreamReader& reader);
StreamContents ReadStreamBytes(std::span<const uint8_t> bytes, ReaderOptions options = {});

}  // namespace flowtrail::exporter
