// The analytics lcore: drains every worker's analytics ring (finished records)
// and contact ring (first-contact events, record/contact_event.h) and feeds
//   records  -> analytics::RecordCounts, ScanTable, PortDistribution (batched)
//   contacts -> analytics::LiveVerdicts (the early per-client TRW view)
// and, at a fixed wall-clock cadence, publishes their top rows for the
// telemetry commands (telemetry.h) under a mutex only the control path takes.
// Every snapshot interval of record time, and once at the end, it saves the
// scan table and port distribution as an AnalyticsSnapshot and hands it to
// the exporter over the snapshot ring (a control-path allocation per
// interval, never per record), which writes it as a stream frame.
// The tables belong to this lcore; other threads read them only after Done(),
// or inside the on_tables hook, which runs on this lcore (the seam for the
// stream's snapshot frames).
// Live thresholds (SIGHUP, live_settings.h): between polls the lcore takes
// new TRW parameters and client-port thresholds through its own reader slot.
// Decided live verdicts stay; pending walks keep their ratio and go on under
// the new parameters; the scan table walks its verdicts when asked, so the
// next telemetry rows and snapshot (whose options record the parameters in
// effect) use the new ones; the client-port thresholds apply at the next
// analysis (telemetry publish). Windows, horizon and table sizes stay
// restart-only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <rte_ring.h>

#include "analytics/live_verdicts.h"
#include "analytics/port_distribution.h"
#include "analytics/record_counts.h"
#include "analytics/scan_table.h"
#include "dataplane/config.h"
#include "dataplane/control.h"
#include "dataplane/counters.h"
#include "dataplane/snapshot_handoff.h"
#include "dataplane/telemetry.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::dataplane {

class AnalyticsLcore;
struct LiveValues;  // dataplane/live_settings.h

struct AnalyticsSetup {
  std::vector<rte_ring*> rings;          // records, one per worker
  std::vector<rte_ring*> contact_rings;  // first-contact events, one per worker (or none)
  AnalyticsConfig config;
  bool publish = true;  // top rows for telemetry
  // The tracker's attempt timeout: how long live verdicts hold events to
  // walk them in first-contact order.
  uint64_t attempt_timeout_us = 3'000'000;
  // Live mode: record times are the wall clock, which moves the live
  // verdicts' watermark when there are no worker counters.
  bool live_clock = false;
  // The workers' counters (their tracker clocks move the live verdicts'
  // per-worker marks, in both modes); empty = none.
  std::span<const WorkerCounters> worker_counters;
  // Called on the analytics lcore at every publish and once at the end, with
  // the tables quiescent: where snapshot frames hook in.
  std::function<void(const AnalyticsLcore&)> on_tables;
  // To the exporter: SnapshotHandoff* (the exporter deletes them); null =
  // no snapshot frames.
  rte_ring* snapshot_ring = nullptr;
  AnalyticsCounters* counters = nullptr;
  Control* control = nullptr;
  LiveSettings* live = nullptr;  // null: the thresholds stay as configured
  int live_reader = -1;
};

// How the memory budget is split: scan table 1/2, port distribution 1/4,
// live verdicts 1/4.
analytics::ScanOptions ScanOptionsFor(const AnalyticsConfig& c);
analytics::PortDistributionOptions PortOptionsFor(const AnalyticsConfig& c);
analytics::LiveVerdictOptions LiveOptionsFor(const AnalyticsConfig& c, uint64_t attempt_timeout_us,
                                             uint32_t workers);

class AnalyticsLcore {
 public:
  explicit AnalyticsLcore(AnalyticsSetup setup);

  bool Poll();
  bool Done() const { return done_; }
  // Read only after Done() or from on_tables (owned by the analytics lcore).
  const analytics::RecordCounts& counts() const { return counts_; }
  const analytics::ScanTable& scan_table() const { return scan_; }
  const analytics::PortDistribution& ports() const { return ports_; }
  const analytics::LiveVerdicts& live() const { return live_; }

  // The top rows (n of each) as telemetry shows them.
  AnalyticsTop Top(size_t n) const;
  // The summary object of --stats-json ("analytics"): record counts, then
  // scan_table, ports, live (keys, memory, evictions, verdict counts) and
  // live_scanners (the top scanners with their decision times).
  std::string SummaryJson() const;

 private:
  void Publish();
  // A reload's thresholds, if a newer set was published.
  void TakeLiveValues();
  void NoteRecordTimes(std::span<const record::SessionRecord> recs);
  // Saves the tables and offers the snapshot to the exporter; false when the
  // ring is full (`final` snapshots are kept and offered again).
  bool OfferSnapshot(bool final);

  AnalyticsSetup s_;
  std::vector<record::SessionRecord> batch_;
  std::vector<record::ContactEvent> contact_batch_;
  analytics::RecordCounts counts_;
  analytics::ScanTable scan_;
  analytics::PortDistribution ports_;
  analytics::LiveVerdicts live_;
  const LiveValues* live_values_ = nullptr;  // the reload's values in use
  analytics::PortAnalysisOptions port_analysis_;
  uint64_t contacts_ = 0;
  uint64_t polls_ = 0;
  uint64_t publish_period_tsc_ = 0;
  uint64_t next_publish_tsc_ = 0;
  uint64_t publishes_ = 0;
  uint64_t publish_max_us_ = 0;  // longest Top() + publish, wall clock
  // Record time covered (first_time of the records), for the snapshots.
  uint64_t first_record_us_ = UINT64_MAX;
  uint64_t last_record_us_ = 0;
  uint64_t next_snapshot_us_ = 0;  // 0: set from the first record
  std::unique_ptr<SnapshotHandoff> pending_final_;
  bool final_offered_ = false;
  bool done_ = false;
};

}  // namespace flowtrail::dataplane
