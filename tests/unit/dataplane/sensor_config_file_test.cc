// The configuration file (--config, TOML) and --print-config: the same option
// table as the command line, every refusal naming the key, the value and what
// is allowed, and the print -> read -> print round trip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_split.h"
#include "app/options.h"

namespace flowtrail::app {
namespace {

using V = std::vector<std::string_view>;

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path =
      (std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid()) + ".toml"))
          .string();
  std::ofstream(path) << text;
  return path;
}

absl::StatusOr<ParsedOptions> ParseFile(const std::string& text, V extra = {}) {
  const std::string path = WriteFile("cfg", text);
  V args{"--config", path};
  args.insert(args.end(), extra.begin(), extra.end());
  return ParseOptions(args);
}

TEST(ConfigFile, SetsTheSameFieldsAsTheCommandLine) {
  auto p = ParseFile(R"(
[output]
file = "out.ftr"
sensor_id = "s1"
status_interval = 0
[lcores]
workers = 3
[tracker]
table_size = 4096
udp_timeout = 7.5
tcp_linger = 0
protected_nets = ["10.0.0.0/8", "2001:db8::/32"]
full_analysis = "inbound"
[analytics]
memory = "64M"
trw_theta0 = 0.9
server_ports = "22,80"
snapshots = false
[collectors]
addresses = ["127.0.0.1:9000", "[::1]:9001"]
spill_budget = 1048576
[metrics]
listen = "127.0.0.1:9100"
[eal]
args = ["-l", "0-3", "--no-huge"]
)");
  ASSERT_TRUE(p.ok()) << p.status();
  const dataplane::SensorConfig& c = p->config;
  EXPECT_EQ(c.output, "out.ftr");
  EXPECT_EQ(c.sensor_id, "s1");
  EXPECT_EQ(c.status_interval_s, 0);
  EXPECT_EQ(c.workers, 3u);
  EXPECT_EQ(c.tracker.capacity, 4096u);
  EXPECT_EQ(c.tracker.udp_timeout_us, 7'500'000u);
  EXPECT_EQ(c.tracker.tcp_linger_us, 0u);
  EXPECT_FALSE(c.tracker.protected_networks.empty());
  EXPECT_EQ(c.tracker.full_analysis, session::FullAnalysisPolicy::kInboundOnly);
  EXPECT_EQ(c.analytics.memory_bytes, 64u << 20);
  EXPECT_EQ(c.analytics.scan.trw.theta0, 0.9);
  EXPECT_TRUE(c.analytics.ports.server_ports.test(22));
  EXPECT_FALSE(c.analytics.ports.server_ports.test(23));
  EXPECT_FALSE(c.analytics.snapshots);
  EXPECT_EQ(c.collectors.addresses.size(), 2u);
  EXPECT_EQ(c.collectors.spill_budget, 1u << 20);
  EXPECT_EQ(c.metrics_listen, "127.0.0.1:9100");
  EXPECT_EQ(p->eal_args, (std::vector<std::string>{"-l", "0-3", "--no-huge"}));
}

TEST(ConfigFile, TheCommandLineOverridesTheFile) {
  auto p = ParseFile(
      "[output]\nfile = \"a.ftr\"\n[lcores]\nworkers = 3\n"
      "[collectors]\naddresses = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n",
      V{"--workers", "2", "--output", "b.ftr", "--collector", "127.0.0.1:3"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->config.workers, 2u);
  EXPECT_EQ(p->config.output, "b.ftr");
  // A list on the command line replaces the file's.
  EXPECT_EQ(p->config.collectors.addresses, (std::vector<std::string>{"127.0.0.1:3"}));
  // --config may come after the options it is overridden by.
  const std::string path = WriteFile("cfg_late", "[lcores]\nworkers = 3\n");
  p = ParseOptions(V{"--output", "o", "--workers", "2", "--config", path});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->config.workers, 2u);
}

struct FileCase {
  std::string name;  // the kind of error
  std::string text;
  std::vector<std::string> mentions;
};

class ConfigFileRejects : public ::testing::TestWithParam<FileCase> {};

TEST_P(ConfigFileRejects, NamingTheKeyTheValueAndWhatIsAllowed) {
  auto p = ParseFile("[output]\nfile = \"o\"\n" + GetParam().text);
  ASSERT_FALSE(p.ok()) << GetParam().name;
  for (const std::string& m : GetParam().mentions) {
    EXPECT_NE(p.status().message().find(m), absl::string_view::npos)
        << GetParam().name << ": " << p.status();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, ConfigFileRejects,
    ::testing::Values(
        // An unknown key, with the nearest known one.
        FileCase{"bad_key",
                 "[tracker]\nudp_timout = 3\n",
                 {"tracker.udp_timout", "unknown key", "did you mean tracker.udp_timeout?", ":4:"}},
        // An unknown section: the suggestion finds the key in its section.
        FileCase{"bad_section",
                 "[tracer]\nudp_timeout = 3\n",
                 {"tracer.udp_timeout", "did you mean tracker.udp_timeout?"}},
        FileCase{"key_in_wrong_section",
                 "[tracker]\nworkers = 3\n",
                 {"tracker.workers", "did you mean lcores.workers?"}},
        // A value the option refuses.
        FileCase{"bad_value",
                 "[tracker]\nfull_analysis = \"some\"\n",
                 {"tracker.full_analysis", "'some'", "expected all, inbound or none"}},
        FileCase{"bad_cidr",
                 "[tracker]\nprotected_nets = [\"10.0.0.0/33\"]\n",
                 {"tracker.protected_nets", "10.0.0.0/33"}},
        // Out of range.
        FileCase{"out_of_range",
                 "[lcores]\nworkers = 65\n",
                 {"lcores.workers", "'65'", "expected an integer in [1, 64]"}},
        FileCase{"negative_timeout",
                 "[tracker]\nicmp_timeout = -3\n",
                 {"tracker.icmp_timeout", "'-3'", "expected seconds"}},
        FileCase{"probability",
                 "[analytics]\ntrw_alpha = 1.5\n",
                 {"analytics.trw_alpha", "'1.5'", "strictly between 0 and 1"}},
        // Floats too long for fixed notation are quoted with an exponent
        // (the message quoted 64 bytes never written).
        FileCase{"huge_float",
                 "[analytics]\ntrw_alpha = 1e300\n",
                 {"analytics.trw_alpha", "'1e+300'", "strictly between 0 and 1"}},
        FileCase{"tiny_timeout",
                 "[tracker]\nicmp_timeout = 1e-70\n",
                 {"tracker.icmp_timeout", "'1e-70'"}},
        // The wrong TOML type.
        FileCase{"type_mismatch_string",
                 "[tracker]\ntable_size = \"big\"\n",
                 {"tracker.table_size", "expected an integer, got a string", "big"}},
        FileCase{"type_mismatch_float",
                 "[lcores]\nworkers = 2.5\n",
                 {"lcores.workers", "expected an integer, got a float", "2.5"}},
        FileCase{"type_mismatch_bool",
                 "[collectors]\ninsecure = \"yes\"\n",
                 {"collectors.insecure", "expected a boolean (true or false), got a string"}},
        FileCase{"type_mismatch_array",
                 "[collectors]\naddresses = \"127.0.0.1:9\"\n",
                 {"collectors.addresses", "expected an array of strings"}},
        // Combinations the options refuse together.
        FileCase{
            "conflict_output_dir", "dir = \"/tmp\"\n", {"--output and --output-dir are exclusive"}},
        FileCase{"conflict_tls",
                 "[collectors]\naddresses = [\"127.0.0.1:9\"]\nca = \"ca.pem\"\n",
                 {"go together (mutual TLS)"}},
        FileCase{"conflict_trw",
                 "[analytics]\ntrw_theta0 = 0.1\ntrw_theta1 = 0.2\n",
                 {"--trw-theta0 must exceed --trw-theta1"}},
        // Not TOML at all.
        FileCase{"syntax", "[tracker\n", {"--config", ":3:"}}),
    [](const ::testing::TestParamInfo<FileCase>& i) { return i.param.name; });

TEST(ConfigFile, MissingFileIsRefused) {
  auto p = ParseOptions(V{"--config", "/nonexistent/flowtrail.toml"});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("/nonexistent/flowtrail.toml"), absl::string_view::npos);
}

TEST(ConfigFile, UnknownCommandLineOptionsGetASuggestionToo) {
  auto p = ParseOptions(V{"--output", "o", "--udp-timout", "3"});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("did you mean --udp-timeout?"), absl::string_view::npos)
      << p.status();
}

TEST(ConfigFile, ADeprecatedKeyIsTakenWithAWarning) {
  auto p = ParseFile("[output]\nfile = \"o\"\n[tracker]\ntcp_established_timeout = 60\n");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->config.tracker.tcp_established_timeout_us, 60'000'000u);
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_NE(p->warnings[0].find("tracker.tcp_idle_timeout"), std::string::npos);
}

TEST(PrintConfig, ReadsBackToTheSameText) {
  for (V args : {V{"--output", "o.ftr"}, V{"--output-dir",
                                           "/tmp",
                                           "--rotate-bytes",
                                           "64M",
                                           "--rotate-seconds",
                                           "300",
                                           "--compress",
                                           "zstd",
                                           "--sensor-id",
                                           "s \"quoted\" \\ id",
                                           "--workers",
                                           "3",
                                           "--capture",
                                           "--protected-nets",
                                           "10.0.0.0/8, 192.168.0.0/16",
                                           "--udp-timeout",
                                           "0.000001",
                                           "--tcp-idle-timeout",
                                           "7.5",
                                           "--mbufs",
                                           "8192",
                                           "--trw",
                                           "0.7,0.3,0.05,0.95",
                                           "--server-ports",
                                           "22,80,8000-8999",
                                           "--collector",
                                           "127.0.0.1:9000",
                                           "--spill-dir",
                                           "/var/spill",
                                           "--spill-budget",
                                           "1000",
                                           "--metrics",
                                           "127.0.0.1:9100",
                                           "--no-snapshots",
                                           "--status-interval",
                                           "0.25",
                                           "--no-capture"}}) {
    auto first = ParseOptions(args);
    ASSERT_TRUE(first.ok()) << first.status();
    const std::string text = PrintConfig(*first);
    auto second = ParseFile(text);
    ASSERT_TRUE(second.ok()) << second.status() << "\n" << text;
    EXPECT_EQ(PrintConfig(*second), text);
  }
}

TEST(PrintConfig, FillsInDefaults) {
  auto p = ParseOptions(V{"--output", "o.ftr", "--print-config"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->print_config);
  const std::string text = PrintConfig(*p);
  for (const char* line :
       {"[tracker]\n", "table_size = 1048576\n", "udp_timeout = 60\n", "tcp_linger = 2\n",
        "workers = 1\n", "record_ring_size = 4096\n", "memory = \"256M\"\n", "trw_theta0 = 0.8\n",
        "server_ports = \"0-1023\"\n", "spill_budget = \"1G\"\n", "queue = \"64M\"\n",
        "# capture unset: automatic\n", "# listen unset: off\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(PrintConfig, DoesNotCheckThisHostsMemory) {
  Environment small{.physical_memory_bytes = uint64_t{1} << 30};
  EXPECT_FALSE(ParseOptions(V{"--output", "o", "--table-size", "67108864"}, small).ok());
  EXPECT_TRUE(
      ParseOptions(V{"--output", "o", "--table-size", "67108864", "--print-config"}, small).ok());
}

TEST(Usage, IsGeneratedFromTheTable) {
  const std::string u = Usage("flowtrail-sensor");
  for (const char* s : {"--udp-timeout S", "[tracker.udp_timeout]", "(default 60)",
                        "[tracker.protected_nets] (live)", "--config FILE", "--print-config",
                        "--metrics ADDR:PORT", "(file only) eal.args", "(default: the hostname)"}) {
    EXPECT_NE(u.find(s), std::string::npos) << s;
  }
  for (absl::string_view line : absl::StrSplit(u, '\n')) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

TEST(Reload, AppliesLiveKeysAndRefusesTheRest) {
  const std::string path =
      WriteFile("reload", "[output]\nfile = \"o\"\n[tracker]\nprotected_nets = [\"10.0.0.0/8\"]\n");
  auto running = ParseOptions(V{"--config", path});
  ASSERT_TRUE(running.ok()) << running.status();
  // Unchanged.
  auto r = ReloadOptions(*running);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->applied.empty());
  EXPECT_TRUE(r->refused.empty());
  // A live key and one that needs a restart.
  std::ofstream(path) << "[output]\nfile = \"o\"\n[tracker]\nprotected_nets = "
                         "[\"192.168.0.0/16\"]\ntable_size = 4096\n";
  r = ReloadOptions(*running);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->applied, (std::vector<std::string>{"tracker.protected_nets"}));
  ASSERT_EQ(r->refused.size(), 1u);
  EXPECT_EQ(r->refused[0], "tracker.table_size: 1048576 -> 4096");
  // The refused key keeps its running value, the live one changed.
  EXPECT_EQ(r->parsed.config.tracker.capacity, 1u << 20);
  EXPECT_NE(PrintConfig(r->parsed).find("protected_nets = [\"192.168.0.0/16\"]"),
            std::string::npos);
  // An invalid file is refused as a whole.
  std::ofstream(path) << "[output]\nfile = \"o\"\n[tracker]\nprotected_nets = [\"banana\"]\n";
  r = ReloadOptions(*running);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(LiveKeys(), (std::vector<std::string>{
                            "output.log_level", "tracker.protected_nets", "analytics.trw_theta0",
                            "analytics.trw_theta1", "analytics.trw_alpha", "analytics.trw_beta",
                            "analytics.trw_active_failure", "analytics.min_client_ports",
                            "analytics.sigma", "analytics.robust_threshold"}));
}

// Every live key: a changed value is applied and becomes the running one
// (CopyLive copies each), while table shapes stay restart-only.
TEST(Reload, AppliesEveryLiveKey) {
  const std::string path = WriteFile("reload_live", "[output]\nfile = \"o\"\n");
  auto running = ParseOptions(V{"--config", path});
  ASSERT_TRUE(running.ok()) << running.status();
  std::ofstream(path) << "[output]\nfile = \"o\"\nlog_level = \"debug\"\n"
                         "[tracker]\nprotected_nets = [\"10.0.0.0/8\"]\n"
                         "[analytics]\ntrw_theta0 = 0.7\ntrw_theta1 = 0.3\ntrw_alpha = 0.05\n"
                         "trw_beta = 0.95\ntrw_active_failure = \"failure\"\n"
                         "min_client_ports = 9\nsigma = 2.5\nrobust_threshold = 4\n"
                         "window = 30\n";
  auto r = ReloadOptions(*running);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> applied = r->applied;
  std::sort(applied.begin(), applied.end());
  std::vector<std::string> live = LiveKeys();
  std::sort(live.begin(), live.end());
  EXPECT_EQ(applied, live);
  ASSERT_EQ(r->refused.size(), 1u);
  EXPECT_EQ(r->refused[0], "analytics.window: 3600 -> 30");
  const dataplane::SensorConfig& c = r->parsed.config;
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.analytics.scan.trw.theta0, 0.7);
  EXPECT_EQ(c.analytics.scan.trw.theta1, 0.3);
  EXPECT_EQ(c.analytics.scan.trw.alpha, 0.05);
  EXPECT_EQ(c.analytics.scan.trw.beta, 0.95);
  EXPECT_TRUE(c.analytics.scan.trw.active_failure_counts);
  EXPECT_EQ(c.analytics.port_analysis.min_client_ports, 9u);
  EXPECT_EQ(c.analytics.port_analysis.sigma, 2.5);
  EXPECT_EQ(c.analytics.port_analysis.robust_threshold, 4.0);
  EXPECT_EQ(c.analytics.ports.window_us, running->config.analytics.ports.window_us);
  // Reloading the same file again: nothing left to apply.
  auto again = ReloadOptions(r->parsed);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->applied.empty());
  EXPECT_EQ(again->refused.size(), 1u);
  // A threshold combination the start would refuse is refused on reload too.
  std::ofstream(path) << "[output]\nfile = \"o\"\n[analytics]\ntrw_theta0 = 0.2\n"
                         "trw_theta1 = 0.8\n";
  EXPECT_FALSE(ReloadOptions(*running).ok());
}

TEST(Options, LogLevelIsOneOfFive) {
  auto p = ParseOptions(V{"--output", "o", "--log-level", "warning"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->config.log_level, LogLevel::kWarning);
  EXPECT_EQ(ParseOptions(V{"--output", "o"})->config.log_level, LogLevel::kInfo);
  auto bad = ParseOptions(V{"--output", "o", "--log-level", "verbose"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("error, warning, notice, info or debug"), std::string::npos)
      << bad.status();
  EXPECT_FALSE(ParseOptions(V{"--output", "o", "--sigma", "-1"}).ok());
}

}  // namespace
}  // namespace flowtrail::app
