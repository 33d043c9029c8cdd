// Segments of a record stream (proto/flowtrail/v1/session.proto): a run's
// data frames are numbered 1, 2, 3, ... and may be cut into segments (files
// of a rotation, connections to a collector). Each segment opens with its own
// header frame (StreamHeader.first_sequence) and, when it ends cleanly, closes
// with a trailer counting its own frames; SegmentFramer encodes both, so every
// sink that cuts agrees on the framing.
//
// StreamWriter hands data frames (records, snapshots) to a SegmentSink a
// block at a time with a BlockInfo; the sink decides where segments begin and
// end, and may resend a block in a later segment (a collector that did not
// acknowledge it). SingleSegment() is the one-segment sink over a ByteSink
// (a file, stdout, memory).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::exporter {

class ByteSink;

// Which data frames one Write() carries (always whole frames).
struct BlockInfo {
  uint64_t first_sequence = 0;  // Frame.sequence of the first frame
  uint64_t frames = 0;          // data frames in the bytes
  uint64_t records = 0;         // of which record frames (the rest are snapshots)
};

// What the trailer of the run's last segment says.
struct StreamEnd {
  uint64_t next_sequence = 0;    // one past the last data frame of the run
  uint64_t records_dropped = 0;  // records the sensor lost, over the whole run
  uint64_t end_time_us = 0;
};

// The frame-aware destination of a StreamWriter.
class SegmentSink {
 public:
  virtual ~SegmentSink() = default;
  // Once, before any Write: the run's header (first_sequence unset; a sink
  // opens each segment with SegmentFramer::Open).
  virtual absl::Status Begin(const v1::StreamHeader& run_header) = 0;
  // Data frames in stream order; errors are final for the writer.
  virtual absl::Status Write(std::span<const uint8_t> frames, const BlockInfo& info) = 0;
  // Write() for the writer's own block: `*block` (kBlockBytes long) holds
  // `size` bytes of frames. A sink that writes later (AsyncSegmentSink) keeps
  // it and leaves a free block of kBlockBytes in its place, so the writer
  // encodes on without a copy; the default writes it and leaves it there.
  // A failed call leaves `*block` as it was.
  virtual absl::Status WriteBlock(std::unique_ptr<uint8_t[]>* block, size_t size,
                                  const BlockInfo& info) {
    return Write(std::span<const uint8_t>(block->get(), size), info);
  }
  // After a failed Write(): how many leading bytes of `frames` reached the
  // destination anyway (0 when none did or the sink cannot tell).
  virtual size_t failed_write_prefix() const { return 0; }
  virtual absl::Status Flush() = 0;
  // Flush, then make what was written durable (fsync) where the sink can;
  // a collector acknowledges only what a Sync() has covered.
  virtual absl::Status Sync() { return Flush(); }
  // Closes the last segment with its trailer and releases the destination.
  virtual absl::Status End(const StreamEnd& end) = 0;
  // Releases the destination without a trailer (after an error, or a writer
  // destroyed without Close): readers see a segment that did not end cleanly.
  virtual absl::Status Abort() = 0;
  // Header and trailer bytes that reached the destination (the writer's
  // bytes_written() adds them to the data bytes).
  virtual uint64_t framing_bytes() const { return 0; }
  // Data accepted by Write() that has not reached the destination yet (a
  // sink with an I/O thread); after an error, what never will. The writer's
  // records_written() and bytes_written() leave it out.
  struct InFlight {
    uint64_t records = 0;
    uint64_t bytes = 0;
  };
  virtual InFlight in_flight() const { return {}; }
};

// Record frames among the whole frames of `frames` that end at or before
// byte `prefix` (what a failed write got through), at most `records`: the
// exact count of records a partial write delivered.
uint64_t WholeFramesBefore(std::span<const uint8_t> frames, size_t prefix, uint64_t records);
// The bytes of those whole frames: where a sink cuts a partial write back
// to, so its file ends after a whole frame.
size_t WholeFrameBytesBefore(std::span<const uint8_t> frames, size_t prefix);

// Encodes the header and trailer frames of consecutive segments of one run
// and counts the data frames between them (the trailer's counts are the
// segment's own).
class SegmentFramer {
 public:
  explicit SegmentFramer(v1::StreamHeader run_header) : header_(std::move(run_header)) {}

  // The delimited header frame of a segment whose first data frame will be
  // `first_sequence` (>= 1): Frame.sequence is first_sequence - 1, as the
  // header of a one-segment stream has sequence 0. Resets the counts.
  std::string Open(uint64_t first_sequence);
  // Counts a block written into the open segment.
  void Count(const BlockInfo& info) {
    records_ += info.records;
    snapshots_ += info.frames - info.records;
    next_sequence_ = info.first_sequence + info.frames;
  }
  // The delimited trailer frame of the open segment (sequence: one past its
  // last data frame).
  std::string Close(uint64_t records_dropped, uint64_t end_time_us) const;

  const v1::StreamHeader& run_header() const { return header_; }
  uint64_t next_sequence() const { return next_sequence_; }
  uint64_t records() const { return records_; }
  uint64_t snapshots() const { return snapshots_; }

 private:
  v1::StreamHeader header_;
  uint64_t next_sequence_ = 1;
  uint64_t records_ = 0;
  uint64_t snapshots_ = 0;
};

// A run as one segment on `sink`: the header goes out with the first data
// (one write for a small stream, as before segments existed), the trailer
// at End().
std::unique_ptr<SegmentSink> SingleSegment(std::unique_ptr<ByteSink> sink);

// A fresh run id: 16 random bytes as 32 lowercase hex digits.
std::string NewRunId();

// `frame` as it goes on the wire: its length as a varint, then the message.
// `size` is frame.ByteSizeLong(), already computed by the caller (it also
// caches the sizes the serialisation uses).
std::string DelimitedFrame(const v1::Frame& frame, size_t size);

}  // namespace flowtrail::exporter
