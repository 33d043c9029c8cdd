// `flowtrail report clusters`: behaviour clusters (Heberlein §7,
// src/analytics/behaviour_clusters.h) of one (client, server port) or of the
// top N scanners of `report scans`, over record streams; `--plot DIR` draws
// the value histograms (the paper's Figures 1, 2, 4 and 5, tools/plot.h).
// Separate from main() so the `flowtrail report` dispatcher and tests can run
// it in-process.
#pragma once

#include <cstdio>
#include <span>
#include <string>

namespace flowtrail::tools {

// `args` are the arguments after "report clusters". Exit codes of
// cat_command.h (a picture that cannot be written: kExitBadStream).
int RunReportClusters(std::span<const std::string> args, std::FILE* out, std::FILE* err);

extern const char kReportClustersHelp[];

}  // namespace flowtrail::tools
