#include "app/options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "dataplane/rx_queue.h"
#include "session/session_state.h"

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
        BadCase{{"--status-interval"}, "needs a value"}, BadCase{{"--mbufs", "10"}, "--mbufs"},
        BadCase{{"--vlan-key", "sideways"}, "--vlan-key"},
        BadCase{{"--other-timeout", "0"}, "--other-timeout"},
        BadCase{{"--clock-jump", "-1"}, "--clock-jump"},
        BadCase{{"--clock-jump", "0"}, "--clock-jump"}));

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
                        "--no-capture",
                        "--vlan-key",
                        "--other-timeout",
                        "--clock-jump",
                        "--attempt-timeout",
                        "--analytics-memory",
                        "--scan-horizon",
                        "--trw-theta0",
                        "--trw-theta1",
                        "--trw-alpha",
                        "--trw-beta",
                        "--trw ",
                        "--trw-active-failure",
                        "--window",
                        "--server-ports",
                        "--telemetry-top"}) {
    EXPECT_NE(u.find(o), std::string::npos) << o;
  }
}

// --- Options that used to parse and then fail after the EAL started. ---

std::string TempFile(const std::string& name, bool create = true) {
  const std::string path =
      (std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid()))).string();
  if (create) std::ofstream(path) << "pcap";
  return path;
}

TEST(SensorOptions, OutputOrStatsNamingTheInputCaptureIsRefused) {
  const std::string pcap = TempFile("opt_capture.pcap");
  const std::string link = pcap + ".lnk", hard = pcap + ".hard";
  std::filesystem::remove(link);
  std::filesystem::remove(hard);
  std::filesystem::create_symlink(pcap, link);
  std::filesystem::create_hard_link(pcap, hard);
  const std::string dir = std::filesystem::path(pcap).parent_path().string();
  const std::string base = std::filesystem::path(pcap).filename().string();
  const std::string vdev = "net_pcap0,rx_pcap=" + pcap;
  const std::string vdev2 = "net_pcap1,rx_pcap=/nonexistent/a.pcap,rx_pcap=" + link;
  struct Case {
    std::vector<std::string> eal;
    std::vector<std::string> args;
    std::string option;
  };
  const std::vector<Case> cases = {
      {{"--vdev=" + vdev}, {"--output", pcap}, "--output"},
      {{"--vdev", vdev}, {"--output", dir + "/./" + base}, "--output"},
      {{"--vdev=" + vdev}, {"--output", link}, "--output"},
      {{"--vdev=" + vdev}, {"--output", hard}, "--output"},
      {{"--vdev=net_pcap0,rx_pcap=" + hard}, {"--output=" + pcap}, "--output"},
      {{"--no-pci", "--vdev=" + vdev2},
       {"--output", "o.ftr", "--stats-json", pcap},
       "--stats-json"},
  };
  for (const Case& c : cases) {
    std::vector<std::string_view> eal(c.eal.begin(), c.eal.end());
    std::vector<std::string_view> args(c.args.begin(), c.args.end());
    if (c.option == "--output") args.insert(args.end(), {"--stats-json", "s.json"});
    auto p = ParseOptions(args, {.eal_args = eal});
    ASSERT_FALSE(p.ok()) << c.args[1];
    EXPECT_NE(p.status().message().find(c.option), absl::string_view::npos) << p.status();
    EXPECT_NE(p.status().message().find("input capture"), absl::string_view::npos) << p.status();
  }
  // Other files next to it are fine.
  std::vector<std::string_view> eal{"--vdev=" + vdev};
  auto ok =
      ParseOptions(V{"--output", pcap + ".ftr", "--stats-json", pcap + ".json"}, {.eal_args = eal});
  EXPECT_TRUE(ok.ok()) << ok.status();
  for (const std::string& f : {pcap, link, hard}) std::filesystem::remove(f);
}

TEST(SensorOptions, OutputAndStatsJsonMustBeDifferentFiles) {
  const std::string out = TempFile("opt_same.ftr", /*create=*/false);
  const std::string dir = std::filesystem::path(out).parent_path().string();
  const std::string base = std::filesystem::path(out).filename().string();
  auto p =
      ParseOptions(V{"--output", out, "--stats-json",
                     dir + "/../" + std::filesystem::path(dir).filename().string() + "/" + base});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("--stats-json"), absl::string_view::npos) << p.status();
  EXPECT_NE(p.status().message().find("--output"), absl::string_view::npos) << p.status();
  EXPECT_TRUE(ParseOptions(V{"--output", "-", "--stats-json", out}).ok());
}

TEST(SensorOptions, MbufsBelowWhatCaptureModeNeedsAreRefused) {
  const uint32_t min = dataplane::kMinCaptureMbufs;
  EXPECT_EQ(min, dataplane::kCapturePoolMargin + 2 * dataplane::kRxBurst);
  const std::string at = std::to_string(min), below = std::to_string(min - 1);
  auto p = ParseOptions(V{"--output", "o", "--mbufs", "1024"});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("[" + at + ","), absl::string_view::npos) << p.status();
  EXPECT_FALSE(ParseOptions(V{"--output", "o", "--mbufs", below}).ok());
  p = ParseOptions(V{"--output", "o", "--mbufs", at});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->config.mbufs, min);
}

TEST(SensorOptions, TimeoutsThatRoundToZeroMicrosecondsAreRefused) {
  for (const char* o :
       {"--tcp-syn-timeout", "--tcp-idle-timeout", "--tcp-closing-timeout", "--tcp-linger",
        "--udp-timeout", "--icmp-timeout", "--other-timeout", "--active-timeout", "--clock-jump"}) {
    auto p = ParseOptions(V{"--output", "o", o, "0.0000001"});
    ASSERT_FALSE(p.ok()) << o;
    EXPECT_NE(p.status().message().find(o), absl::string_view::npos) << p.status();
    EXPECT_NE(p.status().message().find("0.000001"), absl::string_view::npos) << p.status();
    EXPECT_TRUE(ParseOptions(V{"--output", "o", o, "0.000001"}).ok()) << o;
  }
}

TEST(SensorOptions, SensorIdsTheStreamCannotCarryAreRefused) {
  const std::string longest(256, 'x'), too_long(257, 'x');
  auto p = ParseOptions(V{"--output", "o", "--sensor-id", too_long});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("--sensor-id"), absl::string_view::npos) << p.status();
  EXPECT_NE(p.status().message().find("256"), absl::string_view::npos) << p.status();
  p = ParseOptions(V{"--output", "o", "--sensor-id", "caf\xc3"});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("UTF-8"), absl::string_view::npos) << p.status();
  p = ParseOptions(V{"--output", "o", "--sensor-id", longest});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->config.sensor_id, longest);
}

TEST(SensorOptions, TableSizesBeyondPhysicalMemoryAreRefused) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  session::TrackerConfig mib;
  mib.capacity = 1 << 20;
  const uint64_t per = session::Tracker::MemoryBytes(mib) >> 20;  // bytes per session, about
  EXPECT_GE(per, sizeof(session::Session));
  // 4 GiB of RAM: one table of 2^20 sessions fits (~per MiB).
  Environment env{.physical_memory_bytes = 4 * kGiB};
  EXPECT_TRUE(ParseOptions(V{"--output", "o"}, env).ok());
  auto p = ParseOptions(V{"--output", "o", "--table-size", "67108864"}, env);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("--table-size"), absl::string_view::npos) << p.status();
  EXPECT_NE(p.status().message().find("physical memory"), absl::string_view::npos) << p.status();
  // What one worker's table may take, all of them together may not.
  const uint64_t fits_one = 3 * kGiB / per;
  const std::string n = std::to_string(fits_one);
  EXPECT_TRUE(ParseOptions(V{"--output", "o", "--table-size", n}, env).ok());
  p = ParseOptions(V{"--output", "o", "--table-size", n, "--workers", "2"}, env);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("2 workers"), absl::string_view::npos) << p.status();
  // The EAL's memory (-m / --socket-mem) is physical memory too.
  std::vector<std::string_view> eal{"-m", "1536"};
  env.eal_args = eal;
  p = ParseOptions(V{"--output", "o", "--table-size", n}, env);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("-m"), absl::string_view::npos) << p.status();
  eal = {"--socket-mem=512,1024"};
  env.eal_args = eal;
  EXPECT_FALSE(ParseOptions(V{"--output", "o", "--table-size", n}, env).ok());
  eal = {"-m256"};
  env.eal_args = eal;
  EXPECT_TRUE(ParseOptions(V{"--output", "o", "--table-size", n}, env).ok());
}

TEST(SensorOptions, VlanKeyOtherTimeoutAndClockJump) {
  auto p = ParseOptions(V{"--output", "o"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->config.tracker.vlan_key, session::VlanKey::kBoth);
  EXPECT_EQ(p->config.tracker.other_timeout_us, 60'000'000u);
  EXPECT_EQ(p->config.clock_jump_us, 10'000'000u);
  for (auto [name, key] :
       {std::pair{"none", session::VlanKey::kNone}, std::pair{"outer", session::VlanKey::kOuter},
        std::pair{"both", session::VlanKey::kBoth}}) {
    p = ParseOptions(V{"--output", "o", "--vlan-key", name});
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->config.tracker.vlan_key, key) << name;
  }
  p = ParseOptions(V{"--output", "o", "--other-timeout=7.5", "--clock-jump", "2"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->config.tracker.other_timeout_us, 7'500'000u);
  EXPECT_EQ(p->config.clock_jump_us, 2'000'000u);
}

TEST(SensorOptions, RecordRingSizeIsAPowerOfTwoInRange) {
  auto p = ParseOptions(V{"--output", "o"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->config.record_ring_size, 4096u);
  p = ParseOptions(V{"--output", "o", "--record-ring-size", "64"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->config.record_ring_size, 64u);
  for (const char* bad : {"32", "100", "2097152", "many"}) {
    p = ParseOptions(V{"--output", "o", "--record-ring-size", bad});
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.status().message().find("--record-ring-size"), absl::string_view::npos);
  }
}

// --- Live analytics (issue 7). ---

TEST(SensorOptions, AnalyticsDefaults) {
  auto p = ParseOptions(V{"--output", "o.ftr"});
  ASSERT_TRUE(p.ok()) << p.status();
  const dataplane::AnalyticsConfig& a = p->config.analytics;
  EXPECT_EQ(p->config.tracker.attempt_timeout_us, 3'000'000u);
  EXPECT_EQ(a.memory_bytes, 256ull << 20);
  EXPECT_EQ(a.scan.horizon_us, 1800ull * 1'000'000);
  EXPECT_EQ(a.scan.trw.theta0, 0.8);
  EXPECT_EQ(a.ports.window_us, 3600ull * 1'000'000);
  EXPECT_EQ(a.telemetry_top, 10u);
}

TEST(SensorOptions, AnalyticsValuesParsed) {
  auto p = ParseOptions(V{"--output", "o.ftr", "--attempt-timeout", "1.5", "--analytics-memory",
                          "64M", "--scan-horizon=600", "--trw", "0.9,0.1,0.001,0.999",
                          "--trw-alpha", "0.02", "--trw-active-failure", "failure", "--window",
                          "60", "--server-ports", "22,80", "--telemetry-top", "5"});
  ASSERT_TRUE(p.ok()) << p.status();
  const dataplane::AnalyticsConfig& a = p->config.analytics;
  EXPECT_EQ(p->config.tracker.attempt_timeout_us, 1'500'000u);
  EXPECT_EQ(a.memory_bytes, 64ull << 20);
  EXPECT_EQ(a.scan.horizon_us, 600'000'000u);
  EXPECT_EQ(a.scan.trw.theta0, 0.9);
  EXPECT_EQ(a.scan.trw.theta1, 0.1);
  EXPECT_EQ(a.scan.trw.alpha, 0.02);  // the later option wins
  EXPECT_EQ(a.scan.trw.beta, 0.999);
  EXPECT_TRUE(a.scan.trw.active_failure_counts);
  EXPECT_EQ(a.ports.window_us, 60'000'000u);
  EXPECT_TRUE(a.ports.server_ports.test(22));
  EXPECT_FALSE(a.ports.server_ports.test(23));
  EXPECT_EQ(a.telemetry_top, 5u);
  auto off = ParseOptions(V{"--output", "o.ftr", "--attempt-timeout", "0"});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->config.tracker.attempt_timeout_us, 0u);
}

TEST(SensorOptions, BadAnalyticsValuesAreRefusedNamingTheOption) {
  for (const V& args : {V{"--trw-theta0", "1"}, V{"--trw", "0.8,0.2,0.01"},
                        V{"--trw-theta0", "0.1"},  // below theta1
                        V{"--trw-beta", "0.005"},  // below alpha
                        V{"--analytics-memory", "12X"}, V{"--window", "0"},
                        V{"--server-ports", "70000"}, V{"--telemetry-top", "21"},
                        V{"--trw-active-failure", "maybe"}, V{"--attempt-timeout", "-1"}}) {
    V full{"--output", "o.ftr"};
    full.insert(full.end(), args.begin(), args.end());
    auto p = ParseOptions(full);
    ASSERT_FALSE(p.ok()) << args[0];
    const std::string_view name = args[0].substr(0, 10);
    EXPECT_NE(p.status().message().find(std::string(name)), absl::string_view::npos) << p.status();
  }
}

}  // namespace
}  // namespace flowtrail::app
