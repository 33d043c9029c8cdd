// The analytics update path (ScanTable::Consume, what the analytics lcore runs
// per finished record) on one core, the whole live per-record path (record
// counts + scan table + port distribution, as AnalyticsLcore::Poll calls them),
// the memory per tracked (client, port) key, and 10 M distinct keys under a
// memory budget; and LiveVerdicts with its reorder heap full.
//   build/bench/analytics_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "analytics/live_verdicts.h"
#include "analytics/port_distribution.h"
#include "analytics/record_counts.h"
#include "analytics/scan_table.h"
#include "analytics/snapshot.h"
#include "common/hash_mix.h"
#include "record/contact_event.h"

namespace flowtrail::analytics {
namespace {

using record::SessionRecord;

// `clients` clients, each with `servers` servers on 443 and 80 (more than 16
// makes their rows sketches); one client in 64 scans port 22.
std::vector<SessionRecord> Records(size_t n, uint32_t clients, uint32_t servers, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SessionRecord> v(n);
  uint64_t t = 1'700'000'000ULL * 1'000'000;
  for (size_t i = 0; i < n; ++i) {
    SessionRecord& r = v[i];
    const uint32_t client = static_cast<uint32_t>(rng() % clients);
    const bool scanner = client % 64 == 0;
    r.protocol = 6;
    r.ip_version = 4;
    r.client_ip = IpAddress::FromV4(0x0a000000 | client);
    r.server_ip = IpAddress::FromV4(scanner ? static_cast<uint32_t>(rng())
                                            : 0xc0a80000 | static_cast<uint32_t>(rng() % servers));
    r.server_port = scanner ? 22 : static_cast<uint16_t>(rng() % 4 ? 443 : 80);
    r.client_port = static_cast<uint16_t>(rng());
    r.client_flags = 0x02;
    t += rng() % 50;
    r.first_time_us = t;
    r.last_time_us = t + 1000;
    if (!scanner || rng() % 10 == 0) {
      r.client_flags = 0x1b;
      r.server_flags = 0x12;
      r.client_bytes = rng() % 2 ? 300 : 0;
    } else if (rng() % 2) {
      r.server_flags = 0x14;
    }
  }
  return v;
}

void BM_ScanTableConsume(benchmark::State& state) {
  const auto recs = Records(1 << 20, static_cast<uint32_t>(state.range(0)),
                            static_cast<uint32_t>(state.range(1)), 1);
  ScanTable table;
  for (const auto& r : recs) table.Consume(r);  // warm: every key and sketch exists
  // Batches of 64, as the analytics lcore dequeues them.
  constexpr size_t kBatch = 64;
  size_t i = 0;
  for (auto _ : state) {
    table.Consume(std::span<const SessionRecord>(recs.data() + i, kBatch));
    i = (i + kBatch) & (recs.size() - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  const ScanStats s = table.Stats();
  state.counters["rows"] = static_cast<double>(s.rows);
  state.counters["bytes_per_row"] =
      static_cast<double>(s.memory_bytes) / static_cast<double>(s.rows);
}
BENCHMARK(BM_ScanTableConsume)
    ->Args({64, 8})
    ->Args({4096, 8})
    ->Args({4096, 64})
    ->Args({65536, 8})
    ->ArgNames({"clients", "servers"});

// A live mix: `clients` clients, most of them talking to a few servers each
// (443, 80, DNS over UDP; 2 % of their sessions unanswered), and one client in
// 1024 (at least one) a scanner that sends 5 % of the records to random
// addresses and ports below 1024, 90 % of them failing.
std::vector<SessionRecord> LiveRecords(size_t n, uint32_t clients, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SessionRecord> v(n);
  const uint32_t scanners = std::max<uint32_t>(1, clients / 1024);
  const uint32_t pool = clients / 16 + 64;  // the servers normal clients use
  uint64_t t = 1'700'000'000ULL * 1'000'000;
  for (size_t i = 0; i < n; ++i) {
    SessionRecord& r = v[i];
    r.ip_version = 4;
    r.client_port = static_cast<uint16_t>(32768 + rng() % 28232);
    t += rng() % 4;
    r.first_time_us = t;
    r.last_time_us = t + 2000;
    r.protocol = 6;
    r.client_flags = 0x1b;
    if (rng() % 20 == 0) {
      const uint32_t s = static_cast<uint32_t>(rng() % scanners);
      r.client_ip = IpAddress::FromV4(0x0a000000 | (s * 1024));
      r.server_ip = IpAddress::FromV4(static_cast<uint32_t>(rng()));
      r.server_port = static_cast<uint16_t>(rng() % 1024);
      r.client_flags = 0x02;
      const uint64_t o = rng() % 20;
      if (o < 2) {
        r.client_flags = 0x16;
        r.server_flags = 0x12;
        r.conn_state = record::ConnState::kRSTO;
      } else if (o < 11) {
        r.server_flags = 0x14;
        r.conn_state = record::ConnState::kREJ;
      } else {
        r.conn_state = record::ConnState::kS0;
      }
      continue;
    }
    uint32_t c = static_cast<uint32_t>(rng() % clients);
    c += c % 1024 == 0 ? 1 : 0;  // scanners' addresses are theirs alone
    r.client_ip = IpAddress::FromV4(0x0a000000 | c);
    const uint64_t k = rng() % 4;  // one of the client's four servers
    r.server_ip = IpAddress::FromV4(0xc0a80000 |
                                    static_cast<uint32_t>((c * 2654435761u + k * 40503u) % pool));
    const uint64_t p = rng() % 10;
    r.server_port = p < 7 ? 443 : p < 9 ? 80 : 53;
    if (p == 9) {
      r.protocol = 17;
      r.client_flags = 0;
      r.conn_state = record::ConnState::kSF;
      continue;
    }
    if (rng() % 50 == 0) {
      r.client_flags = 0x02;
      r.conn_state = record::ConnState::kS0;
    } else {
      r.server_flags = 0x1b;
      r.client_bytes = 300 + rng() % 2000;
      r.conn_state = record::ConnState::kSF;
    }
  }
  return v;
}

// What AnalyticsLcore::Poll runs per dequeued burst of finished records
// (bursts of 256), warmed so that every key exists, or only some of its
// consumers (`parts`: bit 0 counts, 1 scan table, 2 ports). Key limits are
// raised so that 1 M clients measure the update path, not eviction.
void RunLiveBursts(benchmark::State& state, uint32_t clients, unsigned parts) {
  const size_t n = std::clamp<size_t>(size_t{clients} * 2, size_t{1} << 18, size_t{1} << 21);
  const std::vector<SessionRecord> recs = LiveRecords(n, clients, 7);
  ScanOptions so;
  so.max_rows = so.max_clients = so.max_servers = uint64_t{1} << 22;
  ScanTable scan(so);
  PortDistribution ports;
  RecordCounts counts;
  constexpr size_t kBatch = 256;
  auto burst = [&](std::span<const SessionRecord> b) {
    if (parts & 1) counts.Consume(b);
    if (parts & 2) scan.Consume(b);
    if (parts & 4) ports.Consume(b);
  };
  for (size_t i = 0; i + kBatch <= recs.size(); i += kBatch) {
    burst(std::span<const SessionRecord>(recs.data() + i, kBatch));
  }
  size_t i = 0;
  for (auto _ : state) {
    burst(std::span<const SessionRecord>(recs.data() + i, kBatch));
    i += kBatch;
    if (i + kBatch > recs.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  const ScanStats s = scan.Stats();
  state.counters["rows"] = static_cast<double>(s.rows);
  state.counters["clients"] = static_cast<double>(s.clients);
  state.counters["cells"] = static_cast<double>(ports.cells());
  state.counters["MiB"] = static_cast<double>(s.memory_bytes + ports.MemoryBytes()) / (1 << 20);
}

void BM_LiveUpdatePath(benchmark::State& state) {
  RunLiveBursts(state, static_cast<uint32_t>(state.range(0)), 7);
}
BENCHMARK(BM_LiveUpdatePath)->Arg(4096)->Arg(65536)->Arg(1 << 20)->ArgName("clients");

// One part of the live path alone (0 counts, 1 scan table, 2 ports), same mix.
void BM_LivePart(benchmark::State& state) {
  RunLiveBursts(state, static_cast<uint32_t>(state.range(0)), 1u << state.range(1));
}
BENCHMARK(BM_LivePart)
    ->ArgsProduct({{4096, 65536, 1 << 20}, {0, 1, 2}})
    ->ArgNames({"clients", "part"});

// LiveVerdicts::Consume with its reorder heap full (the default 65536 events;
// an offline 1 M-session run walks ~90 % of its events early): first contacts
// 4 us apart, 100k clients (1k: the client table in cache, so mostly the
// heap is measured); 90 % successes decided 1 ms after their SYN, 10 %
// silent ones decided 3 s after, so they arrive 3 s late. The stream is
// periodic (kPeriod events, event i's kind and client hashed from i mod
// kPeriod), so one period in arrival (decided_us) order is replayed with its
// times shifted by a period each pass.
void BM_LiveVerdictsReorder(benchmark::State& state) {
  constexpr uint64_t kPeriod = 1 << 19;
  constexpr uint64_t kGap = 4, kSilent = 3'000'000, kAnswer = 1000;
  constexpr uint64_t kSpan = kPeriod * kGap;
  const uint64_t t0 = 1'700'000'000ULL * 1'000'000;
  const auto clients = static_cast<uint64_t>(state.range(0));
  auto event = [&](uint64_t i) {
    const uint64_t h = SplitMix64Mix(i % kPeriod);
    record::ContactEvent e;
    e.session_id = i;
    const auto client = static_cast<uint32_t>(h % clients);
    e.client_ip = IpAddress::FromV4(0x0a000000 | client);
    e.ip_version = 4;
    e.client_port = static_cast<uint16_t>(32768 + (h >> 20) % 28232);
    e.first_time_us = t0 + i * kGap;
    if ((h >> 40) % 10 == 0) {  // a silent probe to a random address
      e.outcome = record::ContactOutcome::kSilent;
      e.server_ip = IpAddress::FromV4(static_cast<uint32_t>(h >> 8));
      e.server_port = 22;
      e.decided_us = e.first_time_us + kSilent;
    } else {  // one of the client's four servers
      e.outcome = record::ContactOutcome::kSuccess;
      e.server_ip = IpAddress::FromV4(0xc0a80000 | ((client * 2654435761u + (h >> 50) % 4) % 8192));
      e.server_port = 443;
      e.decided_us = e.first_time_us + kAnswer;
    }
    return e;
  };
  // One period of arrivals: decided in [d0, d0 + kSpan), well past the start.
  const uint64_t d0 = t0 + 2 * kSilent;
  std::vector<record::ContactEvent> ev;
  ev.reserve(kPeriod);
  for (uint64_t i = (d0 - kSilent - t0) / kGap; i < (d0 + kSpan - t0) / kGap; ++i) {
    const record::ContactEvent e = event(i);
    if (e.decided_us >= d0 && e.decided_us < d0 + kSpan) ev.push_back(e);
  }
  std::stable_sort(ev.begin(), ev.end(),
                   [](const auto& a, const auto& b) { return a.decided_us < b.decided_us; });
  LiveVerdicts lv;
  auto shift = [&] {
    for (record::ContactEvent& e : ev) {
      e.first_time_us += kSpan;
      e.decided_us += kSpan;
      e.session_id += kPeriod;
    }
  };
  lv.Consume(ev);  // warm: the heap full, every client and server known
  shift();
  constexpr size_t kBatch = 256;
  size_t i = 0;
  for (auto _ : state) {
    lv.Consume(std::span<const record::ContactEvent>(ev.data() + i, kBatch));
    i += kBatch;
    if (i + kBatch > ev.size()) {
      state.PauseTiming();
      lv.Consume(std::span<const record::ContactEvent>(ev.data() + i, ev.size() - i));
      shift();
      i = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  const LiveVerdictStats s = lv.Stats();
  state.counters["held"] = static_cast<double>(s.held);
  state.counters["early_pct"] =
      100.0 * static_cast<double>(s.walked_early) / static_cast<double>(s.events);
  state.counters["clients"] = static_cast<double>(s.clients);
}
BENCHMARK(BM_LiveVerdictsReorder)->Arg(100'000)->Arg(1000)->ArgName("clients");

// What the analytics lcore's telemetry publish costs once a second over the
// tables of the live mix (0: TopRows(10), 1: TopServers(10), 2: AnalyzePorts,
// 3: Rows() as it was published before TopRows; 4: a snapshot, as the lcore
// saves one every --snapshot-interval).
void BM_TelemetryTop(benchmark::State& state) {
  const auto clients = static_cast<uint32_t>(state.range(0));
  const int what = static_cast<int>(state.range(1));
  const std::vector<SessionRecord> recs = LiveRecords(size_t{clients} * 2, clients, 7);
  ScanOptions so;
  so.max_rows = so.max_clients = so.max_servers = uint64_t{1} << 22;
  ScanTable scan(so);
  PortDistribution ports;
  scan.Consume(recs);
  ports.Consume(recs);
  for (auto _ : state) {
    size_t n = 0;
    if (what == 0) n = scan.TopRows(10).size();
    if (what == 1) n = scan.TopServers(10).size();
    if (what == 2) n = AnalyzePorts(ports, PortAnalysisOptions{}).size();
    if (what == 3) n = scan.Rows().size();
    if (what == 4) {
      v1::AnalyticsSnapshot snap;
      if (!SaveSnapshot(scan, ports, &snap).ok()) state.SkipWithError("SaveSnapshot");
      n = snap.ByteSizeLong();
    }
    benchmark::DoNotOptimize(n);
  }
  state.counters["rows"] = static_cast<double>(scan.Stats().rows);
}
BENCHMARK(BM_TelemetryTop)
    ->ArgsProduct({{65536, 1 << 20}, {0, 1, 2, 3, 4}})
    ->ArgNames({"clients", "what"})
    ->Unit(benchmark::kMillisecond);

// Memory per tracked (client, port) key: distinct keys of one record each.
void BM_MemoryPerKey(benchmark::State& state) {
  for (auto _ : state) {
    ScanTable table;
    SessionRecord r;
    r.protocol = 6;
    r.ip_version = 4;
    r.client_flags = 0x02;
    r.server_ip = IpAddress::FromV4(0xc0a80001);
    const uint32_t n = static_cast<uint32_t>(state.range(0));
    for (uint32_t k = 0; k < n; ++k) {
      r.client_ip = IpAddress::FromV4(k);
      r.server_port = 22;
      r.first_time_us = r.last_time_us = k;
      table.Consume(r);
    }
    const ScanStats s = table.Stats();
    state.counters["keys"] = static_cast<double>(s.rows);
    state.counters["bytes_per_key"] =
        static_cast<double>(s.memory_bytes) / static_cast<double>(s.rows);
    state.counters["row_bytes"] = static_cast<double>(ScanTable::RowBytes());
    state.counters["client_bytes"] = static_cast<double>(ScanTable::ClientBytes());
  }
}
BENCHMARK(BM_MemoryPerKey)->Arg(1'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

// 10 M distinct (client, port) keys through a 256 MiB budget: memory stays
// within it, the coldest keys are evicted and counted.
void BM_TenMillionKeysUnderBudget(benchmark::State& state) {
  const uint64_t budget = uint64_t{256} << 20;
  for (auto _ : state) {
    ScanOptions o;
    o.memory_bytes = budget;
    o.max_rows = o.max_clients = o.max_servers = 100'000'000;
    ScanTable table(o);
    SessionRecord r;
    r.protocol = 6;
    r.ip_version = 4;
    r.client_flags = 0x02;
    uint64_t peak = 0;
    for (uint32_t k = 0; k < 10'000'000; ++k) {
      r.client_ip = IpAddress::FromV4(k / 4);
      r.server_port = static_cast<uint16_t>(k % 4);
      r.server_ip = IpAddress::FromV4(0xc0a80000 | (k % 4096));
      r.first_time_us = r.last_time_us = k;
      table.Consume(r);
      if (k % 1'000'000 == 0) peak = std::max<uint64_t>(peak, table.Stats().memory_bytes);
    }
    const ScanStats s = table.Stats();
    peak = std::max<uint64_t>(peak, s.memory_bytes);
    state.counters["budget_MiB"] = static_cast<double>(budget) / (1 << 20);
    state.counters["peak_MiB"] = static_cast<double>(peak) / (1 << 20);
    state.counters["rows_kept"] = static_cast<double>(s.rows);
    state.counters["row_evictions"] = static_cast<double>(s.row_evictions);
    state.counters["client_evictions"] = static_cast<double>(s.client_evictions);
    state.SetItemsProcessed(10'000'000);
  }
}
BENCHMARK(BM_TenMillionKeysUnderBudget)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace flowtrail::analytics

BENCHMARK_MAIN();
