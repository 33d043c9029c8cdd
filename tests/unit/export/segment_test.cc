#include "export/segment.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "export/byte_sinks.h"
#include "export/stream_reader.h"
#include "export/stream_writer.h"
#include "record_gen.h"
#include "stream_test_util.h"

namespace flowtrail::exporter {
namespace {

using test::AppendFrame;
using test::Bytes;
using test::RecordFrame;

v1::StreamHeader RunHeader() {
  v1::StreamHeader h;
  h.set_schema_version(v1::SCHEMA_VERSION_1);
  h.set_schema_revision(kSchemaRevisionSegments);
  h.set_sensor_id("s1");
  h.set_run_id("0123456789abcdef0123456789abcdef");
  return h;
}

// A segment that starts in the middle of a run: header at first - 1, data
// from first on, a trailer counting the segment's own frames.
std::string Segment(SegmentFramer& framer, uint64_t first, uint64_t records) {
  std::string bytes = framer.Open(first);
  std::string data;
  for (uint64_t i = 0; i < records; ++i) AppendFrame(RecordFrame(first + i), &data);
  framer.Count({.first_sequence = first, .frames = records, .records = records});
  bytes += data;
  bytes += framer.Close(/*records_dropped=*/3, /*end_time_us=*/99);
  return bytes;
}

TEST(SegmentFramer, ASegmentMayStartAnywhereInTheRun) {
  SegmentFramer framer(RunHeader());
  const std::string bytes = Segment(framer, 1000, 5);
  StreamReader reader(MemorySource(Bytes(bytes)));
  std::vector<uint64_t> seqs;
  for (;;) {
    absl::StatusOr<const v1::SessionRecord*> r = reader.Next();
    ASSERT_TRUE(r.ok()) << r.status();
    if (*r == nullptr) break;
    seqs.push_back(reader.last_sequence());
    EXPECT_EQ((*r)->session_id(), reader.last_sequence());
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1000, 1001, 1002, 1003, 1004}));
  ASSERT_NE(reader.header(), nullptr);
  EXPECT_EQ(reader.header()->first_sequence(), 1000u);
  EXPECT_EQ(reader.header()->run_id(), RunHeader().run_id());
  EXPECT_EQ(reader.first_sequence(), 1000u);
  ASSERT_NE(reader.trailer(), nullptr);
  EXPECT_EQ(reader.trailer()->records(), 5u);
  EXPECT_EQ(reader.trailer()->records_dropped(), 3u);
}

TEST(SegmentFramer, ConsecutiveSegmentsCountTheirOwnFrames) {
  SegmentFramer framer(RunHeader());
  const std::string a = Segment(framer, 1, 4);
  EXPECT_EQ(framer.next_sequence(), 5u);
  const std::string b = Segment(framer, framer.next_sequence(), 2);
  for (const std::string* s : {&a, &b}) {
    StreamContents c = ReadStreamBytes(Bytes(*s));
    EXPECT_TRUE(c.status.ok()) << c.status;
  }
  EXPECT_EQ(ReadStreamBytes(Bytes(b)).records.size(), 2u);
  EXPECT_EQ(ReadStreamBytes(Bytes(b)).records[0].session_id(), 5u);
}

TEST(SegmentFramer, AHeaderWhoseSequenceDisagreesWithFirstSequenceIsAnError) {
  v1::Frame f;
  f.set_sequence(0);
  *f.mutable_header() = RunHeader();
  f.mutable_header()->set_first_sequence(10);
  std::string bytes;
  AppendFrame(f, &bytes);
  AppendFrame(RecordFrame(10), &bytes);
  StreamContents c = ReadStreamBytes(Bytes(bytes), {.require_trailer = false});
  EXPECT_FALSE(c.status.ok());
  EXPECT_NE(c.status.message().find("expected 9"), std::string::npos) << c.status;
  EXPECT_TRUE(c.records.empty());
}

// What the writer hands a SegmentSink: the header once, then data blocks
// whose BlockInfo matches the sequence numbers inside them.
class LoggingSink final : public SegmentSink {
 public:
  struct Log {
    v1::StreamHeader header;
    std::vector<BlockInfo> blocks;
    std::string data;
    StreamEnd end;
    bool ended = false;
  };
  explicit LoggingSink(Log* log) : log_(log) {}
  absl::Status Begin(const v1::StreamHeader& h) override {
    log_->header = h;
    return absl::OkStatus();
  }
  absl::Status Write(std::span<const uint8_t> frames, const BlockInfo& info) override {
    log_->blocks.push_back(info);
    log_->data.append(reinterpret_cast<const char*>(frames.data()), frames.size());
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status End(const StreamEnd& end) override {
    log_->end = end;
    log_->ended = true;
    return absl::OkStatus();
  }
  absl::Status Abort() override { return absl::OkStatus(); }

 private:
  Log* log_;
};

TEST(StreamWriterSegments, BlocksCarryTheirSequenceRange) {
  LoggingSink::Log log;
  StreamInfo info{.sensor_id = "s", .snapshots = true};
  absl::StatusOr<std::unique_ptr<StreamWriter>> w =
      StreamWriter::Create(std::make_unique<LoggingSink>(&log), info);
  ASSERT_TRUE(w.ok()) << w.status();
  std::mt19937_64 rng(3);
  std::vector<record::SessionRecord> recs(2000);
  for (auto& r : recs) r = flowtrail::testing::RandomRecord(rng);
  ASSERT_TRUE((*w)->Append(recs).ok());
  ASSERT_TRUE((*w)->WriteSnapshot(v1::AnalyticsSnapshot()).ok());
  ASSERT_TRUE((*w)->Append(std::span(recs).first(10)).ok());
  ASSERT_TRUE((*w)->Close(7, 8).ok());
  EXPECT_EQ(log.header.run_id().size(), 32u);
  EXPECT_EQ(log.header.first_sequence(), 0u) << "the sink opens segments";
  EXPECT_EQ(log.header.schema_revision(), kSchemaRevisionSegments);
  ASSERT_TRUE(log.ended);
  EXPECT_EQ(log.end.next_sequence, 2012u);
  EXPECT_EQ(log.end.records_dropped, 7u);
  // Walk the data: every block's frames carry first_sequence, +1, ...
  SegmentFramer framer(log.header);
  std::string stream = framer.Open(1);
  uint64_t expect = 1;
  for (const BlockInfo& b : log.blocks) {
    EXPECT_EQ(b.first_sequence, expect);
    expect += b.frames;
    framer.Count(b);
  }
  stream += log.data;
  stream += framer.Close(7, 8);
  StreamReader reader(MemorySource(Bytes(stream)));
  StreamContents c = ReadAll(reader);
  EXPECT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 2010u);
  EXPECT_EQ(reader.snapshots_read(), 1u);
}

TEST(NewRunId, IsHexAndFresh) {
  const std::string a = NewRunId(), b = NewRunId();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace flowtrail::exporter
