// The SIGHUP settings' publication: readers see the newest values, and old
// values are freed only once every reader has moved past them.
#include "dataplane/live_settings.h"

#include <gtest/gtest.h>

namespace flowtrail::dataplane {
namespace {

LiveValues Nets(std::string_view list) {
  LiveValues v;
  v.protected_networks = *session::Networks::Parse(list);
  return v;
}

TEST(LiveSettings, ReadersPickUpTheNewestAndOldOnesAreFreedAfterAll) {
  LiveSettings live(Nets(""));
  const int a = live.AddReader(), b = live.AddReader();
  const LiveValues* va = live.Acquire(a, nullptr);
  const LiveValues* vb = live.Acquire(b, nullptr);
  EXPECT_EQ(va, vb);
  EXPECT_TRUE(va->protected_networks.empty());

  live.Publish(Nets("10.0.0.0/8"));
  EXPECT_EQ(live.Reclaim(), 1u);  // both readers still on the first values
  va = live.Acquire(a, va);
  EXPECT_FALSE(va->protected_networks.empty());
  EXPECT_EQ(live.Reclaim(), 1u);  // b still is
  // b's old values are intact until it moves on.
  EXPECT_TRUE(vb->protected_networks.empty());
  vb = live.Acquire(b, vb);
  EXPECT_EQ(va, vb);
  EXPECT_EQ(live.Reclaim(), 0u);

  // Two publications before a reader looks: it skips to the newest.
  live.Publish(Nets("192.168.0.0/16"));
  live.Publish(Nets("172.16.0.0/12"));
  EXPECT_EQ(live.Reclaim(), 2u);
  va = live.Acquire(a, va);
  vb = live.Acquire(b, vb);
  EXPECT_EQ(va, live.current());
  EXPECT_EQ(live.Reclaim(), 0u);
}

TEST(LiveSettings, AReloadRequestRunsTheHookOnce) {
  LiveSettings live(Nets(""));
  int calls = 0, settled = 0;
  const int reader = live.AddReader();
  live.Acquire(reader, nullptr);
  live.on_reload = [&](LiveSettings& l) {
    ++calls;
    l.Publish(Nets("10.0.0.0/8"));
  };
  live.on_settled = [&] { ++settled; };
  live.ControlTick();
  EXPECT_EQ(calls, 0);
  LiveSettings::reload_requested.store(1);
  live.ControlTick();
  live.ControlTick();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(live.current()->protected_networks.empty());
  EXPECT_EQ(settled, 0);  // the reader is still on the old values
  live.Acquire(reader, nullptr);
  live.ControlTick();
  live.ControlTick();
  EXPECT_EQ(settled, 1);
}

}  // namespace
}  // namespace flowtrail::dataplane
