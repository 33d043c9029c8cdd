// Snapshots of real tables (analytics/snapshot.h, as the sensor and `flowtrail
// report snapshot` write them) for the tests of the readers' message cap.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analytics/snapshot.h"
#include "flowtrail/v1/session.pb.h"
#include "scan_records.h"

namespace flowtrail::exporter::test {

enum class SnapshotKind {
  // Scans and services at today's clock: many clients, rows, servers and
  // port cells.
  kRealistic,
  // The densest table we found: silent scans of 16 servers per client, all
  // at time 0 (times and failure spans then take no bytes): 14 bytes per
  // message.
  kDensest,
};

// A snapshot of a ScanTable and a PortDistribution fed `records` records.
inline v1::AnalyticsSnapshot RealSnapshot(SnapshotKind kind, int records) {
  using analytics::Outcome;
  using analytics::testing::ScanRecord;
  analytics::Analytics a{analytics::ScanTable(analytics::ScanOptions{}),
                         analytics::PortDistribution()};
  std::mt19937_64 rng(7);
  for (int i = 0; i < records; ++i) {
    record::SessionRecord r;
    if (kind == SnapshotKind::kDensest) {
      r = ScanRecord(1 + i / 16, static_cast<uint32_t>(rng()), 80, Outcome::kSilent, 0, 0);
      r.first_time_us = r.last_time_us = 0;
    } else {
      const uint32_t client = 1 + static_cast<uint32_t>(rng() % (records / 8 + 1));
      const Outcome o = rng() % 3 == 0 ? Outcome::kSuccess : Outcome::kSilent;
      r = ScanRecord(client, static_cast<uint32_t>(rng() % 50000), static_cast<uint16_t>(rng()), o,
                     static_cast<uint64_t>(i % 3600), 0);
      r.client_port = static_cast<uint16_t>(rng());
    }
    a.scans.Consume(r);
    a.ports.Add(r);
    a.first_record_time_us =
        i == 0 ? r.first_time_us : std::min(a.first_record_time_us, r.first_time_us);
    a.last_record_time_us = std::max(a.last_record_time_us, r.first_time_us);
    ++a.records;
  }
  v1::AnalyticsSnapshot s;
  EXPECT_TRUE(analytics::SaveSnapshot(a, &s).ok());
  return s;
}

}  // namespace flowtrail::exporter::test
