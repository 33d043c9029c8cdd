// Live TRW verdicts over first-contact events (analytics/live_verdicts.h).
#include "analytics/live_verdicts.h"

#include <arpa/inet.h>

#include <vector>

#include "gtest/gtest.h"

namespace flowtrail::analytics {
namespace {

using record::ContactEvent;
using record::ContactOutcome;

constexpr uint64_t kSec = 1'000'000;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;

IpAddress V4(const char* s) {
  IpAddress a;
  EXPECT_EQ(inet_pton(AF_INET, s, a.bytes.data()), 1);
  return a;
}

ContactEvent Event(const char* client, const char* server, uint16_t port, ContactOutcome o,
                   uint64_t t) {
  ContactEvent e;
  e.client_ip = V4(client);
  e.server_ip = V4(server);
  e.client_port = 40000;
  e.server_port = port;
  e.ip_version = 4;
  e.outcome = o;
  e.first_time_us = t;
  e.decided_us = o == ContactOutcome::kSilent ? t + 3 * kSec : t + 1000;
  return e;
}

// A scanner's probes: distinct servers, all silent.
std::vector<ContactEvent> Sweep(const char* client, int n, uint64_t t0, uint64_t gap_us) {
  std::vector<ContactEvent> out;
  for (int i = 0; i < n; ++i) {
    char server[32];
    std::snprintf(server, sizeof(server), "198.51.%d.%d", i / 250, 1 + i % 250);
    out.push_back(Event(client, server, 22, ContactOutcome::kSilent, t0 + i * gap_us));
  }
  return out;
}

TEST(LiveVerdicts, SilentSweepIsScannerAfterFourFirstContacts) {
  // Defaults θ0 .8 θ1 .2 α .01 β .99: each blind failure adds ln 4; ln 99 is
  // passed at the 4th.
  LiveVerdicts lv;
  const auto ev = Sweep("203.0.113.5", 10, kT0, 100'000);
  lv.Consume(std::span(ev).first(3));
  const LiveClient* c = lv.Find(V4("203.0.113.5"), 4);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::kPending);
  lv.Consume(std::span(ev).subspan(3));
  c = lv.Find(V4("203.0.113.5"), 4);
  EXPECT_EQ(c->verdict, Verdict::kScanner);
  EXPECT_EQ(c->decided_after, 4u);
  EXPECT_EQ(c->decided_us, ev[3].decided_us);  // within seconds of the first SYN
  EXPECT_EQ(c->first_us, kT0);
  EXPECT_EQ(c->silents, 10u);
  EXPECT_EQ(lv.Stats().scanners, 1u);
}

TEST(LiveVerdicts, SuccessfulClientIsBenign) {
  LiveVerdicts lv;
  for (int i = 0; i < 4; ++i) {
    char server[32];
    std::snprintf(server, sizeof(server), "192.0.2.%d", 10 + i);
    lv.Consume(Event("10.0.0.1", server, 443, ContactOutcome::kSuccess, kT0 + i * kSec));
  }
  lv.Flush();
  const LiveClient* c = lv.Find(V4("10.0.0.1"), 4);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::kBenign);
  EXPECT_EQ(c->decided_after, 4u);
}

TEST(LiveVerdicts, FailureAgainstAnActiveServerIsNeutralUnlessConfigured) {
  for (bool counts : {false, true}) {
    LiveVerdictOptions o;
    o.trw.active_failure_counts = counts;
    LiveVerdicts lv(o);
    // The server accepts someone else, then our client fails on it (other ports).
    for (int i = 0; i < 6; ++i) {
      const uint16_t port = static_cast<uint16_t>(8000 + i);
      lv.Consume(Event("10.0.0.9", "192.0.2.1", port, ContactOutcome::kSuccess, kT0));
      lv.Consume(Event("10.0.0.2", "192.0.2.1", port, ContactOutcome::kReject, kT0 + kSec));
    }
    lv.Flush();
    const LiveClient* c = lv.Find(V4("10.0.0.2"), 4);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->verdict, counts ? Verdict::kScanner : Verdict::kPending) << counts;
    EXPECT_EQ(c->blind_failures, counts ? 6u : 0u);
  }
}

TEST(LiveVerdicts, ActiveServerOutsideTheHorizonDoesNotShield) {
  LiveVerdictOptions o;
  o.horizon_us = 10 * kSec;
  LiveVerdicts lv(o);
  for (int i = 0; i < 4; ++i) {
    const uint16_t port = static_cast<uint16_t>(8000 + i);
    lv.Consume(Event("10.0.0.9", "192.0.2.1", port, ContactOutcome::kSuccess, kT0));
    lv.Consume(Event("10.0.0.2", "192.0.2.1", port, ContactOutcome::kReject, kT0 + 60 * kSec));
  }
  lv.Flush();
  EXPECT_EQ(lv.Find(V4("10.0.0.2"), 4)->verdict, Verdict::kScanner);
}

TEST(LiveVerdicts, RepeatedContactsToOneServerAreOneStep) {
  LiveVerdicts lv;
  for (int i = 0; i < 20; ++i) {
    lv.Consume(Event("10.0.0.3", "192.0.2.50", 80, ContactOutcome::kSilent, kT0 + i * kSec));
  }
  lv.Flush();
  const LiveClient* c = lv.Find(V4("10.0.0.3"), 4);
  EXPECT_EQ(c->steps, 1u);
  EXPECT_EQ(c->verdict, Verdict::kPending);
  EXPECT_EQ(c->silents, 20u);
  EXPECT_EQ(lv.Stats().repeats, 19u);
}

TEST(LiveVerdicts, VerdictSticksOnceDecided) {
  LiveVerdicts lv;
  lv.Consume(Sweep("203.0.113.6", 4, kT0, 1000));
  for (int i = 0; i < 30; ++i) {
    char server[32];
    std::snprintf(server, sizeof(server), "192.0.2.%d", 100 + i);
    lv.Consume(Event("203.0.113.6", server, 80, ContactOutcome::kSuccess, kT0 + kSec));
  }
  lv.Flush();
  EXPECT_EQ(lv.Find(V4("203.0.113.6"), 4)->verdict, Verdict::kScanner);
}

TEST(LiveVerdicts, ClientTableIsBoundedAndEvictsTheColdest) {
  LiveVerdictOptions o;
  o.max_clients = 16;
  LiveVerdicts lv(o);
  for (int i = 0; i < 100; ++i) {
    char client[32];
    std::snprintf(client, sizeof(client), "10.1.0.%d", i);
    lv.Consume(Event(client, "192.0.2.1", 80, ContactOutcome::kSilent, kT0 + i * kSec));
  }
  lv.Flush();
  const LiveVerdictStats st = lv.Stats();
  EXPECT_EQ(st.clients, 16u);
  EXPECT_EQ(st.client_evictions, 84u);
  EXPECT_NE(lv.Find(V4("10.1.0.99"), 4), nullptr);  // the newest stays
  EXPECT_EQ(lv.Find(V4("10.1.0.0"), 4), nullptr);   // the coldest went
  EXPECT_GT(st.memory_bytes, 0u);
}

TEST(LiveVerdicts, MemoryBudgetSetsTheKeyLimits) {
  LiveVerdictOptions o;
  o.memory_bytes = 1 << 20;
  LiveVerdicts lv(o);
  const LiveVerdictStats st = lv.Stats();
  EXPECT_EQ(st.max_clients, (1u << 20) / 4 * 3 / LiveVerdicts::ClientBytes());
  EXPECT_EQ(st.max_servers, (1u << 20) / 4 / LiveVerdicts::ServerBytes());
  EXPECT_EQ(st.memory_budget, 1u << 20);
}

TEST(LiveVerdicts, TopOrdersByFailuresAndIsBounded) {
  LiveVerdicts lv;
  lv.Consume(Sweep("203.0.113.1", 5, kT0, 1000));
  lv.Consume(Sweep("203.0.113.2", 50, kT0, 1000));
  lv.Consume(Sweep("203.0.113.3", 20, kT0, 1000));
  lv.Consume(Event("10.0.0.1", "192.0.2.1", 80, ContactOutcome::kSuccess, kT0));
  lv.Flush();
  const std::vector<LiveClient> top = lv.Top(2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].client, V4("203.0.113.2"));
  EXPECT_EQ(top[1].client, V4("203.0.113.3"));
  EXPECT_EQ(lv.Top(10).size(), 4u);
  EXPECT_TRUE(lv.Top(0).empty());
}

// A scanner's lucky hits are answered at once, its silent probes decided only
// 3 s later: they arrive first but must not be walked first.
std::vector<ContactEvent> HitsBeforeSilence() {
  std::vector<ContactEvent> silent = Sweep("203.0.113.9", 4, kT0, 1000);
  std::vector<ContactEvent> out;
  for (int i = 0; i < 5; ++i) {
    char server[32];
    std::snprintf(server, sizeof(server), "192.0.2.%d", 200 + i);
    out.push_back(
        Event("203.0.113.9", server, 22, ContactOutcome::kSuccess, kT0 + kSec + i * 1000));
  }
  out.insert(out.end(), silent.begin(), silent.end());  // decided at kT0 + 3 s
  return out;
}

TEST(LiveVerdicts, WalksInFirstContactOrderNotArrivalOrder) {
  LiveVerdicts lv;
  lv.Consume(HitsBeforeSilence());
  lv.Flush();
  const LiveClient* c = lv.Find(V4("203.0.113.9"), 4);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::kScanner);
  EXPECT_EQ(c->decided_after, 4u);
  EXPECT_EQ(c->decided_us, kT0 + 3 * kSec + 3000);  // the 4th probe's silence
}

TEST(LiveVerdicts, WithoutReorderingTheHitsComeFirstAndTheScannerLooksBenign) {
  LiveVerdictOptions o;
  o.reorder_us = 0;
  LiveVerdicts lv(o);
  lv.Consume(HitsBeforeSilence());
  EXPECT_EQ(lv.Find(V4("203.0.113.9"), 4)->verdict, Verdict::kBenign);
}

TEST(LiveVerdicts, AdvanceWalksHeldEventsWithoutNewOnes) {
  LiveVerdicts lv;
  lv.Consume(Event("10.0.0.1", "192.0.2.1", 80, ContactOutcome::kSuccess, kT0));
  EXPECT_EQ(lv.Find(V4("10.0.0.1"), 4), nullptr);  // held: an earlier SYN may still be open
  EXPECT_EQ(lv.Stats().held, 1u);
  lv.Advance(kT0 + 3 * kSec - 1);
  EXPECT_EQ(lv.Find(V4("10.0.0.1"), 4), nullptr);
  lv.Advance(kT0 + 3 * kSec);
  ASSERT_NE(lv.Find(V4("10.0.0.1"), 4), nullptr);
  EXPECT_EQ(lv.Stats().held, 0u);
}

TEST(LiveVerdicts, FullReorderHeapWalksItsEarliestEarlyAndCountsIt) {
  LiveVerdictOptions o;
  o.reorder_capacity = 2;
  LiveVerdicts lv(o);
  for (int i = 0; i < 5; ++i) {
    char server[32];
    std::snprintf(server, sizeof(server), "192.0.2.%d", 1 + i);
    lv.Consume(Event("10.0.0.1", server, 80, ContactOutcome::kSuccess, kT0 + i));
  }
  const LiveVerdictStats st = lv.Stats();
  EXPECT_EQ(st.held, 2u);
  EXPECT_EQ(st.walked_early, 3u);
  EXPECT_EQ(lv.Find(V4("10.0.0.1"), 4)->steps, 3u);
}

TEST(LiveVerdicts, EachWorkerHoldsTheWatermarkUntilItsEventsAreIn) {
  // Worker 0 decides four silent probes; worker 1 is behind and only then
  // hands over five earlier successes of the same client. The walk must
  // still be in first-contact order: benign.
  LiveVerdictOptions o;
  o.workers = 2;
  LiveVerdicts lv(o);
  std::vector<ContactEvent> silent = Sweep("203.0.113.7", 4, kT0 + kSec, 1000);
  lv.Consume(silent);
  EXPECT_EQ(lv.Find(V4("203.0.113.7"), 4), nullptr);  // held for worker 1
  for (int i = 0; i < 5; ++i) {
    char server[32];
    std::snprintf(server, sizeof(server), "192.0.2.%d", 10 + i);
    ContactEvent e = Event("203.0.113.7", server, 22, ContactOutcome::kSuccess, kT0 + i);
    e.worker_id = 1;
    lv.Consume(e);
  }
  lv.Advance(1, kT0 + 10 * kSec);  // worker 1's clock
  const LiveClient* c = lv.Find(V4("203.0.113.7"), 4);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::kBenign);
  EXPECT_EQ(lv.Stats().held, 0u);
}

}  // namespace
}  // namespace flowtrail::analytics
