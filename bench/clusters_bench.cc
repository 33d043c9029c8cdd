// Behaviour clusters (src/analytics/behaviour_clusters.h): the update path
// (BehaviourClusters::Consume: one lookup of the key, one of the behaviour
// vector) and Analyse() (distributions, groups, rules) by distinct vectors.
//   build/bench/clusters_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "analytics/behaviour_clusters.h"

namespace flowtrail::analytics {
namespace {

using record::SessionRecord;

// Records of 64 scanners on port 1433 (8 of them selected) and of other
// clients; a selected key's sessions take one of `distinct` behaviours.
std::vector<SessionRecord> Records(size_t n, uint32_t distinct, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SessionRecord> v(n);
  for (size_t i = 0; i < n; ++i) {
    SessionRecord& r = v[i];
    r.protocol = 6;
    r.ip_version = 4;
    r.client_ip = IpAddress::FromV4(0x0a000000 | static_cast<uint32_t>(rng() % 64));
    r.server_ip = IpAddress::FromV4(static_cast<uint32_t>(rng()));
    r.server_port = 1433;
    r.client_flags = 0x1b;
    r.server_flags = 0x12;
    const uint32_t b = static_cast<uint32_t>(rng() % distinct);
    r.client_bytes = 80 + b % 7;
    r.server_bytes = b % 3 ? 111 : 26;
    r.client_fingerprint = 0x45580000 + b;
    r.client_simhash = 0x0c8801c4ee88386aULL ^ (uint64_t{1} << (b % 64)) ^ (uint64_t{b} << 40);
    r.server_fingerprint = r.server_bytes == 111 ? 1297314588 : 67195616;
    r.server_simhash = r.server_fingerprint * 0x9e3779b97f4a7c15ULL;
    r.first_data_sender = record::Side::kClient;
    r.shutdown_initiator = b % 4 ? record::Side::kClient : record::Side::kServer;
    r.shutdown_kind = b % 4 ? record::ShutdownKind::kFin : record::ShutdownKind::kRst;
  }
  return v;
}

BehaviourClusters Selected() {
  BehaviourClusters c;
  for (uint32_t k = 0; k < 8; ++k) {
    c.Select({IpAddress::FromV4(0x0a000000 | k), 4, 1433});
  }
  return c;
}

void BM_Consume(benchmark::State& state) {
  const auto records = Records(1 << 16, static_cast<uint32_t>(state.range(0)), 7);
  BehaviourClusters c = Selected();
  c.Consume(std::span<const SessionRecord>(records));  // warm: every vector known
  for (auto _ : state) {
    c.Consume(std::span<const SessionRecord>(records));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size()));
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * records.size()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Consume)->Arg(16)->Arg(1024)->Arg(65536);

void BM_Analyse(benchmark::State& state) {
  const uint32_t distinct = static_cast<uint32_t>(state.range(0));
  const auto records = Records(size_t{distinct} * 8 * 64 / 4 + 4096, distinct, 9);
  BehaviourProfile p;
  for (const SessionRecord& r : records) {
    if (r.client_ip == IpAddress::FromV4(0x0a000000)) {
      p.Add(r, 1 << 20);
    }
  }
  const ClusterKey key{IpAddress::FromV4(0x0a000000), 4, 1433};
  for (auto _ : state) {
    benchmark::DoNotOptimize(p.Analyse(key, {}));
  }
  state.counters["sessions"] = static_cast<double>(p.sessions());
}
BENCHMARK(BM_Analyse)->Arg(64)->Arg(1024)->Arg(8192)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace flowtrail::analytics

BENCHMARK_MAIN();
