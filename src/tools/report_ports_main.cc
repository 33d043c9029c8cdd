// Temporary stand-alone entry point of `flowtrail report ports` for the e2e
// tests until the `flowtrail report` dispatcher (report_command.h) lands:
// then this file and its executable go, and the dispatcher calls
// RunReportPorts. Not installed.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "tools/report_ports.h"

int main(int argc, char** argv) {
  google::protobuf::SetLogHandler(nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  const std::vector<std::string> args(argv + 1, argv + argc);
  return flowtrail::tools::RunReportPorts(args, stdout, stderr);
}
