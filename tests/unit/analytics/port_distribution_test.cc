// Client-port distributions: the statistics by hand, Goldfarb's rule and its
// small-sample blind spot, the robust rules, windows, interim records,
// merging and the cell budget.
#include "analytics/port_distribution.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

namespace flowtrail::analytics {
namespace {

constexpr uint64_t kSec = 1'000'000;
constexpr uint64_t kT0 = uint64_t{1'700'000'000} * kSec;

record::SessionRecord Flow(uint16_t server_port, uint16_t client_port, uint32_t client = 1,
                           uint32_t server = 1, uint64_t t_us = kT0, uint8_t protocol = 6) {
  record::SessionRecord r;
  r.protocol = protocol;
  r.ip_version = 4;
  r.client_ip = IpAddress::FromV4(0x0a000000u + client);
  r.server_ip = IpAddress::FromV4(0xc0a80000u + server);
  r.client_port = client_port;
  r.server_port = server_port;
  r.first_time_us = t_us;
  r.last_time_us = t_us + 1000;
  return r;
}

// `counts[i]` flows from client port base + i (each flow its own client host
// and server so that fan-out stays quiet).
void AddCounts(PortDistribution& d, uint16_t server_port, const std::vector<uint32_t>& counts,
               uint16_t base = 50000) {
  uint32_t host = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    for (uint32_t k = 0; k < counts[i]; ++k) {
      ++host;
      d.Add(Flow(server_port, static_cast<uint16_t>(base + i), host, host));
    }
  }
}

const ClientPortRow* FindRow(const ServerPortReport& r, uint16_t client_port) {
  for (const ClientPortRow& row : r.flagged) {
    if (row.client_port == client_port) {
      return &row;
    }
  }
  return nullptr;
}

TEST(PortStatistics, MeanAndBothStandardDeviationsByHand) {
  const std::vector<double> x = {2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(Mean(x), 5.0);
  // Squares of deviations sum to 32.
  EXPECT_DOUBLE_EQ(StdDev(x, StddevKind::kPopulation), 2.0);
  EXPECT_DOUBLE_EQ(StdDev(x, StddevKind::kSample), std::sqrt(32.0 / 7.0));
  EXPECT_EQ(StdDev(std::vector<double>{3}, StddevKind::kSample), 0);
}

TEST(PortStatistics, MedianAndMadByHand) {
  EXPECT_DOUBLE_EQ(Median({9, 1, 2, 6, 1, 4, 2}), 2.0);
  EXPECT_DOUBLE_EQ(Median({4, 1, 3, 2}), 2.5);
  // |x - 2| = 1 1 0 0 2 4 7: median 1.
  const std::vector<double> x = {1, 1, 2, 2, 4, 6, 9};
  EXPECT_DOUBLE_EQ(Mad(x, 2.0), 1.0);
  // Mostly equal counts: MAD is 0 (hence the floor).
  EXPECT_DOUBLE_EQ(Mad(std::vector<double>{1, 1, 1, 1, 1, 500}, 1.0), 0.0);
}

TEST(PortStatistics, NoZScoreExceedsTheShifflerBound) {
  std::mt19937_64 rng(7);
  for (size_t n = 2; n <= 40; ++n) {
    // One outlier among equal values reaches the bound exactly ...
    std::vector<double> x(n, 1.0);
    x.back() = 1e6;
    const double sd = StdDev(x, StddevKind::kSample);
    EXPECT_NEAR((x.back() - Mean(x)) / sd, (n - 1) / std::sqrt(static_cast<double>(n)), 1e-9);
    const double psd = StdDev(x, StddevKind::kPopulation);
    EXPECT_NEAR((x.back() - Mean(x)) / psd, std::sqrt(static_cast<double>(n - 1)), 1e-9);
    EXPECT_NEAR(MaxZScore(n, StddevKind::kSample), (n - 1) / std::sqrt(static_cast<double>(n)),
                1e-12);
    // ... and random data never passes it.
    for (int trial = 0; trial < 50; ++trial) {
      for (double& v : x) {
        v = static_cast<double>(rng() % 1000);
      }
      const double m = Mean(x), s = StdDev(x, StddevKind::kSample);
      if (s == 0) {
        continue;
      }
      for (double v : x) {
        EXPECT_LE((v - m) / s, MaxZScore(n, StddevKind::kSample) + 1e-9);
      }
    }
  }
  // The table of scan_fp.md §4.2: 6-10 client ports can never pass S = 3.
  EXPECT_NEAR(MaxZScore(6, StddevKind::kSample), 2.0412, 1e-4);
  EXPECT_LT(MaxZScore(10, StddevKind::kSample), 3.0);
  EXPECT_GT(MaxZScore(11, StddevKind::kSample), 3.0);
  EXPECT_LE(MaxZScore(10, StddevKind::kPopulation), 3.0);
}

TEST(PortStatistics, PoissonUpperTailByHand) {
  EXPECT_NEAR(PoissonUpperTail(1, 1), 1 - std::exp(-1.0), 1e-12);
  // 1 - e^-1 (1 + 1 + 1/2 + 1/6 + 1/24 + 1/120)
  EXPECT_NEAR(PoissonUpperTail(6, 1),
              1 - std::exp(-1.0) * (1 + 1 + 0.5 + 1 / 6.0 + 1 / 24.0 + 1 / 120.0), 1e-12);
  EXPECT_NEAR(PoissonUpperTail(9, 3), 0.0038030, 1e-6);
  EXPECT_DOUBLE_EQ(PoissonUpperTail(0, 5), 1.0);
  // The far tail keeps its magnitude (1 - CDF would give 0): P(X >= 100 | 1)
  // = e^-1/100! (1 + 1/101 + ...), about 1e-159.
  const double far = PoissonUpperTail(100, 1);
  EXPECT_GT(far, 0);
  EXPECT_NEAR(std::log(far), -1 - std::lgamma(101.0) + std::log(1 + 1 / 101.0 + 1 / (101.0 * 102)),
              1e-6);
}

TEST(PortDistributionGoldfarb, HandComputedTwelvePortExampleIsFlagged) {
  // 11 client ports with 1 flow, one with 100: mean 9.25, sample variance
  // 8984.25 / 11 = 816.75, threshold 9.25 + 3 * 28.579 = 94.99 < 100.
  PortDistribution d;
  std::vector<uint32_t> counts(11, 1);
  counts.push_back(100);
  AddCounts(d, 445, counts);
  const std::vector<ServerPortReport> reports = AnalyzePorts(d, {});
  ASSERT_EQ(reports.size(), 1u);
  const ServerPortReport& r = reports[0];
  EXPECT_EQ(r.server_port, 445);
  EXPECT_EQ(r.client_ports, 12u);
  EXPECT_EQ(r.flows, 111u);
  EXPECT_DOUBLE_EQ(r.mean, 9.25);
  EXPECT_NEAR(r.stddev, std::sqrt(816.75), 1e-9);
  EXPECT_NEAR(r.threshold, 9.25 + 3 * std::sqrt(816.75), 1e-9);
  EXPECT_TRUE(r.goldfarb_eligible);
  ASSERT_EQ(r.goldfarb_flags(), 1u);
  const ClientPortRow* row = FindRow(r, 50011);
  ASSERT_NE(row, nullptr);
  EXPECT_TRUE(row->goldfarb);
  EXPECT_NEAR(row->z, 11 / std::sqrt(12.0), 1e-9);  // the bound itself
  // With S = 3.2 the same port is out of reach (max z 3.175).
  PortAnalysisOptions strict;
  strict.sigma = 3.2;
  EXPECT_EQ(AnalyzePorts(d, strict)[0].goldfarb_flags(), 0u);
}

TEST(PortDistributionGoldfarb, SixPortOutlierIsMissedAndTheRobustRuleFlagsIt) {
  // The small-sample blind spot: 5 client ports with 1 flow and one with
  // 10000. n = 6 > C = 5, so Goldfarb analyses it, but z <= 5/sqrt(6) = 2.04.
  PortDistribution d;
  AddCounts(d, 25, {1, 1, 1, 1, 1, 10000});
  for (StddevKind kind : {StddevKind::kSample, StddevKind::kPopulation}) {
    PortAnalysisOptions o;
    o.stddev = kind;
    const std::vector<ServerPortReport> reports = AnalyzePorts(d, o);
    ASSERT_EQ(reports.size(), 1u);
    const ServerPortReport& r = reports[0];
    EXPECT_TRUE(r.goldfarb_eligible);
    EXPECT_LT(r.max_z, 3.0);
    EXPECT_EQ(r.goldfarb_flags(), 0u);
    ASSERT_EQ(r.robust_flags(), 1u);
    const ClientPortRow* row = FindRow(r, 50005);
    ASSERT_NE(row, nullptr);
    EXPECT_TRUE(row->mad);
    EXPECT_FALSE(row->fanout);  // 10000 clients and servers
    // Median 1, MAD 0 floored to 1: 0.6745 * 9999.
    EXPECT_DOUBLE_EQ(row->ref_median, 1.0);
    EXPECT_NEAR(row->modified_z, 0.6745 * 9999, 1e-6);
  }
}

TEST(PortDistributionGoldfarb, FiveClientPortsAreNotAnalysedByEitherRuleOfCounts) {
  PortDistribution d;
  AddCounts(d, 25, {1, 1, 1, 1, 10000});
  const std::vector<ServerPortReport> r_all = AnalyzePorts(d, {});
  ASSERT_FALSE(r_all.empty());
  const ServerPortReport& r = r_all[0];
  EXPECT_FALSE(r.goldfarb_eligible);
  EXPECT_TRUE(r.flagged.empty());
  PortAnalysisOptions c3;
  c3.min_client_ports = 3;
  EXPECT_EQ(AnalyzePorts(d, c3)[0].robust_flags(), 1u);
}

TEST(PortDistributionRobust, UniformTrafficFlagsNothing) {
  PortDistribution d;
  AddCounts(d, 80, std::vector<uint32_t>(500, 2));
  AddCounts(d, 443, std::vector<uint32_t>(300, 1), 33000);
  for (const ServerPortReport& r : AnalyzePorts(d, {})) {
    EXPECT_TRUE(r.flagged.empty());
  }
}

TEST(PortDistributionRobust, BandsKeepOneOsRangeFromLookingLikeAnOutlier) {
  // 100 Windows-band client ports with 1 flow and 20 Linux-band ports with 8:
  // pooled, the Linux ports sit 7 flows above the median (modified z 4.7);
  // against their own band they are ordinary. Goldfarb flags nothing.
  PortDistribution d;
  AddCounts(d, 443, std::vector<uint32_t>(100, 1), 62000);
  AddCounts(d, 443, std::vector<uint32_t>(20, 8), 33000);
  const std::vector<ServerPortReport> r_all = AnalyzePorts(d, {});
  ASSERT_FALSE(r_all.empty());
  const ServerPortReport& r = r_all[0];
  EXPECT_EQ(r.client_ports, 120u);
  EXPECT_EQ(r.goldfarb_flags(), 0u);
  EXPECT_EQ(r.robust_flags(), 0u);
  // One real outlier in the Linux band is still found against that band.
  AddCounts(d, 443, {60}, 40000);
  const std::vector<ServerPortReport> r2_all = AnalyzePorts(d, {});
  ASSERT_FALSE(r2_all.empty());
  const ServerPortReport& r2 = r2_all[0];
  ASSERT_EQ(r2.robust_flags(), 1u);
  const ClientPortRow* row = FindRow(r2, 40000);
  ASSERT_NE(row, nullptr);
  EXPECT_TRUE(row->band_reference);
  EXPECT_EQ(std::string(PortBandName(row->band)), "32768-49151");
  EXPECT_DOUBLE_EQ(row->ref_median, 8.0);
}

TEST(PortDistributionRobust, PoissonGateKeepsABusyPortsNaturalTailQuiet) {
  // 2000 client ports with counts 1..5 around a median of 3 (MAD 1) and one
  // with 9: modified z 0.6745 * 6 = 4.05 > 3.5, but P(X >= 9 | 3) = 0.0038
  // is no surprise among 2000 ports (gate 0.01 / 2001). 25 flows is.
  PortDistribution d;
  std::vector<uint32_t> counts;
  for (int i = 0; i < 2000; ++i) {
    counts.push_back(1 + (i * 7) % 5);
  }
  counts.push_back(9);
  AddCounts(d, 443, counts, 33000);
  const std::vector<ServerPortReport> quiet = AnalyzePorts(d, {});
  ASSERT_EQ(quiet.size(), 1u);
  EXPECT_EQ(quiet[0].robust_flags(), 0u);
  // Goldfarb does flag it: mean 3, stddev 1.41, threshold 7.2 < 9.
  ASSERT_EQ(quiet[0].goldfarb_flags(), 1u);
  EXPECT_EQ(quiet[0].flagged[0].client_port, 35000);
  PortAnalysisOptions no_gate;
  no_gate.alpha = 1;
  EXPECT_EQ(AnalyzePorts(d, no_gate)[0].robust_flags(), 1u);
  AddCounts(d, 443, {25}, 36000);
  const std::vector<ServerPortReport> loud = AnalyzePorts(d, {});
  ASSERT_EQ(loud[0].robust_flags(), 1u);
  const ClientPortRow* row = FindRow(loud[0], 36000);
  ASSERT_NE(row, nullptr);
  EXPECT_TRUE(row->mad);
  EXPECT_LT(row->p_value, 0.01 / 2002);
}

TEST(PortDistributionRobust, FixedSourcePortFanOutIsFlaggedWithoutOtherTraffic) {
  // One scanner, source port 40950, 200 servers on port 23; nobody else uses
  // port 23: n = 1, so only the fan-out rule can see it.
  PortDistribution d;
  for (uint32_t s = 1; s <= 200; ++s) {
    d.Add(Flow(23, 40950, 7, s));
  }
  const std::vector<ServerPortReport> r_all = AnalyzePorts(d, {});
  ASSERT_FALSE(r_all.empty());
  const ServerPortReport& r = r_all[0];
  EXPECT_EQ(r.client_ports, 1u);
  EXPECT_EQ(r.goldfarb_flags(), 0u);
  ASSERT_EQ(r.robust_flags(), 1u);
  EXPECT_TRUE(r.flagged[0].fanout);
  EXPECT_FALSE(r.flagged[0].mad);
  EXPECT_EQ(r.flagged[0].distinct_clients, 1u);
  EXPECT_GT(r.flagged[0].distinct_servers, 100u);
  // The same flows from many client hosts (popular port number) are not fan-out.
  PortDistribution many;
  for (uint32_t s = 1; s <= 200; ++s) {
    many.Add(Flow(23, 40950, s, s));
  }
  EXPECT_TRUE(AnalyzePorts(many, {})[0].flagged.empty());
  // Two scanners sharing the source port, 100 servers each: 2 hosts, ~200
  // servers, >= 16 per host.
  PortDistribution shared;
  for (uint32_t s = 1; s <= 200; ++s) {
    shared.Add(Flow(23, 40950, s % 2 == 0 ? 7 : 8, s));
  }
  const std::vector<ServerPortReport> rs = AnalyzePorts(shared, {});
  ASSERT_EQ(rs[0].flagged.size(), 1u);
  EXPECT_TRUE(rs[0].flagged[0].fanout);
  EXPECT_EQ(rs[0].flagged[0].distinct_clients, 2u);
  // Two hosts with 20 servers between them: 10 per host, below F.
  PortDistribution few;
  for (uint32_t s = 1; s <= 20; ++s) {
    few.Add(Flow(23, 40950, s % 2 == 0 ? 7 : 8, s));
  }
  EXPECT_TRUE(AnalyzePorts(few, {})[0].flagged.empty());
  // Off when F = 0.
  PortAnalysisOptions off;
  off.fanout_servers = 0;
  EXPECT_TRUE(AnalyzePorts(d, off)[0].flagged.empty());
}

TEST(PortDistributionCounting, InterimRecordsAreNotCountedTwice) {
  PortDistribution d;
  record::SessionRecord r = Flow(22, 50000);
  r.continuing = true;
  d.Add(r);
  d.Add(r);
  r.continuing = false;
  d.Add(r);
  EXPECT_EQ(d.stats().records, 3u);
  EXPECT_EQ(d.stats().interim_skipped, 2u);
  EXPECT_EQ(d.stats().flows, 1u);
  ASSERT_EQ(d.cells(), 1u);
  EXPECT_EQ(d.cell_map().begin()->second.flows, 1u);
}

TEST(PortDistributionCounting, TcpAndUdpOnlyAndTheServerPortSet) {
  PortDistribution d;
  d.Add(Flow(53, 50000, 1, 1, kT0, 17));
  d.Add(Flow(80, 50000, 1, 1, kT0, 6));
  d.Add(Flow(0, 8, 1, 1, kT0, 1));      // ICMP echo
  d.Add(Flow(8080, 50000, 1, 1, kT0));  // not in 0-1023
  EXPECT_EQ(d.stats().flows, 2u);
  EXPECT_EQ(d.stats().other_protocol, 1u);
  EXPECT_EQ(d.stats().port_excluded, 1u);
  PortDistributionOptions o;
  o.udp = false;
  o.server_ports = *ParsePortSet("8080");
  PortDistribution t(o);
  t.Add(Flow(53, 50000, 1, 1, kT0, 17));
  t.Add(Flow(8080, 50000));
  EXPECT_EQ(t.stats().flows, 1u);
}

TEST(PortDistributionCounting, WindowsAreAlignedToMultiplesOfTheirLength) {
  PortDistribution d;  // 3600 s
  const uint64_t start = (kT0 / (3600 * kSec) + 1) * 3600 * kSec;
  d.Add(Flow(80, 50000, 1, 1, start - 1));  // the window before
  d.Add(Flow(80, 50000, 1, 1, start));
  d.Add(Flow(80, 50000, 1, 1, start + 3600 * kSec - 1));
  const std::vector<ServerPortReport> reports = AnalyzePorts(d, {});
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].window_start_us, start - 3600 * kSec);
  EXPECT_EQ(reports[0].flows, 1u);
  EXPECT_EQ(reports[1].window_start_us, start);
  EXPECT_EQ(reports[1].flows, 2u);
}

TEST(PortSetParsing, ListsRangesAllAndErrors) {
  const PortSet s = *ParsePortSet("22,80,8000-8002");
  EXPECT_EQ(s.count(), 5u);
  EXPECT_TRUE(s.test(8001));
  EXPECT_EQ(ParsePortSet("all")->count(), 65536u);
  EXPECT_EQ(ParsePortSet("0-1023")->count(), 1024u);
  EXPECT_EQ(PortDistributionOptions::DefaultServerPorts(), *ParsePortSet("0-1023"));
  for (const char* bad : {"", "x", "5-1", "70000", "1,,2", "-3", "80-"}) {
    EXPECT_FALSE(ParsePortSet(bad).ok()) << bad;
  }
}

TEST(PortDistributionSketch, DistinctEstimatesAndStableBits) {
  EXPECT_EQ(EstimateDistinct(0), 0u);
  EXPECT_EQ(EstimateDistinct(1), 1u);
  EXPECT_EQ(EstimateDistinct(~uint64_t{0}), 266u);
  std::set<int> bits;
  uint64_t bitmap = 0;
  for (uint32_t i = 0; i < 40; ++i) {
    const int b = HostBit(IpAddress::FromV4(0x0a000000u + i));
    EXPECT_EQ(b, HostBit(IpAddress::FromV4(0x0a000000u + i)));
    ASSERT_GE(b, 0);
    ASSERT_LT(b, 64);
    bits.insert(b);
    bitmap |= uint64_t{1} << b;
  }
  // 40 hosts: linear counting within 25 %.
  EXPECT_NEAR(static_cast<double>(EstimateDistinct(bitmap)), 40.0, 10.0);
  EXPECT_GT(bits.size(), 20u);
}

std::vector<record::SessionRecord> RandomFlows(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<record::SessionRecord> out;
  for (size_t i = 0; i < n; ++i) {
    const auto sp = static_cast<uint16_t>(rng() % 4 == 0 ? 445 : rng() % 8);
    const auto cp = static_cast<uint16_t>(rng() % 3 == 0 ? 40950 : 49152 + rng() % 300);
    out.push_back(Flow(sp, cp, static_cast<uint32_t>(rng() % 50),
                       static_cast<uint32_t>(rng() % 500), kT0 + (rng() % 7200) * kSec,
                       rng() % 5 == 0 ? 17 : 6));
    out.back().continuing = rng() % 10 == 0;
  }
  return out;
}

void ExpectSameReports(const std::vector<ServerPortReport>& a,
                       const std::vector<ServerPortReport>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].window_start_us, b[i].window_start_us);
    EXPECT_EQ(a[i].server_port, b[i].server_port);
    EXPECT_EQ(a[i].client_ports, b[i].client_ports);
    EXPECT_EQ(a[i].flows, b[i].flows);
    EXPECT_DOUBLE_EQ(a[i].stddev, b[i].stddev);
    ASSERT_EQ(a[i].flagged.size(), b[i].flagged.size());
    for (size_t k = 0; k < a[i].flagged.size(); ++k) {
      const ClientPortRow &x = a[i].flagged[k], &y = b[i].flagged[k];
      EXPECT_EQ(x.client_port, y.client_port);
      EXPECT_EQ(x.flows, y.flows);
      EXPECT_EQ(x.distinct_clients, y.distinct_clients);
      EXPECT_EQ(x.distinct_servers, y.distinct_servers);
      EXPECT_EQ(x.goldfarb, y.goldfarb);
      EXPECT_EQ(x.mad, y.mad);
      EXPECT_EQ(x.fanout, y.fanout);
    }
  }
}

TEST(PortDistributionConsume, BurstsEqualAddOneByOneAcrossWindowsAndSkips) {
  // Consume's pipeline caches the window and keys: records in random order
  // over two windows, interim, UDP, ICMP, excluded server ports and window
  // indexes past 2^32 (1 s windows, saturated) must count exactly as Add.
  std::vector<record::SessionRecord> flows = RandomFlows(20000, 12);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    record::SessionRecord r = flows[rng() % flows.size()];
    switch (i % 4) {
      case 0:
        r.server_port = static_cast<uint16_t>(2000 + rng() % 100);  // not in the set
        break;
      case 1:
        r.protocol = 1;
        break;
      case 2:
        r.first_time_us = UINT64_MAX - rng() % (10 * kSec);
        break;
      default:
        r.first_time_us = (uint64_t{UINT32_MAX} - 2 + rng() % 4) * kSec + rng() % kSec;
        break;
    }
    flows.insert(flows.begin() + static_cast<ptrdiff_t>(rng() % flows.size()), r);
  }
  PortDistributionOptions o;
  o.window_us = kSec;
  for (uint64_t window : {uint64_t{3600} * kSec, kSec}) {
    SCOPED_TRACE(window);
    o.window_us = window;
    PortDistribution one(o);
    for (const auto& r : flows) {
      one.Add(r);
    }
    for (size_t burst : {size_t{1}, size_t{7}, size_t{33}, size_t{256}}) {
      SCOPED_TRACE(burst);
      PortDistribution batch(o);
      for (size_t i = 0; i < flows.size(); i += burst) {
        batch.Consume(std::span(flows).subspan(i, std::min(burst, flows.size() - i)));
      }
      ASSERT_EQ(batch.cells(), one.cells());
      for (const auto& [key, cell] : one.cell_map()) {
        auto it = batch.cell_map().find(key);
        ASSERT_NE(it, batch.cell_map().end());
        EXPECT_EQ(it->second.flows, cell.flows);
        EXPECT_EQ(it->second.client_bits, cell.client_bits);
        EXPECT_EQ(it->second.server_bits, cell.server_bits);
      }
      const PortDistributionStats &a = one.stats(), &b = batch.stats();
      EXPECT_EQ(b.records, a.records);
      EXPECT_EQ(b.flows, a.flows);
      EXPECT_EQ(b.interim_skipped, a.interim_skipped);
      EXPECT_EQ(b.other_protocol, a.other_protocol);
      EXPECT_EQ(b.port_excluded, a.port_excluded);
    }
    EXPECT_GT(one.stats().port_excluded, 0u);
    EXPECT_GT(one.stats().other_protocol, 0u);
    EXPECT_GT(one.stats().interim_skipped, 0u);
  }
}

TEST(PortDistributionMerge, HalvesMergedEqualTheWhole) {
  const std::vector<record::SessionRecord> flows = RandomFlows(20000, 11);
  PortDistribution whole, first, second;
  whole.Consume(flows);
  first.Consume(std::span(flows).first(flows.size() / 3));
  second.Consume(std::span(flows).subspan(flows.size() / 3));
  ASSERT_TRUE(first.Merge(second).ok());
  EXPECT_EQ(first.cells(), whole.cells());
  for (const auto& [key, cell] : whole.cell_map()) {
    auto it = first.cell_map().find(key);
    ASSERT_NE(it, first.cell_map().end());
    EXPECT_EQ(it->second.flows, cell.flows);
    EXPECT_EQ(it->second.client_bits, cell.client_bits);
    EXPECT_EQ(it->second.server_bits, cell.server_bits);
  }
  EXPECT_EQ(first.stats().records, whole.stats().records);
  EXPECT_EQ(first.stats().flows, whole.stats().flows);
  EXPECT_EQ(first.stats().interim_skipped, whole.stats().interim_skipped);
  const std::vector<ServerPortReport> a = AnalyzePorts(whole, {});
  ExpectSameReports(a, AnalyzePorts(first, {}));
  // The data has something to find (port 40950 is a third of the flows).
  size_t flagged = 0;
  for (const ServerPortReport& r : a) {
    flagged += r.flagged.size();
  }
  EXPECT_GT(flagged, 0u);
}

TEST(PortDistributionMerge, RefusesDifferentWindowsOrPortSets) {
  PortDistributionOptions o;
  o.window_us = 60 * kSec;
  PortDistribution a, b(o);
  a.Add(Flow(80, 50000));
  EXPECT_FALSE(a.Merge(b).ok());
  EXPECT_EQ(a.cells(), 1u);
  PortDistributionOptions p;
  p.server_ports = *ParsePortSet("80");
  EXPECT_FALSE(a.Merge(PortDistribution(p)).ok());
}

TEST(PortDistributionBudget, EvictsTheSmallestCellsOfTheOldestWindowAndCountsThem) {
  PortDistributionOptions o;
  o.max_cells = 64;
  PortDistribution d(o);
  // A hot cell in the newest window, then 1000 singletons in an older one and
  // the newest one.
  for (int i = 0; i < 50; ++i) {
    d.Add(Flow(80, 40950, 1, static_cast<uint32_t>(i), kT0 + 7200 * kSec));
  }
  for (uint16_t p = 0; p < 500; ++p) {
    d.Add(Flow(80, static_cast<uint16_t>(1024 + p), 1, 1, kT0));
    d.Add(Flow(80, static_cast<uint16_t>(1024 + p), 1, 1, kT0 + 7200 * kSec));
  }
  EXPECT_LE(d.cells(), 64u);
  EXPECT_GT(d.stats().eviction_rounds, 0u);
  EXPECT_EQ(d.stats().evicted_cells + d.cells(), 1001u);
  uint64_t kept = 0;
  bool hot = false;
  for (const auto& [key, cell] : d.cell_map()) {
    kept += cell.flows;
    if ((key & 0xffff) == 40950) {
      hot = cell.flows == 50;
    }
  }
  EXPECT_EQ(kept + d.stats().evicted_flows, d.stats().flows);
  EXPECT_TRUE(hot);
  EXPECT_GT(d.MemoryBytes(), 0u);
}

TEST(PortDistributionOptionsCheck, RejectsTinyWindowsAndBudgets) {
  PortDistributionOptions o;
  EXPECT_TRUE(PortDistribution::ValidateOptions(o).ok());
  o.window_us = 999'999;
  EXPECT_FALSE(PortDistribution::ValidateOptions(o).ok());
  o = {};
  o.max_cells = 7;
  EXPECT_FALSE(PortDistribution::ValidateOptions(o).ok());
  o = {};
  o.tcp = o.udp = false;
  EXPECT_FALSE(PortDistribution::ValidateOptions(o).ok());
}

}  // namespace
}  // namespace flowtrail::analytics
