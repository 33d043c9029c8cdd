// Live counters over the DPDK telemetry socket (dpdk-telemetry.py -f PREFIX):
//   /flowtrail/stats    totals: rx, drops, bad packets, sessions, records
//   /flowtrail/workers  the same per worker
//   /flowtrail/scans    live TRW verdicts (top clients by failed first
//                       contacts, "kind":"live") and the scan table's top
//                       rows by Count ("kind":"row", with the live verdict)
//   /flowtrail/ports    flagged client ports, latest windows first
//   /flowtrail/servers  active servers, most accepts first
// The main lcore publishes a snapshot a few times a second, the analytics
// lcore its top rows once a second; the telemetry control thread reads the
// last ones under a mutex that no lcore's fast path ever takes.
#pragma once

#include <vector>

#include "analytics/live_verdicts.h"
#include "analytics/port_distribution.h"
#include "analytics/scan_table.h"
#include "dataplane/stats_report.h"

namespace flowtrail::dataplane {

// What the analytics lcore publishes: bounded top rows, copied.
struct AnalyticsTop {
  struct Row {
    analytics::ScanRow row;
    analytics::Verdict live_verdict = analytics::Verdict::kPending;
  };
  struct Port {
    uint64_t window_start_us = 0;
    uint16_t server_port = 0;
    uint32_t client_ports = 0;
    analytics::ClientPortRow row;
  };
  std::vector<analytics::LiveClient> live;
  std::vector<Row> rows;
  std::vector<analytics::ServerRow> servers;
  std::vector<Port> ports;
  analytics::LiveVerdictStats live_stats;
  analytics::ScanStats scan_stats;
  analytics::PortDistributionStats port_stats;
  uint64_t port_cells = 0;
};

void RegisterTelemetry();
void PublishTelemetry(const Snapshot& snap);
void PublishAnalytics(AnalyticsTop top);

}  // namespace flowtrail::dataplane
