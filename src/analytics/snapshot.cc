#include "analytics/snapshot.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace flowtrail::analytics {

absl::Status SaveSnapshot(const ScanTable& scans, const PortDistribution& ports,
                          v1::AnalyticsSnapshot* out) {
  out->Clear();
  if (absl::Status s = scans.Save(out->mutable_scans()); !s.ok()) {
    return s;
  }
  ports.Save(out->mutable_ports());
  out->set_records(scans.Stats().records);
  return absl::OkStatus();
}

absl::Status SaveSnapshot(const Analytics& a, v1::AnalyticsSnapshot* out) {
  if (absl::Status s = SaveSnapshot(a.scans, a.ports, out); !s.ok()) {
    return s;
  }
  out->set_first_record_time_us(a.first_record_time_us);
  out->set_last_record_time_us(a.last_record_time_us);
  out->set_records(a.records);
  return absl::OkStatus();
}

absl::StatusOr<Analytics> LoadSnapshot(const v1::AnalyticsSnapshot& snapshot,
                                       SnapshotLimits limits) {
  if (!snapshot.has_scans() || !snapshot.has_ports()) {
    return absl::InvalidArgumentError("snapshot without a scan table or port distribution");
  }
  if (snapshot.first_record_time_us() > snapshot.last_record_time_us()) {
    return absl::InvalidArgumentError("snapshot: first record time after the last");
  }
  absl::StatusOr<ScanTable> scans = ScanTable::Load(snapshot.scans(), limits.max_scan_memory_bytes);
  if (!scans.ok()) {
    return scans.status();
  }
  absl::StatusOr<PortDistribution> ports =
      PortDistribution::Load(snapshot.ports(), limits.max_port_cells);
  if (!ports.ok()) {
    return ports.status();
  }
  return Analytics{*std::move(scans), *std::move(ports), snapshot.first_record_time_us(),
                   snapshot.last_record_time_us(), snapshot.records()};
}

absl::Status MergeSnapshot(Analytics& into, const Analytics& other) {
  if (absl::Status s = ScanTable::Mergeable(into.scans.options(), other.scans.options()); !s.ok()) {
    return s;
  }
  if (absl::Status s = into.ports.Merge(other.ports); !s.ok()) {
    return s;
  }
  into.scans.Merge(other.scans);
  if (other.records != 0) {
    into.first_record_time_us =
        into.records == 0 ? other.first_record_time_us
                          : std::min(into.first_record_time_us, other.first_record_time_us);
    into.last_record_time_us = std::max(into.last_record_time_us, other.last_record_time_us);
  }
  into.records += other.records;
  return absl::OkStatus();
}

}  // namespace flowtrail::analytics
