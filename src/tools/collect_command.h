// `flowtrail collect`: receives sensors' record streams over TCP (TLS with
// mutual certificates) and stores them as per-sensor segment files
// (src/collect/collector.h).
#pragma once

#include <cstdio>
#include <span>
#include <string>

namespace flowtrail::tools {

// `args` are the arguments after "collect". Runs until SIGTERM or SIGINT.
int RunCollect(std::span<const std::string> args, std::FILE* out, std::FILE* err);

extern const char kCollectHelp[];

}  // namespace flowtrail::tools
