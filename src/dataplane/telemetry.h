// Live counters over the DPDK telemetry socket (dpdk-telemetry.py -f PREFIX):
//   /flowtrail/stats       sensor totals: every port and worker counter summed,
//                          the exporter's and analytics' counters, the export lag
//   /flowtrail/workers     every worker counter, per worker (worker0, ...)
//   /flowtrail/dispatcher  the dispatcher's counters (empty without one)
//   /flowtrail/port_stats  every port counter and per-queue rx, per port
//   /flowtrail/inputs      the capture files' counters, per file
//   /flowtrail/collectors  every collector link counter, per link
//   /flowtrail/analytics   the analytics' table sizes and evictions
// (all from the counter table, counter_table.h), and
//   /flowtrail/scans    live TRW verdicts (top clients by failed first
//                       contacts, "kind":"live") and the scan table's top
//                       rows by Count ("kind":"row", with the live verdict)
//   /flowtrail/ports    flagged client ports, latest windows first
//   /flowtrail/servers  active servers, most accepts first
// The main lcore publishes a snapshot a few times a second, the analytics
// lcore its top rows once a second; the telemetry control thread reads the
// last ones under a mutex that no lcore's fast path ever takes.
#pragma once

#include <string>

#include "dataplane/analytics_top.h"
#include "dataplane/stats_report.h"

namespace flowtrail::dataplane {

void RegisterTelemetry();
void PublishTelemetry(const Snapshot& snap);
void PublishAnalytics(AnalyticsTop top);

// The Prometheus exposition of the last published snapshot and analytics
// tables (the metrics server's control thread calls it; no lcore state is
// read).
std::string PublishedPrometheusText();

}  // namespace flowtrail::dataplane
