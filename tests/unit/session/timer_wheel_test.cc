#include "session/timer_wheel.h"

#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace flowtrail::session {
namespace {

constexpr uint64_t kTick = 1000;

std::vector<uint32_t> AdvanceCollect(TimerWheel& w, uint64_t now) {
  std::vector<uint32_t> fired;
  w.Advance(now, [&](uint32_t idx) {
    fired.push_back(idx);
    return true;
  });
  return fired;
}

TEST(TimerWheel, FiresOnlyOnceTheDeadlineTickHasPassed) {
  TimerWheel w;
  ASSERT_TRUE(w.Init(10, 8, kTick));
  w.Start(0);
  w.Schedule(1, 5500);
  EXPECT_TRUE(AdvanceCollect(w, 5999).empty());
  EXPECT_EQ(AdvanceCollect(w, 6000), std::vector<uint32_t>{1});
  EXPECT_FALSE(w.Linked(1));
}

TEST(TimerWheel, DeadlinesBeyondOneRotationComeRoundAndCanBeRescheduled) {
  TimerWheel w;
  ASSERT_TRUE(w.Init(10, 8, kTick));  // one rotation = 8000
  w.Start(0);
  const uint64_t deadline = 20'500;
  w.Schedule(2, deadline);
  std::vector<uint64_t> checks;
  bool fired_after_deadline = false;
  for (uint64_t now = 0; now <= 30'000; now += 250) {
    w.Advance(now, [&](uint32_t idx) {
      checks.push_back(now);
      if (now >= deadline) {
        fired_after_deadline = true;
      } else {
        w.Schedule(idx, deadline);  // lazy re-check: not due yet
      }
      return true;
    });
  }
  EXPECT_TRUE(fired_after_deadline);
  EXPECT_GE(checks.size(), 2u);  // came round once before it was due
  EXPECT_LE(checks.back(), deadline + kTick);
}

// The prefetch hook: before each fire, the entry after it (second stage) and
// the one after that; from a slot's tail, the back half's entries once each
// until the walks meet. Firing is what it is without the hook.
TEST(TimerWheel, PrefetchWalksTheSlotFromBothEnds) {
  constexpr uint32_t kN = TimerWheel::kNone;
  TimerWheel w;
  ASSERT_TRUE(w.Init(10, 8, kTick));
  w.Start(0);
  for (uint32_t idx : {5u, 2u, 7u, 0u}) w.Schedule(idx, 1500);
  w.Schedule(9, 2500);  // a later slot, alone in it
  std::vector<uint32_t> fired;
  std::vector<std::pair<uint32_t, uint32_t>> calls;
  EXPECT_TRUE(w.Advance(
      3000,
      [&](uint32_t idx) {
        fired.push_back(idx);
        calls.emplace_back(idx, idx);  // marks where the fires fall
        return true;
      },
      [&](uint32_t next, uint32_t ahead) { calls.emplace_back(next, ahead); }));
  EXPECT_EQ(fired, (std::vector<uint32_t>{0, 7, 2, 5, 9}));  // newest first, slot by slot
  const std::vector<std::pair<uint32_t, uint32_t>> expected = {
      {kN, 5},                   // the tail, at the splice
      {7, 2},  {kN, 2}, {0, 0},  // front (next 7, two ahead 2); the tail walk's next
      {2, 5},  {7, 7},           // the walks have met
      {5, kN}, {2, 2},  {5, 5},  // nothing two ahead of 2
      {kN, 9}, {9, 9},
  };
  EXPECT_EQ(calls, expected);
}

TEST(TimerWheel, CancelAndEarlierRescheduleWork) {
  TimerWheel w;
  ASSERT_TRUE(w.Init(10, 16, kTick));
  w.Start(0);
  w.Schedule(3, 9000);
  w.Schedule(4, 9000);
  w.Cancel(3);
  w.Schedule(4, 2000);  // moved earlier
  EXPECT_EQ(AdvanceCollect(w, 3000), std::vector<uint32_t>{4});
  EXPECT_TRUE(AdvanceCollect(w, 20000).empty());
}

TEST(TimerWheel, PastDeadlinesFireAtTheNextTick) {
  TimerWheel w;
  ASSERT_TRUE(w.Init(10, 16, kTick));
  w.Start(50'000);
  w.Schedule(5, 10);
  EXPECT_EQ(AdvanceCollect(w, 51'000), std::vector<uint32_t>{5});
}

TEST(TimerWheel, StoppingKeepsTheRestForTheNextAdvance) {
  TimerWheel w;
  ASSERT_TRUE(w.Init(10, 16, kTick));
  w.Start(0);
  for (uint32_t i = 0; i < 6; ++i) w.Schedule(i, 1500);
  std::vector<uint32_t> fired;
  int budget = 2;
  auto fire = [&](uint32_t idx) {
    if (budget == 0) return false;
    --budget;
    fired.push_back(idx);
    return true;
  };
  EXPECT_FALSE(w.Advance(5000, fire));
  EXPECT_EQ(fired.size(), 2u);
  budget = 100;
  EXPECT_TRUE(w.Advance(5000, fire));
  EXPECT_EQ(fired.size(), 6u);
}

// Earliest() (eviction): the longest-waiting entry of the earliest non-empty
// tick, then the ones scheduled after it in that tick; an entry scheduled
// earlier than the cursor is found again; nothing scheduled gives kNone.
TEST(TimerWheel, EarliestGivesTheOldestOfTheEarliestTick) {
  TimerWheel w;
  ASSERT_TRUE(w.Init(10, 16, kTick));
  w.Start(0);
  uint64_t tick = 0;
  EXPECT_EQ(w.Earliest(&tick), TimerWheel::kNone);
  w.Schedule(4, 7500);
  w.Schedule(2, 3100);
  w.Schedule(3, 3900);  // same tick as 2, scheduled after it
  EXPECT_EQ(w.Earliest(&tick), 2u);
  EXPECT_EQ(tick, 3u);
  EXPECT_EQ(w.ScheduledBefore(2), 3u);
  EXPECT_EQ(w.ScheduledBefore(3), TimerWheel::kNone);
  w.Cancel(2);
  w.Cancel(3);
  EXPECT_EQ(w.Earliest(&tick), 4u);  // the cursor moves on past the emptied tick
  EXPECT_EQ(tick, 7u);
  w.Schedule(1, 1200);  // before the cursor: found again
  EXPECT_EQ(w.Earliest(&tick), 1u);
  EXPECT_EQ(tick, 1u);
  w.Cancel(1);
  w.Cancel(4);
  EXPECT_EQ(w.Earliest(&tick), TimerWheel::kNone);
}

// An Advance() that stops puts the unfired entries back into their tick,
// behind the cursor Earliest() keeps: they are still found first.
TEST(TimerWheel, EarliestFindsEntriesAStoppedAdvanceLeft) {
  TimerWheel w;
  ASSERT_TRUE(w.Init(10, 16, kTick));
  w.Start(0);
  w.Schedule(5, 9500);
  uint64_t tick = 0;
  EXPECT_EQ(w.Earliest(&tick), 5u);  // cursor at tick 9
  for (uint32_t i = 0; i < 3; ++i) w.Schedule(i, 2500);
  int budget = 1;
  EXPECT_FALSE(w.Advance(5000, [&](uint32_t) { return budget-- > 0; }));
  const uint32_t first = w.Earliest(&tick);
  EXPECT_LT(first, 3u);
  EXPECT_EQ(tick, 2u);
}

TEST(TimerWheel, HugeTimeJumpVisitsEveryEntryOnce) {
  TimerWheel w;
  ASSERT_TRUE(w.Init(100, 8, kTick));
  w.Start(0);
  for (uint32_t i = 0; i < 100; ++i) w.Schedule(i, i * 777);
  EXPECT_EQ(AdvanceCollect(w, uint64_t{1} << 40).size(), 100u);
}

}  // namespace
}  // namespace flowtrail::session
