// The first-data fingerprints per payload size (Arg: captured bytes): what
// the tracker pays once per side on the first packet with payload. Inputs
// cycle over 256 random payloads of that size, so no single buffer's branch
// pattern or cache line is learnt. BM_SimHash64 is the dispatched path
// (AVX2 here), BM_SimHash64_Portable the fallback, BM_SimHash64_Reference
// the definition before issue 8 (a 64-iteration vote per shingle), kept as
// the baseline.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "common/hash_mix.h"
#include "session/fingerprint.h"

namespace flowtrail::session {
namespace {

constexpr size_t kInputs = 256;

std::vector<std::vector<uint8_t>> Payloads(size_t size) {
  std::mt19937 rng(static_cast<uint32_t>(size));
  std::vector<std::vector<uint8_t>> out(kInputs, std::vector<uint8_t>(size));
  for (auto& v : out) {
    for (auto& b : v) b = static_cast<uint8_t>(rng());
  }
  return out;
}

// SimHash64 as it was defined before issue 8 (4-byte shingles of the first
// 256 bytes, fmix64 each, 64 per-bit votes, weight 2 in the first 16 bytes).
uint64_t ReferenceSimHash64(const uint8_t* p, uint32_t captured) {
  if (p == nullptr || captured == 0) return 0;
  const uint32_t n = std::min<uint32_t>(captured, 256);
  int32_t votes[64] = {};
  auto vote = [&votes](uint64_t h, int32_t w) {
    for (int bit = 0; bit < 64; ++bit) votes[bit] += ((h >> bit) & 1) ? w : -w;
  };
  if (n < 4) {
    uint32_t v = n << 24;
    for (uint32_t i = 0; i < n; ++i) v |= uint32_t{p[i]} << (8 * i);
    vote(Fmix64(v ^ 0x5bd1e995u), 1);
  } else {
    for (uint32_t i = 0; i + 4 <= n; ++i) {
      uint32_t v;
      std::memcpy(&v, p + i, 4);
      vote(Fmix64(uint64_t{v} * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL), i < 16 ? 2 : 1);
    }
  }
  uint64_t out = 0;
  for (int bit = 0; bit < 64; ++bit) {
    if (votes[bit] > 0) out |= uint64_t{1} << bit;
  }
  return out == 0 ? 1 : out;
}

template <typename F>
void Run(benchmark::State& state, F f) {
  const auto size = static_cast<size_t>(state.range(0));
  const auto payloads = Payloads(size);
  size_t i = 0;
  for (auto _ : state) {
    const auto& v = payloads[i];
    benchmark::DoNotOptimize(f(v.data(), static_cast<uint32_t>(size)));
    i = (i + 1) % kInputs;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}

void BM_SimHash64(benchmark::State& state) {
  Run(state, [](const uint8_t* p, uint32_t n) { return SimHash64(p, n); });
}
void BM_SimHash64_Portable(benchmark::State& state) {
  Run(state,
      [](const uint8_t* p, uint32_t n) { return fingerprint_internal::SimHash64Portable(p, n); });
}
void BM_SimHash64_Reference(benchmark::State& state) {
  Run(state, [](const uint8_t* p, uint32_t n) { return ReferenceSimHash64(p, n); });
}
void BM_ScalarFingerprint(benchmark::State& state) {
  Run(state, [](const uint8_t* p, uint32_t n) { return ScalarFingerprint(p, n, n); });
}

#define FINGERPRINT_SIZES Arg(16)->Arg(64)->Arg(256)->Arg(512)->Arg(1460)
BENCHMARK(BM_SimHash64)->FINGERPRINT_SIZES;
BENCHMARK(BM_SimHash64_Portable)->FINGERPRINT_SIZES;
BENCHMARK(BM_SimHash64_Reference)->FINGERPRINT_SIZES;
BENCHMARK(BM_ScalarFingerprint)->FINGERPRINT_SIZES;

}  // namespace
}  // namespace flowtrail::session

BENCHMARK_MAIN();
