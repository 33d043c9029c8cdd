// libpcap as an independent reading: on generated files (both formats, byte
// orders, precisions, broken tails and middles) and on every capture in
// ../shared/captures (skipped when absent), the reader returns the frames
// libpcap returns, with the same bytes, lengths and times, and stops early
// exactly when libpcap reports an error. libpcap's seconds are signed 32-bit
// for pcap, so seconds are compared modulo 2^32; it reports a wire length
// below caplen as written, the reader as caplen.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "capture/capture_file.h"
#include "capture_builder.h"
#include "capture_test_util.h"
#include "pcap_reader.h"

namespace flowtrail::capture::test {
namespace {

struct LibpcapFrame {
  Bytes data;
  uint32_t len = 0;
  int64_t sec = 0;
  int64_t usec = 0;
};

struct LibpcapRun {
  std::vector<LibpcapFrame> frames;
  bool error = false;
  std::string message;
};

LibpcapRun ReadWithLibpcap(const std::string& path) {
  LibpcapRun run;
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (p == nullptr) {
    run.error = true;
    run.message = errbuf;
    return run;
  }
  pcap_pkthdr* hdr;
  const u_char* data;
  int rc;
  while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
    LibpcapFrame f;
    f.data.assign(data, data + hdr->caplen);
    f.len = hdr->len;
    f.sec = hdr->ts.tv_sec;
    f.usec = hdr->ts.tv_usec;
    run.frames.push_back(std::move(f));
  }
  if (rc != PCAP_ERROR_BREAK) {
    run.error = true;
    run.message = pcap_geterr(p);
  }
  pcap_close(p);
  return run;
}

// Both readings of `path` agree frame by frame.
void ExpectAgreesWithLibpcap(const std::string& path) {
  SCOPED_TRACE(path);
  const LibpcapRun lib = ReadWithLibpcap(path);
  auto f = CaptureFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status() << " (libpcap: " << lib.message << ")";
  const ReadResult ours = ReadAll(**f);
  ASSERT_EQ(ours.frames.size(), lib.frames.size())
      << "ours: " << ours.error << "; libpcap: " << lib.message;
  EXPECT_EQ(ours.status != ReadStatus::kEnd, lib.error)
      << "ours: " << ours.error << "; libpcap: " << lib.message;
  for (size_t i = 0; i < lib.frames.size(); ++i) {
    SCOPED_TRACE("frame " + std::to_string(i + 1));
    const Frame& o = ours.frames[i];
    const LibpcapFrame& l = lib.frames[i];
    EXPECT_EQ(o.data, l.data);
    EXPECT_EQ(o.wire_len, std::max<uint32_t>(l.len, static_cast<uint32_t>(l.data.size())));
    EXPECT_EQ(static_cast<uint32_t>(o.ts_us / 1000000), static_cast<uint32_t>(l.sec));
    EXPECT_EQ(static_cast<int64_t>(o.ts_us % 1000000), l.usec);
  }
}

void ExpectAgreesWithLibpcap(const Bytes& bytes) {
  TempFile t(bytes);
  ExpectAgreesWithLibpcap(t.path());
}

PcapBuilder SamplePcap(bool big, bool nano) {
  PcapOptions o;
  o.big_endian = big;
  o.nanosecond = nano;
  PcapBuilder b(o);
  b.Record(0, 0, Payload(60, 1))
      .Record(1700000000, nano ? 999999999 : 999999, Payload(1514, 2))
      .Record(0x80000000, nano ? 1000 : 1, Payload(40, 3), 1500)
      .Record(0xffffffff, nano ? 123456789 : 123456, Payload(14, 4))
      .Record(5, 5, {});
  return b;
}

TEST(LibpcapAgreementTest, GeneratedPcapInEveryByteOrderAndPrecision) {
  for (bool big : {false, true}) {
    for (bool nano : {false, true}) ExpectAgreesWithLibpcap(SamplePcap(big, nano).bytes());
  }
}

TEST(LibpcapAgreementTest, GeneratedPcapWithBrokenTailOrMiddle) {
  const PcapBuilder b = SamplePcap(true, false);
  const Bytes& full = b.bytes();
  const size_t last = b.offsets().back() - 16;  // inside the 4th record's data
  for (size_t cut : {last, last + 1, full.size() - 20, full.size() - 1}) {
    ExpectAgreesWithLibpcap(Bytes(full.begin(), full.begin() + cut));
  }
  PcapBuilder corrupt;
  corrupt.Record(1, 0, Payload(64)).Record(2, 0, Payload(64), 300000, 300000);
  for (int i = 0; i < 5; ++i) corrupt.Record(3, 0, Payload(64));
  ExpectAgreesWithLibpcap(corrupt.bytes());
}

PcapngBuilder SamplePcapng(bool big) {
  PcapngBuilder b(big);
  IdbOptions nano;
  nano.tsresol = 9;
  IdbOptions bin;
  bin.tsresol = 0x80 | 20;
  bin.tsoffset = 100;
  b.Interface(IdbOptions{}).Interface(nano).Interface(bin);
  b.Epb(0, 0, Payload(60, 1))
      .Epb(1, 1234567891234567891ull, Payload(100, 2), 1500)
      .Epb(2, (1700000000ull << 20) | 3, Payload(70, 3))
      .Block(4, Payload(20))
      .Pb(1, 999, Payload(50, 4))
      .Epb(0, 4294967295999999ull, Payload(1514, 5));
  b.Section(big).Interface(IdbOptions{}).Epb(0, 77, Payload(33, 6));
  return b;
}

TEST(LibpcapAgreementTest, GeneratedPcapngInBothByteOrders) {
  ExpectAgreesWithLibpcap(SamplePcapng(false).bytes());
  ExpectAgreesWithLibpcap(SamplePcapng(true).bytes());
}

TEST(LibpcapAgreementTest, GeneratedPcapngWithBrokenTailOrMiddle) {
  const PcapngBuilder b = SamplePcapng(false);
  const Bytes& full = b.bytes();
  for (size_t cut : {full.size() - 1, full.size() - 30, b.offsets()[6] + 3}) {
    ExpectAgreesWithLibpcap(Bytes(full.begin(), full.begin() + cut));
  }
  PcapngBuilder corrupt;
  corrupt.Interface(1).Epb(0, 1, Payload(20)).Block(4, Payload(8), std::nullopt, 99);
  corrupt.Epb(0, 2, Payload(20));
  ExpectAgreesWithLibpcap(corrupt.bytes());
}

TEST(LibpcapAgreementTest, EverySharedCapture) {
  const std::string dir = flowtrail::testing::SharedCapturesDir();
  if (dir.empty()) GTEST_SKIP() << "shared captures absent";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".pcap" && ext != ".pcapng" && ext != ".cap") continue;
    ExpectAgreesWithLibpcap(entry.path().string());
    ++files;
  }
  EXPECT_GE(files, 1u);
}

}  // namespace
}  // namespace flowtrail::capture::test
