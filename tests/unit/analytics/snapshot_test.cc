// Save/Load of the scan table and the client-port distribution
// (analytics/snapshot.h): round trips give identical reports, snapshots of
// parts merge into the whole, and hostile snapshots are errors.
#include "analytics/snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <tuple>
#include <vector>

#include "scan_records.h"

namespace flowtrail::analytics {
namespace {

using record::SessionRecord;
using testing::kS;
using testing::ScanRecord;

// Scan outcomes against servers that accept during their own period, a
// scanner past the exact regime, and UDP records for the port distribution.
std::vector<SessionRecord> Story(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SessionRecord> v;
  for (int i = 0; i < n; ++i) {
    const uint32_t server = 1000 + rng() % 40;
    const uint64_t start = (server - 1000) * 25;
    const uint16_t port = static_cast<uint16_t>(rng() % 3 == 0 ? 443 : 80);
    SessionRecord r;
    switch (rng() % 5) {
      case 0:
        r = ScanRecord(100 + rng() % 30, server, port, Outcome::kData, start + rng() % 60, 10);
        break;
      case 1:
        r = ScanRecord(7, rng() % 4 == 0 ? server : 20000 + rng() % 3000, port, Outcome::kSilent,
                       rng() % 1100, 0);
        break;
      case 2:
        r = ScanRecord(100 + rng() % 30, server, 53, Outcome::kSilent, rng() % 1100, 0);
        r.protocol = 17;
        break;
      default:
        r = ScanRecord(100 + rng() % 30, server, port,
                       rng() % 2 ? Outcome::kReject : Outcome::kSilent, rng() % 1100, 0);
    }
    r.client_port = static_cast<uint16_t>(30000 + rng() % 500);
    v.push_back(r);
  }
  return v;
}

ScanOptions Options() {
  ScanOptions o;
  o.horizon_us = 10 * kS;
  return o;
}

Analytics Build(std::span<const SessionRecord> recs) {
  Analytics a{ScanTable(Options()), PortDistribution()};
  for (const SessionRecord& r : recs) {
    a.scans.Consume(r);
    a.ports.Add(r);
  }
  return a;
}

auto RowTuple(const ScanRow& r) {
  return std::make_tuple(
      r.client, r.port, r.sessions[1], r.sessions[2], r.sessions[3], r.sessions[4], r.servers[1],
      r.servers[2], r.servers[3], r.servers[4], r.disjoint, r.blind_sessions, r.blind_servers,
      r.estimated, r.first_time_us, r.last_time_us, r.verdict, r.decided_after, r.first_contacts);
}

void ExpectSameReports(const Analytics& a, const Analytics& b) {
  auto rows = [](const ScanTable& t) {
    std::vector<decltype(RowTuple(ScanRow{}))> v;
    for (const ScanRow& r : t.Rows()) v.push_back(RowTuple(r));
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(rows(a.scans), rows(b.scans));
  auto servers = [](const ScanTable& t) {
    std::vector<std::tuple<IpAddress, uint16_t, uint64_t, uint64_t, uint64_t, uint64_t>> v;
    for (const ServerRow& s : t.Servers(true)) {
      v.emplace_back(s.address, s.port, s.accepts, s.clients, s.first_accept_us, s.last_accept_us);
    }
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(servers(a.scans), servers(b.scans));
  auto verdicts = [](const ScanTable& t) {
    std::vector<std::tuple<IpAddress, Verdict, uint32_t, uint32_t, double>> v;
    for (const ClientVerdict& c : t.Verdicts()) {
      v.emplace_back(c.client, c.verdict, c.decided_after, c.first_contacts, c.log_ratio);
    }
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(verdicts(a.scans), verdicts(b.scans));
  EXPECT_EQ(a.scans.Stats().records, b.scans.Stats().records);
  EXPECT_EQ(a.scans.Stats().counted, b.scans.Stats().counted);
  EXPECT_EQ(a.scans.Stats().max_time_us, b.scans.Stats().max_time_us);
  // The port distribution: same cells, same analysis.
  auto cells = [](const PortDistribution& p) {
    std::vector<std::tuple<uint64_t, uint32_t, uint64_t, uint64_t>> v;
    for (const auto& [k, c] : p.cell_map())
      v.emplace_back(k, c.flows, c.client_bits, c.server_bits);
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(cells(a.ports), cells(b.ports));
  EXPECT_EQ(a.ports.stats().flows, b.ports.stats().flows);
  EXPECT_EQ(AnalyzePorts(a.ports, {}).size(), AnalyzePorts(b.ports, {}).size());
}

Analytics RoundTrip(const Analytics& a) {
  v1::AnalyticsSnapshot snap;
  EXPECT_TRUE(SaveSnapshot(a, &snap).ok());
  // Through bytes, as a stream frame would carry it.
  v1::AnalyticsSnapshot parsed;
  EXPECT_TRUE(parsed.ParseFromString(snap.SerializeAsString()));
  absl::StatusOr<Analytics> b = LoadSnapshot(parsed);
  EXPECT_TRUE(b.ok()) << b.status();
  return *std::move(b);
}

TEST(SnapshotTest, LoadOfSaveGivesIdenticalReports) {
  const auto recs = Story(20000, 1);
  const Analytics a = Build(recs);
  bool estimated = false;
  for (const ScanRow& r : a.scans.Rows()) estimated = estimated || r.estimated;
  ASSERT_TRUE(estimated);  // the sketch regime goes through the snapshot too
  ASSERT_GT(a.ports.cells(), 100u);
  ExpectSameReports(a, RoundTrip(a));
}

TEST(SnapshotTest, ATableAtItsMemoryBudgetLoadsBack) {
  ScanOptions o = Options();
  o.memory_bytes = 256 << 10;
  Analytics a{ScanTable(o), PortDistribution()};
  for (const SessionRecord& r : Story(20000, 6)) a.scans.Consume(r);
  ASSERT_GT(a.scans.Stats().row_evictions, 0u);
  ExpectSameReports(a, RoundTrip(a));
}

TEST(SnapshotTest, MergedSnapshotsOfHalvesEqualTheWhole) {
  auto recs = Story(20000, 2);
  const Analytics whole = Build(recs);
  std::mt19937_64 rng(3);
  std::shuffle(recs.begin(), recs.end(), rng);
  const size_t half = recs.size() / 2;
  Analytics a = RoundTrip(Build(std::span<const SessionRecord>(recs).subspan(0, half)));
  const Analytics b = RoundTrip(Build(std::span<const SessionRecord>(recs).subspan(half)));
  ASSERT_TRUE(MergeSnapshot(a, b).ok());
  ExpectSameReports(whole, a);
}

TEST(SnapshotTest, SnapshotsWithDifferentOptionsDoNotMerge) {
  const auto recs = Story(100, 4);
  Analytics a = Build(recs);
  ScanOptions o = Options();
  o.horizon_us = 20 * kS;
  Analytics b{ScanTable(o), PortDistribution()};
  EXPECT_FALSE(MergeSnapshot(a, b).ok());
  o = Options();
  o.hash_key ^= 1;
  Analytics c{ScanTable(o), PortDistribution()};
  EXPECT_FALSE(MergeSnapshot(a, c).ok());
}

// Each hostile change of a good snapshot is an error, not a crash.
TEST(SnapshotTest, HostileSnapshotsAreRejected) {
  const Analytics a = Build(Story(3000, 5));
  v1::AnalyticsSnapshot good;
  ASSERT_TRUE(SaveSnapshot(a, &good).ok());
  ASSERT_TRUE(LoadSnapshot(good).ok());
  auto sketched = [&](v1::AnalyticsSnapshot& s) -> v1::ScanRowState* {
    for (auto& r : *s.mutable_scans()->mutable_rows()) {
      if (r.sketched()) return &r;
    }
    return nullptr;
  };
  ASSERT_NE(sketched(good), nullptr);
  const std::vector<std::pair<const char*, std::function<void(v1::AnalyticsSnapshot&)>>> cases = {
      {"no scans", [](auto& s) { s.clear_scans(); }},
      {"theta0 of 2", [](auto& s) { s.mutable_scans()->mutable_options()->set_trw_theta0(2); }},
      {"a huge memory budget",
       [](auto& s) { s.mutable_scans()->mutable_options()->set_memory_bytes(uint64_t{1} << 60); }},
      {"more rows than max_rows",
       [](auto& s) { s.mutable_scans()->mutable_options()->set_max_rows(1); }},
      {"a 5-byte client", [](auto& s) { s.mutable_scans()->mutable_rows(0)->set_client("abcde"); }},
      {"ip_version 5", [](auto& s) { s.mutable_scans()->mutable_rows(0)->set_ip_version(5); }},
      {"port 70000", [](auto& s) { s.mutable_scans()->mutable_rows(0)->set_port(70000); }},
      {"a duplicate row", [](auto& s) { *s.mutable_scans()->add_rows() = s.scans().rows(0); }},
      {"a register of 200",
       [&](auto& s) { (*sketched(s)->mutable_sketches(0))[5] = static_cast<char>(200); }},
      {"a short sketch", [&](auto& s) { sketched(s)->mutable_sketches(0)->resize(100); }},
      {"17 contacts",
       [](auto& s) {
         auto* c = s.mutable_scans()->mutable_clients(0);
         for (int i = 0; i < 17; ++i) {
           auto* t = c->add_contacts();
           t->set_target(uint64_t{1} << 40 | i);
         }
       }},
      {"a server with no accepts",
       [](auto& s) { s.mutable_scans()->mutable_servers(0)->set_accepts(0); }},
      {"a short port set", [](auto& s) { s.mutable_ports()->set_server_ports("x"); }},
      {"a huge cell budget", [](auto& s) { s.mutable_ports()->set_max_cells(uint64_t{1} << 40); }},
      {"an empty cell", [](auto& s) { s.mutable_ports()->mutable_cells(0)->set_flows(0); }},
      {"a duplicate cell", [](auto& s) { *s.mutable_ports()->add_cells() = s.ports().cells(0); }},
      {"first time after last", [](auto& s) { s.set_first_record_time_us(5); }},
  };
  for (const auto& [name, change] : cases) {
    v1::AnalyticsSnapshot bad = good;
    change(bad);
    EXPECT_FALSE(LoadSnapshot(bad).ok()) << name;
  }
}

}  // namespace
}  // namespace flowtrail::analytics
