// What the analytics lcore publishes once a second for telemetry and the
// metrics endpoint: bounded top rows, copied, and its tables' statistics.
// DPDK-free (the counter table and its unit test read it).
#pragma once

#include <cstdint>
#include <vector>

#include "analytics/live_verdicts.h"
#include "analytics/port_distribution.h"
#include "analytics/scan_table.h"

namespace flowtrail::dataplane {

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

}  // namespace flowtrail::dataplane
