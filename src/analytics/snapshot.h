// Analytics snapshots (AnalyticsSnapshot in proto/flowtrail/v1/session.proto):
// the state of a ScanTable and a PortDistribution in one message, written as
// a stream frame (StreamWriter::WriteSnapshot) by sensors and by `flowtrail
// report snapshot`, and merged by `flowtrail report --from snapshots`. Both
// structures are order-free and exactly mergeable while nothing is evicted,
// so merging snapshots of parts equals a snapshot of the whole.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "analytics/port_distribution.h"
#include "analytics/scan_table.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::analytics {

struct Analytics {
  ScanTable scans;
  PortDistribution ports;
  uint64_t first_record_time_us = 0;  // 0 with no records
  uint64_t last_record_time_us = 0;
  uint64_t records = 0;
};

// Limits on what a loaded snapshot may make this process allocate.
struct SnapshotLimits {
  uint64_t max_scan_memory_bytes = uint64_t{4} << 30;
  uint64_t max_port_cells = 16'000'000;
};

absl::Status SaveSnapshot(const ScanTable& scans, const PortDistribution& ports,
                          v1::AnalyticsSnapshot* out);
absl::Status SaveSnapshot(const Analytics& a, v1::AnalyticsSnapshot* out);
// Validates everything (see ScanTable::Load, PortDistribution::Load).
absl::StatusOr<Analytics> LoadSnapshot(const v1::AnalyticsSnapshot& snapshot,
                                       SnapshotLimits limits = {});
// Adds `other` into `into`; fails (into unchanged) unless their options match.
absl::Status MergeSnapshot(Analytics& into, const Analytics& other);

}  // namespace flowtrail::analytics
