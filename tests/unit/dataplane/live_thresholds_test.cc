// What a reload's TRW parameters do to the analytics state already held
// (LiveVerdicts::SetTrw, ScanTable::set_trw; analytics_lcore.h).
#include <cstdint>

#include <gtest/gtest.h>

#include "analytics/live_verdicts.h"
#include "analytics/scan_table.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::analytics {
namespace {

using record::ContactEvent;
using record::ContactOutcome;

constexpr uint64_t kT0 = 1'700'000'000ULL * 1'000'000;

// A silent first contact of client 10.0.0.<c> to server 192.0.2.<s>:22 at
// second `t` (walked at once: no reorder window).
ContactEvent Silent(uint32_t c, uint32_t s, uint64_t t) {
  ContactEvent e;
  e.client_ip = IpAddress::FromV4(0x0A000000u + c);
  e.server_ip = IpAddress::FromV4(0xC0000200u + s);
  e.client_port = 40000;
  e.server_port = 22;
  e.ip_version = 4;
  e.outcome = ContactOutcome::kSilent;
  e.first_time_us = kT0 + t * 1'000'000;
  e.decided_us = e.first_time_us + 3'000'000;
  return e;
}

const LiveClient& Client(const LiveVerdicts& v, uint32_t c) {
  const LiveClient* p = v.Find(IpAddress::FromV4(0x0A000000u + c), 4);
  EXPECT_NE(p, nullptr);
  static const LiveClient kNone;
  return p != nullptr ? *p : kNone;
}

TEST(LiveThresholds, DecidedVerdictsStayPendingWalksGoOnUnderTheNewParameters) {
  LiveVerdictOptions o;
  o.reorder_us = 0;
  LiveVerdicts v(o);
  // Defaults (0.8, 0.2, 0.01, 0.99): a blind failure adds log 4, the scanner
  // bound is log 99: four failures decide.
  for (uint32_t s = 0; s < 4; ++s) v.Consume(Silent(1, s, s));
  for (uint32_t s = 0; s < 2; ++s) v.Consume(Silent(2, s, s));
  v.Flush();
  ASSERT_EQ(Client(v, 1).verdict, Verdict::kScanner);
  EXPECT_EQ(Client(v, 1).decided_after, 4u);
  ASSERT_EQ(Client(v, 2).verdict, Verdict::kPending);
  const double ratio = Client(v, 2).log_ratio;

  // Looser targets: the scanner bound drops to log 9.
  TrwOptions loose;
  loose.alpha = 0.1;
  loose.beta = 0.9;
  v.SetTrw(loose);
  EXPECT_EQ(v.options().trw.alpha, 0.1);
  // The pending walk kept its ratio; its third failure now decides (under
  // the old bound it would need a fourth).
  EXPECT_EQ(Client(v, 2).log_ratio, ratio);
  v.Consume(Silent(2, 2, 10));
  v.Flush();
  EXPECT_EQ(Client(v, 2).verdict, Verdict::kScanner);
  EXPECT_EQ(Client(v, 2).decided_after, 3u);

  // Stricter ones do not undo a verdict.
  TrwOptions strict;
  strict.alpha = 0.0001;
  v.SetTrw(strict);
  v.Consume(Silent(1, 9, 20));
  v.Flush();
  EXPECT_EQ(Client(v, 1).verdict, Verdict::kScanner);
  EXPECT_EQ(Client(v, 1).decided_after, 4u);
  // A new client walks under the strict bound (log 9999: seven failures).
  for (uint32_t s = 0; s < 6; ++s) v.Consume(Silent(3, s, 30 + s));
  v.Flush();
  EXPECT_EQ(Client(v, 3).verdict, Verdict::kPending);
  v.Consume(Silent(3, 6, 40));
  v.Flush();
  EXPECT_EQ(Client(v, 3).verdict, Verdict::kScanner);
}

TEST(LiveThresholds, TheScanTableSavesTheParametersInEffect) {
  ScanTable t;
  TrwOptions p;
  p.theta0 = 0.7;
  p.theta1 = 0.3;
  p.alpha = 0.05;
  p.beta = 0.95;
  p.active_failure_counts = true;
  t.set_trw(p);
  v1::ScanTableState st;
  ASSERT_TRUE(t.Save(&st).ok());
  EXPECT_EQ(st.options().trw_theta0(), 0.7);
  EXPECT_EQ(st.options().trw_theta1(), 0.3);
  EXPECT_EQ(st.options().trw_alpha(), 0.05);
  EXPECT_EQ(st.options().trw_beta(), 0.95);
  EXPECT_TRUE(st.options().trw_active_failure_counts());
  // Tables under other parameters do not merge.
  EXPECT_FALSE(ScanTable::Mergeable(t.options(), ScanOptions{}).ok());
}

}  // namespace
}  // namespace flowtrail::analytics
