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

// Account() reports the positions around each segment, as lowest()/highest()
// and Unwrap() read them before and after it, trusted or not.
TEST(TcpSequence, AccountReportsThePositionsAroundTheSegment) {
  TcpSequence s;
  const TcpSequence::Segment first = s.Account(1000, 10, true, false);
  EXPECT_TRUE(first.trusted);
  EXPECT_EQ(first.lowest_before, 0u);  // not anchored yet
  EXPECT_EQ(first.highest_before, 0u);
  EXPECT_EQ(first.start, (uint64_t{1} << 32) + 1000);
  EXPECT_EQ(first.lowest, s.lowest());
  EXPECT_EQ(first.start, s.Unwrap(1000));

  const uint64_t lo = s.lowest(), hi = s.highest();
  const TcpSequence::Segment earlier = s.Account(900, 50, false, false);  // reordered
  EXPECT_TRUE(earlier.trusted);
  EXPECT_EQ(earlier.lowest_before, lo);
  EXPECT_EQ(earlier.highest_before, hi);
  EXPECT_EQ(earlier.start, lo - 100);
  EXPECT_EQ(earlier.lowest, s.lowest());
  EXPECT_EQ(earlier.lowest, lo - 100);
  EXPECT_EQ(earlier.start, s.Unwrap(900));

  const uint64_t lo2 = s.lowest(), hi2 = s.highest();
  const TcpSequence::Segment far = s.Account(1011 + (1u << 30) + 1, 10, false, false);
  EXPECT_FALSE(far.trusted);
  EXPECT_EQ(s.OnSegment(1011 + (1u << 30) + 1, 10, false, false), 0u);
  EXPECT_EQ(far.lowest_before, lo2);
  EXPECT_EQ(far.highest_before, hi2);
  EXPECT_EQ(far.lowest, lo2);  // nothing changed
  EXPECT_EQ(s.highest(), hi2);
  EXPECT_EQ(far.start, s.Unwrap(1011 + (1u << 30) + 1));
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

// The SYN/FIN flags share a word with the highest position (12 bytes per
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
  static_assert(sizeof(TcpSequence) == 12);
}

// The 64-bit positions the 12-byte encoding replaced, as a reference.
struct WideSequence {
  uint64_t lowest = 0, highest = 0;
  bool syn = false, fin = false;
  uint64_t Unwrap(uint32_t s) const {
    return highest + static_cast<int64_t>(static_cast<int32_t>(s - static_cast<uint32_t>(highest)));
  }
  uint64_t OnSegment(uint32_t seq, uint32_t len, bool s, bool f, uint64_t jump) {
    uint64_t start;
    if (highest == 0) {
      start = (uint64_t{1} << 32) + seq;
      lowest = highest = start;
    } else {
      start = Unwrap(seq);
      if (start > highest + jump || start + jump < lowest) return 0;
    }
    lowest = std::min(lowest, start);
    highest = std::max(highest, start + len + s + f);
    syn |= s;
    fin |= f;
    return start;
  }
  bool OnPeerAck(uint32_t ack, uint64_t jump) {
    if (highest == 0) return true;
    const uint64_t a = Unwrap(ack);
    if (a <= highest) return true;
    if (a > highest + jump) return false;
    highest = a;
    return true;
  }
};

// The packed lowest start (33 bits above 2^31) at its extremes: anchors at
// 0 and 2^32 - 1, segments as far below as trusted (2^31 under the highest
// end), random walks of segments and ACKs; every position and return value
// equals the wide reference.
TEST(TcpSequence, PackedPositionsEqualTheWideOnes) {
  std::mt19937_64 rng(8);
  for (const uint32_t anchor : {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu}) {
    for (int round = 0; round < 200; ++round) {
      TcpSequence s;
      WideSequence w;
      const uint64_t jump = round % 2 ? TcpSequence::kMaxJump : uint64_t{1} << 31;
      ASSERT_EQ(s.OnSegment(anchor, 0, round % 3 == 0, false, jump),
                w.OnSegment(anchor, 0, round % 3 == 0, false, jump));
      for (int i = 0; i < 50; ++i) {
        const uint64_t r = rng();
        const uint32_t hi32 = static_cast<uint32_t>(w.highest);
        // Mostly near the highest end, sometimes the farthest back or ahead.
        uint32_t seq;
        switch (r % 4) {
          case 0:
            seq = hi32 - 0x80000000u;
            break;
          case 1:
            seq = hi32 + static_cast<uint32_t>(r >> 40);
            break;
          case 2:
            seq = hi32 - static_cast<uint32_t>(r >> 34);
            break;
          default:
            seq = static_cast<uint32_t>(r >> 32);
        }
        const uint32_t len = static_cast<uint32_t>((r >> 8) % 70000);
        if ((r >> 20) % 5 == 0) {
          ASSERT_EQ(s.OnPeerAck(seq, jump), w.OnPeerAck(seq, jump));
        } else {
          const bool syn = (r >> 24) % 17 == 0, fin = (r >> 28) % 13 == 0;
          ASSERT_EQ(s.OnSegment(seq, len, syn, fin, jump), w.OnSegment(seq, len, syn, fin, jump));
        }
        ASSERT_EQ(s.lowest(), w.lowest);
        ASSERT_EQ(s.highest(), w.highest);
        ASSERT_EQ(s.syn_seen(), w.syn);
        ASSERT_EQ(s.fin_seen(), w.fin);
      }
    }
  }
}

}  // namespace
}  // namespace flowtrail::session
