// The exporter lcore: round-robin bursts from every worker's record ring →
// StreamWriter (protobuf encoding into a flat buffer, one write per block) →
// flush every ~100 ms. Analytics snapshots arrive over their own ring and are
// written as snapshot frames between record blocks. Once every worker has
// finished, the analytics lcore has handed over its final snapshot and the
// rings are empty, it writes the trailer and closes the stream.
//
// It does file I/O on an lcore, acceptable while the sink is a local file;
// TCP collectors and spill (SPEC §6) should move the blocking writes to a
// non-EAL I/O thread fed by a ring of encoded blocks.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include <rte_ring.h>

#include "dataplane/clock.h"
#include "dataplane/control.h"
#include "dataplane/counters.h"
#include "export/stream_writer.h"

namespace flowtrail::dataplane {

struct ExporterSetup {
  std::vector<rte_ring*> rings;  // one per worker
  std::unique_ptr<exporter::StreamWriter> writer;
  // From the analytics lcore: v1::AnalyticsSnapshot* to write and delete;
  // null = no snapshot frames (the stream's header says so).
  rte_ring* snapshot_ring = nullptr;
  std::span<WorkerCounters> worker_counters;  // for the trailer's drop count
  ExporterCounters* counters = nullptr;
  Control* control = nullptr;
};

class Exporter {
 public:
  explicit Exporter(ExporterSetup setup);

  // One step; true if records moved. Closes the stream when the workers are
  // done and the rings are empty.
  bool Poll();
  bool Done() const { return done_; }

  static int LcoreMain(void* self);
  int Run();

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
