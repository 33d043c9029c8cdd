// Live counters over the DPDK telemetry socket (dpdk-telemetry.py -f PREFIX):
//   /flowtrail/stats    totals: rx, drops, bad packets, sessions, records
//   /flowtrail/workers  the same per worker
// The main lcore publishes a snapshot a few times a second; the telemetry
// control thread reads the last one under a mutex that no lcore's fast path
// ever takes.
#pragma once

#include "dataplane/stats_report.h"

namespace flowtrail::dataplane {

void RegisterTelemetry();
void PublishTelemetry(const Snapshot& snap);

}  // namespace flowtrail::dataplane
