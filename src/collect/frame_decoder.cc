#include "collect/frame_decoder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "export/record_encoder.h"

namespace flowtrail::collect {
namespace {

const char* BodyName(v1::Frame::BodyCase body) {
  switch (body) {
    case v1::Frame::kHeader:
      return "header";
    case v1::Frame::kRecord:
      return "record";
    case v1::Frame::kTrailer:
      return "trailer";
    case v1::Frame::kSnapshot:
      return "snapshot";
    case v1::Frame::BODY_NOT_SET:
      break;
  }
  return "frame without a body";
}

// The length prefix at p (n bytes available): true with *len and *prefix
// once complete.
bool ParsePrefix(const uint8_t* p, size_t n, uint64_t* len, size_t* prefix) {
  uint64_t v = 0;
  const size_t limit = std::min(n, exporter::kMaxVarintBytes);
  for (size_t i = 0; i < limit; ++i) {
    v |= static_cast<uint64_t>(p[i] & 0x7f) << (7 * i);
    if ((p[i] & 0x80) == 0) {
      *len = v;
      *prefix = i + 1;
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status FrameDecoder::Fail(uint64_t offset, const std::string& message) {
  status_ = absl::DataLossError(absl::StrCat("byte ", offset, ": ", message));
  return status_;
}

FrameDecoder::Step FrameDecoder::Decode(const uint8_t* p, size_t n, size_t* used) {
  if (n == 0) return Step::kNeedMore;
  const uint64_t start = offset_;
  if (has_trailer_) {
    (void)Fail(start, "unexpected data after the stream trailer");
    return Step::kError;
  }
  uint64_t len = 0;
  size_t prefix = 0;
  if (!ParsePrefix(p, n, &len, &prefix)) {
    if (n < exporter::kMaxVarintBytes) return Step::kNeedMore;
    (void)Fail(start, "malformed frame length: varint longer than 10 bytes");
    return Step::kError;
  }
  if (prefix == exporter::kMaxVarintBytes && p[prefix - 1] > 1) {
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
  if (!frame_.ParseFromArray(p + prefix, static_cast<int>(len))) {
    (void)Fail(start, absl::StrCat("frame of ", len, " bytes is not a valid flowtrail.v1.Frame"));
    return Step::kError;
  }
  if (!Check(start, static_cast<size_t>(len)).ok()) return Step::kError;
  *used = total;
  return Step::kFrame;
}

absl::Status FrameDecoder::Check(uint64_t start, size_t len) {
  const uint64_t seq = frame_.sequence();
  const v1::Frame::BodyCase body = frame_.body_case();
  const bool unknown_body = body == v1::Frame::BODY_NOT_SET &&
                            frame_.GetReflection()->GetUnknownFields(frame_).field_count() > 0;
  if (body == v1::Frame::BODY_NOT_SET && !unknown_body) {
    return Fail(start, absl::StrCat("frame (sequence ", seq, ") has no body"));
  }
  if (len > options_.max_frame_bytes && body != v1::Frame::kSnapshot) {
    return Fail(start, absl::StrCat("frame length ", len, " exceeds the limit of ",
                                    options_.max_frame_bytes, " bytes"));
  }
  if (!has_header_) {
    if (unknown_body) {
      return Fail(start,
                  "stream starts with a frame of a type this reader does not know, "
                  "not a stream header");
    }
    if (body != v1::Frame::kHeader) {
      return Fail(start, absl::StrCat("stream starts with a ", BodyName(body),
                                      " frame, not a stream header"));
    }
    const uint64_t first =
        frame_.header().first_sequence() == 0 ? 1 : frame_.header().first_sequence();
    if (seq != first - 1) {
      return Fail(start, absl::StrCat("stream header has sequence ", seq, ", expected ",
                                      first - 1, " (its first_sequence is ", first, ")"));
    }
    if (frame_.header().schema_version() != v1::SCHEMA_VERSION_1) {
      return Fail(start,
                  absl::StrCat("unsupported schema version ", frame_.header().schema_version(),
                               " (this reader knows version 1)"));
    }
    header_ = frame_.header();
    has_header_ = true;
    first_sequence_ = first;
    next_sequence_ = first;
    return absl::OkStatus();
  }
  if (seq != next_sequence_) {
    return Fail(start, absl::StrCat("frame sequence ", seq, ", expected ", next_sequence_,
                                    " (frames lost, duplicated or reordered)"));
  }
  switch (body) {
    case v1::Frame::kHeader:
      return Fail(start, absl::StrCat("second stream header (sequence ", seq, ")"));
    case v1::Frame::kRecord:
      if (absl::Status s = exporter::ValidateRecord(frame_.record()); !s.ok()) {
        return Fail(start, absl::StrCat("record (sequence ", seq, "): ", s.message()));
      }
      ++records_;
      break;
    case v1::Frame::kTrailer:
      if (frame_.trailer().records() != records_) {
        return Fail(start, absl::StrCat("trailer counts ", frame_.trailer().records(),
                                        " records, the stream has ", records_));
      }
      if (frame_.trailer().snapshots() != snapshots_) {
        return Fail(start, absl::StrCat("trailer counts ", frame_.trailer().snapshots(),
                                        " snapshots, the stream has ", snapshots_));
      }
      has_trailer_ = true;
      break;
    case v1::Frame::kSnapshot:
      ++snapshots_;
      break;
    case v1::Frame::BODY_NOT_SET:
      ++frames_skipped_;
      break;
  }
  ++next_sequence_;
  return absl::OkStatus();
}

absl::Status FrameDecoder::Finish() {
  if (!status_.ok()) return status_;
  if (!buf_.empty()) {
    uint64_t len = 0;
    size_t prefix = 0;
    if (!ParsePrefix(buf_.data(), buf_.size(), &len, &prefix)) {
      return Fail(offset_, "stream truncated inside a frame length");
    }
    return Fail(offset_, absl::StrCat("stream truncated: frame declares ", len, " bytes but only ",
                                      buf_.size() - prefix, " follow"));
  }
  if (!has_header_) return Fail(offset_, "empty stream: no header frame");
  return absl::OkStatus();
}

}  // namespace flowtrail::collect
