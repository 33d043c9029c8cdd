// The collector's incremental frame decoder: bytes arrive from a socket in
// chunks of any size, frames come out whole and validated. The checks are
// the stream reader's (src/export/stream_reader.cc) with require_trailer =
// false, down to the error messages and byte offsets ("byte N: ..."), so a
// connection is refused for exactly what `flowtrail cat --allow-unfinished`
// would refuse in a file: the length prefix (a varint of at most 10 bytes,
// the body within 1 MiB, 64 MiB for snapshot frames), before the parse the
// body's cap by its type and the messages its parse would create
// (SegmentRules::CheckBeforeParse: a peer's frame costs its parse no more
// than a real frame of its size), the body (a valid Frame with a body, a
// header first whose Frame.sequence is first_sequence - 1, schema version
// 1), the order (sequences consecutive, one header, nothing after the
// trailer), each record (ValidateRecord) and the trailer's counts.
// The unit tests and the fuzz target hold it to the reader's verdict.
//
// Memory: the decoder keeps only the bytes of the frame still incomplete; it
// never reserves a frame's declared length up front, so a peer that
// announces 64 MiB and sends 10 bytes costs 10 bytes (a buffer grows by
// appending what arrived). A held frame is completed with only the bytes it
// lacks, so the buffer never holds more than one frame; once a large frame
// (over kBlockBytes) is handed over, its buffer and its parse are released,
// so a few bytes of the next frame behind it cost a few bytes. Small buffers
// are kept, so ordinary frames cost no allocation.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "export/frame_rules.h"
#include "export/stream_format.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::collect {

struct DecodedFrame {
  v1::Frame::BodyCase body;  // BODY_NOT_SET: a frame of a newer type, skipped
  uint64_t sequence;
  // The whole frame as it arrived (length prefix and body), valid during the
  // callback: stored byte for byte.
  std::span<const uint8_t> wire;
  // The parsed frame (valid during the callback).
  const v1::Frame* frame;
};

struct DecoderOptions {
  size_t max_frame_bytes = exporter::kMaxFrameBytes;
  size_t max_snapshot_frame_bytes = exporter::kMaxSnapshotFrameBytes;
};

class FrameDecoder {
 public:
  explicit FrameDecoder(DecoderOptions options = {}) : options_(options) {}

  // Decodes every frame `chunk` completes and hands each to `on_frame` in
  // order (a template so the per-frame call is inlined, no std::function).
  // The first bad frame ends the stream: the error ("byte N: ...") is
  // returned now and by every later call. An error `on_frame` returns stops
  // decoding and is returned as is.
  template <typename OnFrame>
  absl::Status Feed(std::span<const uint8_t> chunk, OnFrame&& on_frame);

  // The peer closed its side: an incomplete frame is an error (a segment may
  // stop after any whole frame; no header at all is an error too).
  absl::Status Finish();

  bool has_header() const { return rules_.has_header(); }
  bool has_trailer() const { return rules_.has_trailer(); }
  const v1::StreamHeader& header() const { return header_; }
  uint64_t first_sequence() const { return rules_.first_sequence(); }
  // One past the last data frame accepted (first_sequence before any).
  uint64_t next_sequence() const { return rules_.next_sequence(); }
  uint64_t records() const { return rules_.records(); }
  uint64_t snapshots() const { return rules_.snapshots(); }
  uint64_t frames_skipped() const { return rules_.frames_skipped(); }
  // Stream offset of the first byte not yet decoded.
  uint64_t offset() const { return offset_; }
  // Bytes of an incomplete frame held.
  size_t buffered() const { return buf_.size(); }
  // Heap those bytes really take (the buffer's capacity; 0 when no frame is
  // incomplete): the per-connection memory a budget counts.
  size_t held_bytes() const { return buf_.empty() ? 0 : buf_.capacity(); }
  const absl::Status& status() const { return status_; }

 private:
  enum class Step { kFrame, kNeedMore, kError };
  // One frame from the front of [p, p + n): kFrame with its size in *used.
  Step Decode(const uint8_t* p, size_t n, size_t* used);
  // The order and content checks of a parsed frame.
  absl::Status Check(uint64_t start);
  absl::Status Fail(uint64_t offset, const std::string& message);
  // Bytes the frame in buf_ still lacks (at most what completes its length
  // prefix while that is unknown); 0 when Decode can decide now.
  size_t Missing() const;
  // After a frame completed from buf_: a large buffer goes, what is left of
  // it (the next frame's first bytes) moves to a buffer of its own size.
  void ReleaseLargeBuffer();

  // Decodes whole frames from [p, p + n); returns the bytes consumed, or
  // stops at the first error (status_ set or the callback's error in *err).
  template <typename OnFrame>
  size_t DecodeAll(const uint8_t* p, size_t n, OnFrame& on_frame, absl::Status* err);

  DecoderOptions options_;
  std::vector<uint8_t> buf_;  // the bytes of the incomplete frame
  uint64_t offset_ = 0;
  v1::Frame frame_;
  v1::StreamHeader header_;
  exporter::SegmentRules rules_;  // the reader's rules (export/frame_rules.h)
  absl::Status status_;
};

template <typename OnFrame>
size_t FrameDecoder::DecodeAll(const uint8_t* p, size_t n, OnFrame& on_frame, absl::Status* err) {
  size_t done = 0;
  while (status_.ok()) {
    size_t used = 0;
    const Step step = Decode(p + done, n - done, &used);
    if (step != Step::kFrame) break;
    const DecodedFrame f{frame_.body_case(), frame_.sequence(), {p + done, used}, &frame_};
    done += used;
    offset_ += used;
    absl::Status s = on_frame(f);
    // A large parse (a snapshot of up to 64 MiB) is dropped once handed
    // over, not kept until the next frame replaces it; a small one is left
    // for the next parse to clear.
    if (used > exporter::kBlockBytes) frame_.Clear();
    if (!s.ok()) {
      *err = std::move(s);
      break;
    }
  }
  return done;
}

template <typename OnFrame>
absl::Status FrameDecoder::Feed(std::span<const uint8_t> chunk, OnFrame&& on_frame) {
  if (!status_.ok()) return status_;
  absl::Status err;
  size_t at = 0;
  // The frame held from earlier chunks takes only the bytes it lacks: the
  // rest of the chunk is decoded in place.
  while (!buf_.empty() && at < chunk.size() && status_.ok() && err.ok()) {
    const size_t take = std::min(std::max<size_t>(Missing(), 1), chunk.size() - at);
    buf_.insert(buf_.end(), chunk.begin() + static_cast<ptrdiff_t>(at),
                chunk.begin() + static_cast<ptrdiff_t>(at + take));
    at += take;
    const size_t used = DecodeAll(buf_.data(), buf_.size(), on_frame, &err);
    if (used == 0) continue;
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(used));
    ReleaseLargeBuffer();
  }
  if (buf_.empty() && status_.ok() && err.ok()) {
    // The common case: frames straight from the read buffer, no copy; only
    // an incomplete tail is kept.
    const size_t used = DecodeAll(chunk.data() + at, chunk.size() - at, on_frame, &err);
    if (status_.ok() && err.ok()) {
      buf_.assign(chunk.begin() + static_cast<ptrdiff_t>(at + used), chunk.end());
    }
  }
  if (!status_.ok()) return status_;
  return err;
}

}  // namespace flowtrail::collect
