// The exporter lcore: round-robin bursts from every worker's record ring →
// StreamWriter (protobuf encoding into a flat buffer, one write per block) →
// flush every ~100 ms. Analytics snapshots arrive over their own ring and are
// written as snapshot frames between record blocks. Once every worker has
// finished, the analytics lcore has handed over its final snapshot and the
// rings are empty, it writes the trailer and closes the stream.
//
// It does no I/O on its lcore: the --output file or directory is written by
// the AsyncSegmentSink's thread (OpenRunOutput), which takes each encoded
// block without a copy. Collector links (--collector) do none here either: Write() copies each
// block into the link's lock-free ring and returns; the link's own thread (not an EAL lcore) does
// the network and spill I/O (export/collector_link.h). Only the final close
// waits, at most the drain timeout, for the collectors' acknowledgements.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include <rte_ring.h>

#include "dataplane/clock.h"
#include "dataplane/config.h"
#include "dataplane/control.h"
#include "dataplane/counters.h"
#include "dataplane/snapshot_handoff.h"
#include "dataplane/stats_report.h"
#include "export/collector_link.h"
#include "export/stream_writer.h"

namespace flowtrail::dataplane {

struct ExporterSetup {
  std::vector<rte_ring*> rings;  // one per worker
  std::unique_ptr<exporter::StreamWriter> writer;
  // From the analytics lcore: SnapshotHandoff* to write and delete;
  // null = no snapshot frames (the stream's header says so).
  rte_ring* snapshot_ring = nullptr;
  std::span<WorkerCounters> worker_counters;  // for the trailer's drop count
  ExporterCounters* counters = nullptr;
  Control* control = nullptr;
};

// A collector link's counters as the main lcore reads them.
struct CollectorLinkView {
  std::string name;  // HOST:PORT
  std::shared_ptr<const exporter::CollectorLinkCounters> counters;
};

// The stream's sink: `primary` (the --output file; null = none) alone, or
// with a link per --collector in a FanoutSink. Fails (before anything runs)
// on plaintext to a non-loopback collector without --insecure, unreadable
// certificates or a spill directory that cannot be made.
absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> WithCollectorLinks(
    std::unique_ptr<exporter::SegmentSink> primary, const CollectorConfig& config,
    std::vector<CollectorLinkView>* links);

// The links' counters for the status line, summary and --stats-json; the
// lag is records handed to the sink (`records_written`) minus acknowledged.
std::vector<CollectorSnapshot> LinkSnapshots(const std::vector<CollectorLinkView>& links,
                                             uint64_t records_written);

class Exporter {
 public:
  explicit Exporter(ExporterSetup setup);

  // One step; true if records moved. Closes the stream when the workers are
  // done and the rings are empty.
  bool Poll();
  bool Done() const { return done_; }

 private:
  void Report(const absl::Status& s, const char* what);
  size_t WriteSnapshots();

  ExporterSetup s_;
  LiveClock clock_;
  uint64_t flush_period_tsc_;
  uint64_t last_flush_tsc_;
  uint64_t write_errors_ = 0;  // 0 or 1: the stream stops at its first error
  uint64_t snapshots_too_large_ = 0;
  bool done_ = false;
};

}  // namespace flowtrail::dataplane
