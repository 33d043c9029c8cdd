// PortDistribution::Add per record: counting into existing cells (Arg: the
// number of distinct (server port, client port) cells the records cycle
// over: 1 K stays in cache, 256 K / 1 M do not), and with a full cell budget
// where most records open a new cell and eviction runs (amortised). The
// records are prepared up front; the loop is what the analytics lcore and
// `flowtrail report ports` do per record.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "analytics/port_distribution.h"

namespace flowtrail::analytics {
namespace {

constexpr uint64_t kT0 = 1'700'000'000'000'000;

std::vector<record::SessionRecord> Records(size_t n, uint32_t cells, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<record::SessionRecord> out(n);
  for (record::SessionRecord& r : out) {
    const auto c = static_cast<uint32_t>(rng() % cells);
    r.protocol = 6;
    r.ip_version = 4;
    r.server_port = static_cast<uint16_t>(c % 1024);
    r.client_port = static_cast<uint16_t>(c / 1024 + 1024 * (c % 7));
    r.client_ip = IpAddress::FromV4(0x0a000000u + static_cast<uint32_t>(rng() % 100000));
    r.server_ip = IpAddress::FromV4(0xc0a80000u + static_cast<uint32_t>(rng() % 1000));
    r.first_time_us = kT0 + rng() % 1'000'000'000;  // within one 3600 s window
  }
  return out;
}

void BM_AddExistingCells(benchmark::State& state) {
  const auto cells = static_cast<uint32_t>(state.range(0));
  const std::vector<record::SessionRecord> records = Records(1 << 20, cells, 1);
  PortDistribution d;
  d.Consume(records);  // warm: every cell exists
  size_t i = 0;
  for (auto _ : state) {
    d.Add(records[i]);
    i = (i + 1) & ((1 << 20) - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["cells"] = static_cast<double>(d.cells());
  state.counters["bytes_per_cell"] =
      static_cast<double>(d.MemoryBytes()) / static_cast<double>(d.cells());
}
BENCHMARK(BM_AddExistingCells)->Arg(1 << 10)->Arg(1 << 18)->Arg(1 << 20);

// The same through Consume in bursts of 32 (the analytics lcore's batches),
// which prefetches the cells 8 records ahead. Time per record.
void BM_ConsumeBursts(benchmark::State& state) {
  const auto cells = static_cast<uint32_t>(state.range(0));
  const std::vector<record::SessionRecord> records = Records(1 << 20, cells, 1);
  PortDistribution d;
  d.Consume(records);
  size_t i = 0;
  for (auto _ : state) {
    d.Consume(std::span(records).subspan(i, 32));
    i = (i + 32) & ((1 << 20) - 1);
  }
  state.SetItemsProcessed(state.iterations() * 32);
  state.counters["ns_per_record"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 32,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ConsumeBursts)->Arg(1 << 10)->Arg(1 << 18)->Arg(1 << 20);

void BM_AddOverBudget(benchmark::State& state) {
  // 64 K-cell budget, records over 16 M possible cells: nearly every record
  // is a new cell and an eviction round runs every 8 K new cells.
  PortDistributionOptions o;
  o.max_cells = 1 << 16;
  o.server_ports.set();
  PortDistribution d(o);
  std::vector<record::SessionRecord> records = Records(1 << 20, 1 << 24, 2);
  for (size_t k = 0; k < records.size(); ++k) {
    records[k].server_port = static_cast<uint16_t>(k * 40503u);
  }
  size_t i = 0;
  for (auto _ : state) {
    d.Add(records[i]);
    i = (i + 1) & ((1 << 20) - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["evicted"] = static_cast<double>(d.stats().evicted_cells);
}
BENCHMARK(BM_AddOverBudget);

void BM_Analyze(benchmark::State& state) {
  // The report's analysis over 256 K cells (control path, per report).
  PortDistribution d;
  d.Consume(Records(1 << 20, 1 << 18, 3));
  for (auto _ : state) {
    std::vector<ServerPortReport> r = AnalyzePorts(d, {});
    benchmark::DoNotOptimize(r.data());
  }
  state.counters["cells"] = static_cast<double>(d.cells());
}
BENCHMARK(BM_Analyze)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace flowtrail::analytics

BENCHMARK_MAIN();
