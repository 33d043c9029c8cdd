// The sensor's application options (everything after EAL's `--`), parsed and
// validated into a SensorConfig. DPDK-free: unit-tested on its own.
#pragma once

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

// `args` are the application arguments, without the program name and `--`.
// Errors name the option and what is accepted.
absl::StatusOr<ParsedOptions> ParseOptions(const std::vector<std::string_view>& args);

// The --help text: every option with its default.
std::string Usage(std::string_view program);

}  // namespace flowtrail::app
