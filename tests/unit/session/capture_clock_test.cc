// CaptureClock: the tracker's clock over capture timestamps (capture_clock.h).
#include "session/capture_clock.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace flowtrail::session {
namespace {

constexpr uint64_t kSec = 1'000'000;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;

// The clock of each packet of `ts`, fed in order with one packet of lookahead
// as the file reader does.
std::vector<uint64_t> Clocks(CaptureClock& c, const std::vector<uint64_t>& ts) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i < ts.size(); ++i) {
    out.push_back(c.Observe(ts[i], i + 1 < ts.size() ? std::optional(ts[i + 1]) : std::nullopt));
  }
  return out;
}

TEST(CaptureClock, FollowsOrdinaryTimestamps) {
  CaptureClock c;
  const std::vector<uint64_t> ts = {kT0, kT0 + 5, kT0 + 10 * kSec + 5};  // the last exactly J ahead
  EXPECT_EQ(Clocks(c, ts), ts);
  EXPECT_EQ(c.counters().outliers + c.counters().backwards + c.counters().jumps, 0u);
}

TEST(CaptureClock, NeverGoesBackAndCountsOnlyMoreThanOneSecondBehind) {
  CaptureClock c;
  EXPECT_EQ(Clocks(c, {kT0 + 10 * kSec, kT0 + 9 * kSec + 500'000}),
            (std::vector<uint64_t>{kT0 + 10 * kSec, kT0 + 10 * kSec}));  // 0.5 s behind
  EXPECT_EQ(c.counters().backwards, 0u);
  EXPECT_EQ(c.Observe(kT0, std::nullopt), kT0 + 10 * kSec);
  EXPECT_EQ(c.counters().backwards, 1u);
  EXPECT_EQ(c.now(), kT0 + 10 * kSec);
}

TEST(CaptureClock, LoneOutlierDoesNotMoveTheClockAndIsCounted) {
  CaptureClock c;
  // An hour ahead, between neighbours that go on: the clock never sees it.
  EXPECT_EQ(Clocks(c, {kT0, kT0 + 3600 * kSec, kT0 + 1, kT0 + 2}),
            (std::vector<uint64_t>{kT0, kT0, kT0 + 1, kT0 + 2}));
  EXPECT_EQ(c.counters().outliers, 1u);
  EXPECT_EQ(c.counters().jumps, 0u);
}

TEST(CaptureClock, AGapIsTakenAtItsFirstPacketWhenTheNextConfirmsIt) {
  CaptureClock c;
  EXPECT_EQ(
      Clocks(c, {kT0, kT0 + 60 * kSec + 3, kT0 + 60 * kSec + 7, kT0 + 60 * kSec + 9}),
      (std::vector<uint64_t>{kT0, kT0 + 60 * kSec + 3, kT0 + 60 * kSec + 7, kT0 + 60 * kSec + 9}));
  EXPECT_EQ(c.counters().jumps, 1u);
  EXPECT_EQ(c.counters().outliers, 0u);
}

TEST(CaptureClock, AJumpGoesToTheEarlierOfTheTwoPackets) {
  CaptureClock c;
  // An outlier an hour ahead right before a real 60 s gap: the clock jumps to
  // the gap, not to the outlier.
  EXPECT_EQ(Clocks(c, {kT0, kT0 + 3600 * kSec, kT0 + 60 * kSec, kT0 + 61 * kSec}),
            (std::vector<uint64_t>{kT0, kT0 + 60 * kSec, kT0 + 60 * kSec, kT0 + 61 * kSec}));
  EXPECT_EQ(c.counters().jumps, 1u);
}

TEST(CaptureClock, AFarLastPacketIsAnOutlier) {
  CaptureClock c;
  EXPECT_EQ(Clocks(c, {kT0, kT0 + 3600 * kSec}), (std::vector<uint64_t>{kT0, kT0}));
  EXPECT_EQ(c.counters().outliers, 1u);
}

TEST(CaptureClock, ToleranceIsConfigurable) {
  CaptureClock c(1 * kSec);
  EXPECT_EQ(Clocks(c, {kT0, kT0 + 2 * kSec, kT0 + 1}), (std::vector<uint64_t>{kT0, kT0, kT0 + 1}));
  EXPECT_EQ(c.counters().outliers, 1u);
  EXPECT_EQ(c.jump_tolerance_us(), 1 * kSec);
}

TEST(CaptureClock, ZeroAndHugeTimesAreValid) {
  CaptureClock c;
  EXPECT_EQ(Clocks(c, {0, 5}), (std::vector<uint64_t>{0, 5}));
  const uint64_t late = (uint64_t{1} << 32) * kSec - 1;  // pcap's last second, 2106
  CaptureClock d;
  EXPECT_EQ(Clocks(d, {late - 3, late}), (std::vector<uint64_t>{late - 3, late}));
}

}  // namespace
}  // namespace flowtrail::session
