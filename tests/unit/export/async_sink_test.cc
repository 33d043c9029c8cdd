#include "export/async_sink.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "export/byte_sinks.h"
#include "export/rotating_file_sink.h"
#include "export/stream_format.h"
#include "export/stream_reader.h"
#include "export/stream_writer.h"
#include "record_gen.h"
#include "stream_test_util.h"

namespace flowtrail::exporter {
namespace {

using test::Bytes;
using test::PartialSink;

const StreamInfo kInfo{.sensor_id = "s1", .start_time_us = 5, .snapshots = true, .run_id = "r"};

std::vector<record::SessionRecord> Records(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<record::SessionRecord> v(n);
  for (auto& r : v) r = flowtrail::testing::RandomRecord(rng);
  return v;
}

// Appends `recs` in bursts of 256 with a snapshot and a flush in between,
// as the exporter does, then closes; returns the first error.
absl::Status Feed(StreamWriter& w, const std::vector<record::SessionRecord>& recs) {
  v1::AnalyticsSnapshot snap;
  snap.mutable_ports()->set_server_ports(std::string(100'000, 'p'));  // larger than a block
  for (size_t at = 0; at < recs.size(); at += 256) {
    const size_t n = std::min<size_t>(256, recs.size() - at);
    if (absl::Status s = w.Append({recs.data() + at, n}); !s.ok()) return s;
    if (at % 2560 == 0) {
      if (absl::Status s = w.WriteSnapshot(snap); !s.ok()) return s;
      if (absl::Status s = w.Flush(); !s.ok()) return s;
    }
  }
  return w.Close(3, 9);
}

std::string Direct(const std::vector<record::SessionRecord>& recs) {
  std::string bytes;
  auto w = *StreamWriter::Create(std::make_unique<MemorySink>(&bytes), kInfo);
  EXPECT_TRUE(Feed(*w, recs).ok());
  return bytes;
}

TEST(AsyncSegmentSink, WritesTheSameBytesAsTheSinkItWraps) {
  const auto recs = Records(5000, 1);
  const std::string want = Direct(recs);
  ASSERT_GT(want.size(), 10 * kBlockBytes);
  for (size_t blocks : {2, 8}) {
    std::string got;
    auto w = *StreamWriter::Create(std::make_unique<AsyncSegmentSink>(
                                       SingleSegment(std::make_unique<MemorySink>(&got)), blocks),
                                   kInfo);
    ASSERT_TRUE(Feed(*w, recs).ok());
    EXPECT_EQ(got, want) << blocks << " blocks";
    EXPECT_EQ(w->records_written(), recs.size());
    EXPECT_EQ(w->bytes_written(), want.size());
    const StreamContents c = ReadStreamBytes(Bytes(got));
    ASSERT_TRUE(c.status.ok()) << c.status;
    EXPECT_EQ(c.records.size(), recs.size());
  }
}

// A failure on the I/O thread comes back at a later call; records_written()
// and bytes_written() are then exactly what the destination holds.
TEST(AsyncSegmentSink, AfterAWriteErrorTheCountsAreWhatReachedTheDestination) {
  const auto recs = Records(4000, 2);
  const std::string whole = Direct(recs);
  for (size_t budget :
       {size_t{0}, size_t{7}, kBlockBytes + 5, 5 * kBlockBytes + 1000, whole.size() - 1}) {
    std::string got;
    auto w =
        *StreamWriter::Create(std::make_unique<AsyncSegmentSink>(
                                  SingleSegment(std::make_unique<PartialSink>(&got, budget)), 2),
                              kInfo);
    const absl::Status s = Feed(*w, recs);
    ASSERT_FALSE(s.ok()) << budget;
    EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
    EXPECT_EQ(got, whole.substr(0, budget));
    const StreamContents c = ReadStreamBytes(Bytes(got), {.require_trailer = false});
    EXPECT_EQ(w->records_written(), c.records.size()) << "budget " << budget;
    EXPECT_EQ(w->bytes_written(), budget);
  }
}

// Blocks until the test opens the gate: the disk is slower than the stream.
class GatedSink final : public ByteSink {
 public:
  GatedSink(std::string* out, std::atomic<bool>* open) : out_(out), open_(open) {}
  absl::Status Write(std::span<const uint8_t> bytes) override {
    while (!open_->load()) std::this_thread::yield();
    out_->append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  std::string* out_;
  std::atomic<bool>* open_;
};

TEST(AsyncSegmentSink, WaitsForAFreeBlockWhenAllAreInFlightAndCountsIt) {
  const auto recs = Records(3000, 3);
  const std::string want = Direct(recs);
  std::string got;
  std::atomic<bool> open{false};
  auto sink = std::make_unique<AsyncSegmentSink>(
      SingleSegment(std::make_unique<GatedSink>(&got, &open)), 2);
  AsyncSegmentSink* async = sink.get();
  auto w = *StreamWriter::Create(std::move(sink), kInfo);
  // The writer's block and the set's two: the third full block waits.
  std::thread gate([&] {
    while (async->full_waits() == 0) std::this_thread::yield();
    open.store(true);
  });
  ASSERT_TRUE(Feed(*w, recs).ok());
  gate.join();
  EXPECT_GE(async->full_waits(), 1u);
  EXPECT_EQ(got, want);
  EXPECT_EQ(w->records_written(), recs.size());
}

// The thread sleeps until a quarter of the set (8 of 32 blocks) waits; a
// few blocks fewer still reach the destination at the next Flush, without
// the thread being woken by another block.
TEST(AsyncSegmentSink, BlocksBelowTheWakeDepthAreWrittenAtTheNextFlush) {
  const auto recs = Records(1500, 5);  // 4 or 5 blocks
  std::string got;
  auto w = *StreamWriter::Create(
      std::make_unique<AsyncSegmentSink>(SingleSegment(std::make_unique<MemorySink>(&got)), 32),
      kInfo);
  for (size_t at = 0; at < recs.size(); at += 256) {
    ASSERT_TRUE(w->Append({recs.data() + at, std::min<size_t>(256, recs.size() - at)}).ok());
  }
  ASSERT_TRUE(w->Flush().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (w->records_written() < recs.size() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(w->records_written(), recs.size());
  ASSERT_TRUE(w->Close(0, 0).ok());
  const StreamContents c = ReadStreamBytes(Bytes(got));
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), recs.size());
}

TEST(AsyncSegmentSink, RotatingFilesThroughTheThreadHoldEveryRecord) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "async_sink_rotating";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto recs = Records(6000, 4);
  {
    absl::StatusOr<std::unique_ptr<SegmentSink>> out =
        OpenRunOutput({.dir = dir.string(), .rotate_bytes = 4 * kBlockBytes});
    ASSERT_TRUE(out.ok()) << out.status();
    auto w = *StreamWriter::Create(*std::move(out), kInfo);
    ASSERT_TRUE(Feed(*w, recs).ok());
    EXPECT_EQ(w->records_written(), recs.size());
  }
  size_t files = 0, records = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    ASSERT_EQ(e.path().extension(), ".ftr") << e.path();
    auto reader = StreamReader::OpenFile(e.path().string());
    ASSERT_TRUE(reader.ok()) << reader.status();
    const StreamContents c = ReadAll(**reader);
    ASSERT_TRUE(c.status.ok()) << c.status;
    records += c.records.size();
    ++files;
  }
  EXPECT_GT(files, 3u);
  EXPECT_EQ(records, recs.size());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace flowtrail::exporter
