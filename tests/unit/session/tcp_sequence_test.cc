#include "session/tcp_sequence.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace flowtrail::session {
namespace {

TEST(TcpSequence, SynDataFinCountsOnlyTheData) {
  TcpSequence s;
  s.OnSegment(1000, 0, true, false);
  s.OnSegment(1001, 300, false, false);
  s.OnSegment(1301, 0, false, true);
  EXPECT_EQ(s.Bytes(), 300u);
}

TEST(TcpSequence, DataInTheSynAndFinSegmentsCounts) {
  TcpSequence s;
  s.OnSegment(5, 10, true, false);   // TCP Fast Open
  s.OnSegment(16, 20, false, true);  // data + FIN
  EXPECT_EQ(s.Bytes(), 30u);
}

TEST(TcpSequence, MidstreamWithoutSynCountsFromTheLowestStart) {
  TcpSequence s;
  s.OnSegment(2000, 100, false, false);
  s.OnSegment(1900, 100, false, false);  // reordered earlier segment
  EXPECT_EQ(s.Bytes(), 200u);
}

TEST(TcpSequence, WrapAroundTwoToTheThirtyTwo) {
  TcpSequence s;
  s.OnSegment(0xFFFFFF00u, 0, true, false);
  s.OnSegment(0xFFFFFF01u, 0x200, false, false);
  s.OnSegment(0x101u, 0, false, true);
  EXPECT_EQ(s.Bytes(), 0x200u);
}

TEST(TcpSequence, PeerAckExtendsButNeverShrinks) {
  TcpSequence s;
  s.OnSegment(100, 0, true, false);
  s.OnSegment(101, 50, false, false);
  s.OnPeerAck(301);            // 200 more acknowledged, not captured
  EXPECT_EQ(s.Bytes(), 200u);  // 50 captured + 150 acknowledged
  s.OnPeerAck(120);            // old ACK
  EXPECT_EQ(s.Bytes(), 200u);
}

TEST(TcpSequence, ImplausibleJumpsAreIgnored) {
  TcpSequence s;
  s.OnSegment(100, 0, true, false);
  s.OnSegment(101, 10, false, false);
  EXPECT_EQ(s.OnSegment(101 + (1u << 31) - 5, 10, false, false), 0u);
  s.OnPeerAck(101 + (3u << 29));
  EXPECT_EQ(s.Bytes(), 10u);
}

// Property: any order and any amount of duplication of the segments of a
// stream gives the same count, for any ISN (including ones that wrap).
TEST(TcpSequence, CountIsIndependentOfOrderAndRetransmissions) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 500; ++trial) {
    const uint32_t isn = rng();
    struct Seg {
      uint32_t seq, len;
      bool syn, fin;
    };
    std::vector<Seg> segs{{isn, 0, true, false}};
    uint32_t seq = isn + 1, total = 0;
    const int n = 1 + rng() % 20;
    for (int i = 0; i < n; ++i) {
      const uint32_t len = rng() % 1500;
      segs.push_back({seq, len, false, false});
      seq += len;
      total += len;
    }
    segs.push_back({seq, 0, false, true});
    const int dups = rng() % 5;
    for (int i = 0; i < dups; ++i) segs.push_back(segs[rng() % segs.size()]);
    // Reorder the data segments but keep the SYN first (it anchors).
    std::shuffle(segs.begin() + 1, segs.end(), rng);
    TcpSequence s;
    for (const Seg& g : segs) s.OnSegment(g.seq, g.len, g.syn, g.fin);
    ASSERT_EQ(s.Bytes(), total) << "trial " << trial;
  }
}

// The SYN/FIN flags share a word with the highest position (16 bytes per
// endpoint): far beyond 4 GiB, with the sequence number 0 as anchor (the
// lowest possible position), neither disturbs the other.
TEST(TcpSequence, FlagsAndPositionsStayApartBeyondFourGibibytes) {
  TcpSequence s;
  EXPECT_FALSE(s.anchored());
  s.OnSegment(0, 0, true, false);
  EXPECT_TRUE(s.anchored());
  EXPECT_TRUE(s.syn_seen());
  EXPECT_FALSE(s.fin_seen());
  uint32_t seq = 1;
  constexpr uint64_t kTotal = (uint64_t{5} << 32) + 12345;
  for (uint64_t sent = 0; sent < kTotal;) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kTotal - sent, 1u << 29));
    ASSERT_NE(s.OnSegment(seq, n, false, false), 0u);
    seq += n;
    sent += n;
  }
  EXPECT_EQ(s.Bytes(), kTotal);
  EXPECT_FALSE(s.fin_seen());
  s.OnSegment(seq, 0, false, true);
  EXPECT_TRUE(s.syn_seen());
  EXPECT_TRUE(s.fin_seen());
  EXPECT_EQ(s.Bytes(), kTotal);
  EXPECT_EQ(s.highest() - s.lowest(), kTotal + 2);
  static_assert(sizeof(TcpSequence) == 16);
}

}  // namespace
}  // namespace flowtrail::session
