// `flowtrail`: the offline tool over record streams. Subcommands: cat, and
// report (analytics over streams).
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "tools/cat_command.h"
#include "tools/clickhouse_command.h"
#include "tools/collect_command.h"
#include "tools/report_command.h"

namespace {

constexpr char kHelp[] = R"(usage: flowtrail <command> [options] [FILE...]

Reads the session record streams flowtrail-sensor writes.

commands:
  cat      print records as the paper's classic line, JSON lines or CSV
  collect  receive sensors' streams over TLS and store them as segment files
  report   analytics: scans (unique-server scan table, TRW verdicts),
           servers (active servers), ports (client-port distributions),
           clusters (behaviour clusters, --plot), snapshot (a mergeable
           analytics snapshot)
  clickhouse-load  load streams into ClickHouse (deploy/clickhouse/)

Run 'flowtrail <command> --help' for the options of a command.
)";

}  // namespace

int main(int argc, char** argv) {
  using flowtrail::tools::kExitUsage;
  // Corrupt input is reported by the reader with its byte offset; protobuf's
  // own log lines (e.g. about invalid UTF-8) would only add noise.
  google::protobuf::SetLogHandler(nullptr);
  // A closed output pipe (`| head`) is a write error (EPIPE) that cat handles,
  // not a signal that kills it mid-line.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kHelp, stderr);
    return kExitUsage;
  }
  const std::string command = args[0];
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (command == "cat") {
    return flowtrail::tools::RunCat(std::span<const std::string>(args).subspan(1), stdout, stderr);
  }
  if (command == "collect") {
    return flowtrail::tools::RunCollect(std::span<const std::string>(args).subspan(1), stdout,
                                        stderr);
  }
  if (command == "report") {
    return flowtrail::tools::RunReport(std::span<const std::string>(args).subspan(1), stdout,
                                       stderr);
  }
  if (command == "clickhouse-load") {
    return flowtrail::tools::RunClickHouseLoad(std::span<const std::string>(args).subspan(1),
                                               stdout, stderr);
  }
  std::fprintf(stderr, "flowtrail: unknown command '%s'\nRun 'flowtrail --help' for usage.\n",
               command.c_str());
  return kExitUsage;
}
