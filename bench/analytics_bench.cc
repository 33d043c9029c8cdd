// The analytics update path (ScanTable::Consume, what the analytics lcore runs
// per finished record) on one core, the memory per tracked (client, port)
// key, and 10 M distinct keys under a memory budget.
//   build/bench/analytics_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "analytics/scan_table.h"

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
