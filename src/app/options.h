// The sensor's application options (everything after EAL's `--`), parsed and
// validated into a SensorConfig. DPDK-free: unit-tested on its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/config.h"

namespace flowtrail::app {

struct ParsedOptions {
  bool help = false;  // --help: print Usage() and exit 0
  dataplane::SensorConfig config;
};

// What the options are checked against besides themselves.
struct Environment {
  // The EAL's arguments (before `--`): the capture files of
  // --vdev=net_pcap*,rx_pcap=FILE, which --output and --stats-json must not
  // name, and the EAL's memory (-m MB, --socket-mem MB,...).
  std::vector<std::string_view> eal_args;
  // Bytes of RAM the session tables may not exceed (with the EAL's memory);
  // 0 = the machine's physical memory (sysconf).
  uint64_t physical_memory_bytes = 0;
};

// `args` are the application arguments, without the program name and `--`.
// Errors name the option and what is accepted. Everything that would fail
// after the EAL has started for a reason the options decide (too few mbufs,
// a sensor id the stream cannot carry, session tables larger than memory, a
// file that is also the input) is refused here.
absl::StatusOr<ParsedOptions> ParseOptions(const std::vector<std::string_view>& args,
                                           const Environment& env = {});

// The --help text: every option with its default.
std::string Usage(std::string_view program);

}  // namespace flowtrail::app
