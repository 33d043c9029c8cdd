#include "collect/frame_decoder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "export/frame_rules.h"

namespace flowtrail::collect {

absl::Status FrameDecoder::Fail(uint64_t offset, const std::string& message) {
  status_ = absl::DataLossError(absl::StrCat("byte ", offset, ": ", message));
  return status_;
}

size_t FrameDecoder::Missing() const {
  uint64_t len = 0;
  size_t prefix = 0;
  if (exporter::ParseLengthPrefix(buf_.data(), buf_.size(), &len, &prefix)) {
    // A length over the limit never waits here: Decode refused it already.
    const uint64_t total = prefix + len;
    return total > buf_.size() ? static_cast<size_t>(total - buf_.size()) : 0;
  }
  return buf_.size() < exporter::kMaxVarintBytes ? exporter::kMaxVarintBytes - buf_.size() : 0;
}

void FrameDecoder::ReleaseLargeBuffer() {
  if (buf_.capacity() <= exporter::kBlockBytes) return;
  std::vector<uint8_t>(buf_.begin(), buf_.end()).swap(buf_);
}

FrameDecoder::Step FrameDecoder::Decode(const uint8_t* p, size_t n, size_t* used) {
  if (n == 0) return Step::kNeedMore;
  const uint64_t start = offset_;
  if (rules_.has_trailer()) {
    (void)Fail(start, "unexpected data after the stream trailer");
    return Step::kError;
  }
  uint64_t len = 0;
  size_t prefix = 0;
  if (!exporter::ParseLengthPrefix(p, n, &len, &prefix)) {
    if (n < exporter::kMaxVarintBytes) return Step::kNeedMore;
    (void)Fail(start, "malformed frame length: varint longer than 10 bytes");
    return Step::kError;
  }
  if (exporter::LengthPrefixOverflows(p, prefix)) {
    (void)Fail(start, "malformed frame length: varint overflows 64 bits");
    return Step::kError;
  }
  const size_t max_len = std::max(options_.max_frame_bytes, options_.max_snapshot_frame_bytes);
  if (len > max_len) {
    (void)Fail(start,
               absl::StrCat("frame length ", len, " exceeds the limit of ", max_len, " bytes"));
    return Step::kError;
  }
  const size_t total = prefix + static_cast<size_t>(len);
  if (n < total) return Step::kNeedMore;
  // A peer's frame is held to what a real frame of its size costs to parse
  // before it is parsed.
  const std::span<const uint8_t> body(p + prefix, static_cast<size_t>(len));
  if (absl::Status s = exporter::SegmentRules::CheckBeforeParse(body, options_.max_frame_bytes);
      !s.ok()) {
    (void)Fail(start, std::string(s.message()));
    return Step::kError;
  }
  if (!frame_.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    (void)Fail(start, absl::StrCat("frame of ", len, " bytes is not a valid flowtrail.v1.Frame"));
    return Step::kError;
  }
  if (!Check(start).ok()) return Step::kError;
  *used = total;
  return Step::kFrame;
}

absl::Status FrameDecoder::Check(uint64_t start) {
  if (absl::Status s = rules_.Check(frame_); !s.ok()) {
    return Fail(start, std::string(s.message()));
  }
  if (frame_.has_header()) header_ = frame_.header();
  return absl::OkStatus();
}

absl::Status FrameDecoder::Finish() {
  if (!status_.ok()) return status_;
  if (!buf_.empty()) {
    uint64_t len = 0;
    size_t prefix = 0;
    if (!exporter::ParseLengthPrefix(buf_.data(), buf_.size(), &len, &prefix)) {
      return Fail(offset_, "stream truncated inside a frame length");
    }
    return Fail(offset_, absl::StrCat("stream truncated: frame declares ", len, " bytes but only ",
                                      buf_.size() - prefix, " follow"));
  }
  if (!rules_.has_header()) return Fail(offset_, "empty stream: no header frame");
  return absl::OkStatus();
}

}  // namespace flowtrail::collect
