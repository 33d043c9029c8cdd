// The checks before a frame's parse (SegmentRules::CheckBeforeParse): the
// wire walk counts what the parse would create, never refuses what the
// parser accepts, lets real snapshots through and stops parse bombs.
#include "export/frame_rules.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "export/stream_format.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/unknown_field_set.h"
#include "real_snapshots.h"
#include "stream_test_util.h"

namespace flowtrail::exporter {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;
using test::AppendVarint;
using test::Bytes;
using test::EmptyRowsSnapshotFrame;
using test::RealSnapshot;
using test::RecordFrame;
using test::SnapshotKind;

// The oracle: what a parsed message holds besides itself, counted by
// reflection the way FrameShape::messages counts it on the wire.
uint64_t HeldUnknown(const UnknownFieldSet& u) {
  uint64_t n = static_cast<uint64_t>(u.field_count());
  for (int i = 0; i < u.field_count(); ++i) {
    if (u.field(i).type() == UnknownField::TYPE_GROUP) n += HeldUnknown(u.field(i).group());
  }
  return n;
}

uint64_t Held(const Message& m) {
  const auto* r = m.GetReflection();
  uint64_t n = HeldUnknown(r->GetUnknownFields(m));
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (!f->is_repeated()) {
        n += 1 + Held(r->GetMessage(m, f));
        continue;
      }
      for (int i = 0; i < r->FieldSize(m, f); ++i) n += 1 + Held(r->GetRepeatedMessage(m, f, i));
    } else if (f->is_repeated() && (f->type() == FieldDescriptor::TYPE_STRING ||
                                    f->type() == FieldDescriptor::TYPE_BYTES)) {
      n += static_cast<uint64_t>(r->FieldSize(m, f));
    }
  }
  return n;
}

std::string Body(const v1::Frame& f) { return f.SerializeAsString(); }

v1::Frame SnapshotFrame(uint64_t seq, const v1::AnalyticsSnapshot& s) {
  v1::Frame f;
  f.set_sequence(seq);
  *f.mutable_snapshot() = s;
  return f;
}

FrameShape Walk(const std::string& body) {
  FrameShape shape;
  EXPECT_TRUE(WalkFrame(Bytes(body), UINT64_MAX, &shape));
  return shape;
}

absl::Status CheckBody(const std::string& body, size_t max_frame_bytes = kMaxFrameBytes) {
  return SegmentRules::CheckBeforeParse(Bytes(body), max_frame_bytes);
}

TEST(FrameRules, TheWalkCountsWhatTheParseCreates) {
  for (SnapshotKind kind : {SnapshotKind::kRealistic, SnapshotKind::kDensest}) {
    const v1::Frame f = SnapshotFrame(42, RealSnapshot(kind, 20000));
    const FrameShape shape = Walk(Body(f));
    EXPECT_EQ(shape.sequence, 42u);
    EXPECT_EQ(shape.body, v1::Frame::kSnapshot);
    EXPECT_EQ(shape.messages, Held(f));
    EXPECT_GT(shape.messages, 20000u);
  }
  const v1::Frame r = RecordFrame(7);
  EXPECT_EQ(Walk(Body(r)).messages, 1u);  // the record itself
  EXPECT_EQ(Walk(Body(r)).body, v1::Frame::kRecord);
  v1::Frame h = test::HeaderFrame(0);
  h.mutable_header()->add_inputs("a");
  h.mutable_header()->add_inputs("");
  EXPECT_EQ(Walk(Body(h)).messages, 3u);  // the header and its two inputs
}

// Every body the parser accepts, the walk accepts, with the parse's body and
// sequence and at least the parse's count; mutations of real frames and
// random tags find the corners (groups, wrong wire types, packed fields,
// oneof members replacing each other, truncations).
TEST(FrameRules, TheWalkNeverRefusesWhatTheParserAccepts) {
  google::protobuf::LogSilencer quiet;  // invalid UTF-8 in mutated strings
  v1::AnalyticsSnapshot small;
  {
    v1::ScanRowState* row = small.mutable_scans()->add_rows();
    row->set_client(std::string(16, '\1'));
    row->set_ip_version(4);
    row->add_servers()->set_id_flags(0x101);
    row->add_sketches("ab");
    v1::ScanClientState* c = small.mutable_scans()->add_clients();
    c->add_contacts()->set_target(9);
    small.mutable_scans()->add_servers()->add_clients(3);
    small.mutable_ports()->add_cells()->set_flows(1);
  }
  v1::Frame h = test::HeaderFrame(0);
  h.mutable_header()->add_inputs("in");
  const std::vector<std::string> bases = {Body(SnapshotFrame(3, small)), Body(RecordFrame(2)),
                                          Body(h), Body(test::TrailerFrame(9, 1))};
  std::mt19937_64 rng(11);
  int parsed = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string b = bases[rng() % bases.size()];
    for (int m = 1 + static_cast<int>(rng() % 4); m > 0; --m) {
      const size_t at = b.empty() ? 0 : rng() % b.size();
      switch (rng() % 6) {
        case 0:
          if (!b.empty()) b[at] = static_cast<char>(rng());
          break;
        case 1:
          b.insert(at, 1, static_cast<char>(rng()));
          break;
        case 2:
          if (!b.empty()) b.erase(at, 1);
          break;
        case 3: {  // a tag of any field number and wire type, and a small value
          std::string t;
          AppendVarint(((rng() % 20) << 3) | (rng() % 8), &t);
          t.push_back(static_cast<char>(rng() % 4));
          b.insert(at, t);
          break;
        }
        case 4: {  // bytes from `at` on wrapped in a group (nested if done twice)
          const uint64_t number = 1 + rng() % 20;
          std::string start;
          std::string end;
          AppendVarint(number << 3 | 3, &start);
          AppendVarint(number << 3 | 4, &end);
          b.insert(at + rng() % (b.size() - at + 1), end);
          b.insert(at, start);
          break;
        }
        default:
          b.resize(at);
      }
    }
    v1::Frame f;
    if (!f.ParseFromString(b)) continue;
    ++parsed;
    FrameShape shape;
    ASSERT_TRUE(WalkFrame(Bytes(b), UINT64_MAX, &shape)) << i << ": " << absl::BytesToHexString(b);
    EXPECT_EQ(shape.body, f.body_case()) << i;
    EXPECT_EQ(shape.sequence, f.sequence()) << i;
    EXPECT_GE(shape.messages, Held(f)) << i;
  }
  EXPECT_GT(parsed, 10000);
}

TEST(FrameRules, RealSnapshotsStayFarUnderTheMessageCap) {
  {
    const std::string b = Body(SnapshotFrame(1, RealSnapshot(SnapshotKind::kRealistic, 100000)));
    const FrameShape shape = Walk(b);
    EXPECT_TRUE(CheckBody(b).ok());
    // Measured: 36-83 bytes a message in the sensor's snapshots of the test
    // captures, ~30 here.
    EXPECT_GT(b.size(), 3 * kMinBytesPerMessage * shape.messages) << b.size();
  }
  const std::string b = Body(SnapshotFrame(1, RealSnapshot(SnapshotKind::kDensest, 100000)));
  const FrameShape shape = Walk(b);
  EXPECT_TRUE(CheckBody(b).ok());
  EXPECT_GT(b.size(), 3 * kMinBytesPerMessage * shape.messages / 2) << b.size();
}

TEST(FrameRules, AnEmptyRowBombIsRefusedBeforeItsParse) {
  // 1 MiB of empty rows: 512 Ki rows where 128 Ki may be.
  const std::string frame = EmptyRowsSnapshotFrame(5, 512 * 1024);
  uint64_t len = 0;
  size_t prefix = 0;
  ASSERT_TRUE(ParseLengthPrefix(reinterpret_cast<const uint8_t*>(frame.data()), frame.size(), &len,
                                &prefix));
  const std::string body = frame.substr(prefix);
  const absl::Status s = CheckBody(body);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_EQ(s.message(),
            absl::StrCat("frame (sequence 5): its snapshot would hold more than ",
                         body.size() / kMinBytesPerMessage, " messages, the most a frame of ",
                         body.size(), " bytes may (one per 8 bytes)"));
  // The walk stopped at the cap, it did not count the whole bomb.
  FrameShape shape;
  ASSERT_TRUE(WalkFrame(Bytes(body), 1000, &shape));
  EXPECT_EQ(shape.messages, 1001u);
}

// Whatever a parse keeps counts: unknown fields (each field of a group too)
// and the elements of repeated strings, in every frame type walked.
TEST(FrameRules, UnknownFieldsAndRepeatedStringsCountToo) {
  auto record_with = [](const std::string& filler, size_t n) {
    std::string body = Body(RecordFrame(1));
    for (size_t i = 0; i < n; ++i) body += filler;
    return body;
  };
  const std::string empty_groups = "\xab\x06\xac\x06";  // field 101: start, end (4 bytes)
  const std::string varints("\xa8\x06\x00", 3);         // field 101 = 0
  EXPECT_EQ(Walk(record_with(empty_groups, 10)).messages, 11u);
  EXPECT_EQ(Walk(record_with("\xab\x06\xa8\x06\x01\xac\x06", 10)).messages, 21u);  // a field each
  const absl::Status g = CheckBody(record_with(empty_groups, 100000));
  EXPECT_NE(g.message().find("frame (sequence 1): its record would hold more than"),
            std::string::npos)
      << g;
  EXPECT_FALSE(CheckBody(record_with(varints, 100000)).ok());
  // Fewer per byte: the record passes (its size is then the next check).
  EXPECT_TRUE(CheckBody(record_with("\xaa\x06\x06" + std::string(6, 'x'), 1000)).ok());

  v1::Frame h = test::HeaderFrame(0);
  for (int i = 0; i < 10000; ++i) h.mutable_header()->add_inputs("");
  const absl::Status s = CheckBody(Body(h));
  EXPECT_NE(s.message().find("its header would hold more than"), std::string::npos) << s;
}

// A singular sub-message repeated on the wire is merged by the parse, not
// made again: it counts once. A oneof member replacing another is new.
TEST(FrameRules, ARepeatedSingularSubMessageCountsOnce) {
  std::string snapshot;
  for (int i = 0; i < 10000; ++i) snapshot += std::string("\x0a\x00", 2);  // scans {}
  std::string body;
  AppendVarint(1 << 3, &body);
  AppendVarint(3, &body);
  AppendVarint((5 << 3) | 2, &body);
  AppendVarint(snapshot.size(), &body);
  body += snapshot;
  EXPECT_EQ(Walk(body).messages, 2u);  // the snapshot and its scan table
  EXPECT_TRUE(CheckBody(body).ok());

  std::string swaps;  // record {}, snapshot {}, record {}, ...
  for (int i = 0; i < 5000; ++i) swaps += std::string(i % 2 ? "\x2a\x00" : "\x1a\x00", 2);
  EXPECT_EQ(Walk(swaps).messages, 5000u);
  EXPECT_EQ(Walk(swaps).body, v1::Frame::kSnapshot);
  EXPECT_FALSE(CheckBody(swaps).ok());
}

// Only a snapshot may be over the frame cap, and the type is read from the
// wire: no parse of a 60 MiB "record".
TEST(FrameRules, FramesOverTheCapAreRefusedByTheirTypeBeforeTheParse) {
  v1::Frame r = RecordFrame(3);
  r.mutable_record()->set_sensor_id(std::string(kMaxFrameBytes, 'a'));
  const std::string big = Body(r);
  EXPECT_EQ(CheckBody(big).message(),
            absl::StrCat("frame length ", big.size(), " exceeds the limit of ", kMaxFrameBytes,
                         " bytes"));
  // A frame of a type this reader does not know is held to it too.
  std::string unknown;
  AppendVarint(1 << 3, &unknown);
  AppendVarint(3, &unknown);
  AppendVarint((31 << 3) | 2, &unknown);
  AppendVarint(kMaxFrameBytes, &unknown);
  unknown += std::string(kMaxFrameBytes, 'z');
  EXPECT_NE(CheckBody(unknown).message().find("exceeds the limit"), std::string::npos);
  // A snapshot is not.
  v1::AnalyticsSnapshot s;
  s.mutable_ports()->set_server_ports(std::string(kMaxFrameBytes, 'a'));
  EXPECT_TRUE(CheckBody(Body(SnapshotFrame(3, s))).ok());
  // The cap applies below the walk's threshold too.
  EXPECT_NE(CheckBody(Body(RecordFrame(1)), 20).message().find("exceeds the limit of 20 bytes"),
            std::string::npos);
  // Bytes that are no Frame get the parse's verdict.
  EXPECT_EQ(CheckBody(std::string(5000, '\xff')).message(),
            "frame of 5000 bytes is not a valid flowtrail.v1.Frame");
}

// A frame of a few KiB is not walked: whatever it holds, its parse is small.
TEST(FrameRules, SmallFramesAreNotWalked) {
  const std::string frame = EmptyRowsSnapshotFrame(1, 2000);
  EXPECT_TRUE(SegmentRules::CheckBeforeParse(Bytes(frame).subspan(2), kMaxFrameBytes).ok());
  EXPECT_FALSE(SegmentRules::CheckBeforeParse(Bytes(EmptyRowsSnapshotFrame(1, 2100)).subspan(2),
                                              kMaxFrameBytes)
                   .ok());
}

}  // namespace
}  // namespace flowtrail::exporter
