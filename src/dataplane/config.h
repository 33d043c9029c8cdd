// What the sensor was asked to do: the application options after EAL's `--`,
// validated (src/app/options.cc). Plain data, no DPDK, so option parsing and
// lcore planning are unit-tested without an EAL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analytics/live_verdicts.h"
#include "analytics/port_distribution.h"
#include "analytics/scan_table.h"
#include "common/log.h"
#include "dataplane/pcap_devargs.h"
#include "session/tracker.h"

namespace flowtrail::dataplane {

class LiveSettings;  // dataplane/live_settings.h

// The analytics lcore's tables (SPEC §5) and what it publishes.
struct AnalyticsConfig {
  // Split between the scan table, the port distribution and the live
  // verdicts (analytics_lcore.cc); 0 = each table's own key limits.
  uint64_t memory_bytes = 256ull << 20;
  analytics::ScanOptions scan;               // horizon, TRW (shared with live)
  analytics::PortDistributionOptions ports;  // window, server ports
  uint32_t telemetry_top = 10;               // rows per /flowtrail/{scans,ports,servers}
  double publish_interval_s = 1;             // wall clock between published top rows
  // The client-port methods' thresholds (C, S, the robust threshold) of the
  // flagged rows telemetry shows; live, as the TRW parameters.
  analytics::PortAnalysisOptions port_analysis;
  // Analytics snapshot frames in the record stream (AnalyticsSnapshot): one
  // whenever the latest record time passes another multiple of this interval,
  // and a final one at the end; 0 = only the final one.
  uint64_t snapshot_interval_us = 60'000'000;
  bool snapshots = true;  // --no-snapshots: records only (schema revision 1)
};

// Links to collectors (src/export/collector_link.h): every record block also
// goes to each, over TLS with mutual certificates (or plaintext to loopback
// or with --insecure), queued in memory and spilled to disk while one is away.
struct CollectorConfig {
  std::vector<std::string> addresses;         // --collector HOST:PORT, one link each
  std::string ca_file;                        // --collector-ca
  std::string cert_file;                      // --collector-cert
  std::string key_file;                       // --collector-key
  bool insecure = false;                      // --insecure: plaintext to a non-loopback peer
  std::string spill_dir;                      // --spill-dir ("" = no spill: overflow is dropped)
  uint64_t spill_budget = uint64_t{1} << 30;  // --spill-budget, per link
  uint64_t queue_bytes = uint64_t{64} << 20;  // --collector-queue, per link
};

struct SensorConfig {
  std::string output;     // record stream file, "-" = stdout; "" with collectors only
  std::string sensor_id;  // default: hostname
  // --output-dir: the run as segment files rotated by size and/or age
  // (export/rotating_file_sink.h); 0 = no limit.
  std::string output_dir;
  uint64_t rotate_bytes = 0;
  uint64_t rotate_seconds = 0;
  bool compress_zstd = false;  // --compress zstd: closed files become .ftr.zst
  uint32_t workers = 1;
  // Capture mode: lossless input, times from the capture, stop at its end.
  // Unset = automatic (on when every port is a net_pcap vdev reading files).
  std::optional<bool> capture;
  // Tracker settings shared by every worker (worker_id is set per worker).
  session::TrackerConfig tracker;
  double status_interval_s = 10;     // 0 = no periodic status line
  std::string stats_json;            // final counters as JSON ("" = none)
  std::string metrics_listen;        // --metrics ADDR:PORT, Prometheus text ("" = off)
  double duration_s = 0;             // stop after this long (0 = never), for benchmarks
  uint32_t mbufs = 0;                // mbuf pool size (0 = derived from rings and queues)
  uint32_t record_ring_size = 4096;  // per worker and consumer, a power of two
  // The sensor's messages and DPDK's global log level (live).
  LogLevel log_level = LogLevel::kInfo;
  // Capture mode's clock: a packet more than this far ahead of the clock moves
  // it only when the next packet confirms the jump (session/capture_clock.h).
  uint64_t clock_jump_us = 10'000'000;
  // Capture files flowtrail reads itself (taken from the EAL's --vdev
  // arguments before rte_eal_init; see file_input.h).
  std::vector<FileVdev> file_inputs;
  AnalyticsConfig analytics;
  CollectorConfig collectors;
  LiveSettings* live = nullptr;  // what SIGHUP changes (owned by main); null = fixed
};

}  // namespace flowtrail::dataplane
