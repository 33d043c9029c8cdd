#include "app/options.h"

#include <gtest/gtest.h>

namespace flowtrail::app {
namespace {

using V = std::vector<std::string_view>;

TEST(SensorOptions, DefaultsNeedOnlyOutput) {
  auto p = ParseOptions(V{"--output", "out.ftr"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->help);
  EXPECT_EQ(p->config.output, "out.ftr");
  EXPECT_EQ(p->config.workers, 1u);
  EXPECT_FALSE(p->config.capture.has_value());
  EXPECT_EQ(p->config.tracker.capacity, 1u << 20);
  EXPECT_EQ(p->config.status_interval_s, 10);
  EXPECT_FALSE(p->config.sensor_id.empty());  // hostname
}

TEST(SensorOptions, OutputIsRequired) {
  auto p = ParseOptions(V{"--workers", "2"});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("--output"), absl::string_view::npos);
}

TEST(SensorOptions, HelpWinsOverEverythingElse) {
  auto p = ParseOptions(V{"--bogus", "--help"});
  EXPECT_FALSE(p.ok());  // the unknown option comes first
  p = ParseOptions(V{"--help", "--bogus"});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->help);
}

TEST(SensorOptions, AllValuesParsedBothSpellings) {
  auto p = ParseOptions(V{"--output=-",
                          "--sensor-id",
                          "s1",
                          "--workers=3",
                          "--capture",
                          "--protected-nets",
                          "10.0.0.0/8,2001:db8::/32",
                          "--full-analysis",
                          "inbound",
                          "--table-size",
                          "4096",
                          "--tcp-syn-timeout",
                          "1.5",
                          "--tcp-idle-timeout=60",
                          "--tcp-closing-timeout",
                          "10",
                          "--tcp-linger",
                          "0",
                          "--udp-timeout",
                          "20",
                          "--icmp-timeout",
                          "5",
                          "--active-timeout",
                          "0",
                          "--status-interval",
                          "0",
                          "--stats-json",
                          "s.json",
                          "--duration",
                          "2.5",
                          "--mbufs",
                          "4095"});
  ASSERT_TRUE(p.ok()) << p.status();
  const dataplane::SensorConfig& c = p->config;
  EXPECT_EQ(c.output, "-");
  EXPECT_EQ(c.sensor_id, "s1");
  EXPECT_EQ(c.workers, 3u);
  EXPECT_EQ(c.capture, true);
  EXPECT_FALSE(c.tracker.protected_networks.empty());
  EXPECT_EQ(c.tracker.full_analysis, session::FullAnalysisPolicy::kInboundOnly);
  EXPECT_EQ(c.tracker.capacity, 4096u);
  EXPECT_EQ(c.tracker.tcp_syn_timeout_us, 1'500'000u);
  EXPECT_EQ(c.tracker.tcp_established_timeout_us, 60'000'000u);
  EXPECT_EQ(c.tracker.tcp_closing_timeout_us, 10'000'000u);
  EXPECT_EQ(c.tracker.tcp_linger_us, 0u);
  EXPECT_EQ(c.tracker.udp_timeout_us, 20'000'000u);
  EXPECT_EQ(c.tracker.icmp_timeout_us, 5'000'000u);
  EXPECT_EQ(c.tracker.active_timeout_us, 0u);
  EXPECT_EQ(c.status_interval_s, 0);
  EXPECT_EQ(c.stats_json, "s.json");
  EXPECT_EQ(c.duration_s, 2.5);
  EXPECT_EQ(c.mbufs, 4095u);
}

TEST(SensorOptions, NoCaptureForcesLiveMode) {
  auto p = ParseOptions(V{"--output", "o", "--no-capture"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->config.capture, false);
}

struct BadCase {
  V args;
  std::string_view mentions;
};

class SensorOptionsRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(SensorOptionsRejects, WithAMessageNamingTheProblem) {
  V args = GetParam().args;
  args.insert(args.begin(), {"--output", "o"});
  auto p = ParseOptions(args);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find(std::string(GetParam().mentions)), absl::string_view::npos)
      << p.status();
}

INSTANTIATE_TEST_SUITE_P(
    BadOptions, SensorOptionsRejects,
    ::testing::Values(
        BadCase{{"--workers", "0"}, "--workers"}, BadCase{{"--workers", "two"}, "--workers"},
        BadCase{{"--workers", "-1"}, "--workers"}, BadCase{{"--bogus"}, "unknown option '--bogus'"},
        BadCase{{"--protected-nets", "10.0.0.0/33"}, "--protected-nets"},
        BadCase{{"--protected-nets", "banana"}, "--protected-nets"},
        BadCase{{"--table-size", "0"}, "--table-size"},
        BadCase{{"--tcp-idle-timeout", "soon"}, "--tcp-idle-timeout"},
        BadCase{{"--udp-timeout", "0"}, "--udp-timeout"},
        BadCase{{"--icmp-timeout", "-3"}, "--icmp-timeout"},
        BadCase{{"--active-timeout", "nan"}, "--active-timeout"},
        BadCase{{"--full-analysis", "some"}, "--full-analysis"},
        BadCase{{"--status-interval"}, "needs a value"}, BadCase{{"--mbufs", "10"}, "--mbufs"}));

TEST(SensorOptions, UsageDocumentsEveryOption) {
  const std::string u = Usage("flowtrail-sensor");
  for (const char* o : {"--output",
                        "--sensor-id",
                        "--workers",
                        "--capture",
                        "--protected-nets",
                        "--full-analysis",
                        "--table-size",
                        "--tcp-syn-timeout",
                        "--tcp-idle-timeout",
                        "--tcp-closing-timeout",
                        "--tcp-linger",
                        "--udp-timeout",
                        "--icmp-timeout",
                        "--active-timeout",
                        "--status-interval",
                        "--stats-json",
                        "--help",
                        "--duration",
                        "--mbufs",
                        "--no-capture"}) {
    EXPECT_NE(u.find(o), std::string::npos) << o;
  }
}

}  // namespace
}  // namespace flowtrail::app
