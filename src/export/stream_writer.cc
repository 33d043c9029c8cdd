#include "export/stream_writer.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "export/frame_rules.h"
#include "export/record_encoder.h"
#include "export/segment.h"
#include "export/stream_format.h"
#include "export/wire_varint.h"
#include "flowtrail/v1/session.pb.h"

#ifndef FLOWTRAIL_VERSION
#define FLOWTRAIL_VERSION "unknown"
#endif

namespace flowtrail::exporter {
namespace {

// Length of the structurally valid UTF-8 sequence starting at s[i], or 0.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<uint8_t>(s[i]);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 2, cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<uint8_t>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Proto3 strings must be UTF-8 or readers reject the frame; file names need
// not be, so bad bytes become '?'.
std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out.push_back('?');
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string Hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return SanitizeUtf8(buf);
}

}  // namespace

absl::Status ValidateSensorId(std::string_view id) {
  if (id.size() > kMaxSensorIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("sensor id is ", id.size(), " bytes long, the limit is ", kMaxSensorIdBytes));
  }
  if (!IsUtf8(id)) return absl::InvalidArgumentError("sensor id is not valid UTF-8");
  return absl::OkStatus();
}

namespace {

// Frame fields around a record (session.proto): sequence = 1 (varint),
// record = 3 (length-delimited).
constexpr uint8_t kSequenceTag = 1 << 3 | 0;
constexpr uint8_t kRecordTag = 3 << 3 | 2;
// The sensor_id field: tag (2 bytes), length (2 bytes), the id.
constexpr size_t kMaxSensorFieldBytes = 4 + kMaxSensorIdBytes;
constexpr size_t kMaxRecordBodyBytes = kMaxRecordWireBytes + kMaxSensorFieldBytes;
static_assert(kMaxRecordBodyBytes < 1 << 14, "a record's length takes at most 2 varint bytes");
// Length prefix, sequence field, record tag and length: the frame's bytes
// besides the body.
constexpr size_t kMaxRecordFrameOverhead = 2 + 1 + kMaxVarintBytes + 1 + 2;
static_assert(kMaxRecordFrameOverhead + kMaxRecordBodyBytes < 1 << 14,
              "a frame's length takes at most 2 varint bytes");
static_assert(kMaxRecordFrameOverhead + kMaxRecordBodyBytes <= kBlockBytes);

}  // namespace

// The encoding state: the pre-encoded sensor_id field, the 64 KiB block and the position in it, and
// the sticky error.
class StreamWriter::Encoder {
 public:
  explicit Encoder(const std::string& sensor_id)
      : sensor_field_(EncodeSensorIdField(sensor_id)),
        max_record_frame_(kMaxRecordFrameOverhead + kMaxRecordWireBytes + sensor_field_.size()),
        block_(new uint8_t[kBlockBytes]) {}

  // Appends one record frame, byte for byte what protobuf writes for a
  // v1::Frame{sequence, record} (EncodeRecordWire). The body's length
  // prefixes it, so the body is encoded in place after room for the longest
  // usual head (2-byte frame and body lengths: a body of 128 bytes or more);
  // a shorter body is moved down to meet its shorter head. The caller made
  // room (HasRoomForRecord).
  void AppendRecord(const record::SessionRecord& r) {
    const std::span<const uint8_t> sensor(reinterpret_cast<const uint8_t*>(sensor_field_.data()),
                                          sensor_field_.size());
    const uint64_t seq = next_sequence_;
    // Proto3 omits a zero sequence (only the header has one).
    const size_t seq_bytes = seq == 0 ? 0 : 1 + VarintSize(seq);
    uint8_t* const start = block_.get() + used_;
    uint8_t* const guess = start + 2 + seq_bytes + 1 + 2;
    const size_t body = static_cast<size_t>(EncodeRecordWire(r, sensor, guess) - guess);
    const size_t frame = seq_bytes + 1 + VarintSize(body) + body;
    uint8_t* p = PutVarint(frame, start);
    if (seq != 0) {
      *p++ = kSequenceTag;
      p = PutVarint(seq, p);
    }
    *p++ = kRecordTag;
    p = PutVarint(body, p);
    if (p != guess) [[unlikely]]
      std::memmove(p, guess, body);
    used_ = static_cast<size_t>(p + body - block_.get());
  }
  bool HasRoomForRecord() const { return used_ + max_record_frame_ <= kBlockBytes; }

  // Record frames among the whole frames of the block that sit before byte
  // `prefix` (what a failed write got through). A block holds record frames
  // only.
  uint64_t RecordsBefore(size_t prefix) const {
    return WholeFramesBefore(std::span<const uint8_t>(block_.get(), used_), prefix, block_records_);
  }

  const std::string sensor_field_;  // EncodeSensorIdField(sensor_id)
  const size_t max_record_frame_;   // the largest record frame with this sensor id
  std::unique_ptr<uint8_t[]> block_;
  size_t used_ = 0;
  uint64_t block_records_ = 0;  // record frames in the block
  uint64_t block_first_sequence_ = 1;
  uint64_t next_sequence_ = 1;
  uint64_t records_rejected_ = 0;
  uint64_t snapshots_ = 0;
  bool snapshots_announced_ = false;
  absl::Status status_;
  bool closed_ = false;
};

StreamWriter::StreamWriter(std::unique_ptr<SegmentSink> sink, std::unique_ptr<Encoder> encoder)
    : sink_(std::move(sink)), encoder_(std::move(encoder)) {}

StreamWriter::~StreamWriter() {
  if (encoder_->closed_ || !encoder_->status_.ok()) return;
  // Best effort: keep the records, but no trailer (see the header).
  if (encoder_->used_ > 0) (void)Flush(/*flush_sink=*/false);
  (void)sink_->Abort();
}

uint64_t StreamWriter::records_written() const {
  return records_written_ - sink_->in_flight().records;
}

bool StreamWriter::failed() const { return !encoder_->status_.ok(); }

uint64_t StreamWriter::bytes_written() const {
  return bytes_written_ - sink_->in_flight().bytes + sink_->framing_bytes();
}

absl::StatusOr<std::unique_ptr<StreamWriter>> StreamWriter::Create(std::unique_ptr<ByteSink> sink,
                                                                   const StreamInfo& info) {
  if (sink == nullptr) return absl::InvalidArgumentError("StreamWriter needs a sink");
  return Create(SingleSegment(std::move(sink)), info);
}

absl::StatusOr<std::unique_ptr<StreamWriter>> StreamWriter::Create(
    std::unique_ptr<SegmentSink> sink, const StreamInfo& info) {
  if (sink == nullptr) return absl::InvalidArgumentError("StreamWriter needs a sink");
  if (absl::Status s = ValidateSensorId(info.sensor_id); !s.ok()) return s;
  auto encoder = std::make_unique<Encoder>(info.sensor_id);
  std::unique_ptr<StreamWriter> writer(new StreamWriter(std::move(sink), std::move(encoder)));

  v1::StreamHeader& h = writer->header_;
  h.set_schema_version(v1::SCHEMA_VERSION_1);
  h.set_schema_revision(kSchemaRevisionSegments);
  writer->encoder_->snapshots_announced_ = info.snapshots;
  h.set_sensor_id(info.sensor_id);
  h.set_run_id(info.run_id.empty() ? NewRunId() : SanitizeUtf8(info.run_id));
  h.set_start_time_us(info.start_time_us);
  h.set_software_version(FLOWTRAIL_VERSION);
  h.set_hostname(Hostname());
  for (const std::string& input : info.inputs) h.add_inputs(SanitizeUtf8(input));
  // The largest header a segment can carry: sequence and first_sequence at
  // their widest.
  const size_t size = h.ByteSizeLong() + 2 * (1 + kMaxVarintBytes) + 1 + 3;
  if (size > kMaxFrameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream header would be ", size, " bytes, more than the ", kMaxFrameBytes,
                     "-byte frame limit readers accept (too many or too long input names)"));
  }
  if (absl::Status s = writer->sink_->Begin(h); !s.ok()) {
    writer->encoder_->status_ = s;
    return s;
  }
  return writer;
}

absl::Status StreamWriter::Append(std::span<const record::SessionRecord> records) {
  Encoder& e = *encoder_;
  if (!e.status_.ok()) return e.status_;
  if (e.closed_) return absl::FailedPreconditionError("Append on a closed StreamWriter");
  for (const record::SessionRecord& r : records) {
    if (r.ip_version != 4 && r.ip_version != 6) [[unlikely]] {
      // Readers reject such a record as corrupt (and stop there): count it
      // instead of writing it.
      ++e.records_rejected_;
      continue;
    }
    if (!e.HasRoomForRecord()) [[unlikely]] {
      if (absl::Status s = Flush(/*flush_sink=*/false); !s.ok()) return s;
    }
    if (e.used_ == 0) e.block_first_sequence_ = e.next_sequence_;
    e.AppendRecord(r);
    ++e.next_sequence_;
    ++e.block_records_;
  }
  return absl::OkStatus();
}

uint64_t StreamWriter::records_rejected() const { return encoder_->records_rejected_; }
uint64_t StreamWriter::snapshots_written() const { return encoder_->snapshots_; }

absl::Status StreamWriter::WriteSnapshot(const v1::AnalyticsSnapshot& snapshot) {
  Encoder& e = *encoder_;
  if (!e.status_.ok()) {
    return e.status_;
  }
  if (e.closed_) {
    return absl::FailedPreconditionError("WriteSnapshot on a closed StreamWriter");
  }
  if (!e.snapshots_announced_) {
    return absl::FailedPreconditionError(
        "WriteSnapshot on a stream whose header does not announce snapshots "
        "(StreamInfo::snapshots)");
  }
  v1::Frame frame;
  frame.set_sequence(e.next_sequence_);
  // The snapshot goes into the frame by pointer, not by copy (the copy of a
  // snapshot of a million-session capture took longer than encoding it),
  // and comes out before the frame is destroyed; encoding leaves it as it is.
  frame.unsafe_arena_set_allocated_snapshot(const_cast<v1::AnalyticsSnapshot*>(&snapshot));
  const absl::Cleanup give_back = [&frame] { (void)frame.unsafe_arena_release_snapshot(); };
  const size_t size = frame.ByteSizeLong();
  if (size > kMaxSnapshotFrameBytes) {
    // Not a stream error: the stream stays good without this snapshot.
    return absl::ResourceExhaustedError(absl::StrCat("snapshot frame would be ", size,
                                                     " bytes, more than the limit of ",
                                                     kMaxSnapshotFrameBytes));
  }
  const std::string bytes = DelimitedFrame(frame, size);
  // Nor one that readers refuse before its parse (frame_rules.h); no real
  // table comes near their limit.
  if (absl::Status s = SegmentRules::CheckBeforeParse(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())
              .subspan(bytes.size() - size),
          kMaxFrameBytes);
      !s.ok()) {
    return absl::ResourceExhaustedError(absl::StrCat("snapshot not written: ", s.message()));
  }
  // Always in its own write (one whole frame), after the block: the block
  // then holds record frames only (RecordsBefore stays exact).
  {
    if (absl::Status s = Flush(/*flush_sink=*/false); !s.ok()) {
      return s;
    }
    const BlockInfo info{.first_sequence = e.next_sequence_, .frames = 1, .records = 0};
    if (absl::Status s = sink_->Write(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
            info);
        !s.ok()) {
      bytes_written_ += std::min(sink_->failed_write_prefix(), bytes.size());
      e.status_ = s;
      return s;
    }
    bytes_written_ += bytes.size();
  }
  ++e.next_sequence_;
  ++e.snapshots_;
  return absl::OkStatus();
}

absl::Status StreamWriter::Flush() {
  if (!encoder_->status_.ok()) return encoder_->status_;
  if (encoder_->closed_) return absl::FailedPreconditionError("Flush on a closed StreamWriter");
  return Flush(/*flush_sink=*/true);
}

absl::Status StreamWriter::Flush(bool flush_sink) {
  Encoder& e = *encoder_;
  if (e.used_ > 0) {
    const BlockInfo info{.first_sequence = e.block_first_sequence_,
                         .frames = e.block_records_,
                         .records = e.block_records_};
    // The sink may keep the block and give a free one back (no copy).
    const size_t used = e.used_;
    absl::Status s = sink_->WriteBlock(&e.block_, used, info);
    if (!s.ok()) {
      // Count what reached the destination before the error, nothing more.
      const size_t prefix = std::min(sink_->failed_write_prefix(), e.used_);
      records_written_ += e.RecordsBefore(prefix);
      bytes_written_ += prefix;
      e.status_ = s;
      return s;
    }
    records_written_ += e.block_records_;
    bytes_written_ += used;
    e.used_ = 0;
    e.block_records_ = 0;
  }
  if (flush_sink) {
    if (absl::Status s = sink_->Flush(); !s.ok()) {
      e.status_ = s;
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status StreamWriter::Close(uint64_t records_dropped, uint64_t end_time_us) {
  Encoder& e = *encoder_;
  if (e.closed_) return absl::FailedPreconditionError("StreamWriter closed twice");
  e.closed_ = true;
  if (!e.status_.ok()) {
    (void)sink_->Abort();
    return e.status_;
  }
  absl::Status s = Flush(/*flush_sink=*/false);
  if (!s.ok()) {
    (void)sink_->Abort();
    return s;
  }
  s = sink_->End({.next_sequence = e.next_sequence_,
                  .records_dropped = records_dropped + e.records_rejected_,
                  .end_time_us = end_time_us});
  if (!s.ok()) e.status_ = s;
  return s;
}

}  // namespace flowtrail::exporter
