// Hand-built frames for reader tests (streams the writer would never
// produce) and a sink that fails part-way.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

#include "export/record_encoder.h"
#include "export/stream_writer.h"
#include "flowtrail/v1/session.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "record_gen.h"

namespace flowtrail::exporter::test {

inline std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline void AppendVarint(uint64_t v, std::string* out) {
  uint8_t buf[10];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(v, buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
}

inline void AppendFrame(const v1::Frame& frame, std::string* out) {
  const std::string body = frame.SerializeAsString();
  AppendVarint(body.size(), out);
  out->append(body);
}

inline v1::Frame HeaderFrame(uint64_t seq = 0) {
  v1::Frame f;
  f.set_sequence(seq);
  f.mutable_header()->set_schema_version(v1::SCHEMA_VERSION_1);
  f.mutable_header()->set_sensor_id("test");
  return f;
}

inline v1::Frame RecordFrame(uint64_t seq, uint8_t ip_version = 4) {
  v1::Frame f;
  f.set_sequence(seq);
  EncodeRecord(flowtrail::testing::FullRecord(ip_version), f.mutable_record());
  f.mutable_record()->set_session_id(seq);
  return f;
}

inline v1::Frame TrailerFrame(uint64_t seq, uint64_t records) {
  v1::Frame f;
  f.set_sequence(seq);
  f.mutable_trailer()->set_records(records);
  return f;
}

// A delimited frame with sequence `seq` whose snapshot body is the
// encoded `snapshot` (built by hand: the bodies tests need are not ones a
// writer makes).
inline std::string DelimitedSnapshotFrame(uint64_t seq, const std::string& snapshot) {
  std::string frame;
  AppendVarint(1 << 3, &frame);  // Frame.sequence
  AppendVarint(seq, &frame);
  AppendVarint((5 << 3) | 2, &frame);  // Frame.snapshot
  AppendVarint(snapshot.size(), &frame);
  frame += snapshot;
  std::string out;
  AppendVarint(frame.size(), &out);
  return out + frame;
}

// A snapshot frame (length prefix included) whose scan table holds `rows`
// empty rows: 2 bytes each on the wire, ~150 once parsed (a parse bomb).
inline std::string EmptyRowsSnapshotFrame(uint64_t seq, size_t rows) {
  std::string scans;  // AnalyticsSnapshot.scans: ScanTableState.rows (field 2), each empty
  scans.reserve(2 * rows);
  for (size_t i = 0; i < rows; ++i) scans.append("\x12\x00", 2);
  std::string snapshot;
  AppendVarint((1 << 3) | 2, &snapshot);
  AppendVarint(scans.size(), &snapshot);
  snapshot += scans;
  return DelimitedSnapshotFrame(seq, snapshot);
}

// Takes the first `budget` bytes of the stream, then fails, saying how much
// of the failing write got through (a short write before ENOSPC, say).
class PartialSink final : public ByteSink {
 public:
  PartialSink(std::string* out, size_t budget) : out_(out), budget_(budget) {}
  absl::Status Write(std::span<const uint8_t> bytes) override {
    EXPECT_FALSE(failed_) << "writer used the sink after it failed";
    const size_t room = budget_ - out_->size();
    const size_t n = std::min(room, bytes.size());
    out_->append(reinterpret_cast<const char*>(bytes.data()), n);
    if (n == bytes.size()) return absl::OkStatus();
    failed_ = true;
    prefix_ = n;
    return absl::ResourceExhaustedError("disk full");
  }
  size_t failed_write_prefix() const override { return prefix_; }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  std::string* out_;
  size_t budget_;
  size_t prefix_ = 0;
  bool failed_ = false;
};

}  // namespace flowtrail::exporter::test
