// The sensor's application options (everything after EAL's `--`) and its
// configuration file (--config FILE, TOML), parsed and validated into a
// SensorConfig. One option table (options.cc) feeds the command line, the
// file, --help and --print-config. DPDK-free: unit-tested on its own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/config.h"

namespace flowtrail::app {

struct ParsedOptions {
  bool help = false;          // --help: print Usage() and exit 0
  bool print_config = false;  // --print-config: print PrintConfig() and exit 0
  dataplane::SensorConfig config;
  std::string config_file;  // --config FILE ("" = none)
  // [eal] args of the file: the EAL's arguments when the command line gives
  // none (a systemd unit then runs `flowtrail-sensor -- --config FILE`).
  std::vector<std::string> eal_args;
  // The application arguments as given, for a reload (SIGHUP) to re-apply
  // over the re-read file.
  std::vector<std::string> args;
  // Values kept as text where the parsed form cannot print itself (the
  // protected networks), by file key.
  std::map<std::string, std::string> text;
  // Warnings for stderr (deprecated key spellings).
  std::vector<std::string> warnings;
};

// What the options are checked against besides themselves.
struct Environment {
  // The EAL's arguments (before `--`): the capture files of
  // --vdev=net_pcap*,rx_pcap=FILE, which --output and --stats-json must not
  // name, and the EAL's memory (-m MB, --socket-mem MB,...). Empty: the
  // file's [eal] args are used.
  std::vector<std::string_view> eal_args;
  // Bytes of RAM the session tables may not exceed (with the EAL's memory);
  // 0 = the machine's physical memory (sysconf).
  uint64_t physical_memory_bytes = 0;
};

// `args` are the application arguments, without the program name and `--`.
// Errors name the option (or file key), the value and what is accepted.
// Everything that would fail after the EAL has started for a reason the
// options decide (too few mbufs, a sensor id the stream cannot carry,
// session tables larger than memory, a file that is also the input) is
// refused here; with --print-config the host's memory is not checked (the
// file may be meant for another machine).
absl::StatusOr<ParsedOptions> ParseOptions(const std::vector<std::string_view>& args,
                                           const Environment& env = {});

// The --help text, generated from the option table: every option with its
// file key and default.
std::string Usage(std::string_view program);

// The effective configuration as TOML, defaults filled in; ParseOptions of
// `--config` on this text gives the same text again.
std::string PrintConfig(const ParsedOptions& parsed);

// A reload (SIGHUP): the command line of `running` over its re-read file.
struct Reload {
  ParsedOptions parsed;              // the new options (live keys applied)
  std::vector<std::string> applied;  // live keys whose value changed
  std::vector<std::string> refused;  // "key: OLD -> NEW" of keys that need a restart
};
// Live keys (the protected networks, the analytics thresholds, the log
// level: LiveKeys()) are taken; any other changed key is listed in `refused`
// and keeps its running value.
absl::StatusOr<Reload> ReloadOptions(const ParsedOptions& running, const Environment& env = {});

// The file keys that can change while running.
std::vector<std::string> LiveKeys();

}  // namespace flowtrail::app
