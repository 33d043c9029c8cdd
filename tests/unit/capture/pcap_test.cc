// Classic pcap: byte orders, precisions, timestamps, lengths, Open() errors,
// truncated tails and corrupt records.
#include <gtest/gtest.h>

#include <string>

#include "capture/capture_file.h"
#include "capture_builder.h"
#include "capture_test_util.h"

namespace flowtrail::capture::test {
namespace {

struct PcapCase {
  bool big_endian;
  bool nanosecond;
};

class PcapFormatTest : public ::testing::TestWithParam<PcapCase> {};

TEST_P(PcapFormatTest, ReadsFramesTimestampsAndLengths) {
  const PcapCase c = GetParam();
  PcapOptions o;
  o.big_endian = c.big_endian;
  o.nanosecond = c.nanosecond;
  o.link_type = 113;
  PcapBuilder b(o);
  const uint32_t frac1 = c.nanosecond ? 123456789 : 123456;
  b.Record(1700000000, frac1, Payload(60, 1))
      .Record(0, 0, Payload(14, 2), 1514)                                     // time 0; snapped
      .Record(0xffffffff, c.nanosecond ? 999999999 : 999999, Payload(20, 3))  // 2106
      .Record(0x80000000, 1, Payload(1, 4));                                  // 2^31 s: unsigned

  auto f = OpenOrFail(b.bytes());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->format(), c.nanosecond ? "pcap (nanosecond)" : "pcap");
  ASSERT_EQ(f->link_types().size(), 1u);
  EXPECT_EQ(f->link_types()[0], 113);
  const ReadResult r = ReadAll(*f);
  EXPECT_EQ(r.status, ReadStatus::kEnd);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.offset, b.bytes().size());
  EXPECT_EQ(f->frames(), 4u);
  ASSERT_EQ(r.frames.size(), 4u);

  EXPECT_EQ(r.frames[0].data, Payload(60, 1));
  EXPECT_EQ(r.frames[0].wire_len, 60u);
  EXPECT_EQ(r.frames[0].ts_us, 1700000000ull * 1000000 + 123456);  // ns floored
  EXPECT_EQ(r.frames[0].link_type, 113);
  EXPECT_EQ(r.frames[0].interface_id, 0u);
  EXPECT_EQ(r.frames[0].end_offset, b.offsets()[1]);

  EXPECT_EQ(r.frames[1].ts_us, 0u);
  EXPECT_EQ(r.frames[1].data.size(), 14u);
  EXPECT_EQ(r.frames[1].wire_len, 1514u);

  EXPECT_EQ(r.frames[2].ts_us, 4294967295ull * 1000000 + 999999);
  EXPECT_EQ(r.frames[3].ts_us, 2147483648ull * 1000000 + (c.nanosecond ? 0 : 1));

  // The end is sticky.
  CaptureFrame cf;
  EXPECT_EQ(f->Next(&cf), ReadStatus::kEnd);
  EXPECT_EQ(f->frames(), 4u);
}

INSTANTIATE_TEST_SUITE_P(ByteOrderAndPrecision, PcapFormatTest,
                         ::testing::Values(PcapCase{false, false}, PcapCase{true, false},
                                           PcapCase{false, true}, PcapCase{true, true}),
                         [](const auto& info) {
                           return std::string(info.param.big_endian ? "Big" : "Little") +
                                  (info.param.nanosecond ? "Nano" : "Micro");
                         });

TEST(PcapTest, WireLengthBelowCaplenIsTakenAsCaplen) {
  PcapBuilder b;
  b.Record(1, 0, Payload(100), 40);
  const ReadResult r = ReadBytes(b.bytes());
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].data.size(), 100u);
  EXPECT_EQ(r.frames[0].wire_len, 100u);
}

// libpcap (tcpdump, Zeek) cuts a record to the header's snap length; so do
// we, and the next record is still found after the whole record.
TEST(PcapTest, RecordLongerThanTheSnapLengthIsCutToIt) {
  PcapOptions o;
  o.snaplen = 10;
  PcapBuilder b(o);
  b.Record(1, 0, Payload(20, 1)).Record(2, 0, Payload(4, 2), 60);
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kEnd);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0].data, Payload(10, 1));
  EXPECT_EQ(r.frames[0].wire_len, 20u);
  EXPECT_EQ(r.frames[0].end_offset, b.offsets()[1]);
  EXPECT_EQ(r.frames[1].data, Payload(4, 2));
  EXPECT_EQ(r.frames[1].wire_len, 60u);
}

TEST(PcapTest, SnapLengthZeroOrAbove256KiBMeansNoCut) {
  for (uint32_t snaplen : {0u, 0xffffffffu}) {
    PcapOptions o;
    o.snaplen = snaplen;
    PcapBuilder b(o);
    b.Record(1, 0, Payload(3000));
    const ReadResult r = ReadBytes(b.bytes());
    ASSERT_EQ(r.frames.size(), 1u);
    EXPECT_EQ(r.frames[0].data.size(), 3000u);
  }
}

TEST(PcapTest, LinkTypeIsTheLow16BitsOfTheHeaderField) {
  PcapOptions o;
  o.link_type = 0x14000000 | 276;  // FCS bits set above the link type
  PcapBuilder b(o);
  b.Record(1, 0, Payload(8));
  auto f = OpenOrFail(b.bytes());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->link_types()[0], 276);
  const ReadResult r = ReadAll(*f);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].link_type, 276);
}

TEST(PcapTest, HeaderOnlyFileHasNoFrames) {
  PcapBuilder b;
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kEnd);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.offset, 24u);
}

TEST(PcapTest, ZeroLengthRecordIsAFrame) {
  PcapBuilder b;
  b.Record(5, 0, {}).Record(6, 0, Payload(4));
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kEnd);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_TRUE(r.frames[0].data.empty());
  EXPECT_EQ(r.frames[0].wire_len, 0u);
}

TEST(PcapTest, ReadsAFileFromDiskLikeFromMemory) {
  PcapOptions o;
  o.big_endian = true;
  PcapBuilder b(o);
  for (int i = 0; i < 50; ++i) b.Record(i, i, Payload(i * 7, i));
  TempFile t(b.bytes());
  auto f = CaptureFile::Open(t.path());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->name(), t.path());
  EXPECT_EQ((*f)->size(), b.bytes().size());
  const ReadResult disk = ReadAll(**f);
  const ReadResult mem = ReadBytes(b.bytes());
  EXPECT_EQ(disk.status, ReadStatus::kEnd);
  ASSERT_EQ(disk.frames.size(), 50u);
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(disk.frames[i].data, mem.frames[i].data);
    EXPECT_EQ(disk.frames[i].ts_us, mem.frames[i].ts_us);
  }
}

// A tail cut at any byte of the last record: exactly the good frames, then
// kTruncated at the last record's offset, the same on every run.
TEST(PcapTest, TailCutAtEveryByteOfTheLastRecordIsTruncated) {
  for (bool big : {false, true}) {
    PcapOptions o;
    o.big_endian = big;
    PcapBuilder b(o);
    b.Record(1, 0, Payload(30)).Record(2, 0, Payload(40)).Record(3, 0, Payload(50));
    const size_t last = b.offsets()[2];
    for (size_t cut = last + 1; cut < b.bytes().size(); ++cut) {
      SCOPED_TRACE(cut);
      const Bytes bytes(b.bytes().begin(), b.bytes().begin() + cut);
      for (int run = 0; run < 2; ++run) {
        const ReadResult r = ReadBytes(bytes);
        EXPECT_EQ(r.status, ReadStatus::kTruncated);
        EXPECT_EQ(r.frames.size(), 2u);
        EXPECT_EQ(r.offset, last);
        EXPECT_EQ(r.error.rfind("byte " + std::to_string(last) + ": file ends inside a record", 0),
                  0u)
            << r.error;
      }
    }
    // Cut exactly at the record boundary: a clean end.
    const ReadResult r = ReadBytes(Bytes(b.bytes().begin(), b.bytes().begin() + last));
    EXPECT_EQ(r.status, ReadStatus::kEnd);
    EXPECT_EQ(r.frames.size(), 2u);
  }
}

TEST(PcapTest, TruncatedMessagesSayHowMuchIsThere) {
  PcapBuilder b;
  b.Record(1, 0, Payload(100));
  const Bytes head(b.bytes().begin(), b.bytes().begin() + 24 + 10);
  EXPECT_EQ(ReadBytes(head).error, "byte 24: file ends inside a record header (10 of 16 bytes)");
  const Bytes data(b.bytes().begin(), b.bytes().begin() + 24 + 16 + 60);
  EXPECT_EQ(ReadBytes(data).error, "byte 24: file ends inside a record (60 of 100 data bytes)");
}

TEST(PcapTest, CaplenAbove256KiBInTheMiddleIsCorrupt) {
  PcapBuilder b;
  b.Record(1, 0, Payload(64));
  b.Record(2, 0, Payload(64), 300000, 300000);  // header says 300000 captured bytes
  for (int i = 0; i < 10; ++i) b.Record(3 + i, 0, Payload(64));
  auto f = OpenOrFail(b.bytes());
  ASSERT_NE(f, nullptr);
  const ReadResult r = ReadAll(*f);
  EXPECT_EQ(r.status, ReadStatus::kCorrupt);
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.offset, b.offsets()[1]);
  EXPECT_EQ(r.error, "byte 104: record caplen 300000 exceeds 262144");
  CaptureFrame cf;
  EXPECT_EQ(f->Next(&cf), ReadStatus::kCorrupt);  // sticky: no garbage read after it
  EXPECT_EQ(f->offset(), b.offsets()[1]);
  EXPECT_EQ(f->frames(), 1u);
}

TEST(PcapTest, CaplenOfExactly256KiBIsAFrame) {
  PcapOptions o;
  o.snaplen = kMaxCaplen;
  PcapBuilder b(o);
  b.Record(1, 0, Payload(kMaxCaplen));
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kEnd);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].data.size(), kMaxCaplen);
}

TEST(PcapTest, HugeCaplenInTheLastHeaderIsCorruptNotTruncated) {
  PcapBuilder b;
  b.Record(1, 0, Payload(64));
  b.Record(2, 0, {}, 0, 0x7fffffff);  // header only
  const ReadResult r = ReadBytes(b.bytes());
  EXPECT_EQ(r.status, ReadStatus::kCorrupt);
  EXPECT_EQ(r.frames.size(), 1u);
}

// ------------------------------------------------------------- Open() errors

void ExpectOpenFails(const Bytes& bytes, const std::string& message) {
  TempFile t(bytes);
  auto f = CaptureFile::Open(t.path());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(std::string(f.status().message()), t.path() + ": " + message);
  auto m = CaptureFile::OpenMemory(bytes, "mem");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(std::string(m.status().message()), "mem: " + message);
}

TEST(CaptureOpenTest, MissingFileNamesIt) {
  auto f = CaptureFile::Open("/nonexistent/dir/x.pcap");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(std::string(f.status().message()),
            "cannot open /nonexistent/dir/x.pcap: No such file or directory");
}

TEST(CaptureOpenTest, DirectoryIsNotARegularFile) {
  auto f = CaptureFile::Open("/tmp");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("/tmp: not a regular file"), std::string::npos);
}

TEST(CaptureOpenTest, EmptyFile) { ExpectOpenFails({}, "empty file"); }

TEST(CaptureOpenTest, BadMagic) {
  ExpectOpenFails({'G', 'I', 'F', '8', '9', 'a', 0, 0},
                  "not a pcap or pcapng file (magic 0x47494638)");
  ExpectOpenFails({1, 2}, "not a pcap or pcapng file (2 bytes)");
}

TEST(CaptureOpenTest, UnsupportedPcapVersion) {
  PcapOptions o;
  o.major = 2;
  o.minor = 5;
  ExpectOpenFails(PcapBuilder(o).bytes(), "unsupported pcap version 2.5");
  o.big_endian = true;
  o.major = 1;
  o.minor = 0;
  ExpectOpenFails(PcapBuilder(o).bytes(), "unsupported pcap version 1.0");
}

TEST(CaptureOpenTest, PcapHeaderCutShort) {
  const Bytes full = PcapBuilder().bytes();
  ExpectOpenFails(Bytes(full.begin(), full.begin() + 10),
                  "pcap file header cut short (10 of 24 bytes)");
}

TEST(CaptureOpenTest, ReadLinkTypesReadsThePcapHeader) {
  PcapOptions o;
  o.link_type = 101;
  PcapBuilder b(o);
  b.Record(1, 0, Payload(20));
  TempFile t(b.bytes());
  auto types = ReadLinkTypes(t.path());
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_EQ(*types, std::vector<uint16_t>{101});
  EXPECT_FALSE(ReadLinkTypes("/nonexistent.pcap").ok());
}

TEST(CaptureOpenTest, ReadStatusNames) {
  EXPECT_EQ(ReadStatusName(ReadStatus::kFrame), "frame");
  EXPECT_EQ(ReadStatusName(ReadStatus::kEnd), "end");
  EXPECT_EQ(ReadStatusName(ReadStatus::kTruncated), "truncated");
  EXPECT_EQ(ReadStatusName(ReadStatus::kCorrupt), "corrupt");
}

}  // namespace
}  // namespace flowtrail::capture::test
