// pcapng: sections in both byte orders, interfaces and their timestamp
// resolutions, the three packet block kinds, skipped blocks, truncated tails
// and every kind of corrupt block.
#include <gtest/gtest.h>

#include <string>

#include "capture/capture_file.h"
#include "capture_builder.h"
#include "capture_test_util.h"

namespace flowtrail::capture::test {
namespace {

class PcapngByteOrderTest : public ::testing::TestWithParam<bool> {};

TEST_P(PcapngByteOrderTest, ReadsInterfacesAndEnhancedPackets) {
  PcapngBuilder b(GetParam());
  b.Interface(1).Interface(113);
  b.Epb(0, 1700000000123456ull, Payload(60, 1), 1514);
  b.Epb(1, 0, Payload(30, 2));  // time 0 is a time
  b.Epb(0, 4294967295999999ull, Payload(20, 3));

  auto f = OpenOrFail(b.bytes());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->format(), "pcapng");
  EXPECT_EQ(std::vector<uint16_t>(f->link_types().begin(), f->link_types().end()),
            (std::vector<uint16_t>{1, 113}));
  const ReadResult r = ReadAll(*f);
  EXPECT_EQ(r.status, ReadStatus::kEnd);
  EXPECT_EQ(r.offset, b.bytes().size());
  ASSERT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.frames[0].data, Payload(60, 1));
  EXPECT_EQ(r.frames[0].wire_len, 1514u);
  EXPECT_EQ(r.frames[0].ts_us, 1700000000123456ull);
  EXPECT_EQ(r.frames[0].link_type, 1);
  EXPECT_EQ(r.frames[0].interface_id, 0u);
  EXPECT_EQ(r.frames[0].end_offset, b.offsets()[4]);
  EXPECT_EQ(r.frames[1].data, Payload(30, 2));
  EXPECT_EQ(r.frames[1].ts_us, 0u);
  EXPECT_EQ(r.frames[1].link_type, 113);
  EXPECT_EQ(r.frames[1].interface_id, 1u);
  EXPECT_EQ(r.frames[2].ts_us, 4294967295999999ull);
  EXPECT_EQ(f->frames(), 3u);
}

INSTANTIATE_TEST_SUITE_P(ByteOrder, PcapngByteOrderTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Big" : "Little"; });

struct ResolCase {
  const char* name;
  uint8_t tsresol;
  uint64_t ts;
  uint64_t want_us;
};

class PcapngResolutionTest : public ::testing::TestWithParam<ResolCase> {};

TEST_P(PcapngResolutionTest, TimestampIsFlooredToMicroseconds) {
  const ResolCase c = GetParam();
  for (bool big : {false, true}) {
    PcapngBuilder b(big);
    IdbOptions o;
    o.tsresol = c.tsresol;
    b.Interface(o).Epb(0, c.ts, Payload(10));
    const ReadResult r = ReadBytes(b.bytes());
    ASSERT_EQ(r.frames.size(), 1u) << r.error;
    EXPECT_EQ(r.frames[0].ts_us, c.want_us);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Resolutions, PcapngResolutionTest,
    ::testing::Values(ResolCase{"Nano", 9, 1234567891234567891ull, 1234567891234567ull},
                      ResolCase{"Micro", 6, 1234567891234567ull, 1234567891234567ull},
                      ResolCase{"Milli", 3, 1500, 1500000},
                      ResolCase{"Seconds", 0, 4294967296ull, 4294967296000000ull},
                      ResolCase{"Pico", 12, 999999999999ull, 999999},
                      // 2^-20 s: half a second exactly, and 3 ticks (2.86 us) floored.
                      ResolCase{"TwoPow20Half", 0x80 | 20, (1700000000ull << 20) | (1u << 19),
                                1700000000ull * 1000000 + 500000},
                      ResolCase{"TwoPow20Ticks", 0x80 | 20, (1700000000ull << 20) | 3,
                                1700000000ull * 1000000 + 2},
                      ResolCase{"TwoPow0", 0x80, 7, 7000000}),
    [](const auto& info) { return info.param.name; });

TEST(PcapngTest, TimestampOffsetIsAddedInSeconds) {
  PcapngBuilder b;
  IdbOptions o;
  o.tsoffset = -10;
  o.tsresol = 9;
  b.Interface(o).Epb(0, 20000000123ull, Payload(10));
  const ReadResult r = ReadBytes(b.bytes());
  ASSERT_EQ(r.frames.size(), 1u) << r.error;
  EXPECT_EQ(r.frames[0].ts_us, 10000000u);
}

TEST(PcapngTest, SectionsInBothByteOrdersNumberInterfacesAcrossTheFile) {
  PcapngBuilder b(false);
  b.Interface(1).Interface(113).Epb(1, 5, Payload(10, 1));
  b.Section(true).Interface(276).Epb(0, 6, Payload(11, 2));
  b.Section(false).Interface(101).Interface(0).Epb(1, 7, Payload(12, 3)).Epb(0, 8, Payload(13, 4));
  auto f = OpenOrFail(b.bytes());
  ASSERT_NE(f, nullptr);
  // Only the interfaces declared before the first packet.
  EXPECT_EQ(std::vector<uint16_t>(f->link_types().begin(), f->link_types().end()),
            (std::vector<uint16_t>{1, 113}));
  const ReadResult r = ReadAll(*f);
  EXPECT_EQ(r.status, ReadStatus::kEnd) << r.error;
  ASSERT_EQ(r.frames.size(), 4u);
  EXPECT_EQ(r.frames[0].interface_id, 1u);
  EXPECT_EQ(r.frames[0].link_type, 113);
  EXPECT_EQ(r.frames[1].interface_id, 2u);
  EXPECT_EQ(r.frames[1].link_type, 276);
  EXPECT_EQ(r.frames[1].data, Payload(11, 2));
  EXPECT_EQ(r.frames[1].ts_us, 6u);
  EXPECT_EQ(r.frames[2].interface_id, 4u);
  EXPECT_EQ(r.frames[2].link_type, 0);
  EXPECT_EQ(r.frames[3].interface_id, 3u);
  EXPECT_EQ(r.frames[3].link_type, 101);
}

TEST(PcapngTest, LinkTypesCoverEverySectionBeforeTheFirstPacket) {
  PcapngBuilder b(true);
  b.Interface(1);
  b.Section(false).Interface(228).Interface(229).Epb(1, 1, Payload(20));
  TempFile t(b.bytes());
  auto types = ReadLinkTypes(t.path());
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_EQ(*types, (std::vector<uint16_t>{1, 228, 229}));
  const ReadResult r = ReadBytes(b.bytes());
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].interface_id, 2u);
  EXPECT_EQ(r.frames[0].link_type, 229);
}

TEST(PcapngTest, NoInterfacesNoPacketsIsAnEmptyCapture) {
  PcapngBuilder b;
  auto f = OpenOrFail(b.bytes());
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->link_types().empty());
  CaptureFrame cf;
  EXPECT_EQ(f->Next(&cf), ReadStatus::kEnd);
  EXPECT_EQ(f->offset(), 28u);
}

TEST(PcapngTest, SimplePacketBlockTakesWireLengthAndInterfaceZero) {
  PcapngBuilder b;
  IdbOptions o;
  o.link_type = 101;
  o.snaplen = 12;
  b.Interface(o).Interface(1);
  b.Spb(Payload(8, 9));            // not snapped: caplen is the wire length
  b.Epb(1, 5000000, Payload(10));  // sets the clock
  b.Spb(Payload(12, 7), 1500);     // snapped at interface 0's snap length
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kEnd) << r.error;
  ASSERT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.frames[0].data, Payload(8, 9));
  EXPECT_EQ(r.frames[0].wire_len, 8u);
  EXPECT_EQ(r.frames[0].link_type, 101);
  EXPECT_EQ(r.frames[0].interface_id, 0u);
  EXPECT_EQ(r.frames[0].ts_us, 0u);  // no time before it
  EXPECT_EQ(r.frames[2].data, Payload(12, 7));
  EXPECT_EQ(r.frames[2].wire_len, 1500u);
  EXPECT_EQ(r.frames[2].ts_us, 5000000u);  // the previous frame's time
}

TEST(PcapngTest, PacketLongerThanItsInterfaceSnapLengthIsCutToIt) {
  PcapngBuilder b;
  IdbOptions snapped;
  snapped.snaplen = 16;
  b.Interface(IdbOptions{}).Interface(snapped);
  b.Epb(1, 1, Payload(30, 1)).Epb(0, 2, Payload(30, 2));
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kEnd) << r.error;
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0].data, Payload(16, 1));
  EXPECT_EQ(r.frames[0].wire_len, 30u);
  EXPECT_EQ(r.frames[1].data, Payload(30, 2));  // snap length 0: no limit
}

TEST(PcapngTest, ObsoletePacketBlockIsAFrame) {
  PcapngBuilder b(true);
  b.Interface(1).Interface(113).Pb(1, 42, Payload(33, 5), 100);
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kEnd) << r.error;
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].data, Payload(33, 5));
  EXPECT_EQ(r.frames[0].wire_len, 100u);
  EXPECT_EQ(r.frames[0].ts_us, 42u);
  EXPECT_EQ(r.frames[0].link_type, 113);
}

TEST(PcapngTest, OtherBlocksAreSkippedByTheirLength) {
  PcapngBuilder b;
  b.Interface(1);
  b.Block(4, Payload(17));  // name resolution
  b.Epb(0, 1, Payload(10, 1));
  b.Block(5, Payload(24));          // interface statistics
  b.Block(0x0a, Payload(40));       // decryption secrets
  b.Block(0x40000bad, Payload(3));  // custom
  b.Block(0xdeadbeef, {});          // unknown, empty body
  b.Epb(0, 2, Payload(10, 2));
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kEnd) << r.error;
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[1].data, Payload(10, 2));
}

TEST(PcapngTest, EnhancedPacketOptionsAfterTheDataAreIgnored) {
  PcapngBuilder b;
  b.Interface(1);
  Bytes body;
  ByteWriter w(&body, false);
  w.U32(0);
  w.U32(0);
  w.U32(99);
  w.U32(5);   // caplen
  w.U32(60);  // wire
  w.Append(Payload(5, 3));
  w.Pad4();
  w.U16(1);  // opt_comment
  w.U16(4);
  w.U32(0x41414141);
  w.U32(0);  // opt_endofopt
  b.Block(6, body);
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kEnd) << r.error;
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].data, Payload(5, 3));
  EXPECT_EQ(r.frames[0].wire_len, 60u);
}

TEST(PcapngTest, TailCutAtEveryByteOfTheLastBlockIsTruncated) {
  for (bool big : {false, true}) {
    PcapngBuilder b(big);
    b.Interface(1).Epb(0, 1, Payload(30)).Epb(0, 2, Payload(41)).Epb(0, 3, Payload(50));
    const size_t last = b.offsets().back();
    for (size_t cut = last + 1; cut < b.bytes().size(); ++cut) {
      SCOPED_TRACE(cut);
      const Bytes bytes(b.bytes().begin(), b.bytes().begin() + cut);
      const ReadResult r = ReadBytes(bytes);
      EXPECT_EQ(r.status, ReadStatus::kTruncated);
      EXPECT_EQ(r.frames.size(), 2u);
      EXPECT_EQ(r.offset, last);
      EXPECT_EQ(r.error.rfind("byte " + std::to_string(last) + ": file ends inside a block", 0), 0u)
          << r.error;
    }
    const ReadResult r = ReadBytes(Bytes(b.bytes().begin(), b.bytes().begin() + last));
    EXPECT_EQ(r.status, ReadStatus::kEnd);
    EXPECT_EQ(r.frames.size(), 2u);
  }
}

TEST(PcapngTest, TailCutInsideASecondSectionHeaderIsTruncated) {
  PcapngBuilder b;
  b.Interface(1).Epb(0, 1, Payload(30)).Section(true);
  const size_t last = b.offsets().back();
  for (size_t cut = last + 1; cut < b.bytes().size(); ++cut) {
    const ReadResult r = ReadBytes(Bytes(b.bytes().begin(), b.bytes().begin() + cut));
    EXPECT_EQ(r.status, ReadStatus::kTruncated) << cut;
    EXPECT_EQ(r.offset, last);
    EXPECT_EQ(r.frames.size(), 1u);
  }
}

// ------------------------------------------------------------ corrupt blocks

struct CorruptCase {
  const char* name;
  void (*add)(PcapngBuilder&, bool big);  // appends the bad block
  const char* error;                      // after "byte N: "
};

class PcapngCorruptTest : public ::testing::TestWithParam<CorruptCase> {};

// One good frame, the bad block, more good frames: exactly one frame, then
// kCorrupt at the bad block's offset, the same on every call.
TEST_P(PcapngCorruptTest, StopsAtTheBadBlock) {
  const CorruptCase c = GetParam();
  for (bool big : {false, true}) {
    SCOPED_TRACE(big ? "big endian" : "little endian");
    PcapngBuilder b(big);
    b.Interface(1).Epb(0, 1, Payload(20));
    const size_t bad = b.bytes().size();
    c.add(b, big);
    for (int i = 0; i < 5; ++i) b.Epb(0, 2 + i, Payload(20));
    auto f = OpenOrFail(b.bytes());
    ASSERT_NE(f, nullptr);
    const ReadResult r = ReadAll(*f);
    EXPECT_EQ(r.status, ReadStatus::kCorrupt);
    EXPECT_EQ(r.frames.size(), 1u);
    EXPECT_EQ(r.offset, bad);
    EXPECT_EQ(r.error, "byte " + std::to_string(bad) + ": " + c.error);
    CaptureFrame cf;
    EXPECT_EQ(f->Next(&cf), ReadStatus::kCorrupt);
    EXPECT_EQ(f->offset(), bad);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Blocks, PcapngCorruptTest,
    ::testing::Values(
        CorruptCase{"LengthNotMultipleOf4",
                    [](PcapngBuilder& b, bool big) { b.Block(0xbad, Payload(12), 22); },
                    "block type 0xbad length 22 is not a multiple of 4"},
        CorruptCase{"LengthBelowMinimum", [](PcapngBuilder& b, bool big) { b.Block(0xbad, {}, 8); },
                    "block type 0xbad length 8 is below 12"},
        CorruptCase{"LengthAbove16MiB",
                    [](PcapngBuilder& b, bool big) { b.Block(6, Payload(40), 32 << 20); },
                    "block type 0x6 length 33554432 is above 16 MiB"},
        CorruptCase{"TrailingLengthDisagrees",
                    [](PcapngBuilder& b, bool big) { b.Block(4, Payload(8), std::nullopt, 24); },
                    "block type 0x4 length 20 disagrees with its trailing copy 24"},
        CorruptCase{"EnhancedPacketOnUndeclaredInterface",
                    [](PcapngBuilder& b, bool big) { b.Epb(1, 1, Payload(8)); },
                    "enhanced packet block on interface 1; the section declares 1"},
        CorruptCase{"PacketBlockOnUndeclaredInterface",
                    [](PcapngBuilder& b, bool big) { b.Pb(7, 1, Payload(8)); },
                    "packet block on interface 7; the section declares 1"},
        CorruptCase{"EnhancedPacketCaplenBeyondItsBlock",
                    [](PcapngBuilder& b, bool big) { b.Epb(0, 1, Payload(8), 0, 100); },
                    "enhanced packet block caplen 100 exceeds its 40-byte block"},
        CorruptCase{"EnhancedPacketCaplenAbove256KiB",
                    [](PcapngBuilder& b, bool big) { b.Epb(0, 1, Payload(300000)); },
                    "record caplen 300000 exceeds 262144"},
        CorruptCase{"EnhancedPacketBlockTooShort",
                    [](PcapngBuilder& b, bool big) { b.Block(6, Payload(8)); },
                    "enhanced packet block length 20 is below 32"},
        CorruptCase{"SimplePacketAbove256KiB",
                    [](PcapngBuilder& b, bool big) { b.Spb(Payload(300000)); },
                    "record caplen 300000 exceeds 262144"},
        CorruptCase{"InterfaceOptionOverrunsTheBlock",
                    [](PcapngBuilder& b, bool big) {
                      Bytes body;
                      ByteWriter w(&body, big);
                      w.U16(1);
                      w.U16(0);
                      w.U32(0);
                      w.U16(9);  // if_tsresol claiming 100 bytes
                      w.U16(100);
                      b.Block(1, body);
                    },
                    "interface block option 9 (100 bytes) overruns the block"},
        CorruptCase{"InterfaceBlockTooShort",
                    [](PcapngBuilder& b, bool big) {
                      b.Block(1, {1, 0, 0, 0});
                    },
                    "interface block length 16 is below 20"},
        CorruptCase{"SectionHeaderOfUnsupportedVersion",
                    [](PcapngBuilder& b, bool big) { b.Section(false, 2, 0); },
                    "unsupported pcapng version 2.0"},
        CorruptCase{"SectionHeaderWithBadByteOrderMagic",
                    [](PcapngBuilder& b, bool big) {
                      b.Block(0x0a0d0d0a, {1, 2, 3, 4, 0, 1, 0, 0});
                    },
                    "section header byte-order magic 0x01020304 is neither 0x1a2b3c4d nor "
                    "0x4d3c2b1a"}),
    [](const auto& info) { return info.param.name; });

TEST(PcapngTest, InterfaceOptionsOfTheWrongLengthAreCorrupt) {
  for (const auto& [option, want] : std::vector<std::pair<Bytes, std::string>>{
           {{9, 0, 2, 0, 6, 6, 0, 0}, "if_tsresol option has 2 bytes, not 1"},
           {{14, 0, 4, 0, 0, 0, 0, 0}, "if_tsoffset option has 4 bytes, not 8"},
           {{9, 0, 1, 0, 20, 0, 0, 0}, "if_tsresol 10^-20 is unsupported"},
           {{9, 0, 1, 0, 0xc0, 0, 0, 0}, "if_tsresol 2^-64 is unsupported"}}) {
    PcapngBuilder b;
    Bytes body = {1, 0, 0, 0, 0, 0, 0, 0};
    body.insert(body.end(), option.begin(), option.end());
    b.Block(1, body);
    const size_t idb = b.offsets().back();
    b.Epb(0, 1, Payload(4));
    auto f = OpenOrFail(b.bytes());  // the problem lies after the first header
    ASSERT_NE(f, nullptr);
    const ReadResult r = ReadAll(*f);
    EXPECT_EQ(r.status, ReadStatus::kCorrupt);
    EXPECT_EQ(r.error, "byte " + std::to_string(idb) + ": " + want);
  }
}

TEST(PcapngTest, SimplePacketWithoutAnInterfaceIsCorrupt) {
  PcapngBuilder b;
  b.Interface(1).Epb(0, 1, Payload(4)).Section(true);
  const size_t spb = b.bytes().size();
  b.Spb(Payload(10));
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kCorrupt);
  EXPECT_EQ(r.offset, spb);
  EXPECT_EQ(r.error, "byte " + std::to_string(spb) +
                         ": simple packet block in a section without an interface");
}

// ------------------------------------------------------------- Open() errors

TEST(PcapngOpenTest, BrokenFirstSectionHeaderFailsOpen) {
  Bytes bad_version = PcapngBuilder(false).bytes();
  bad_version[12] = 2;  // major 2
  auto f = CaptureFile::OpenMemory(bad_version, "x.pcapng");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(std::string(f.status().message()), "x.pcapng: byte 0: unsupported pcapng version 2.0");

  Bytes bad_bom = PcapngBuilder(true).bytes();
  bad_bom[8] = 0;
  EXPECT_FALSE(CaptureFile::OpenMemory(bad_bom, "x").ok());

  const Bytes full = PcapngBuilder(true).bytes();
  for (size_t cut = 4; cut < full.size(); ++cut) {
    auto t = CaptureFile::OpenMemory(Bytes(full.begin(), full.begin() + cut), "x");
    ASSERT_FALSE(t.ok()) << cut;
    EXPECT_NE(t.status().message().find("x: byte 0: file ends inside a"), std::string::npos)
        << t.status();
  }
}

TEST(PcapngOpenTest, OpenSucceedsWhenTheFirstProblemIsAfterTheFirstHeader) {
  PcapngBuilder b;
  b.Block(0xbad, {}, 13);
  auto f = OpenOrFail(b.bytes());
  ASSERT_NE(f, nullptr);
  CaptureFrame cf;
  EXPECT_EQ(f->Next(&cf), ReadStatus::kCorrupt);
  EXPECT_EQ(f->offset(), 28u);
}

}  // namespace
}  // namespace flowtrail::capture::test
