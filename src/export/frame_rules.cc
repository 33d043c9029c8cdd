#include "export/frame_rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "export/record_encoder.h"
#include "export/stream_format.h"

namespace flowtrail::exporter {

bool ParseLengthPrefix(const uint8_t* p, size_t n, uint64_t* len, size_t* prefix) {
  uint64_t v = 0;
  const size_t limit = std::min(n, kMaxVarintBytes);
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

const char* FrameBodyName(v1::Frame::BodyCase body) {
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

absl::Status SegmentRules::Check(const v1::Frame& frame, size_t len, size_t max_frame_bytes) {
  const uint64_t seq = frame.sequence();
  const v1::Frame::BodyCase body = frame.body_case();
  const bool unknown_body = body == v1::Frame::BODY_NOT_SET &&
                            frame.GetReflection()->GetUnknownFields(frame).field_count() > 0;
  if (body == v1::Frame::BODY_NOT_SET && !unknown_body) {
    return absl::DataLossError(absl::StrCat("frame (sequence ", seq, ") has no body"));
  }
  if (len > max_frame_bytes && body != v1::Frame::kSnapshot) {
    return absl::DataLossError(
        absl::StrCat("frame length ", len, " exceeds the limit of ", max_frame_bytes, " bytes"));
  }
  if (!has_header_) {
    if (unknown_body) {
      return absl::DataLossError(
          "stream starts with a frame of a type this reader does not know, not a stream header");
    }
    if (body != v1::Frame::kHeader) {
      return absl::DataLossError(absl::StrCat("stream starts with a ", FrameBodyName(body),
                                              " frame, not a stream header"));
    }
    // A segment's header (revision 3) names its first data frame; an older
    // stream starts at 1.
    const uint64_t first =
        frame.header().first_sequence() == 0 ? 1 : frame.header().first_sequence();
    if (seq != first - 1) {
      return absl::DataLossError(absl::StrCat("stream header has sequence ", seq, ", expected ",
                                              first - 1, " (its first_sequence is ", first, ")"));
    }
    if (frame.header().schema_version() != v1::SCHEMA_VERSION_1) {
      return absl::DataLossError(absl::StrCat("unsupported schema version ",
                                              frame.header().schema_version(),
                                              " (this reader knows version 1)"));
    }
    has_header_ = true;
    first_sequence_ = first;
    next_sequence_ = first;
    return absl::OkStatus();
  }
  if (seq != next_sequence_) {
    return absl::DataLossError(absl::StrCat("frame sequence ", seq, ", expected ", next_sequence_,
                                            " (frames lost, duplicated or reordered)"));
  }
  // A data frame numbered 2^64 - 1 has no sequence after it: a run's
  // intervals [first, end) would wrap to nothing.
  if (seq == UINT64_MAX && body != v1::Frame::kHeader && body != v1::Frame::kTrailer) {
    return absl::DataLossError(
        absl::StrCat("frame sequence ", seq, " overflows: no sequence number follows it"));
  }
  switch (body) {
    case v1::Frame::kHeader:
      return absl::DataLossError(absl::StrCat("second stream header (sequence ", seq, ")"));
    case v1::Frame::kRecord:
      if (absl::Status s = ValidateRecord(frame.record()); !s.ok()) {
        return absl::DataLossError(absl::StrCat("record (sequence ", seq, "): ", s.message()));
      }
      ++records_;
      break;
    case v1::Frame::kTrailer:
      if (frame.trailer().records() != records_) {
        return absl::DataLossError(absl::StrCat("trailer counts ", frame.trailer().records(),
                                                " records, the stream has ", records_));
      }
      if (frame.trailer().snapshots() != snapshots_) {
        return absl::DataLossError(absl::StrCat("trailer counts ", frame.trailer().snapshots(),
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

}  // namespace flowtrail::exporter
