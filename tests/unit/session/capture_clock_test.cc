// CaptureClock: the tracker's clock over capture timestamps (capture_clock.h).
#include "session/capture_clock.h"

#include "gtest/gtest.h"

namespace flowtrail::session {
namespace {

constexpr uint64_t kSec = 1'000'000;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;

TEST(CaptureClock, FollowsOrdinaryTimestamps) {
  CaptureClock c;
  EXPECT_EQ(c.Observe(kT0), kT0);
  EXPECT_EQ(c.Observe(kT0 + 5), kT0 + 5);
  EXPECT_EQ(c.Observe(kT0 + 10 * kSec + 5), kT0 + 10 * kSec + 5);  // exactly J ahead
  EXPECT_EQ(c.counters().outliers + c.counters().backwards + c.counters().jumps, 0u);
}

TEST(CaptureClock, NeverGoesBackAndCountsOnlyMoreThanOneSecondBehind) {
  CaptureClock c;
  c.Observe(kT0 + 10 * kSec);
  EXPECT_EQ(c.Observe(kT0 + 9 * kSec + 500'000), kT0 + 10 * kSec);  // 0.5 s behind
  EXPECT_EQ(c.counters().backwards, 0u);
  EXPECT_EQ(c.Observe(kT0), kT0 + 10 * kSec);
  EXPECT_EQ(c.counters().backwards, 1u);
  EXPECT_EQ(c.now(), kT0 + 10 * kSec);
}

TEST(CaptureClock, LoneOutlierDoesNotMoveTheClockAndIsCounted) {
  CaptureClock c;
  c.Observe(kT0);
  EXPECT_EQ(c.Observe(kT0 + 3600 * kSec), kT0);  // an hour ahead: held
  EXPECT_EQ(c.Observe(kT0 + 1), kT0 + 1);        // neighbours go on
  EXPECT_EQ(c.counters().outliers, 1u);
  EXPECT_EQ(c.counters().jumps, 0u);
  EXPECT_EQ(c.Observe(kT0 + 2), kT0 + 2);
  EXPECT_EQ(c.counters().outliers, 1u);
}

TEST(CaptureClock, TwoPacketsBeyondTheToleranceConfirmAJumpToTheEarlier) {
  CaptureClock c;
  c.Observe(kT0);
  EXPECT_EQ(c.Observe(kT0 + 60 * kSec + 7), kT0);
  // The second is also beyond J: a real gap; the clock takes the earlier time.
  EXPECT_EQ(c.Observe(kT0 + 60 * kSec + 3), kT0 + 60 * kSec + 3);
  EXPECT_EQ(c.counters().jumps, 1u);
  EXPECT_EQ(c.counters().outliers, 0u);
  EXPECT_EQ(c.Observe(kT0 + 60 * kSec + 9), kT0 + 60 * kSec + 9);
}

TEST(CaptureClock, ConfirmedJumpToTheCandidatePlacesTheSecondPacketByTheUsualRule) {
  CaptureClock c(10 * kSec);
  c.Observe(kT0);
  c.Observe(kT0 + 100 * kSec);
  // Confirmed at kT0 + 100 s; this packet is 5 s past it: within J, moves on.
  EXPECT_EQ(c.Observe(kT0 + 105 * kSec), kT0 + 105 * kSec);
  EXPECT_EQ(c.counters().jumps, 1u);
}

TEST(CaptureClock, ToleranceIsConfigurable) {
  CaptureClock c(1 * kSec);
  c.Observe(kT0);
  EXPECT_EQ(c.Observe(kT0 + 2 * kSec), kT0);
  EXPECT_EQ(c.Observe(kT0 + 1), kT0 + 1);
  EXPECT_EQ(c.counters().outliers, 1u);
  EXPECT_EQ(c.jump_tolerance_us(), 1 * kSec);
}

TEST(CaptureClock, ZeroAndHugeTimesAreValid) {
  CaptureClock c;
  EXPECT_EQ(c.Observe(0), 0u);
  EXPECT_EQ(c.Observe(5), 5u);
  const uint64_t late = (uint64_t{1} << 32) * kSec - 1;  // pcap's last second, 2106
  CaptureClock d;
  EXPECT_EQ(d.Observe(late - 3), late - 3);
  EXPECT_EQ(d.Observe(late), late);
}

}  // namespace
}  // namespace flowtrail::session
