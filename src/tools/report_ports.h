// `flowtrail report ports`: the client-port distribution report (Goldfarb's
// method and the robust one, src/analytics/port_distribution.h) over record
// streams, and its follow-up query (--flows SERVER_PORT:CLIENT_PORT prints
// the records behind a pair in the formats of `flowtrail cat`).
// Separate from main() so the `flowtrail report` dispatcher and tests can run
// it in-process.
#pragma once

#include <cstdio>
#include <span>
#include <string>

namespace flowtrail::tools {

// `args` are the arguments after "report ports". The report (or the records
// of --flows) goes to `out`; errors to `err`. Exit codes of cat_command.h.
int RunReportPorts(std::span<const std::string> args, std::FILE* out, std::FILE* err);

extern const char kReportPortsHelp[];

}  // namespace flowtrail::tools
