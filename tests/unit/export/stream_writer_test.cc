#include "export/stream_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "export/byte_sinks.h"
#include "export/record_encoder.h"
#include "export/stream_format.h"
#include "export/stream_reader.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "record_gen.h"
#include "stream_test_util.h"

namespace flowtrail::exporter {
namespace {

using google::protobuf::util::MessageDifferencer;
using test::Bytes;
using test::PartialSink;

std::unique_ptr<StreamWriter> MustCreate(std::unique_ptr<ByteSink> sink, StreamInfo info = {}) {
  absl::StatusOr<std::unique_ptr<StreamWriter>> w = StreamWriter::Create(std::move(sink), info);
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? *std::move(w) : nullptr;
}

// Parses the stream with protobuf's own delimited reader, independently of
// StreamReader.
std::vector<v1::Frame> ParseFrames(const std::string& bytes) {
  google::protobuf::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  std::vector<v1::Frame> frames;
  for (;;) {
    v1::Frame f;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&f, &in, &clean_eof)) {
      EXPECT_TRUE(clean_eof) << "delimited parse failed after " << frames.size() << " frames";
      break;
    }
    frames.push_back(f);
  }
  return frames;
}

// Records every block it is handed; can be told to fail.
class RecordingSink final : public ByteSink {
 public:
  struct Log {
    std::vector<std::string> writes;
    int flushes = 0;
    int closes = 0;
    int fail_write_at = -1;  // index of the write that fails
    bool fail_flush = false;
  };
  explicit RecordingSink(Log* log) : log_(log) {}
  absl::Status Write(std::span<const uint8_t> bytes) override {
    if (static_cast<int>(log_->writes.size()) == log_->fail_write_at) {
      log_->fail_write_at = -2;  // fail once, then refuse to be called again
      return absl::UnavailableError("disk on fire");
    }
    EXPECT_NE(log_->fail_write_at, -2) << "writer used the sink after it failed";
    log_->writes.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    ++log_->flushes;
    return log_->fail_flush ? absl::DataLossError("flush failed") : absl::OkStatus();
  }
  absl::Status Close() override {
    ++log_->closes;
    return absl::OkStatus();
  }

 private:
  Log* log_;
};

v1::SessionRecord Expected(const record::SessionRecord& r, const std::string& sensor_id) {
  v1::SessionRecord p;
  EncodeRecord(r, &p);
  p.set_sensor_id(sensor_id);
  return p;
}

TEST(StreamWriter, RandomRecordsRoundTripThroughTheReaderAcrossManyBlocks) {
  std::mt19937_64 rng(20261122);
  std::string bytes;
  StreamInfo info{.sensor_id = "sensor-a", .start_time_us = 123, .inputs = {"p0", "p1"}};
  auto writer = MustCreate(std::make_unique<MemorySink>(&bytes), info);
  std::vector<record::SessionRecord> all;
  while (all.size() < 5000) {
    std::vector<record::SessionRecord> batch(std::uniform_int_distribution<size_t>(0, 64)(rng));
    for (auto& r : batch) r = flowtrail::testing::RandomRecord(rng);
    ASSERT_TRUE(writer->Append(batch).ok());
    all.insert(all.end(), batch.begin(), batch.end());
  }
  ASSERT_TRUE(writer->Close(/*records_dropped=*/5, /*end_time_us=*/999).ok());
  EXPECT_EQ(writer->records_written(), all.size());
  EXPECT_EQ(writer->bytes_written(), bytes.size());
  EXPECT_GT(bytes.size(), 4 * kBlockBytes);

  StreamContents c = ReadStreamBytes(Bytes(bytes));
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.records.size(), all.size());
  size_t v6 = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_TRUE(MessageDifferencer::Equals(c.records[i], Expected(all[i], "sensor-a")))
        << "record " << i;
    absl::StatusOr<record::SessionRecord> back = DecodeRecord(c.records[i]);
    ASSERT_TRUE(back.ok()) << back.status();
    v6 += back->ip_version == 6;
  }
  EXPECT_GT(v6, all.size() / 4);
  EXPECT_LT(v6, all.size() * 3 / 4);
  ASSERT_TRUE(c.header.has_value());
  EXPECT_EQ(c.header->schema_version(), v1::SCHEMA_VERSION_1);
  EXPECT_EQ(c.header->sensor_id(), "sensor-a");
  EXPECT_EQ(c.header->start_time_us(), 123u);
  EXPECT_FALSE(c.header->software_version().empty());
  EXPECT_EQ(c.header->inputs_size(), 2);
  ASSERT_TRUE(c.trailer.has_value());
  EXPECT_EQ(c.trailer->records(), all.size());
  EXPECT_EQ(c.trailer->records_dropped(), 5u);
  EXPECT_EQ(c.trailer->end_time_us(), 999u);
}

// The writer's hand-written record frames (EncodeRecordWire) must be the
// bytes protobuf writes for the same frames: build the expected stream with
// protobuf from the records themselves and compare byte for byte.
TEST(StreamWriter, StreamIsByteIdenticalToProtobufsSerialisation) {
  for (const std::string& sensor :
       std::vector<std::string>{"", "sensor-b", std::string(256, 's')}) {
    std::mt19937_64 rng(7);
    std::string bytes;
    auto writer = MustCreate(std::make_unique<MemorySink>(&bytes), {.sensor_id = sensor});
    std::vector<record::SessionRecord> all(3000);
    for (auto& r : all) {
      r = flowtrail::testing::RandomRecord(rng);
      if (rng() % 5 == 0) r = record::SessionRecord{.ip_version = r.ip_version};
    }
    ASSERT_TRUE(writer->Append(all).ok());
    ASSERT_TRUE(writer->Close(3, 42).ok());
    const std::vector<v1::Frame> frames = ParseFrames(bytes);
    ASSERT_EQ(frames.size(), all.size() + 2);
    std::string expected;
    test::AppendFrame(frames.front(), &expected);  // the header (hostname, version)
    for (size_t i = 0; i < all.size(); ++i) {
      v1::Frame f;
      f.set_sequence(i + 1);
      *f.mutable_record() = Expected(all[i], sensor);
      test::AppendFrame(f, &expected);
    }
    v1::Frame trailer;
    trailer.set_sequence(all.size() + 1);
    trailer.mutable_trailer()->set_records(all.size());
    trailer.mutable_trailer()->set_end_time_us(42);
    trailer.mutable_trailer()->set_records_dropped(3);
    test::AppendFrame(trailer, &expected);
    EXPECT_GT(bytes.size(), 2 * kBlockBytes);
    EXPECT_TRUE(bytes == expected) << sensor.size() << "-byte sensor id: streams differ";
  }
}

TEST(StreamWriter, FramesAreDelimitedWithConsecutiveSequenceNumbers) {
  std::string bytes;
  auto writer = MustCreate(std::make_unique<MemorySink>(&bytes), {.sensor_id = "s"});
  const record::SessionRecord recs[] = {flowtrail::testing::FullRecord(4),
                                        flowtrail::testing::FullRecord(6),
                                        flowtrail::testing::FullRecord(4)};
  ASSERT_TRUE(writer->Append(recs).ok());
  ASSERT_TRUE(writer->Close(0, 1).ok());
  const std::vector<v1::Frame> frames = ParseFrames(bytes);
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_TRUE(frames[0].has_header());
  for (size_t i = 1; i <= 3; ++i) EXPECT_TRUE(frames[i].has_record());
  EXPECT_TRUE(frames[4].has_trailer());
  EXPECT_EQ(frames[4].trailer().records(), 3u);
  for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i].sequence(), i);
  EXPECT_EQ(frames[2].record().client_ip().size(), 16u);
  EXPECT_EQ(frames[3].record().client_ip().size(), 4u);
}

// WriteSnapshot puts the caller's snapshot into its frame by pointer (no
// copy) and takes it out again: the snapshot is the caller's as it was, and
// one built on an arena (as the analytics lcore builds them) writes the same
// frame as one on the heap.
TEST(StreamWriter, SnapshotsAreWrittenAsTheyAreAndLeftWithTheCaller) {
  auto fill = [](v1::AnalyticsSnapshot* s) {
    s->set_records(7);
    s->set_first_record_time_us(11);
    for (int i = 0; i < 50; ++i) {
      v1::ScanRowState* r = s->mutable_scans()->add_rows();
      r->set_client(std::string(4, static_cast<char>(i)));
      r->set_port(static_cast<uint32_t>(1000 + i));
      r->add_servers()->set_id_flags(static_cast<uint64_t>(i) * 3);
    }
    s->mutable_ports()->set_server_ports(std::string(8192, 'p'));
  };
  v1::AnalyticsSnapshot heap;
  fill(&heap);
  const v1::AnalyticsSnapshot before = heap;
  google::protobuf::Arena arena;
  auto* on_arena = google::protobuf::Arena::CreateMessage<v1::AnalyticsSnapshot>(&arena);
  fill(on_arena);

  std::string a, b;
  for (auto [out, snap] : {std::pair{&a, &heap}, std::pair{&b, on_arena}}) {
    auto writer =
        MustCreate(std::make_unique<MemorySink>(out), {.sensor_id = "s", .snapshots = true});
    ASSERT_TRUE(writer->WriteSnapshot(*snap).ok());
    ASSERT_TRUE(writer->WriteSnapshot(*snap).ok());  // again: still all there
    ASSERT_TRUE(writer->Close(0, 1).ok());
  }
  EXPECT_TRUE(MessageDifferencer::Equals(heap, before));
  EXPECT_TRUE(MessageDifferencer::Equals(*on_arena, before));
  EXPECT_EQ(on_arena->GetArena(), &arena);
  const std::vector<v1::Frame> fa = ParseFrames(a), fb = ParseFrames(b);
  ASSERT_EQ(fa.size(), 4u);  // header, two snapshots, trailer
  ASSERT_EQ(fb.size(), 4u);
  for (size_t i : {1u, 2u}) {
    ASSERT_TRUE(fa[i].has_snapshot());
    EXPECT_TRUE(MessageDifferencer::Equals(fa[i].snapshot(), before));
    EXPECT_EQ(fa[i].SerializeAsString(), fb[i].SerializeAsString());
  }
}

TEST(StreamWriter, SnapshotFramesTakeTheirSequenceAndAreCountedApartFromRecords) {
  std::string bytes;
  auto writer =
      MustCreate(std::make_unique<MemorySink>(&bytes), {.sensor_id = "s", .snapshots = true});
  const record::SessionRecord recs[] = {flowtrail::testing::FullRecord(4),
                                        flowtrail::testing::FullRecord(6)};
  ASSERT_TRUE(writer->Append(recs).ok());
  v1::AnalyticsSnapshot small;
  small.set_records(2);
  ASSERT_TRUE(writer->WriteSnapshot(small).ok());
  ASSERT_TRUE(writer->Append(recs).ok());
  // Larger than a 64 KiB block: written on its own.
  v1::AnalyticsSnapshot big;
  big.set_records(4);
  big.mutable_ports()->set_server_ports(std::string(3 * kBlockBytes, 'x'));
  ASSERT_TRUE(writer->WriteSnapshot(big).ok());
  ASSERT_TRUE(writer->Close(0, 1).ok());
  EXPECT_EQ(writer->records_written(), 4u);
  EXPECT_EQ(writer->snapshots_written(), 2u);
  EXPECT_EQ(writer->bytes_written(), bytes.size());
  const std::vector<v1::Frame> frames = ParseFrames(bytes);
  ASSERT_EQ(frames.size(), 8u);
  for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i].sequence(), i);
  EXPECT_TRUE(frames[3].has_snapshot());
  EXPECT_TRUE(frames[6].has_snapshot());
  EXPECT_EQ(frames[0].header().schema_revision(), kSchemaRevisionSegments);

  auto reader = StreamReader::FromBytes(Bytes(bytes));
  StreamContents c = ReadAll(*reader);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 4u);
  EXPECT_EQ(c.trailer->records(), 4u);
  EXPECT_EQ(c.trailer->snapshots(), 2u);
  ASSERT_NE(reader->last_snapshot(), nullptr);
  EXPECT_EQ(reader->last_snapshot()->records(), 4u);
}

TEST(StreamWriter, SnapshotOverTheFrameCapIsRefusedAndTheStreamGoesOn) {
  std::string bytes;
  auto writer =
      MustCreate(std::make_unique<MemorySink>(&bytes), {.sensor_id = "s", .snapshots = true});
  const record::SessionRecord recs[] = {flowtrail::testing::FullRecord(4)};
  ASSERT_TRUE(writer->Append(recs).ok());
  v1::AnalyticsSnapshot huge;
  huge.mutable_ports()->set_server_ports(std::string(kMaxSnapshotFrameBytes, 'x'));
  const absl::Status st = writer->WriteSnapshot(huge);
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
  // Not a stream error: records and a smaller snapshot still go in.
  ASSERT_TRUE(writer->Append(recs).ok());
  v1::AnalyticsSnapshot small;
  small.set_records(2);
  ASSERT_TRUE(writer->WriteSnapshot(small).ok());
  ASSERT_TRUE(writer->Close(0, 1).ok());
  EXPECT_EQ(writer->snapshots_written(), 1u);
  auto reader = StreamReader::FromBytes(Bytes(bytes));
  StreamContents c = ReadAll(*reader);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.trailer->snapshots(), 1u);
  EXPECT_LT(bytes.size(), size_t{1} << 20);
}

// A snapshot the readers would refuse before its parse (more messages than
// its bytes allow) is not written either; the stream goes on.
TEST(StreamWriter, SnapshotReadersWouldRefuseIsNotWrittenAndTheStreamGoesOn) {
  std::string bytes;
  auto writer =
      MustCreate(std::make_unique<MemorySink>(&bytes), {.sensor_id = "s", .snapshots = true});
  v1::AnalyticsSnapshot dense;
  for (int i = 0; i < 100000; ++i) dense.mutable_scans()->add_rows();  // 2 bytes each
  const absl::Status st = writer->WriteSnapshot(dense);
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
  EXPECT_NE(st.message().find("its snapshot would hold more than"), std::string::npos) << st;
  EXPECT_FALSE(writer->failed());
  const record::SessionRecord recs[] = {flowtrail::testing::FullRecord(4)};
  ASSERT_TRUE(writer->Append(recs).ok());
  ASSERT_TRUE(writer->Close(0, 1).ok());
  EXPECT_EQ(writer->snapshots_written(), 0u);
  StreamContents c = ReadStreamBytes(Bytes(bytes));
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.trailer->snapshots(), 0u);
}

// The exporter tells an over-large snapshot (skipped, counted, the run goes
// on) from a sink's own ResourceExhausted (a full disk: a write error) by
// failed().
TEST(StreamWriter, AFullDiskOnASnapshotIsAWriteErrorNotATooLargeSnapshot) {
  std::string bytes;
  auto writer =
      MustCreate(std::make_unique<PartialSink>(&bytes, 100), {.sensor_id = "s", .snapshots = true});
  v1::AnalyticsSnapshot huge;
  huge.mutable_ports()->set_server_ports(std::string(kMaxSnapshotFrameBytes, 'x'));
  EXPECT_TRUE(absl::IsResourceExhausted(writer->WriteSnapshot(huge)));
  EXPECT_FALSE(writer->failed()) << "too large is not a stream error";
  v1::AnalyticsSnapshot small;
  small.mutable_ports()->set_server_ports(std::string(1000, 'x'));
  const absl::Status st = writer->WriteSnapshot(small);
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
  EXPECT_TRUE(writer->failed()) << "disk full is";
  EXPECT_EQ(writer->Close(0, 1), st);
}

TEST(StreamWriter, SnapshotsNeedAHeaderThatAnnouncesThem) {
  std::string bytes;
  auto writer = MustCreate(std::make_unique<MemorySink>(&bytes), {.sensor_id = "s"});
  EXPECT_FALSE(writer->WriteSnapshot(v1::AnalyticsSnapshot()).ok());
  ASSERT_TRUE(writer->Close(0, 1).ok());
  EXPECT_EQ(ParseFrames(bytes)[0].header().schema_revision(), kSchemaRevisionSegments);
}

TEST(StreamWriter, EmptyStreamIsHeaderAndTrailer) {
  std::string bytes;
  auto writer = MustCreate(std::make_unique<MemorySink>(&bytes));
  ASSERT_TRUE(writer->Close(0, 0).ok());
  StreamContents c = ReadStreamBytes(Bytes(bytes));
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_TRUE(c.records.empty());
  ASSERT_TRUE(c.trailer.has_value());
  EXPECT_EQ(ParseFrames(bytes).size(), 2u);
}

TEST(StreamWriter, HandsTheSinkWholeFramesInBlocksNotPerRecord) {
  RecordingSink::Log log;
  auto writer = MustCreate(std::make_unique<RecordingSink>(&log));
  std::vector<record::SessionRecord> recs(100, flowtrail::testing::FullRecord(6));
  ASSERT_TRUE(writer->Append(recs).ok());
  EXPECT_TRUE(log.writes.empty()) << "100 records do not fill a block";
  ASSERT_TRUE(writer->Flush().ok());
  EXPECT_EQ(log.writes.size(), 1u);
  EXPECT_EQ(log.flushes, 1);
  recs.assign(3000, flowtrail::testing::FullRecord(6));
  ASSERT_TRUE(writer->Append(recs).ok());
  ASSERT_TRUE(writer->Close(0, 0).ok());
  EXPECT_EQ(log.closes, 1);
  std::string all;
  size_t frames = 0;
  for (const std::string& w : log.writes) {
    EXPECT_LE(w.size(), kBlockBytes);
    frames += ParseFrames(w).size();  // whole frames in every write
    all += w;
  }
  EXPECT_GT(log.writes.size(), 5u);
  EXPECT_EQ(frames, 3102u);
  StreamContents c = ReadStreamBytes(Bytes(all));
  EXPECT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 3100u);
}

TEST(StreamWriter, ReturnsTheSinkWriteErrorAndStaysFailed) {
  RecordingSink::Log log;
  log.fail_write_at = 1;  // the second block
  auto writer = MustCreate(std::make_unique<RecordingSink>(&log));
  std::vector<record::SessionRecord> recs(2000, flowtrail::testing::FullRecord(4));
  absl::Status s;
  for (int i = 0; i < 10 && s.ok(); ++i) s = writer->Append(recs);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "disk on fire");
  EXPECT_EQ(writer->Append(recs), s);
  EXPECT_EQ(writer->Flush(), s);
  EXPECT_EQ(writer->Close(0, 0), s);
  EXPECT_EQ(log.closes, 1) << "the sink is still closed";
}

// records_written() is what a reader of the destination finds: whole record
// frames the sink accepted, not what was encoded into a block that then
// failed (in whole or in part).
TEST(StreamWriter, AfterAWriteErrorRecordsWrittenCountsOnlyWhatReachedTheSink) {
  std::mt19937_64 rng(7);
  std::vector<record::SessionRecord> recs(3000);
  for (auto& r : recs) r = flowtrail::testing::RandomRecord(rng);
  std::string whole;
  {
    auto w = MustCreate(std::make_unique<MemorySink>(&whole), {.sensor_id = "p", .run_id = "r"});
    ASSERT_TRUE(w->Append(recs).ok());
    ASSERT_TRUE(w->Close(0, 0).ok());
  }
  ASSERT_GT(whole.size(), 3 * kBlockBytes);
  for (size_t budget : {size_t{0}, size_t{5}, kBlockBytes - 1, kBlockBytes + 777,
                        2 * kBlockBytes + 3, whole.size() - 1}) {
    std::string got;
    auto w =
        MustCreate(std::make_unique<PartialSink>(&got, budget), {.sensor_id = "p", .run_id = "r"});
    absl::Status s = w->Append(recs);
    if (s.ok()) s = w->Close(0, 0);
    ASSERT_FALSE(s.ok()) << budget;
    EXPECT_EQ(got, whole.substr(0, budget));
    const StreamContents c = ReadStreamBytes(Bytes(got), {.require_trailer = false});
    EXPECT_EQ(w->records_written(), c.records.size()) << "budget " << budget;
    EXPECT_EQ(w->bytes_written(), budget);
  }
}

TEST(StreamWriter, AWriteThatFailsWholeCountsNoneOfItsRecords) {
  RecordingSink::Log log;
  log.fail_write_at = 1;  // the second block
  auto writer = MustCreate(std::make_unique<RecordingSink>(&log));
  std::vector<record::SessionRecord> recs(2000, flowtrail::testing::FullRecord(4));
  absl::Status s;
  for (int i = 0; i < 10 && s.ok(); ++i) s = writer->Append(recs);
  ASSERT_FALSE(s.ok());
  ASSERT_EQ(log.writes.size(), 1u);
  const StreamContents c = ReadStreamBytes(Bytes(log.writes[0]), {.require_trailer = false});
  ASSERT_GT(c.records.size(), 0u);
  EXPECT_EQ(writer->records_written(), c.records.size());
  EXPECT_EQ(writer->bytes_written(), log.writes[0].size());
}

TEST(StreamWriter, ReturnsTheSinkFlushError) {
  RecordingSink::Log log;
  log.fail_flush = true;
  auto writer = MustCreate(std::make_unique<RecordingSink>(&log));
  absl::Status s = writer->Flush();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(writer->Close(0, 0), s);
}

TEST(StreamWriter, ReturnsTheErrorWhenTheTrailerCannotBeWritten) {
  RecordingSink::Log log;
  log.fail_write_at = 0;
  auto writer = MustCreate(std::make_unique<RecordingSink>(&log));
  const record::SessionRecord r = flowtrail::testing::FullRecord(4);
  ASSERT_TRUE(writer->Append({&r, 1}).ok());
  absl::Status s = writer->Close(0, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
}

TEST(StreamWriter, RecordsWithoutAnIpVersionAreCountedNotWritten) {
  std::string bytes;
  auto writer = MustCreate(std::make_unique<MemorySink>(&bytes));
  std::vector<record::SessionRecord> recs(3, flowtrail::testing::FullRecord(4));
  recs[1].ip_version = 0;
  ASSERT_TRUE(writer->Append(recs).ok());
  ASSERT_TRUE(writer->Flush().ok());  // written = handed to the sink
  EXPECT_EQ(writer->records_written(), 2u);
  EXPECT_EQ(writer->records_rejected(), 1u);
  ASSERT_TRUE(writer->Close(/*records_dropped=*/10, 0).ok());
  StreamContents c = ReadStreamBytes(Bytes(bytes));
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.trailer->records_dropped(), 11u);
}

TEST(StreamWriter, RefusesUseAfterClose) {
  std::string bytes;
  auto writer = MustCreate(std::make_unique<MemorySink>(&bytes));
  ASSERT_TRUE(writer->Close(0, 0).ok());
  const record::SessionRecord r{};
  EXPECT_EQ(writer->Append({&r, 1}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(writer->Close(0, 0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StreamWriter, RejectsLongOrNonUtf8SensorIds) {
  std::string bytes;
  EXPECT_FALSE(StreamWriter::Create(std::make_unique<MemorySink>(&bytes),
                                    {.sensor_id = std::string(kMaxSensorIdBytes + 1, 'x')})
                   .ok());
  absl::StatusOr<std::unique_ptr<StreamWriter>> w =
      StreamWriter::Create(std::make_unique<MemorySink>(&bytes), {.sensor_id = "bad\xff"});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("UTF-8"), absl::string_view::npos);
  EXPECT_TRUE(
      StreamWriter::Create(std::make_unique<MemorySink>(&bytes), {.sensor_id = "zürich-1"}).ok());
}

TEST(StreamWriter, InputNamesThatAreNotUtf8StillGiveAReadableStream) {
  std::string bytes;
  auto writer = MustCreate(std::make_unique<MemorySink>(&bytes),
                           {.sensor_id = "s", .inputs = {"cap\xff\xfe.pcap", "ok.pcap"}});
  ASSERT_TRUE(writer->Close(0, 0).ok());
  StreamContents c = ReadStreamBytes(Bytes(bytes));
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.header->inputs(0), "cap??.pcap");
  EXPECT_EQ(c.header->inputs(1), "ok.pcap");
}

TEST(StreamWriter, HeaderLargerThanABlockIsWrittenWhole) {
  std::string bytes;
  StreamInfo info{.sensor_id = "s"};
  for (int i = 0; i < 3000; ++i) info.inputs.push_back(std::string(60, 'a' + i % 26));
  auto writer = MustCreate(std::make_unique<MemorySink>(&bytes), info);
  const record::SessionRecord r = flowtrail::testing::FullRecord(4);
  ASSERT_TRUE(writer->Append({&r, 1}).ok());
  ASSERT_TRUE(writer->Close(0, 0).ok());
  StreamContents c = ReadStreamBytes(Bytes(bytes));
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.header->inputs_size(), 3000);
  EXPECT_EQ(c.records.size(), 1u);
}

TEST(StreamWriter, DestroyedWithoutCloseKeepsRecordsButWritesNoTrailer) {
  std::string bytes;
  {
    auto writer = MustCreate(std::make_unique<MemorySink>(&bytes));
    const record::SessionRecord r = flowtrail::testing::FullRecord(4);
    ASSERT_TRUE(writer->Append({&r, 1}).ok());
  }
  StreamContents c = ReadStreamBytes(Bytes(bytes));
  EXPECT_EQ(c.records.size(), 1u);
  EXPECT_FALSE(c.status.ok());
  EXPECT_NE(c.status.message().find("without a trailer"), absl::string_view::npos) << c.status;
  c = ReadStreamBytes(Bytes(bytes), {.require_trailer = false});
  EXPECT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 1u);
}

}  // namespace
}  // namespace flowtrail::exporter
