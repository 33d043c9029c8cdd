#include "dataplane/flow_hash.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace flowtrail::dataplane {
namespace {

IpAddress RandomAddress(std::mt19937_64& rng, bool v6) {
  IpAddress a;
  for (int i = 0; i < (v6 ? 16 : 4); ++i) a.bytes[i] = static_cast<uint8_t>(rng());
  return a;
}

TEST(SymmetricFlowHash, BothDirectionsHashAlike) {
  std::mt19937_64 rng(7);
  for (bool v6 : {false, true}) {
    for (int i = 0; i < 50000; ++i) {
      const IpAddress a = RandomAddress(rng, v6);
      const IpAddress b = RandomAddress(rng, v6);
      ASSERT_EQ(SymmetricFlowHash(a, b), SymmetricFlowHash(b, a));
    }
  }
}

TEST(SymmetricFlowHash, DependsOnBothAddresses) {
  std::mt19937_64 rng(3);
  const IpAddress a = RandomAddress(rng, false);
  const IpAddress b = RandomAddress(rng, false);
  IpAddress c = b;
  c.bytes[3] ^= 1;
  EXPECT_NE(SymmetricFlowHash(a, b), SymmetricFlowHash(a, c));
  EXPECT_NE(SymmetricFlowHash(a, b), SymmetricFlowHash(a, a));
}

TEST(SymmetricFlowHash, SpreadsHostPairsEvenlyOverWorkers) {
  std::mt19937_64 rng(11);
  for (uint32_t workers : {2u, 3u, 8u}) {
    constexpr int kPairs = 60000;
    std::vector<int> per(workers);
    for (int i = 0; i < kPairs; ++i) {
      ++per[WorkerForHash(SymmetricFlowHash(RandomAddress(rng, false), RandomAddress(rng, false)),
                          workers)];
    }
    for (int n : per) {
      EXPECT_GT(n, kPairs / static_cast<int>(workers) * 9 / 10) << workers << " workers";
      EXPECT_LT(n, kPairs / static_cast<int>(workers) * 11 / 10) << workers << " workers";
    }
  }
}

TEST(WorkerForHash, AlwaysInRange) {
  for (uint32_t w = 1; w <= 16; ++w) {
    EXPECT_EQ(WorkerForHash(0, w), 0u);
    EXPECT_EQ(WorkerForHash(0xffffffffu, w), w - 1);
  }
}

}  // namespace
}  // namespace flowtrail::dataplane
