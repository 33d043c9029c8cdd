// Live TRW verdicts over first-contact events (analytics/live_verdicts.h).
#include "analytics/live_verdicts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <numeric>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
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

// Churn through a bounded client table: thousands of clients, random order,
// a limit of 257 (the index grows from 16 slots, and every eviction deletes
// from the middle of probe runs). Every client the table still holds is
// found, with its own counts; every other one is not.
TEST(LiveVerdicts, ClientTableFindsExactlyWhatItHoldsThroughChurn) {
  LiveVerdictOptions o;
  o.max_clients = 257;
  o.reorder_us = 0;  // walk each event at once
  LiveVerdicts lv(o);
  constexpr int kClients = 3000;
  std::mt19937 rng(7);
  std::vector<uint64_t> sent(kClients, 0);
  for (int i = 0; i < 20000; ++i) {
    const int c = static_cast<int>(rng() % kClients);
    char client[32];
    std::snprintf(client, sizeof(client), "10.%d.%d.1", c / 250, c % 250);
    lv.Consume(Event(client, "192.0.2.1", 80, ContactOutcome::kSilent, kT0 + i * kSec));
    ++sent[c];
  }
  lv.Flush();
  const std::vector<LiveClient> held = lv.Top(100000);
  ASSERT_EQ(held.size(), 257u);
  EXPECT_EQ(lv.Stats().clients, 257u);
  std::set<std::pair<int, int>> in;
  for (const LiveClient& h : held) in.insert({h.client.bytes[1], h.client.bytes[2]});
  int found = 0;
  for (int c = 0; c < kClients; ++c) {
    if (sent[c] == 0) continue;
    char client[32];
    std::snprintf(client, sizeof(client), "10.%d.%d.1", c / 250, c % 250);
    const LiveClient* f = lv.Find(V4(client), 4);
    EXPECT_EQ(f != nullptr, in.count({c / 250, c % 250}) == 1) << client;
    if (f != nullptr) {
      ++found;
      EXPECT_EQ(f->client, V4(client));
      EXPECT_LE(f->silents, sent[c]);  // since its last eviction
      EXPECT_GE(f->silents, 1u);
    }
  }
  EXPECT_EQ(found, 257);
}

// The budget holds the reorder heap and both tables however full they get:
// their storage is reserved up front (vector doubling and the power-of-two
// index took up to 1.85x of it before). The key limits still use most of
// it. One budget puts the client share just past a power of two of keys
// (8193 at the old per-key estimate), the index's worst case.
TEST(LiveVerdicts, MemoryBudgetHoldsTheTablesHoweverFull) {
  const uint64_t cb = LiveVerdicts::ClientBytes();
  for (const uint64_t tables :
       {uint64_t{1} << 20, (8193 * cb * 4 + 2) / 3 + 8, uint64_t{3} << 20}) {
    LiveVerdictOptions o;
    o.reorder_capacity = 64;
    o.reorder_us = 0;  // walk at once
    LiveVerdicts probe(o);
    o.memory_bytes = tables + probe.Stats().memory_bytes;  // the heap's share on top
    LiveVerdicts lv(o);
    const LiveVerdictStats limits = lv.Stats();
    EXPECT_LE(limits.memory_bytes, o.memory_bytes) << tables;
    // Within a factor of two of the naive split (a power-of-two index).
    EXPECT_GE(limits.max_clients, tables / 4 * 3 / cb / 2) << tables;
    EXPECT_GE(limits.max_servers, tables / 4 / LiveVerdicts::ServerBytes() / 2) << tables;
    // More clients and servers than the limits take: every table at its limit.
    const uint64_t n = limits.max_clients + limits.max_servers + 100;
    for (uint64_t i = 0; i < n; ++i) {
      const std::string client =
          absl::StrCat("10.", i >> 16 & 255, ".", i >> 8 & 255, ".", i & 255);
      const std::string server =
          absl::StrCat("192.", i >> 16 & 255, ".", i >> 8 & 255, ".", i & 255);
      lv.Consume(Event(client.c_str(), server.c_str(), 80, ContactOutcome::kSuccess, kT0 + i));
    }
    const LiveVerdictStats st = lv.Stats();
    EXPECT_EQ(st.clients, limits.max_clients);
    EXPECT_EQ(st.servers, limits.max_servers);
    EXPECT_LE(st.memory_bytes, st.memory_budget) << tables;
    EXPECT_EQ(st.memory_budget, o.memory_bytes);
  }
}

// A budget smaller than the reorder heap leaves the tables their least (16
// keys each), not unbounded.
TEST(LiveVerdicts, BudgetBelowTheHeapLeavesTheLeastKeys) {
  LiveVerdictOptions o;
  o.memory_bytes = 1000;  // the default heap alone is megabytes
  const LiveVerdictStats st = LiveVerdicts(o).Stats();
  EXPECT_EQ(st.max_clients, 16u);
  EXPECT_EQ(st.max_servers, 16u);
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

// The reorder rules written out plainly (a priority queue of whole events, by
// (first_time_us, worker_id, session_id)): it hands each event to `walk`, with
// the watermark, in the order LiveVerdicts must walk them.
class ReferenceReorder {
 public:
  ReferenceReorder(const LiveVerdictOptions& o,
                   std::function<void(const ContactEvent&, uint64_t)> walk)
      : o_(o), marks_(o.workers, 0), walk_(std::move(walk)) {}
  void Consume(const ContactEvent& e) {
    if (held_.size() == o_.reorder_capacity) {
      ++walked_early;
      PopWalk();
    }
    held_.push(e);
    Raise(e.worker_id, e.decided_us);
    Release();
  }
  void Advance(uint64_t now) {
    for (uint16_t w = 0; w < marks_.size(); ++w) Raise(w, now);
    Release();
  }
  void Advance(uint16_t w, uint64_t now) {
    Raise(w, now);
    Release();
  }
  void Flush() {
    while (!held_.empty()) PopWalk();
  }
  size_t held() const { return held_.size(); }
  uint64_t walked_early = 0;

 private:
  struct Later {
    bool operator()(const ContactEvent& a, const ContactEvent& b) const {
      return std::tie(a.first_time_us, a.worker_id, a.session_id) >
             std::tie(b.first_time_us, b.worker_id, b.session_id);
    }
  };
  void Raise(uint16_t w, uint64_t t) {
    if (w >= marks_.size()) marks_.resize(w + 1, 0);
    marks_[w] = std::max(marks_[w], t);
  }
  void Release() {
    const uint64_t mark = *std::min_element(marks_.begin(), marks_.end());
    while (!held_.empty() && held_.top().first_time_us + o_.reorder_us <= mark) PopWalk();
  }
  void PopWalk() {
    const ContactEvent e = held_.top();
    held_.pop();
    walk_(e, *std::min_element(marks_.begin(), marks_.end()));
  }
  LiveVerdictOptions o_;
  std::vector<uint64_t> marks_;
  std::priority_queue<ContactEvent, std::vector<ContactEvent>, Later> held_;
  std::function<void(const ContactEvent&, uint64_t)> walk_;
};

void ExpectSameClient(const LiveClient* a, const LiveClient* b, bool decided_us) {
  ASSERT_EQ(a == nullptr, b == nullptr);
  if (a == nullptr) return;
  EXPECT_EQ(a->verdict, b->verdict);
  EXPECT_EQ(a->steps, b->steps);
  EXPECT_EQ(a->decided_after, b->decided_after);
  EXPECT_EQ(a->successes, b->successes);
  EXPECT_EQ(a->rejects, b->rejects);
  EXPECT_EQ(a->silents, b->silents);
  EXPECT_EQ(a->blind_failures, b->blind_failures);
  EXPECT_EQ(a->log_ratio, b->log_ratio);
  EXPECT_EQ(a->first_us, b->first_us);
  EXPECT_EQ(a->last_us, b->last_us);
  if (decided_us) {
    EXPECT_EQ(a->decided_us, b->decided_us);
  }
}

// Pseudo-random events (many equal first_time_us, several workers, arrival
// out of order, a small heap so that early walks are frequent, interleaved
// Advance calls, then Flush) walked in the reference's order: a LiveVerdicts
// with reorder_us 0 and one worker walks each event as it comes, so fed the
// reference's walk (its clock raised to the watermark first) it must end in
// the same state as the reordering one, client by client, at every step. The
// walk is order-sensitive (a few clients and servers: TRW steps, repeats in
// the recent contacts, failures against servers that accepted before).
// decided_us is the watermark at the walk, which the one-worker copy
// reproduces only when there is one worker.
TEST(LiveVerdicts, ReorderWalksInTheReferenceOrder) {
  for (uint32_t workers : {1u, 3u}) {
    SCOPED_TRACE(workers);
    LiveVerdictOptions o;
    o.workers = workers;
    o.reorder_us = 50'000;
    o.reorder_capacity = 96;
    LiveVerdicts lv(o);
    LiveVerdictOptions in_order = o;
    in_order.workers = 1;
    in_order.reorder_us = 0;
    in_order.reorder_capacity = 1 << 16;
    LiveVerdicts ref(in_order);
    ReferenceReorder reorder(o, [&](const ContactEvent& e, uint64_t mark) {
      ref.Advance(mark);
      ContactEvent one = e;
      one.worker_id = 0;
      ref.Consume(one);
    });

    constexpr int kEvents = 4000, kClients = 8;
    std::mt19937_64 rng(42 + workers);
    std::vector<uint64_t> sessions(kEvents);
    std::iota(sessions.begin(), sessions.end(), 1);
    std::shuffle(sessions.begin(), sessions.end(), rng);  // ties must not follow arrival
    auto check = [&] {
      const LiveVerdictStats a = lv.Stats(), b = ref.Stats();
      EXPECT_EQ(a.success + a.reject + a.silent, b.events);
      EXPECT_EQ(a.held, reorder.held());
      EXPECT_EQ(a.walked_early, reorder.walked_early);
      EXPECT_EQ(a.repeats, b.repeats);
      EXPECT_EQ(a.scanners, b.scanners);
      EXPECT_EQ(a.benign, b.benign);
      EXPECT_EQ(a.servers, b.servers);
      for (int c = 0; c < kClients; ++c) {
        const IpAddress ip = IpAddress::FromV4(0x0a000000 | c);
        ExpectSameClient(lv.Find(ip, 4), ref.Find(ip, 4), workers == 1);
      }
    };
    auto feed = [&](const ContactEvent& e) {
      lv.Consume(e);
      reorder.Consume(e);
    };
    std::deque<ContactEvent> late;
    uint64_t now = kT0;
    for (int i = 0; i < kEvents; ++i) {
      if (rng() % 6 == 0) now += 1000;  // ~6 events per ms: ties on first_time_us
      ContactEvent e;
      e.session_id = sessions[i];
      e.worker_id = static_cast<uint16_t>(rng() % workers);
      e.ip_version = 4;
      const auto client = static_cast<uint32_t>(rng() % kClients);
      const bool scanner = client < 2;  // random servers, mostly failing
      e.client_ip = IpAddress::FromV4(0x0a000000 | client);
      e.server_ip =
          IpAddress::FromV4(0xc0000200 | static_cast<uint32_t>(rng() % (scanner ? 512 : 24)));
      e.server_port = rng() % 2 ? 80 : 443;
      e.first_time_us = now - rng() % 8 * 1000;
      const uint64_t k = scanner ? 3 + rng() % 5 : rng() % 8;
      e.outcome = k < 4   ? ContactOutcome::kSuccess
                  : k < 6 ? ContactOutcome::kReject
                          : ContactOutcome::kSilent;
      e.decided_us = e.first_time_us + (k < 6 ? rng() % 3 * 1000 : o.reorder_us);
      // Arrival in decision order, roughly: silence only once the clock passed it.
      if (e.outcome == ContactOutcome::kSilent) {
        late.push_back(e);
      } else {
        feed(e);
      }
      while (!late.empty() && late.front().decided_us <= now) {
        feed(late.front());
        late.pop_front();
      }
      if (rng() % 97 == 0) {
        lv.Advance(now);
        reorder.Advance(now);
      } else if (rng() % 53 == 0) {
        const auto w = static_cast<uint16_t>(rng() % workers);
        lv.Advance(w, now + 20'000);
        reorder.Advance(w, now + 20'000);
      }
      if (i % 50 == 0) {
        check();
        if (::testing::Test::HasFailure()) return;  // the first divergence is enough
      }
    }
    for (const ContactEvent& e : late) feed(e);
    check();
    lv.Flush();
    reorder.Flush();
    check();
    const LiveVerdictStats st = lv.Stats();
    EXPECT_EQ(st.events, static_cast<uint64_t>(kEvents));
    EXPECT_EQ(st.held, 0u);
    EXPECT_GT(st.walked_early, 100u);
    EXPECT_GT(st.scanners, 0u);
    EXPECT_GT(st.benign, 0u);
    EXPECT_GT(st.repeats, 0u);
  }
}

}  // namespace
}  // namespace flowtrail::analytics
