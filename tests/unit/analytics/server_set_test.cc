#include "analytics/server_set.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

namespace flowtrail::analytics {
namespace {

uint64_t H(uint64_t i) {
  return HashServer(IpAddress::FromV4(static_cast<uint32_t>(i)), 4, 0, kDefaultHashKey);
}

TEST(HashServerTest, DependsOnKeyPortAndVersion) {
  const IpAddress a = IpAddress::FromV4(0x0a000001);
  EXPECT_EQ(HashServer(a, 4, 80, 1), HashServer(a, 4, 80, 1));
  EXPECT_NE(HashServer(a, 4, 80, 1), HashServer(a, 4, 80, 2));
  EXPECT_NE(HashServer(a, 4, 80, 1), HashServer(a, 4, 81, 1));
  EXPECT_NE(HashServer(a, 4, 80, 1), HashServer(a, 6, 80, 1));
}

TEST(HashServerTest, AdjacentAddressesSpreadOverRegisters) {
  // Sequential addresses (a scan) must not pile into a few HLL registers.
  std::set<uint64_t> top;
  for (uint64_t i = 0; i < 4096; ++i) top.insert(H(i) >> (64 - Hll::kP));
  EXPECT_GT(top.size(), 2048u * 8 / 10);
}

TEST(ServerSetTest, ExactWhileSmall) {
  ServerSet s;
  for (int rep = 0; rep < 3; ++rep) {
    for (uint64_t i = 0; i < ServerSet::kInline; ++i) s.Insert(H(i));
  }
  EXPECT_TRUE(s.exact());
  EXPECT_EQ(s.Count(), uint64_t{ServerSet::kInline});
  EXPECT_TRUE(s.Contains(H(3)));
  EXPECT_FALSE(s.Contains(H(100)));
  EXPECT_EQ(s.HeapBytes(), 0u);
}

TEST(ServerSetTest, PromotedBeyondTheThreshold) {
  ServerSet s;
  for (uint64_t i = 0; i <= ServerSet::kInline; ++i) s.Insert(H(i));
  EXPECT_FALSE(s.exact());
  EXPECT_EQ(s.Count(), uint64_t{ServerSet::kInline} + 1);  // small counts are exact in HLL too
  EXPECT_EQ(s.HeapBytes(), sizeof(Hll));
}

// Relative error within 3 standard errors (1.04/sqrt(m)) from 10^3 to 10^6.
TEST(ServerSetTest, EstimateWithinTheExpectedBound) {
  const double bound = 3 * Hll::RelativeStandardError();
  for (uint64_t n : {1'000ULL, 3'000ULL, 10'000ULL, 30'000ULL, 100'000ULL, 1'000'000ULL}) {
    for (uint64_t seed = 0; seed < 3; ++seed) {
      ServerSet s;
      for (uint64_t i = 0; i < n; ++i) s.Insert(H(i + seed * 10'000'000));
      const double err = std::fabs(static_cast<double>(s.Count()) - static_cast<double>(n)) / n;
      EXPECT_LT(err, bound) << n << " distinct, seed " << seed << ": " << s.Count();
    }
  }
}

TEST(ServerSetTest, DuplicatesDoNotCount) {
  ServerSet s;
  for (int rep = 0; rep < 10; ++rep) {
    for (uint64_t i = 0; i < 5000; ++i) s.Insert(H(i));
  }
  EXPECT_NEAR(static_cast<double>(s.Count()), 5000, 5000 * 3 * Hll::RelativeStandardError());
}

TEST(ServerSetTest, MergeIsTheSetOfTheUnion) {
  for (auto [a_n, b_n] : {std::pair{3, 4}, {6, 6}, {5, 20000}, {20000, 30000}}) {
    ServerSet a, b, whole;
    for (int i = 0; i < a_n; ++i) {
      a.Insert(H(i));
      whole.Insert(H(i));
    }
    // b overlaps a by half of a.
    for (int i = a_n / 2; i < a_n / 2 + b_n; ++i) {
      b.Insert(H(i));
      whole.Insert(H(i));
    }
    ServerSet merged = a;
    merged.Merge(b);
    EXPECT_EQ(merged.Count(), whole.Count()) << a_n << "+" << b_n;
    EXPECT_EQ(merged.exact(), whole.exact()) << a_n << "+" << b_n;
    if (!merged.exact() && whole.sketch() != nullptr) {
      EXPECT_TRUE(*merged.sketch() == *whole.sketch());  // register-wise identical
    }
    ServerSet other_way = b;
    other_way.Merge(a);
    EXPECT_EQ(other_way.Count(), merged.Count());
  }
}

TEST(ServerSetTest, CopyIsDeep) {
  ServerSet a;
  for (uint64_t i = 0; i < 100; ++i) a.Insert(H(i));
  ServerSet b = a;
  for (uint64_t i = 100; i < 10000; ++i) b.Insert(H(i));
  EXPECT_NEAR(static_cast<double>(a.Count()), 100, 10);
}

}  // namespace
}  // namespace flowtrail::analytics
