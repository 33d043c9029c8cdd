// `flowtrail report`: analytics over record streams, offline, with the same
// code the analytics lcore runs (src/analytics). Subcommands: scans (the
// unique-server scan table with TRW verdicts), servers (active servers).
// Separate from main() so tests can run it in-process.
#pragma once

#include <cstdio>
#include <span>
#include <string>

namespace flowtrail::tools {

// `args` are the arguments after "report" (the subcommand first).
int RunReport(std::span<const std::string> args, std::FILE* out, std::FILE* err);

extern const char kReportHelp[];

}  // namespace flowtrail::tools
