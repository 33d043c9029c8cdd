#include "analytics/scan_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>

#include "flowtrail/v1/session.pb.h"
#include "scan_records.h"

namespace flowtrail::analytics {
namespace {

using record::ConnState;
using record::SessionRecord;

using testing::kBase;
using testing::kS;

SessionRecord Tcp(uint32_t client, uint32_t server, uint16_t port, Outcome o, uint64_t t_s) {
  return testing::ScanRecord(client, server, port, o, t_s, /*data_bytes=*/100);
}

const ScanRow* Find(const std::vector<ScanRow>& rows, uint32_t client, uint16_t port) {
  for (const ScanRow& r : rows) {
    if (r.client == IpAddress::FromV4(client) && r.port == port) return &r;
  }
  return nullptr;
}

TEST(ClassifyTest, EachRecordHasOneOutcome) {
  EXPECT_EQ(ClassifyRecord(Tcp(1, 2, 80, Outcome::kReject, 0)), Outcome::kReject);
  EXPECT_EQ(ClassifyRecord(Tcp(1, 2, 80, Outcome::kSilent, 0)), Outcome::kSilent);
  EXPECT_EQ(ClassifyRecord(Tcp(1, 2, 80, Outcome::kSuccess, 0)), Outcome::kSuccess);
  EXPECT_EQ(ClassifyRecord(Tcp(1, 2, 80, Outcome::kData, 0)), Outcome::kData);
  SessionRecord interim = Tcp(1, 2, 80, Outcome::kData, 0);
  interim.continuing = true;
  EXPECT_EQ(ClassifyRecord(interim), Outcome::kNone);
  SessionRecord udp = Tcp(1, 2, 53, Outcome::kSilent, 0);
  udp.protocol = 17;
  EXPECT_EQ(ClassifyRecord(udp), Outcome::kNone);
  SessionRecord midstream = Tcp(1, 2, 80, Outcome::kData, 0);
  midstream.client_flags = 0x18;  // no SYN seen: the handshake's outcome is unknown
  EXPECT_EQ(ClassifyRecord(midstream), Outcome::kNone);
  SessionRecord rstos0 = Tcp(1, 2, 80, Outcome::kSilent, 0);
  rstos0.client_flags = 0x06;  // the client gave up with a RST: still no answer
  rstos0.conn_state = ConnState::kRSTOS0;
  EXPECT_EQ(ClassifyRecord(rstos0), Outcome::kSilent);
  // An announced FTP data connection is expected, not a contact.
  SessionRecord transient = Tcp(1, 2, 33582, Outcome::kSilent, 0);
  transient.transient_server = true;
  EXPECT_EQ(ClassifyRecord(transient), Outcome::kNone);
}

TEST(ScanTableTest, UnansweredFtpDataConnectionsMakeNoScanner) {
  // An FTP server in active mode whose client's firewall drops every data
  // connection (the lab's ftp_firewalled): silent, but announced.
  ScanTable t;
  for (uint32_t i = 0; i < 8; ++i) {
    SessionRecord r = Tcp(10, 20 + i, static_cast<uint16_t>(40000 + i), Outcome::kSilent, i);
    r.transient_server = true;
    t.Consume(r);
  }
  EXPECT_TRUE(t.Rows().empty());
  EXPECT_TRUE(t.Verdicts().empty());
  EXPECT_EQ(t.Stats().skipped_other, 8u);
}

TEST(ScanTableTest, SessionsAndUniqueServersOfARetryingRelay) {
  ScanTable t;
  for (int i = 0; i < 1000; ++i) t.Consume(Tcp(1, 99, 25, Outcome::kSilent, i));
  t.Consume(Tcp(1, 98, 25, Outcome::kData, 2000));
  const auto rows = t.Rows();
  ASSERT_EQ(rows.size(), 1u);
  const ScanRow& r = rows[0];
  EXPECT_EQ(r.sessions[2], 1000u);
  EXPECT_EQ(r.servers[2], 1u);
  EXPECT_EQ(r.Count(true), 1000u);
  EXPECT_EQ(r.Count(false), 1u);
  EXPECT_EQ(r.sessions[3], 1u);  // a Data session is a Success too
  EXPECT_EQ(r.sessions[4], 1u);
  EXPECT_EQ(r.disjoint, 1u);
  EXPECT_FALSE(r.estimated);
}

TEST(ScanTableTest, InterimRecordsAreNotCounted) {
  ScanTable t;
  SessionRecord interim = Tcp(1, 2, 80, Outcome::kSuccess, 0);
  interim.continuing = true;
  t.Consume(interim);
  t.Consume(interim);
  t.Consume(Tcp(1, 2, 80, Outcome::kData, 0));  // the final record
  const auto rows = t.Rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].sessions[3], 1u);
  EXPECT_EQ(t.Stats().skipped_interim, 2u);
}

TEST(ScanTableTest, DisjointCountsServersThatNeverAccepted) {
  ScanTable t;
  t.Consume(Tcp(1, 10, 80, Outcome::kSilent, 0));
  t.Consume(Tcp(1, 10, 80, Outcome::kData, 1));  // retried and got in
  t.Consume(Tcp(1, 11, 80, Outcome::kReject, 2));
  t.Consume(Tcp(1, 12, 80, Outcome::kSilent, 3));
  const auto rows = t.Rows();
  const ScanRow* r = Find(rows, 1, 80);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->Count(false), 3u);
  EXPECT_EQ(r->disjoint, 2u);
}

TEST(ScanTableTest, DisjointEstimatedOnSketches) {
  ScanTable t;
  for (uint32_t s = 0; s < 5000; ++s) t.Consume(Tcp(1, 1000 + s, 80, Outcome::kSilent, s));
  for (uint32_t s = 0; s < 1000; ++s) t.Consume(Tcp(1, 1000 + s, 80, Outcome::kData, 6000 + s));
  const auto rows = t.Rows();
  const ScanRow* r = Find(rows, 1, 80);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->estimated);
  EXPECT_NEAR(static_cast<double>(r->disjoint), 4000, 4000 * 0.12);
}

TEST(ScanTableTest, BlindFailuresAreThoseWithoutAnActiveServer) {
  ScanOptions o;
  o.horizon_us = 100 * kS;
  ScanTable t(o);
  t.Consume(Tcp(2, 50, 80, Outcome::kData, 0));      // 50:80 is active from t=0
  t.Consume(Tcp(1, 50, 80, Outcome::kReject, 10));   // within the horizon: not blind
  t.Consume(Tcp(1, 51, 80, Outcome::kReject, 11));   // never accepted: blind
  t.Consume(Tcp(1, 50, 80, Outcome::kSilent, 500));  // horizon passed: blind
  t.Consume(Tcp(1, 50, 443, Outcome::kSilent, 12));  // other port never accepted: blind
  const auto rows = t.Rows();
  const ScanRow* r = Find(rows, 1, 80);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->blind_sessions, 2u);
  EXPECT_EQ(r->blind_servers, 2u);
  EXPECT_EQ(Find(rows, 1, 443)->blind_sessions, 1u);
}

TEST(ScanTableTest, ActiveServersWithinTheHorizonOfTheLatestRecord) {
  ScanOptions o;
  o.horizon_us = 100 * kS;
  ScanTable t(o);
  t.Consume(Tcp(1, 50, 80, Outcome::kSuccess, 0));
  t.Consume(Tcp(2, 50, 80, Outcome::kData, 5));
  t.Consume(Tcp(2, 50, 80, Outcome::kData, 6));
  t.Consume(Tcp(1, 51, 22, Outcome::kData, 300));
  t.Consume(Tcp(1, 52, 22, Outcome::kReject, 301));
  auto active = t.Servers(false);
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].address, IpAddress::FromV4(51));
  auto all = t.Servers(true);
  ASSERT_EQ(all.size(), 2u);
  const ServerRow& s50 = all[0].port == 80 ? all[0] : all[1];
  EXPECT_EQ(s50.accepts, 3u);
  EXPECT_EQ(s50.clients, 2u);
  EXPECT_EQ(s50.first_accept_us, kBase);
  EXPECT_EQ(s50.last_accept_us, kBase + 6 * kS);
}

ClientVerdict VerdictOf(const ScanTable& t, uint32_t client) {
  for (const ClientVerdict& v : t.Verdicts()) {
    if (v.client == IpAddress::FromV4(client)) return v;
  }
  return {};
}

TEST(TrwTest, FourBlindFailuresMakeAScanner) {
  ScanTable t;
  for (uint32_t s = 0; s < 3; ++s) t.Consume(Tcp(1, 100 + s, 22, Outcome::kSilent, s));
  EXPECT_EQ(VerdictOf(t, 1).verdict, Verdict::kPending);  // 4^3 = 64 < 99
  t.Consume(Tcp(1, 103, 22, Outcome::kReject, 3));
  const ClientVerdict v = VerdictOf(t, 1);
  EXPECT_EQ(v.verdict, Verdict::kScanner);
  EXPECT_EQ(v.decided_after, 4u);
}

TEST(TrwTest, FourSuccessesMakeBenign) {
  ScanTable t;
  for (uint32_t s = 0; s < 4; ++s) t.Consume(Tcp(1, 100 + s, 80, Outcome::kData, s));
  EXPECT_EQ(VerdictOf(t, 1).verdict, Verdict::kBenign);
  EXPECT_EQ(VerdictOf(t, 1).decided_after, 4u);
}

TEST(TrwTest, RetriesAreNotFirstContacts) {
  ScanTable t;
  for (int i = 0; i < 50; ++i) t.Consume(Tcp(1, 100, 25, Outcome::kSilent, i));
  EXPECT_EQ(VerdictOf(t, 1).verdict, Verdict::kPending);
  EXPECT_EQ(VerdictOf(t, 1).first_contacts, 1u);
}

TEST(TrwTest, FailuresAgainstActiveServersAreNeutralByDefault) {
  ScanOptions o;
  ScanTable neutral(o);
  o.trw.active_failure_counts = true;
  ScanTable counted(o);
  for (ScanTable* t : {&neutral, &counted}) {
    for (uint32_t s = 0; s < 6; ++s) t->Consume(Tcp(2, 100 + s, 80, Outcome::kData, s));
    for (uint32_t s = 0; s < 6; ++s) t->Consume(Tcp(1, 100 + s, 80, Outcome::kSilent, 10 + s));
  }
  EXPECT_EQ(VerdictOf(neutral, 1).verdict, Verdict::kPending);
  EXPECT_EQ(VerdictOf(counted, 1).verdict, Verdict::kScanner);
}

TEST(TrwTest, ParametersAreHonoured) {
  ScanOptions o;
  o.trw.alpha = 0.0001;  // ln(0.99/0.0001) = 9.2: needs 7 failures
  ScanTable t(o);
  for (uint32_t s = 0; s < 6; ++s) t.Consume(Tcp(1, 100 + s, 22, Outcome::kSilent, s));
  EXPECT_EQ(VerdictOf(t, 1).verdict, Verdict::kPending);
  t.Consume(Tcp(1, 200, 22, Outcome::kSilent, 10));
  EXPECT_EQ(VerdictOf(t, 1).verdict, Verdict::kScanner);
  EXPECT_EQ(VerdictOf(t, 1).decided_after, 7u);
}

TEST(TrwTest, WalksInRecordTimeWhateverTheInputOrder) {
  // Successes first in time, then failures: benign after 4, whatever the order fed.
  std::vector<SessionRecord> recs;
  for (uint32_t s = 0; s < 4; ++s) recs.push_back(Tcp(1, 100 + s, 80, Outcome::kData, s));
  for (uint32_t s = 0; s < 8; ++s) recs.push_back(Tcp(1, 200 + s, 80, Outcome::kSilent, 10 + s));
  ScanTable forward;
  for (const auto& r : recs) forward.Consume(r);
  ScanTable backward;
  for (auto it = recs.rbegin(); it != recs.rend(); ++it) backward.Consume(*it);
  EXPECT_EQ(VerdictOf(forward, 1).verdict, Verdict::kBenign);
  EXPECT_EQ(VerdictOf(backward, 1).verdict, Verdict::kBenign);
  EXPECT_EQ(VerdictOf(backward, 1).decided_after, 4u);
}

// A mixed record list: scanners, relays, busy clients, shared servers.
std::vector<SessionRecord> Mixed(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SessionRecord> v;
  for (int i = 0; i < n; ++i) {
    const uint32_t client = 1 + rng() % 40;
    const uint16_t port = static_cast<uint16_t>(rng() % 2 ? 80 : 22);
    // Servers 1000..1019 accept always; others never.
    const uint32_t server = client % 5 == 0 ? 5000 + rng() % 3000 : 1000 + rng() % 20;
    const Outcome o = server < 2000 ? (rng() % 2 ? Outcome::kData : Outcome::kSuccess)
                                    : (rng() % 2 ? Outcome::kSilent : Outcome::kReject);
    v.push_back(Tcp(client, server, port, o, rng() % 100));
  }
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first_time_us, a.client_ip, a.server_ip) <
           std::tie(b.first_time_us, b.client_ip, b.server_ip);
  });
  return v;
}

void ExpectSameRows(const ScanTable& a, const ScanTable& b) {
  auto key = [](const ScanRow& r) { return std::tie(r.client, r.port); };
  auto ra = a.Rows();
  auto rb = b.Rows();
  auto by_key = [&](const ScanRow& x, const ScanRow& y) { return key(x) < key(y); };
  std::sort(ra.begin(), ra.end(), by_key);
  std::sort(rb.begin(), rb.end(), by_key);
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "row " << i << " port " << ra[i].port);
    for (int k = 1; k < 5; ++k) {
      EXPECT_EQ(ra[i].sessions[k], rb[i].sessions[k]);
      EXPECT_EQ(ra[i].servers[k], rb[i].servers[k]);
    }
    EXPECT_EQ(ra[i].disjoint, rb[i].disjoint);
    EXPECT_EQ(ra[i].blind_sessions, rb[i].blind_sessions);
    EXPECT_EQ(ra[i].blind_servers, rb[i].blind_servers);
    EXPECT_EQ(ra[i].verdict, rb[i].verdict);
    EXPECT_EQ(ra[i].decided_after, rb[i].decided_after);
    EXPECT_EQ(ra[i].first_contacts, rb[i].first_contacts);
  }
  auto sa = a.Servers(true);
  auto sb = b.Servers(true);
  ASSERT_EQ(sa.size(), sb.size());
  auto skey = [](const ServerRow& x, const ServerRow& y) {
    return std::tie(x.address, x.port) < std::tie(y.address, y.port);
  };
  std::sort(sa.begin(), sa.end(), skey);
  std::sort(sb.begin(), sb.end(), skey);
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].accepts, sb[i].accepts);
    EXPECT_EQ(sa[i].clients, sb[i].clients);
    EXPECT_EQ(sa[i].first_accept_us, sb[i].first_accept_us);
    EXPECT_EQ(sa[i].last_accept_us, sb[i].last_accept_us);
  }
}

TEST(ScanTableMergeTest, TwoHalvesEqualTheWhole) {
  // Alternate records go to each half (as two workers' or sensors' streams
  // would): the servers accept in both halves, so both judge blindness alike.
  const auto recs = Mixed(40000, 7);
  ScanTable whole, a, b;
  for (size_t i = 0; i < recs.size(); ++i) {
    whole.Consume(recs[i]);
    (i % 2 ? a : b).Consume(recs[i]);
  }
  a.Merge(b);
  ExpectSameRows(a, whole);
  EXPECT_EQ(a.Stats().counted, whole.Stats().counted);
  // Some rows went past the exact sets: the sketches merged too.
  bool any_estimated = false;
  for (const ScanRow& r : whole.Rows()) any_estimated = any_estimated || r.estimated;
  EXPECT_TRUE(any_estimated);
}

// Split in time.
TEST(ScanTableMergeTest, FirstAndSecondHalfInTimeEqualTheWhole) {
  const auto recs = Mixed(20000, 8);
  ScanTable whole, a, b;
  for (size_t i = 0; i < recs.size(); ++i) {
    whole.Consume(recs[i]);
    (i < recs.size() / 2 ? a : b).Consume(recs[i]);
  }
  b.Merge(a);
  ExpectSameRows(b, whole);
}

TEST(ScanTableMergeTest, InputOrderDoesNotMatterForCountsAndVerdicts) {
  auto recs = Mixed(5000, 9);
  ScanTable sorted;
  for (const auto& r : recs) sorted.Consume(r);
  std::mt19937_64 rng(1);
  std::shuffle(recs.begin(), recs.end(), rng);
  ScanTable shuffled;
  for (const auto& r : recs) shuffled.Consume(r);
  // Failures only reach servers that never accept: blind in any order.
  ExpectSameRows(sorted, shuffled);
}

// A story where blindness depends on acceptances that may arrive after the
// failure: servers 1000..1039 accept during their own period only; clients
// fail against them inside and outside those periods (the horizon is 10 s),
// and scanner clients reach hundreds of servers (the sketch regime).
std::vector<SessionRecord> ActiveServerStory(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SessionRecord> v;
  for (int i = 0; i < n; ++i) {
    const uint32_t server = 1000 + rng() % 40;
    const uint64_t start = (server - 1000) * 25;  // the server's period: [start, start + 60)
    const uint16_t port = static_cast<uint16_t>(rng() % 3 == 0 ? 443 : 80);
    const uint32_t kind = rng() % 4;
    if (kind == 0) {
      v.push_back(Tcp(100 + rng() % 30, server, port, Outcome::kSuccess, start + rng() % 60));
    } else if (kind == 1) {
      // A scanner sweeping addresses, most never answer.
      const uint32_t target = rng() % 4 == 0 ? server : 20000 + rng() % 3000;
      v.push_back(Tcp(7 + rng() % 2, target, port, Outcome::kSilent, rng() % 1100));
    } else {
      v.push_back(Tcp(100 + rng() % 30, server, port,
                      rng() % 2 ? Outcome::kReject : Outcome::kSilent, rng() % 1100));
    }
  }
  return v;
}

ScanOptions ShortHorizon() {
  ScanOptions o;
  o.horizon_us = 10 * kS;
  return o;
}

void ExpectSameVerdicts(const ScanTable& a, const ScanTable& b) {
  auto va = a.Verdicts();
  auto vb = b.Verdicts();
  auto by_client = [](const ClientVerdict& x, const ClientVerdict& y) {
    return x.client < y.client;
  };
  std::sort(va.begin(), va.end(), by_client);
  std::sort(vb.begin(), vb.end(), by_client);
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i) {
    EXPECT_EQ(va[i].verdict, vb[i].verdict);
    EXPECT_EQ(va[i].decided_after, vb[i].decided_after);
    EXPECT_EQ(va[i].first_contacts, vb[i].first_contacts);
    EXPECT_EQ(va[i].log_ratio, vb[i].log_ratio);
  }
}

TEST(ScanTableOrderTest, AnAcceptanceArrivingAfterTheFailureStillMakesItActive) {
  // The failure at 100 s is within the 10 s horizon of the acceptance at
  // 105 s, whichever record the table sees first.
  for (bool acceptance_first : {false, true}) {
    ScanTable t(ShortHorizon());
    const SessionRecord fail = Tcp(1, 50, 80, Outcome::kReject, 100);
    const SessionRecord ok = Tcp(2, 50, 80, Outcome::kSuccess, 105);
    t.Consume(acceptance_first ? ok : fail);
    t.Consume(acceptance_first ? fail : ok);
    t.Consume(Tcp(1, 50, 80, Outcome::kSilent, 200));  // outside the window: blind
    const auto rows = t.Rows();
    const ScanRow* r = Find(rows, 1, 80);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->blind_sessions, 1u) << acceptance_first;
    EXPECT_EQ(r->blind_servers, 1u) << acceptance_first;
    ScanTable only_fail(ShortHorizon());
    only_fail.Consume(fail);
    const auto alone = only_fail.Rows();
    EXPECT_EQ(Find(alone, 1, 80)->blind_sessions, 1u);
  }
}

TEST(ScanTableOrderTest, ShuffledRecordsGiveIdenticalRowsServersAndVerdicts) {
  const auto recs = ActiveServerStory(20000, 21);
  ScanTable reference(ShortHorizon());
  reference.Consume(std::span<const SessionRecord>(recs));
  // The story is not degenerate: some failures are active, some blind, some
  // rows are sketches, and TRW decides both ways.
  uint64_t blind = 0, failed = 0;
  bool estimated = false;
  for (const ScanRow& r : reference.Rows()) {
    blind += r.blind_sessions;
    failed += r.sessions[1] + r.sessions[2];
    estimated = estimated || r.estimated;
  }
  EXPECT_GT(blind, 0u);
  EXPECT_LT(blind, failed);
  EXPECT_TRUE(estimated);
  int scanners = 0, benign = 0;
  for (const ClientVerdict& v : reference.Verdicts()) {
    scanners += v.verdict == Verdict::kScanner;
    benign += v.verdict == Verdict::kBenign;
  }
  EXPECT_GT(scanners, 0);
  EXPECT_GT(benign + scanners, 2);
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    SCOPED_TRACE(seed);
    auto shuffled = recs;
    std::mt19937_64 rng(seed);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    ScanTable t(ShortHorizon());
    t.Consume(std::span<const SessionRecord>(shuffled));
    ExpectSameRows(reference, t);
    ExpectSameVerdicts(reference, t);
  }
}

TEST(ScanTableOrderTest, MergeOfHalvesSplitInTimeOrAtRandomEqualsOnePass) {
  auto recs = ActiveServerStory(20000, 22);
  std::sort(recs.begin(), recs.end(),
            [](const auto& a, const auto& b) { return a.first_time_us < b.first_time_us; });
  ScanTable whole(ShortHorizon());
  whole.Consume(std::span<const SessionRecord>(recs));
  std::mt19937_64 rng(5);
  for (bool by_time : {true, false}) {
    SCOPED_TRACE(by_time);
    ScanTable a(ShortHorizon()), b(ShortHorizon());
    for (size_t i = 0; i < recs.size(); ++i) {
      const bool first = by_time ? i < recs.size() / 2 : rng() % 2 == 0;
      (first ? a : b).Consume(recs[i]);
    }
    b.Merge(a);
    ExpectSameRows(whole, b);
    ExpectSameVerdicts(whole, b);
    EXPECT_EQ(b.Stats().counted, whole.Stats().counted);
  }
}

TEST(ScanTableTest, BatchConsumeEqualsOneByOne) {
  const auto recs = Mixed(10000, 11);
  ScanTable one, batch;
  for (const auto& r : recs) {
    one.Consume(r);
  }
  for (size_t i = 0; i < recs.size(); i += 100) {
    batch.Consume(
        std::span<const SessionRecord>(recs).subspan(i, std::min<size_t>(100, recs.size() - i)));
  }
  ExpectSameRows(one, batch);
}

TEST(ScanTableTest, BatchPipelineEqualsOneByOneWithSkippedRecordsAndAnyBurst) {
  // Consume(span) classifies and hashes records ahead of adding them: with
  // interim, UDP and SYN-less records mixed in, every burst size must give
  // the rows, verdicts, servers and counters of one-by-one Consume.
  auto recs = ActiveServerStory(6000, 31);
  std::mt19937_64 rng(4);
  for (size_t i = 0; i < recs.size(); i += 5) {
    switch (rng() % 3) {
      case 0:
        recs[i].continuing = true;
        break;
      case 1:
        recs[i].protocol = 17;
        break;
      default:
        recs[i].client_flags = 0x10;
        break;
    }
  }
  ScanTable one(ShortHorizon());
  for (const auto& r : recs) {
    one.Consume(r);
  }
  for (size_t burst : {size_t{1}, size_t{9}, size_t{17}, size_t{256}}) {
    SCOPED_TRACE(burst);
    ScanTable batch(ShortHorizon());
    for (size_t i = 0; i < recs.size(); i += burst) {
      batch.Consume(
          std::span<const SessionRecord>(recs).subspan(i, std::min(burst, recs.size() - i)));
    }
    ExpectSameRows(one, batch);
    ExpectSameVerdicts(one, batch);
    EXPECT_EQ(batch.Servers(true).size(), one.Servers(true).size());
    const ScanStats a = one.Stats(), b = batch.Stats();
    EXPECT_EQ(b.records, a.records);
    EXPECT_EQ(b.counted, a.counted);
    EXPECT_EQ(b.skipped_interim, a.skipped_interim);
    EXPECT_EQ(b.skipped_other, a.skipped_other);
    EXPECT_EQ(b.max_time_us, a.max_time_us);
    EXPECT_GT(a.skipped_interim, 0u);
    EXPECT_GT(a.skipped_other, 0u);
  }
}

TEST(ScanTableEvictionTest, KeysKeptThroughHeavyEvictionAreStillFound) {
  // Eviction removes keys from the table's open-addressing index and moves
  // the last value into the hole: after thousands of evictions every kept
  // key must still be found (a record of it adds to its row, evicting
  // nothing).
  ScanOptions o;
  o.max_rows = o.max_clients = o.max_servers = 97;
  ScanTable t(o);
  for (uint32_t c = 0; c < 5000; ++c) {
    t.Consume(Tcp(c, 7, 80, Outcome::kReject, c));
  }
  const ScanStats before = t.Stats();
  ASSERT_EQ(before.rows, 97u);
  EXPECT_EQ(before.row_evictions, 5000u - 97u);
  const std::vector<ScanRow> kept = t.Rows();
  for (const ScanRow& r : kept) {
    SessionRecord again = Tcp(0, 7, 80, Outcome::kReject, r.last_time_us / kS - kBase / kS + 1);
    again.client_ip = r.client;
    t.Consume(again);
  }
  const ScanStats after = t.Stats();
  EXPECT_EQ(after.rows, 97u);
  EXPECT_EQ(after.row_evictions, before.row_evictions);
  for (const ScanRow& r : t.Rows()) {
    EXPECT_EQ(r.sessions[static_cast<int>(Outcome::kReject)], 2u);
  }
}

TEST(ScanTableEvictionTest, KeyLimitEvictsTheColdestAndCounts) {
  ScanOptions o;
  o.max_rows = 4;
  ScanTable t(o);
  t.Consume(Tcp(1, 100, 80, Outcome::kSilent, 1000));  // the hot key, seen last
  for (uint32_t c = 2; c < 12; ++c) {
    t.Consume(Tcp(c, 100, 80, Outcome::kSilent, c));
    t.Consume(Tcp(1, 100, 80, Outcome::kSilent, 1000 + c));
  }
  const auto rows = t.Rows();
  EXPECT_EQ(rows.size(), 4u);
  EXPECT_NE(Find(rows, 1, 80), nullptr);
  EXPECT_EQ(Find(rows, 1, 80)->sessions[2], 11u);
  EXPECT_NE(Find(rows, 11, 80), nullptr);  // the newest
  EXPECT_EQ(Find(rows, 2, 80), nullptr);   // the coldest went first
  EXPECT_EQ(t.Stats().row_evictions, 7u);
}

TEST(ScanTableEvictionTest, MemoryBudgetIsHonoured) {
  ScanOptions o;
  o.memory_bytes = 4 << 20;
  ScanTable t(o);
  std::mt19937_64 rng(3);
  for (uint32_t i = 0; i < 300000; ++i) {
    // Many distinct keys, and heavy scanners whose sets become sketches.
    const uint32_t client = i % 10 == 0 ? 7 + i % 50 : i;
    t.Consume(Tcp(client, static_cast<uint32_t>(rng()), static_cast<uint16_t>(i % 3),
                  Outcome::kSilent, i));
    if (i % 10000 == 0) {
      ASSERT_LE(t.Stats().memory_bytes, o.memory_bytes) << i;
    }
  }
  const ScanStats s = t.Stats();
  EXPECT_LE(s.memory_bytes, o.memory_bytes);
  EXPECT_GT(s.row_evictions, 0u);
  EXPECT_GT(s.client_evictions, 0u);
  EXPECT_GT(s.rows, 1000u);
}

}  // namespace
}  // namespace flowtrail::analytics

namespace flowtrail::analytics {
namespace {

// The telemetry's top rows: the first n of Rows() in count order, judged
// the same (blind, disjoint, verdict), with sketch rows among them.
TEST(ScanTableTopTest, TopRowsAreTheFirstRowsInCountOrder) {
  ScanTable t;
  t.Consume(Mixed(6000, 41));
  for (bool by_sessions : {false, true}) {
    std::vector<ScanRow> all = t.Rows();
    std::sort(all.begin(), all.end(), [&](const ScanRow& a, const ScanRow& b) {
      if (a.Count(by_sessions) != b.Count(by_sessions)) {
        return a.Count(by_sessions) > b.Count(by_sessions);
      }
      return std::tie(a.ip_version, a.client, a.port) < std::tie(b.ip_version, b.client, b.port);
    });
    ASSERT_TRUE(
        std::any_of(all.begin(), all.begin() + 3, [](const ScanRow& r) { return r.estimated; }));
    for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{17}, all.size() + 5}) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " by_sessions " << by_sessions);
      const std::vector<ScanRow> top = t.TopRows(n, by_sessions);
      ASSERT_EQ(top.size(), std::min(n, all.size()));
      for (size_t i = 0; i < top.size(); ++i) {
        EXPECT_EQ(top[i].client, all[i].client);
        EXPECT_EQ(top[i].port, all[i].port);
        for (int k = 1; k < 5; ++k) {
          EXPECT_EQ(top[i].sessions[k], all[i].sessions[k]);
          EXPECT_EQ(top[i].servers[k], all[i].servers[k]);
        }
        EXPECT_EQ(top[i].estimated, all[i].estimated);
        EXPECT_EQ(top[i].disjoint, all[i].disjoint);
        EXPECT_EQ(top[i].blind_sessions, all[i].blind_sessions);
        EXPECT_EQ(top[i].blind_servers, all[i].blind_servers);
        EXPECT_EQ(top[i].verdict, all[i].verdict);
        EXPECT_EQ(top[i].decided_after, all[i].decided_after);
        EXPECT_EQ(top[i].first_contacts, all[i].first_contacts);
      }
    }
  }
}

TEST(ScanTableTopTest, TopServersAreTheActiveServersOfMostAccepts) {
  ScanOptions o;
  o.horizon_us = 300 * kS;  // the servers of the last ~300 s of the story
  ScanTable t(o);
  t.Consume(ActiveServerStory(4000, 5));
  std::vector<ServerRow> all = t.Servers(false);
  ASSERT_GT(all.size(), 3u);
  ASSERT_LT(all.size(), t.Servers(true).size());  // the horizon drops some
  std::sort(all.begin(), all.end(), [](const ServerRow& a, const ServerRow& b) {
    if (a.accepts != b.accepts) return a.accepts > b.accepts;
    return std::tie(a.ip_version, a.address, a.port) < std::tie(b.ip_version, b.address, b.port);
  });
  for (size_t n : {size_t{1}, size_t{3}, all.size() + 1}) {
    const std::vector<ServerRow> top = t.TopServers(n);
    ASSERT_EQ(top.size(), std::min(n, all.size()));
    for (size_t i = 0; i < top.size(); ++i) {
      EXPECT_EQ(top[i].address, all[i].address);
      EXPECT_EQ(top[i].port, all[i].port);
      EXPECT_EQ(top[i].accepts, all[i].accepts);
      EXPECT_EQ(top[i].clients, all[i].clients);
      EXPECT_EQ(top[i].first_accept_us, all[i].first_accept_us);
    }
  }
}

// A repeat session of a row (same server, no earlier than its first
// contact) updates only the row: the client's last record time, its
// eviction order, must still count it when the first client goes, when
// saved, and when merged.
std::vector<SessionRecord> RepeatedClientAndColderOne() {
  return {Tcp(1, 100, 443, Outcome::kSuccess, 1), Tcp(2, 100, 443, Outcome::kSuccess, 50),
          Tcp(1, 100, 443, Outcome::kSuccess, 100)};  // client 1's last record: a repeat
}

std::vector<uint32_t> ClientsOf(const ScanTable& t) {
  std::vector<uint32_t> out;
  for (const ClientVerdict& v : t.Verdicts()) {
    for (uint32_t a = 1; a < 5; ++a) {
      if (v.client == IpAddress::FromV4(a)) out.push_back(a);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ScanTableEvictionTest, ClientEvictionCountsRepeatSessions) {
  for (const bool batch : {false, true}) {
    SCOPED_TRACE(batch ? "batch" : "one by one");
    ScanOptions o;
    o.max_clients = 3;
    ScanTable t(o);
    const std::vector<SessionRecord> recs = RepeatedClientAndColderOne();
    if (batch) {
      t.Consume(std::span<const SessionRecord>(recs));
    } else {
      for (const auto& r : recs) t.Consume(r);
    }
    t.Consume(Tcp(4, 100, 443, Outcome::kSuccess, 150));  // fills the table
    t.Consume(Tcp(3, 100, 443, Outcome::kSuccess, 200));
    EXPECT_EQ(ClientsOf(t), (std::vector<uint32_t>{1, 3, 4}));  // client 2 was the coldest
    EXPECT_EQ(t.Stats().client_evictions, 1u);
  }
}

TEST(ScanTableEvictionTest, SavedClientTimesCountRepeatSessions) {
  ScanTable t;
  const std::vector<SessionRecord> recs = RepeatedClientAndColderOne();
  t.Consume(std::span<const SessionRecord>(recs));
  v1::ScanTableState state;
  ASSERT_TRUE(t.Save(&state).ok());
  ASSERT_EQ(state.clients_size(), 2);
  for (const auto& c : state.clients()) {
    const IpAddress one = IpAddress::FromV4(1);
    const uint32_t client =
        c.client() == std::string(reinterpret_cast<const char*>(one.bytes.data()), 16) ? 1 : 2;
    EXPECT_EQ(c.last_time_us(), recs[client == 1 ? 2 : 1].last_time_us) << client;
  }
}

TEST(ScanTableEvictionTest, AnEvictedRowLeavesItsTimeToItsClient) {
  ScanOptions o;
  o.max_rows = 2;
  ScanTable t(o);
  const SessionRecord repeat = Tcp(1, 100, 443, Outcome::kSuccess, 40);
  t.Consume(Tcp(1, 100, 443, Outcome::kSuccess, 1));
  t.Consume(repeat);
  t.Consume(Tcp(2, 100, 443, Outcome::kSuccess, 50));
  t.Consume(Tcp(3, 100, 443, Outcome::kSuccess, 200));  // evicts client 1's row
  ASSERT_EQ(t.Stats().row_evictions, 1u);
  v1::ScanTableState state;
  ASSERT_TRUE(t.Save(&state).ok());
  const IpAddress one = IpAddress::FromV4(1);
  const std::string one_bytes(reinterpret_cast<const char*>(one.bytes.data()), 16);
  bool found = false;
  for (const auto& c : state.clients()) {
    if (c.client() == one_bytes) {
      found = true;
      EXPECT_EQ(c.last_time_us(), repeat.last_time_us);
    }
  }
  EXPECT_TRUE(found);
}

TEST(ScanTableMergeTest, MergedClientTimesCountRepeatSessions) {
  ScanTable a;
  const std::vector<SessionRecord> recs = RepeatedClientAndColderOne();
  a.Consume(recs[0]);
  a.Consume(recs[2]);
  ScanOptions o;
  o.max_clients = 3;
  ScanTable b(o);
  b.Consume(recs[1]);
  b.Merge(a);
  b.Consume(Tcp(4, 100, 443, Outcome::kSuccess, 150));
  b.Consume(Tcp(3, 100, 443, Outcome::kSuccess, 200));
  EXPECT_EQ(ClientsOf(b), (std::vector<uint32_t>{1, 3, 4}));
}

// A session of a server the row has, but earlier than its first contact
// (records arrive in end order), moves that first contact earlier; later
// ones change nothing. The first contacts (and so the walk) must not
// depend on the order, whether or not the client is full.
TEST(TrwTest, AnEarlierRepeatMovesTheFirstContact) {
  std::vector<SessionRecord> recs;
  for (uint32_t s = 0; s < 20; ++s) {  // past kTrwContacts servers, two exact rows
    const uint16_t port = s < 10 ? 443 : 8443;
    recs.push_back(Tcp(1, 100 + s, port, Outcome::kSuccess, 100 + 10 * s));
    recs.push_back(Tcp(1, 100 + s, port, Outcome::kSuccess, 105 + 10 * s));
    recs.push_back(Tcp(1, 100 + s, port, Outcome::kReject, 300 - 10 * s));
  }
  // Servers of a row the full client did not keep, then an earlier contact.
  recs.push_back(Tcp(1, 120, 9443, Outcome::kSuccess, 400));
  recs.push_back(Tcp(1, 121, 9443, Outcome::kSuccess, 410));
  recs.push_back(Tcp(1, 120, 9443, Outcome::kReject, 125));
  for (uint32_t s = 0; s < 4; ++s) {  // a client of a few servers
    recs.push_back(Tcp(2, 100 + s, 80, Outcome::kSuccess, 100 + 10 * s));
    recs.push_back(Tcp(2, 100 + s, 80, Outcome::kSilent, 90 - 10 * s));
  }
  auto contacts = [](const ScanTable& t) {
    v1::ScanTableState state;
    EXPECT_TRUE(t.Save(&state).ok());
    std::vector<std::string> out;
    for (const auto& c : state.clients()) out.push_back(c.SerializeAsString());
    std::sort(out.begin(), out.end());
    return out;
  };
  ScanTable in_order;
  auto sorted = recs;
  std::sort(sorted.begin(), sorted.end(), [](const SessionRecord& x, const SessionRecord& y) {
    return x.first_time_us < y.first_time_us;
  });
  in_order.Consume(std::span<const SessionRecord>(sorted));
  for (const int way : {0, 1, 2}) {  // one by one, batch, through a snapshot
    ScanTable t;
    if (way == 1) {
      t.Consume(std::span<const SessionRecord>(recs));
    } else if (way == 0) {
      for (const auto& r : recs) t.Consume(r);
    } else {
      // Rows loaded from a snapshot of the successes: the failures, mostly
      // earlier, still move the contacts.
      auto first = [](const SessionRecord& r) { return ClassifyRecord(r) >= Outcome::kSuccess; };
      for (const auto& r : recs) {
        if (first(r)) t.Consume(r);
      }
      v1::ScanTableState state;
      ASSERT_TRUE(t.Save(&state).ok());
      absl::StatusOr<ScanTable> loaded = ScanTable::Load(state);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      t = *std::move(loaded);
      for (const auto& r : recs) {
        if (!first(r)) t.Consume(r);
      }
    }
    EXPECT_EQ(contacts(t), contacts(in_order)) << way;
    const auto v = t.Verdicts();
    const auto w = in_order.Verdicts();
    ASSERT_EQ(v.size(), w.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const auto& x = std::find_if(w.begin(), w.end(),
                                   [&](const ClientVerdict& c) { return c.client == v[i].client; });
      ASSERT_NE(x, w.end());
      EXPECT_EQ(v[i].log_ratio, x->log_ratio);
      EXPECT_EQ(v[i].decided_after, x->decided_after);
    }
  }
}

}  // namespace
}  // namespace flowtrail::analytics
