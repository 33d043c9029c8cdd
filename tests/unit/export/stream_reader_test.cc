#include "export/stream_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "export/byte_sinks.h"
#include "export/stream_writer.h"
#include "google/protobuf/stubs/logging.h"
#include "real_snapshots.h"
#include "record_gen.h"
#include "stream_test_util.h"

namespace flowtrail::exporter {
namespace {

using test::AppendFrame;
using test::AppendVarint;
using test::Bytes;
using test::HeaderFrame;
using test::RecordFrame;
using test::TrailerFrame;

// Expects the stream to yield `records` good records, then an error at
// `offset` whose message contains `what`.
void ExpectError(const std::string& bytes, size_t records, uint64_t offset, std::string_view what,
                 ReaderOptions options = {}) {
  StreamContents c = ReadStreamBytes(Bytes(bytes), options);
  EXPECT_EQ(c.records.size(), records);
  ASSERT_FALSE(c.status.ok()) << "no error; expected one at byte " << offset;
  EXPECT_EQ(c.error_offset, offset) << c.status;
  EXPECT_NE(c.status.message().find(absl::StrCat("byte ", offset, ": ")), absl::string_view::npos)
      << c.status;
  EXPECT_NE(c.status.message().find(std::string(what)), absl::string_view::npos) << c.status;
}

// Header and two records; returns the offset where the next frame starts.
size_t GoodStart(std::string* s) {
  AppendFrame(HeaderFrame(), s);
  AppendFrame(RecordFrame(1), s);
  AppendFrame(RecordFrame(2, 6), s);
  return s->size();
}

TEST(StreamReader, ReadsAHandBuiltStream) {
  std::string s;
  GoodStart(&s);
  AppendFrame(TrailerFrame(3, 2), &s);
  StreamContents c = ReadStreamBytes(Bytes(s));
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].session_id(), 1u);
  EXPECT_EQ(c.records[1].client_ip().size(), 16u);
  EXPECT_EQ(c.header->sensor_id(), "test");
  EXPECT_EQ(c.trailer->records(), 2u);
}

TEST(StreamReader, EmptyInputIsAnErrorAtByteZero) { ExpectError("", 0, 0, "empty stream"); }

TEST(StreamReader, FirstFrameMustBeAHeader) {
  std::string s;
  AppendFrame(RecordFrame(0), &s);
  ExpectError(s, 0, 0, "starts with a record frame, not a stream header");
}

TEST(StreamReader, HeaderMustHaveSequenceZero) {
  std::string s;
  AppendFrame(HeaderFrame(1), &s);
  ExpectError(s, 0, 0, "header has sequence 1, expected 0");
}

TEST(StreamReader, UnknownSchemaVersionIsRefused) {
  v1::Frame h = HeaderFrame();
  h.mutable_header()->set_schema_version(static_cast<v1::SchemaVersion>(2));
  std::string s;
  AppendFrame(h, &s);
  ExpectError(s, 0, 0, "unsupported schema version 2");
}

TEST(StreamReader, SequenceGapNamesExpectedAndSeen) {
  std::string s;
  const size_t at = GoodStart(&s);
  AppendFrame(RecordFrame(4), &s);
  ExpectError(s, 2, at, "frame sequence 4, expected 3");
}

TEST(StreamReader, RepeatedSequenceIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  AppendFrame(RecordFrame(2), &s);
  ExpectError(s, 2, at, "frame sequence 2, expected 3");
}

TEST(StreamReader, SecondHeaderIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  AppendFrame(HeaderFrame(3), &s);
  ExpectError(s, 2, at, "second stream header");
}

TEST(StreamReader, RecordAfterTheTrailerIsAnError) {
  std::string s;
  GoodStart(&s);
  AppendFrame(TrailerFrame(3, 2), &s);
  const size_t at = s.size();
  AppendFrame(RecordFrame(4), &s);
  ExpectError(s, 2, at, "after the stream trailer");
}

TEST(StreamReader, TrailerCountMustMatchTheRecords) {
  std::string s;
  const size_t at = GoodStart(&s);
  AppendFrame(TrailerFrame(3, 5), &s);
  ExpectError(s, 2, at, "trailer counts 5 records, the stream has 2");
}

TEST(StreamReader, FrameWithoutBodyIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  v1::Frame empty;
  empty.set_sequence(3);
  AppendFrame(empty, &s);
  ExpectError(s, 2, at, "has no body");
}

TEST(StreamReader, FrameOfAnUnknownFutureTypeIsSkippedAndCounted) {
  std::string s;
  GoodStart(&s);  // header, records 1 and 2
  // A Frame with sequence 3 and a body field this reader does not know
  // (field 99, length-delimited): what a newer writer's frame type looks like.
  std::string raw;
  raw.push_back(0x08);  // field 1 (sequence), varint
  raw.push_back(3);
  AppendVarint((99 << 3) | 2, &raw);
  raw.push_back(4);
  raw.append("abcd");
  AppendVarint(raw.size(), &s);
  s.append(raw);
  AppendFrame(RecordFrame(4), &s);
  v1::Frame t = TrailerFrame(5, 3);
  AppendFrame(t, &s);
  auto reader = StreamReader::FromBytes(Bytes(s));
  StreamContents c = ReadAll(*reader);
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.records.size(), 3u);
  EXPECT_EQ(c.records[2].session_id(), 4u);
  EXPECT_EQ(reader->frames_skipped(), 1u);
}

TEST(StreamReader, UnknownFrameStillTakesItsSequenceNumber) {
  std::string s;
  const size_t at = GoodStart(&s);
  std::string raw;
  raw.push_back(0x08);
  raw.push_back(4);  // should be 3
  AppendVarint((99 << 3) | 0, &raw);
  raw.push_back(1);
  AppendVarint(raw.size(), &s);
  s.append(raw);
  ExpectError(s, 2, at, "frame sequence 4, expected 3");
}

TEST(StreamReader, SnapshotFramesAreKeptNotReturnedAndCountedByTheTrailer) {
  std::string s;
  GoodStart(&s);
  v1::Frame snap;
  snap.set_sequence(3);
  snap.mutable_snapshot()->set_records(2);
  AppendFrame(snap, &s);
  snap.set_sequence(4);
  snap.mutable_snapshot()->set_records(7);
  AppendFrame(snap, &s);
  AppendFrame(RecordFrame(5), &s);
  v1::Frame t = TrailerFrame(6, 3);
  t.mutable_trailer()->set_snapshots(2);
  AppendFrame(t, &s);
  auto reader = StreamReader::FromBytes(Bytes(s));
  StreamContents c = ReadAll(*reader);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 3u);
  EXPECT_EQ(reader->snapshots_read(), 2u);
  ASSERT_NE(reader->last_snapshot(), nullptr);
  EXPECT_EQ(reader->last_snapshot()->records(), 7u);

  // A trailer that does not count them is an error.
  std::string bad;
  GoodStart(&bad);
  snap.set_sequence(3);
  AppendFrame(snap, &bad);
  const size_t at = bad.size();
  AppendFrame(TrailerFrame(4, 2), &bad);
  ExpectError(bad, 2, at, "trailer counts 0 snapshots, the stream has 1");
}

TEST(StreamReader, TakeLastSnapshotMovesItOut) {
  std::string s;
  AppendFrame(HeaderFrame(), &s);
  v1::Frame snap;
  snap.set_sequence(1);
  snap.mutable_snapshot()->set_records(7);
  snap.mutable_snapshot()->mutable_scans()->add_rows()->set_port(80);
  AppendFrame(snap, &s);
  v1::Frame t = TrailerFrame(2, 0);
  t.mutable_trailer()->set_snapshots(1);
  AppendFrame(t, &s);
  auto reader = StreamReader::FromBytes(Bytes(s));
  v1::AnalyticsSnapshot out;
  EXPECT_FALSE(reader->TakeLastSnapshot(&out));  // none yet
  ASSERT_TRUE(reader->Next().ok());
  out.set_records(1);  // replaced
  ASSERT_TRUE(reader->TakeLastSnapshot(&out));
  EXPECT_EQ(out.SerializeAsString(), snap.snapshot().SerializeAsString());
  EXPECT_EQ(reader->last_snapshot()->ByteSizeLong(), 0u);
}

TEST(StreamReader, ZeroLengthFrameIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  s.push_back('\0');
  ExpectError(s, 2, at, "has no body");
}

TEST(StreamReader, RecordWithBadAddressIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  v1::Frame f = RecordFrame(3);
  f.mutable_record()->set_client_ip("12345");
  AppendFrame(f, &s);
  ExpectError(s, 2, at, "record (sequence 3): record has a 5-byte client_ip");
}

TEST(StreamReader, RecordWithAFieldOutOfRangeIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  v1::Frame f = RecordFrame(3);
  f.mutable_record()->set_client_port(4294967295u);
  AppendFrame(f, &s);
  AppendFrame(RecordFrame(4), &s);
  ExpectError(s, 2, at, "record (sequence 3): client_port = 4294967295 is out of range");
}

TEST(StreamReader, FrameLongerThanTheCapIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  AppendVarint(kMaxSnapshotFrameBytes + 1, &s);
  s.append(100, 'x');
  ExpectError(s, 2, at,
              absl::StrCat("frame length ", kMaxSnapshotFrameBytes + 1, " exceeds the limit"));
}

TEST(StreamReader, OnlySnapshotFramesMayExceedTheFrameCap) {
  v1::Frame big = RecordFrame(3);
  big.mutable_record()->set_sensor_id(std::string(kMaxFrameBytes, 'a'));
  std::string s;
  const size_t at = GoodStart(&s);
  AppendFrame(big, &s);
  ExpectError(s, 2, at, absl::StrCat(" exceeds the limit of ", kMaxFrameBytes, " bytes"));

  v1::Frame snap;
  snap.set_sequence(3);
  snap.mutable_snapshot()->mutable_ports()->set_server_ports(std::string(kMaxFrameBytes, 'a'));
  std::string ok;
  GoodStart(&ok);
  AppendFrame(snap, &ok);
  v1::Frame t = TrailerFrame(4, 2);
  t.mutable_trailer()->set_snapshots(1);
  AppendFrame(t, &ok);
  StreamContents c = ReadStreamBytes(Bytes(ok));
  EXPECT_TRUE(c.status.ok()) << c.status;
}

// A snapshot frame whose parse would take ~80 times its bytes (empty rows)
// is refused before it is parsed: nothing of it is built or kept.
TEST(StreamReader, SnapshotBombIsRefusedBeforeItsParse) {
  auto heap = [] {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
  };
  std::string s;
  const size_t at = GoodStart(&s);
  const std::string bomb = test::EmptyRowsSnapshotFrame(3, 1 << 20);  // 2 MiB, ~150 MiB parsed
  s += bomb;
  v1::Frame t = TrailerFrame(4, 2);
  t.mutable_trailer()->set_snapshots(1);
  AppendFrame(t, &s);
  const size_t before = heap();
  auto reader = StreamReader::FromBytes(Bytes(s));
  absl::StatusOr<const v1::SessionRecord*> r;
  while ((r = reader->Next()).ok() && *r != nullptr) {
  }
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(reader->error_offset(), at);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr(absl::StrCat(
                  "byte ", at, ": frame (sequence 3): its snapshot would hold more than ",
                  (bomb.size() - 4) / kMinBytesPerMessage, " messages")));
  EXPECT_EQ(reader->last_snapshot(), nullptr);
  // The reader holds the frame's bytes, not its parse.
  const size_t after = heap();
  EXPECT_LT(after - std::min(after, before), 4 * bomb.size());
}

// Snapshots of real tables (the densest we could build, and a bigger
// realistic one) read as they were written.
TEST(StreamReader, SnapshotsOfRealTablesStillRead) {
  for (auto [kind, records] :
       {std::pair{test::SnapshotKind::kDensest, 50000}, {test::SnapshotKind::kRealistic, 200000}}) {
    const v1::AnalyticsSnapshot snap = test::RealSnapshot(kind, records);
    std::string bytes;
    auto w = StreamWriter::Create(std::make_unique<MemorySink>(&bytes),
                                  {.sensor_id = "t", .snapshots = true});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->WriteSnapshot(snap).ok());
    ASSERT_TRUE((*w)->Close(0, 0).ok());
    EXPECT_GT(bytes.size(), size_t{1} << 20);
    auto reader = StreamReader::FromBytes(Bytes(bytes));
    absl::StatusOr<const v1::SessionRecord*> r = reader->Next();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, nullptr);
    ASSERT_NE(reader->last_snapshot(), nullptr);
    EXPECT_EQ(reader->last_snapshot()->SerializeAsString(), snap.SerializeAsString());
  }
}

TEST(StreamReader, CapIsConfigurable) {
  std::string s;
  AppendFrame(HeaderFrame(), &s);
  const size_t at = s.size();
  AppendFrame(RecordFrame(1), &s);
  ExpectError(s, 0, at, "exceeds the limit of 20 bytes", {.max_frame_bytes = 20});
}

TEST(StreamReader, VarintLongerThanTenBytesIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  s.append(11, '\xff');
  s.append(50, '\x01');
  ExpectError(s, 2, at, "varint longer than 10 bytes");
}

TEST(StreamReader, VarintOverflowingSixtyFourBitsIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  s.append(9, '\xff');
  s.push_back('\x7f');
  ExpectError(s, 2, at, "varint overflows 64 bits");
}

TEST(StreamReader, HugeButValidVarintHitsTheCap) {
  std::string s;
  const size_t at = GoodStart(&s);
  AppendVarint(UINT64_MAX, &s);
  ExpectError(s, 2, at, "exceeds the limit");
}

TEST(StreamReader, TruncatedLengthIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  s.push_back('\x85');
  ExpectError(s, 2, at, "truncated inside a frame length");
}

TEST(StreamReader, TruncatedBodyIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  AppendVarint(40, &s);
  s.append(10, '\0');
  ExpectError(s, 2, at, "frame declares 40 bytes but only 10 follow");
}

TEST(StreamReader, UnparsableBodyIsAnError) {
  std::string s;
  const size_t at = GoodStart(&s);
  AppendVarint(3, &s);
  s.append("\xff\xff\xff");
  ExpectError(s, 2, at, "not a valid flowtrail.v1.Frame");
}

TEST(StreamReader, MissingTrailerIsAnErrorUnlessAllowed) {
  std::string s;
  const size_t end = GoodStart(&s);
  ExpectError(s, 2, end, "without a trailer");
  StreamContents c = ReadStreamBytes(Bytes(s), {.require_trailer = false});
  EXPECT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 2u);
}

TEST(StreamReader, ErrorIsStickyAndNextKeepsReturningIt) {
  std::string s;
  GoodStart(&s);
  s.push_back('\x85');
  auto reader = StreamReader::FromBytes(Bytes(s));
  ASSERT_TRUE(reader->Next().ok());
  ASSERT_TRUE(reader->Next().ok());
  absl::StatusOr<const v1::SessionRecord*> a = reader->Next();
  absl::StatusOr<const v1::SessionRecord*> b = reader->Next();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status(), b.status());
}

std::string WrittenStream(int records, std::vector<size_t>* frame_ends) {
  std::string bytes;
  auto w = StreamWriter::Create(std::make_unique<MemorySink>(&bytes), {.sensor_id = "t"});
  EXPECT_TRUE(w.ok());
  std::mt19937_64 rng(3);
  // Flush after each frame so the frame boundaries are visible in `bytes`.
  EXPECT_TRUE((*w)->Flush().ok());
  frame_ends->push_back(bytes.size());
  for (int i = 0; i < records; ++i) {
    const record::SessionRecord r = flowtrail::testing::RandomRecord(rng);
    EXPECT_TRUE((*w)->Append({&r, 1}).ok());
    EXPECT_TRUE((*w)->Flush().ok());
    frame_ends->push_back(bytes.size());
  }
  EXPECT_TRUE((*w)->Close(0, 0).ok());
  frame_ends->push_back(bytes.size());
  return bytes;
}

TEST(StreamReader, TruncationAtEveryByteYieldsTheWholeRecordsBeforeItAndAnOffset) {
  std::vector<size_t> ends;  // ends[0] header, ends[1..n] records, ends[n+1] trailer
  const std::string full = WrittenStream(25, &ends);
  const StreamContents whole = ReadStreamBytes(Bytes(full));
  ASSERT_TRUE(whole.status.ok()) << whole.status;
  ASSERT_EQ(whole.records.size(), 25u);
  for (size_t len = 0; len < full.size(); ++len) {
    const std::string cut = full.substr(0, len);
    StreamContents c = ReadStreamBytes(Bytes(cut));
    // Frames wholly inside the cut are read; the error is at the first frame
    // that is not.
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= len) ++complete;
    const size_t want_records = complete == 0 ? 0 : std::min<size_t>(complete - 1, 25);
    const uint64_t want_offset = complete == 0 ? 0 : ends[complete - 1];
    ASSERT_EQ(c.records.size(), want_records) << "cut at " << len;
    ASSERT_FALSE(c.status.ok()) << "cut at " << len;
    ASSERT_EQ(c.error_offset, want_offset) << "cut at " << len << ": " << c.status;
    ASSERT_NE(c.status.message().find(absl::StrCat("byte ", want_offset)), absl::string_view::npos);
    for (size_t i = 0; i < c.records.size(); ++i) {
      ASSERT_EQ(c.records[i].SerializeAsString(), whole.records[i].SerializeAsString());
    }
  }
}

TEST(StreamReader, FlippingAnyByteNeverCrashesAndReportsAnOffset) {
  std::vector<size_t> ends;
  const std::string full = WrittenStream(6, &ends);
  // Damaged strings make protobuf log about invalid UTF-8; the reader's
  // status is what this test checks.
  google::protobuf::LogSilencer quiet;
  for (size_t i = 0; i < full.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string bad = full;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      StreamContents c = ReadStreamBytes(Bytes(bad));
      EXPECT_LE(c.records.size(), 6u);
      if (!c.status.ok()) {
        EXPECT_LE(c.error_offset, i) << "the error is at or before the damaged frame";
        EXPECT_NE(c.status.message().find("byte "), absl::string_view::npos);
      }
    }
  }
}

// Hands out the input a few bytes at a time, like a pipe.
class TrickleSource final : public ByteSource {
 public:
  explicit TrickleSource(std::string bytes) : bytes_(std::move(bytes)) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    const size_t n = std::min({buf.size(), bytes_.size() - pos_, step_});
    std::memcpy(buf.data(), bytes_.data() + pos_, n);
    pos_ += n;
    step_ = step_ % 7 + 1;
    return n;
  }

 private:
  std::string bytes_;
  size_t pos_ = 0;
  size_t step_ = 1;
};

TEST(StreamReader, ShortReadsGiveTheSameResult) {
  std::vector<size_t> ends;
  const std::string full = WrittenStream(40, &ends);
  StreamReader reader(std::make_unique<TrickleSource>(full));
  StreamContents c = ReadAll(reader);
  ASSERT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 40u);
}

class FailingSource final : public ByteSource {
 public:
  absl::StatusOr<size_t> Read(std::span<uint8_t>) override {
    return absl::PermissionDeniedError("reading x: nope");
  }
};

TEST(StreamReader, ReadErrorsEndTheStreamWithTheirMessage) {
  StreamReader reader(std::make_unique<FailingSource>());
  StreamContents c = ReadAll(reader);
  ASSERT_FALSE(c.status.ok());
  EXPECT_NE(c.status.message().find("byte 0: reading x: nope"), absl::string_view::npos)
      << c.status;
}

TEST(StreamReader, OpenFileNamesAMissingFile) {
  absl::StatusOr<std::unique_ptr<StreamReader>> r = StreamReader::OpenFile("/nonexistent/x.ftr");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/x.ftr"), absl::string_view::npos);
}

}  // namespace
}  // namespace flowtrail::exporter
