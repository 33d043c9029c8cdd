#include "export/segment.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/escaping.h"
#include "export/stream_writer.h"
#include "google/protobuf/io/coded_stream.h"

namespace flowtrail::exporter {
std::string DelimitedFrame(const v1::Frame& frame, size_t size) {
  std::string out(google::protobuf::io::CodedOutputStream::VarintSize64(size) + size, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  p = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(size, p);
  frame.SerializeWithCachedSizesToArray(p);
  return out;
}

std::string SegmentFramer::Open(uint64_t first_sequence) {
  next_sequence_ = std::max<uint64_t>(first_sequence, 1);
  records_ = 0;
  snapshots_ = 0;
  v1::Frame frame;
  frame.set_sequence(next_sequence_ - 1);
  *frame.mutable_header() = header_;
  frame.mutable_header()->set_first_sequence(next_sequence_);
  return DelimitedFrame(frame, frame.ByteSizeLong());
}

std::string SegmentFramer::Close(uint64_t records_dropped, uint64_t end_time_us) const {
  v1::Frame frame;
  frame.set_sequence(next_sequence_);
  v1::StreamTrailer* t = frame.mutable_trailer();
  t->set_records(records_);
  t->set_snapshots(snapshots_);
  t->set_records_dropped(records_dropped);
  t->set_end_time_us(end_time_us);
  return DelimitedFrame(frame, frame.ByteSizeLong());
}

std::string NewRunId() {
  uint8_t bytes[16];
  // /dev/urandom never blocks once the system is up; random_device is the
  // fallback (it reads the same source on Linux).
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(bytes), sizeof(bytes))) {
    std::random_device rd;
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rd());
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

namespace {

class SingleSegmentSink final : public SegmentSink {
 public:
  explicit SingleSegmentSink(std::unique_ptr<ByteSink> sink) : sink_(std::move(sink)) {}
  ~SingleSegmentSink() override { (void)Abort(); }

  absl::Status Begin(const v1::StreamHeader& run_header) override {
    framer_.emplace(run_header);
    pending_ = framer_->Open(1);
    return absl::OkStatus();
  }

  absl::Status Write(std::span<const uint8_t> frames, const BlockInfo& info) override {
    failed_prefix_ = 0;
    absl::Status s;
    if (pending_.empty()) {
      s = sink_->Write(frames);
      if (!s.ok()) failed_prefix_ = sink_->failed_write_prefix();
    } else if (pending_.size() + frames.size() <= kCoalesceBytes) {
      // The header and the first block in one write, as a one-block stream
      // always was.
      const size_t header = pending_.size();
      pending_.append(reinterpret_cast<const char*>(frames.data()), frames.size());
      s = sink_->Write(AsBytes(pending_));
      const size_t through = s.ok() ? pending_.size() : sink_->failed_write_prefix();
      framing_bytes_ += std::min(through, header);
      failed_prefix_ = through > header ? through - header : 0;
      pending_.clear();
    } else {
      s = WritePending();
      if (s.ok()) {
        s = sink_->Write(frames);
        if (!s.ok()) failed_prefix_ = sink_->failed_write_prefix();
      }
    }
    if (s.ok()) {
      framer_->Count(info);
    } else {
      failed_ = true;
    }
    return s;
  }

  size_t failed_write_prefix() const override { return failed_prefix_; }

  absl::Status Flush() override {
    if (absl::Status s = WritePending(); !s.ok()) return s;
    return sink_->Flush();
  }

  absl::Status Abort() override {
    if (ended_) return absl::OkStatus();
    ended_ = true;
    // Keep what was accepted: a header not yet written goes out unless the
    // destination already failed.
    absl::Status s = failed_ ? absl::OkStatus() : WritePending();
    absl::Status close = sink_->Close();
    return s.ok() ? close : s;
  }

  absl::Status End(const StreamEnd& end) override {
    if (ended_) return absl::FailedPreconditionError("segment sink ended twice");
    ended_ = true;
    pending_ += framer_->Close(end.records_dropped, end.end_time_us);
    absl::Status s = WritePending();
    if (s.ok()) s = sink_->Flush();
    absl::Status close = sink_->Close();
    return s.ok() ? close : s;
  }

  uint64_t framing_bytes() const override { return framing_bytes_; }

 private:
  static constexpr size_t kCoalesceBytes = size_t{128} * 1024;

  static std::span<const uint8_t> AsBytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }

  absl::Status WritePending() {
    if (pending_.empty()) return absl::OkStatus();
    absl::Status s = sink_->Write(AsBytes(pending_));
    framing_bytes_ += s.ok() ? pending_.size() : sink_->failed_write_prefix();
    if (!s.ok()) failed_ = true;
    pending_.clear();
    return s;
  }

  std::unique_ptr<ByteSink> sink_;
  std::optional<SegmentFramer> framer_;
  std::string pending_;  // header (and at End the trailer) not yet written
  uint64_t framing_bytes_ = 0;
  size_t failed_prefix_ = 0;
  bool ended_ = false;
  bool failed_ = false;
};

}  // namespace

namespace {

// The whole frames at the front of `frames` that end at or before `prefix`:
// how many, and their bytes.
std::pair<uint64_t, size_t> WholeFramesIn(std::span<const uint8_t> frames, size_t prefix) {
  uint64_t n = 0;
  size_t at = 0, whole = 0;
  while (at < frames.size()) {
    uint64_t len = 0;
    int shift = 0;
    while (at < frames.size() && (frames[at] & 0x80)) {
      len |= uint64_t{frames[at++] & 0x7fu} << shift, shift += 7;
    }
    if (at == frames.size()) break;
    len |= uint64_t{frames[at++]} << shift;
    if (at > prefix || len > prefix - at) break;
    at += len;
    ++n;
    whole = at;
  }
  return {n, whole};
}

}  // namespace

uint64_t WholeFramesBefore(std::span<const uint8_t> frames, size_t prefix, uint64_t records) {
  return std::min<uint64_t>(WholeFramesIn(frames, prefix).first, records);
}

size_t WholeFrameBytesBefore(std::span<const uint8_t> frames, size_t prefix) {
  return WholeFramesIn(frames, prefix).second;
}

std::unique_ptr<SegmentSink> SingleSegment(std::unique_ptr<ByteSink> sink) {
  return std::make_unique<SingleSegmentSink>(std::move(sink));
}

}  // namespace flowtrail::exporter
