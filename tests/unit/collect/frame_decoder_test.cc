// The collector's decoder against the stream reader: the same verdict (the
// same records, the same error at the same byte) on every kind of bad input,
// however the bytes are cut into chunks.
#include "collect/frame_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collect/sequence_set.h"
#include "export/stream_reader.h"
#include "real_snapshots.h"
#include "stream_test_util.h"

namespace flowtrail::collect {
namespace {

using exporter::test::AppendFrame;
using exporter::test::AppendVarint;
using exporter::test::Bytes;
using exporter::test::HeaderFrame;
using exporter::test::RecordFrame;
using exporter::test::TrailerFrame;

struct Result {
  std::vector<std::pair<uint64_t, int>> frames;  // sequence, body
  std::vector<std::string> wire;
  uint64_t records = 0;
  absl::Status status;
  size_t max_buffered = 0;
};

// Feeds `bytes` in chunks of `chunk` bytes (0: one shot), then Finish().
Result Decode(const std::string& bytes, size_t chunk = 0) {
  FrameDecoder d;
  Result r;
  auto on_frame = [&](const DecodedFrame& f) {
    r.frames.emplace_back(f.sequence, static_cast<int>(f.body));
    r.wire.emplace_back(reinterpret_cast<const char*>(f.wire.data()), f.wire.size());
    if (f.body == v1::Frame::kRecord) ++r.records;
    return absl::OkStatus();
  };
  const size_t step = chunk == 0 ? std::max<size_t>(bytes.size(), 1) : chunk;
  for (size_t i = 0; i < bytes.size() && r.status.ok(); i += step) {
    r.status = d.Feed(Bytes(bytes.substr(i, step)), on_frame);
    r.max_buffered = std::max(r.max_buffered, d.buffered());
  }
  if (r.status.ok()) r.status = d.Finish();
  return r;
}

// What `flowtrail cat --allow-unfinished` says of the same bytes.
void ExpectSameAsReader(const std::string& bytes) {
  exporter::StreamContents c = exporter::ReadStreamBytes(Bytes(bytes), {.require_trailer = false});
  const Result r = Decode(bytes);
  EXPECT_EQ(r.status, c.status);
  EXPECT_EQ(r.records, c.records.size());
}

std::string GoodStream(uint64_t first = 1, uint64_t n = 5, bool trailer = true) {
  std::string s;
  v1::Frame h = HeaderFrame(first - 1);
  h.mutable_header()->set_first_sequence(first);
  h.mutable_header()->set_run_id("0123456789abcdef0123456789abcdef");
  AppendFrame(h, &s);
  for (uint64_t i = 0; i < n; ++i) AppendFrame(RecordFrame(first + i), &s);
  if (trailer) AppendFrame(TrailerFrame(first + n, n), &s);
  return s;
}

TEST(FrameDecoder, GoodStreamGivesEveryFrameWithItsBytes) {
  const std::string s = GoodStream(7, 5);
  const Result r = Decode(s);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.frames.size(), 7u);
  EXPECT_EQ(r.frames[0], std::make_pair(uint64_t{6}, static_cast<int>(v1::Frame::kHeader)));
  EXPECT_EQ(r.frames[1].first, 7u);
  EXPECT_EQ(r.frames[6], std::make_pair(uint64_t{12}, static_cast<int>(v1::Frame::kTrailer)));
  std::string joined;
  for (const std::string& w : r.wire) joined += w;
  EXPECT_EQ(joined, s);
  EXPECT_EQ(r.records, 5u);
  ExpectSameAsReader(s);
}

TEST(FrameDecoder, EveryChunkSizeEqualsOneShot) {
  const std::string s = GoodStream(1, 4);
  const Result one = Decode(s);
  for (size_t chunk = 1; chunk <= s.size(); ++chunk) {
    const Result r = Decode(s, chunk);
    EXPECT_EQ(r.frames, one.frames) << chunk;
    EXPECT_EQ(r.wire, one.wire) << chunk;
    EXPECT_EQ(r.status, one.status) << chunk;
  }
}

TEST(FrameDecoder, EveryCutPointEqualsOneShot) {
  // Two chunks cut at every byte boundary, on a good and on a bad stream.
  std::string bad = GoodStream(1, 3, false);
  bad += "\x05garbage";
  for (const std::string& s : {GoodStream(1, 3), bad}) {
    const Result one = Decode(s);
    for (size_t cut = 0; cut <= s.size(); ++cut) {
      FrameDecoder d;
      std::vector<std::pair<uint64_t, int>> frames;
      auto on_frame = [&](const DecodedFrame& f) {
        frames.emplace_back(f.sequence, static_cast<int>(f.body));
        return absl::OkStatus();
      };
      absl::Status st = d.Feed(Bytes(s.substr(0, cut)), on_frame);
      if (st.ok()) st = d.Feed(Bytes(s.substr(cut)), on_frame);
      if (st.ok()) st = d.Finish();
      EXPECT_EQ(frames, one.frames) << cut;
      EXPECT_EQ(st, one.status) << cut;
    }
  }
}

TEST(FrameDecoder, RandomChunkingEqualsOneShot) {
  std::mt19937 rng(7);
  const std::string s = GoodStream(1, 50);
  const Result one = Decode(s);
  for (int trial = 0; trial < 50; ++trial) {
    FrameDecoder d;
    std::vector<std::pair<uint64_t, int>> frames;
    auto on_frame = [&](const DecodedFrame& f) {
      frames.emplace_back(f.sequence, static_cast<int>(f.body));
      return absl::OkStatus();
    };
    size_t i = 0;
    absl::Status st;
    while (i < s.size() && st.ok()) {
      const size_t n = std::min(s.size() - i, static_cast<size_t>(rng() % 700));
      st = d.Feed(Bytes(s.substr(i, n)), on_frame);
      i += n;
    }
    if (st.ok()) st = d.Finish();
    EXPECT_EQ(frames, one.frames);
    EXPECT_EQ(st, one.status);
  }
}

std::string WithHeader(const std::string& tail) {
  std::string s;
  AppendFrame(HeaderFrame(0), &s);
  return s + tail;
}

TEST(FrameDecoder, ErrorsMatchTheReader) {
  std::vector<std::pair<std::string, std::string>> cases;  // name, bytes
  cases.emplace_back("empty", "");
  std::mt19937 rng(1);
  std::string random(4096, '\0');
  for (char& ch : random) ch = static_cast<char>(rng());
  cases.emplace_back("random bytes", random);
  {
    std::string s;
    AppendVarint(uint64_t{2} << 30, &s);  // 2 GiB
    cases.emplace_back("2 GiB length", s + "abc");
    cases.emplace_back("2 GiB length after header", WithHeader(s + "abc"));
  }
  cases.emplace_back("varint too long", std::string(10, '\xff') + "x");
  cases.emplace_back("varint overflow", std::string(9, '\xff') + "\x02");
  cases.emplace_back("truncated length", WithHeader("\xff"));
  {
    std::string s = GoodStream(1, 2, false);
    std::string rec;
    AppendFrame(RecordFrame(3), &rec);
    cases.emplace_back("truncated frame", s + rec.substr(0, rec.size() / 2));
  }
  cases.emplace_back("garbage after header", WithHeader(std::string("\x08\xff\xff\xff\xff", 5)));
  cases.emplace_back("not protobuf", WithHeader(std::string("\x03\xff\xff\xff", 4)));
  {
    v1::Frame f;
    f.set_sequence(1);
    std::string s;
    AppendFrame(f, &s);
    cases.emplace_back("no body", WithHeader(s));
  }
  {
    std::string s;
    AppendFrame(RecordFrame(1), &s);
    cases.emplace_back("record first", s);
  }
  {
    std::string s;
    AppendFrame(HeaderFrame(3), &s);
    cases.emplace_back("header wrong sequence", s);
    std::string t;
    v1::Frame h = HeaderFrame(0);
    h.mutable_header()->set_schema_version(v1::SchemaVersion(9));
    AppendFrame(h, &t);
    cases.emplace_back("schema version", t);
  }
  {
    std::string s;
    AppendFrame(RecordFrame(2), &s);
    cases.emplace_back("sequence gap", WithHeader(s));
    std::string h;
    AppendFrame(HeaderFrame(1), &h);
    cases.emplace_back("second header", WithHeader(h));
  }
  {
    v1::Frame f = RecordFrame(1);
    f.mutable_record()->set_client_port(70000);
    std::string s;
    AppendFrame(f, &s);
    cases.emplace_back("bad record", WithHeader(s));
  }
  {
    std::string s;
    AppendFrame(RecordFrame(1), &s);
    AppendFrame(TrailerFrame(2, 5), &s);
    cases.emplace_back("trailer count", WithHeader(s));
    std::string t = GoodStream(1, 1);
    AppendFrame(RecordFrame(3), &t);
    cases.emplace_back("after trailer", t);
  }
  {
    v1::Frame f = RecordFrame(1);
    f.mutable_record()->set_sensor_id(std::string(exporter::kMaxFrameBytes + 10, 'a'));
    std::string s;
    AppendFrame(f, &s);
    cases.emplace_back("record over 1 MiB", WithHeader(s));
  }
  // A snapshot of 4096 empty rows in 8 KiB, where 1 Ki messages may be.
  cases.emplace_back("snapshot bomb", WithHeader(exporter::test::EmptyRowsSnapshotFrame(1, 4096)));
  {
    // A frame of a newer type takes its sequence and is skipped.
    std::string unknown = "\x08\x01\xfa\x01\x01z";  // sequence 1, field 31 "z"
    std::string s;
    AppendVarint(unknown.size(), &s);
    s += unknown;
    AppendFrame(RecordFrame(2), &s);
    cases.emplace_back("unknown frame type", WithHeader(s));
    cases.emplace_back("unknown frame first", s);
  }
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    ExpectSameAsReader(bytes);
    const Result one = Decode(bytes);
    // Every case but the skipped newer frame type is an error.
    EXPECT_EQ(one.status.ok(), name == "unknown frame type") << one.status;
    // Chunked the same, at a few sizes (every size for the small inputs).
    for (size_t chunk : {size_t{1}, size_t{3}, size_t{17}, size_t{1000}}) {
      const Result r = Decode(bytes, chunk);
      EXPECT_EQ(r.status, one.status) << chunk;
      EXPECT_EQ(r.frames, one.frames) << chunk;
    }
  }
  // And the errors are the ones meant.
  EXPECT_THAT(std::string(Decode(cases[2].second).status.message()),
              ::testing::HasSubstr("frame length 2147483648 exceeds the limit"));
  EXPECT_THAT(std::string(Decode(cases[7].second).status.message()),
              ::testing::HasSubstr("truncated: frame declares"));
}

// A peer's snapshot whose parse would take ~80 times its bytes is refused
// before it is parsed, with the reader's message, whatever the chunks; real
// snapshots pass.
TEST(FrameDecoder, SnapshotBombIsRefusedBeforeItsParseLikeTheReader) {
  std::string s;
  AppendFrame(HeaderFrame(0), &s);
  const size_t at = s.size();
  s += exporter::test::EmptyRowsSnapshotFrame(1, 1 << 20);  // 2 MiB, ~150 MiB parsed
  ExpectSameAsReader(s);
  for (size_t chunk : {size_t{0}, size_t{4096}, size_t{65543}}) {
    const Result r = Decode(s, chunk);
    EXPECT_EQ(r.frames.size(), 1u) << chunk;  // the header only
    EXPECT_THAT(std::string(r.status.message()),
                ::testing::HasSubstr(absl::StrCat(
                    "byte ", at, ": frame (sequence 1): its snapshot would hold more than")))
        << chunk;
  }

  std::string ok;
  AppendFrame(HeaderFrame(0), &ok);
  v1::Frame snap;
  snap.set_sequence(1);
  *snap.mutable_snapshot() =
      exporter::test::RealSnapshot(exporter::test::SnapshotKind::kDensest, 50000);
  AppendFrame(snap, &ok);
  ASSERT_GT(ok.size(), size_t{1} << 20);
  ExpectSameAsReader(ok);
  const Result r = Decode(ok, 65536);
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.frames.size(), 2u);
}

TEST(FrameDecoder, AnnouncedLengthIsNotReservedBeforeTheBytesArrive) {
  // A 60 MiB frame announced, 100 bytes sent: the decoder holds ~100 bytes.
  std::string s;
  AppendVarint(60u << 20, &s);
  s += std::string(100, 'x');
  const Result r = Decode(WithHeader(s), 7);
  EXPECT_LE(r.max_buffered, s.size());
  EXPECT_THAT(std::string(r.status.message()), ::testing::HasSubstr("truncated"));
}

// A frame of a snapshot body of `body_bytes` (one unknown field inside: a
// single message however large) with sequence `seq`.
std::string SnapshotFrame(uint64_t seq, size_t body_bytes) {
  std::string snapshot;
  AppendVarint((999u << 3) | 2, &snapshot);
  AppendVarint(body_bytes, &snapshot);
  snapshot.append(body_bytes, 'x');
  return exporter::test::DelimitedSnapshotFrame(seq, snapshot);
}

// Once a large frame is handed over, neither its buffer nor its parse is
// kept: a few bytes of the next frame behind it cost a few bytes, and
// held_bytes() (what the collector's budget counts) says what is held.
TEST(FrameDecoder, ALargeFrameIsReleasedOnceHandedOver) {
  std::string s;
  AppendFrame(HeaderFrame(0), &s);
  s += SnapshotFrame(1, size_t{60} << 20);
  std::string next;
  AppendFrame(RecordFrame(2), &next);
  s += next.substr(0, 3);
  auto heap = [] {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
  };
  const size_t before = heap();
  FrameDecoder d;
  int frames = 0;
  for (size_t at = 0; at < s.size(); at += 256 * 1024) {  // the collector's reads
    const size_t n = std::min<size_t>(256 * 1024, s.size() - at);
    ASSERT_TRUE(d.Feed(Bytes(s).subspan(at, n), [&](const DecodedFrame&) {
                   ++frames;
                   return absl::OkStatus();
                 }).ok());
  }
  EXPECT_EQ(frames, 2);
  EXPECT_EQ(d.buffered(), 3u);
  EXPECT_LE(d.held_bytes(), exporter::kBlockBytes);
  const size_t after = heap();
  EXPECT_LT(after - std::min(after, before), size_t{1} << 20);
  // The next frame completes as usual.
  ASSERT_TRUE(d.Feed(Bytes(next).subspan(3), [&](const DecodedFrame& f) {
                 EXPECT_EQ(f.sequence, 2u);
                 ++frames;
                 return absl::OkStatus();
               }).ok());
  EXPECT_EQ(frames, 3);
  EXPECT_EQ(d.held_bytes(), 0u);
}

// While a frame is incomplete, held_bytes() counts the buffer it grew
// (at least the bytes held), and small frames reuse their buffer.
TEST(FrameDecoder, HeldBytesCountTheBufferOfAnIncompleteFrame) {
  std::string s;
  AppendFrame(HeaderFrame(0), &s);
  const std::string big = SnapshotFrame(1, 3 << 20);
  FrameDecoder d;
  auto ok = [](const DecodedFrame&) { return absl::OkStatus(); };
  ASSERT_TRUE(d.Feed(Bytes(s), ok).ok());
  for (size_t at = 0; at + 4096 < big.size(); at += 4096) {
    ASSERT_TRUE(d.Feed(Bytes(big).subspan(at, 4096), ok).ok());
    EXPECT_GE(d.held_bytes(), d.buffered());
    EXPECT_LE(d.held_bytes(), 2 * d.buffered() + 4096);
  }
}

// The last sequence there is cannot be a data frame: no sequence follows it,
// and the run's interval [2^64 - 1, 2^64) wraps. Reader and decoder agree.
TEST(FrameDecoder, ASequenceThatWouldOverflowIsRefused) {
  std::string s;
  v1::Frame h = HeaderFrame(UINT64_MAX - 1);
  h.mutable_header()->set_first_sequence(UINT64_MAX);
  AppendFrame(h, &s);
  const size_t header = s.size();
  AppendFrame(RecordFrame(UINT64_MAX), &s);
  ExpectSameAsReader(s);
  const Result r = Decode(s);
  EXPECT_EQ(std::string(r.status.message()),
            absl::StrCat("byte ", header,
                         ": frame sequence 18446744073709551615 overflows: no sequence number "
                         "follows it"));
  // The one before it is fine.
  std::string t;
  h = HeaderFrame(UINT64_MAX - 2);
  h.mutable_header()->set_first_sequence(UINT64_MAX - 1);
  AppendFrame(h, &t);
  AppendFrame(RecordFrame(UINT64_MAX - 1), &t);
  EXPECT_TRUE(Decode(t).status.ok());
}

TEST(FrameDecoder, CallbackErrorStopsDecoding) {
  FrameDecoder d;
  int n = 0;
  const std::string s = GoodStream(1, 3);
  absl::Status st = d.Feed(Bytes(s), [&](const DecodedFrame&) {
    return ++n == 2 ? absl::InternalError("disk full") : absl::OkStatus();
  });
  EXPECT_EQ(st, absl::InternalError("disk full"));
  EXPECT_EQ(n, 2);
}

TEST(SequenceSet, RemoveCutsRangesApart) {
  SequenceSet s;
  s.Add(1, 11);
  s.Add(20, 31);
  EXPECT_EQ(s.Remove(5, 8), 3u);
  EXPECT_EQ(s.ToString(), "1-4,8-10,20-30");
  EXPECT_EQ(s.Remove(9, 25), 7u);  // 9, 10, 20..24
  EXPECT_EQ(s.ToString(), "1-4,8-8,25-30");
  EXPECT_EQ(s.Remove(0, 3), 2u);
  EXPECT_EQ(s.Remove(40, 50), 0u);
  EXPECT_EQ(s.Remove(7, 7), 0u);
  EXPECT_EQ(s.ToString(), "3-4,8-8,25-30");
  EXPECT_EQ(s.size(), 9u);
  EXPECT_EQ(s.Remove(0, 100), 9u);
  EXPECT_TRUE(s.ranges().empty());
  EXPECT_EQ(s.size(), 0u);
}

TEST(SequenceSet, MergesCountsDuplicatesAndGaps) {
  SequenceSet s;
  EXPECT_EQ(s.Add(5, 10), 0u);
  EXPECT_EQ(s.Add(12, 15), 0u);
  EXPECT_EQ(s.Add(8, 13), 3u);  // 8, 9, 12 held already
  EXPECT_EQ(s.size(), 10u);     // 5..14
  EXPECT_EQ(s.ToString(), "5-14");
  EXPECT_TRUE(s.Contains(5));
  EXPECT_TRUE(s.Contains(14));
  EXPECT_FALSE(s.Contains(15));
  EXPECT_FALSE(s.Contains(4));
  EXPECT_EQ(s.Add(20, 21), 0u);
  EXPECT_EQ(s.Add(15, 16), 0u);  // adjacent: merged
  EXPECT_EQ(s.ToString(), "5-15,20-20");
  const auto gaps = s.Gaps();
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[0], std::make_pair(uint64_t{1}, uint64_t{5}));
  EXPECT_EQ(gaps[1], std::make_pair(uint64_t{16}, uint64_t{20}));
  EXPECT_EQ(s.NextMissing(6), 16u);
  EXPECT_EQ(s.NextMissing(17), 17u);
  EXPECT_EQ(s.Add(1, 30), 12u);
  EXPECT_TRUE(s.Gaps().empty());
}

}  // namespace
}  // namespace flowtrail::collect
