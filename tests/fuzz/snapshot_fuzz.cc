// libFuzzer target: arbitrary bytes as an AnalyticsSnapshot into
// LoadSnapshot (analytics/snapshot.h), a snapshot being untrusted input from
// a file or a peer. Each input is tried as a whole message and merged over a
// small valid snapshot (so the fuzzer reaches the deep validation without
// discovering a valid message first). A loaded snapshot must report, save,
// load again and merge with itself without trouble.
#include <cstddef>
#include <cstdint>
#include <string>

#include "analytics/snapshot.h"
#include "google/protobuf/stubs/logging.h"

namespace {

using namespace flowtrail;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

record::SessionRecord Record(uint32_t client, uint32_t server, bool accepted, uint64_t t) {
  record::SessionRecord r;
  r.protocol = 6;
  r.ip_version = 4;
  r.client_ip = IpAddress::FromV4(client);
  r.server_ip = IpAddress::FromV4(server);
  r.client_port = 40000;
  r.server_port = 80;
  r.client_flags = 0x02;
  r.server_flags = accepted ? 0x12 : 0;
  r.first_time_us = t;
  r.last_time_us = t + 10;
  return r;
}

const std::string& Base() {
  static const std::string* base = [] {
    analytics::Analytics a{analytics::ScanTable(), analytics::PortDistribution()};
    for (uint32_t i = 0; i < 40; ++i) {
      const auto r = Record(1 + i % 3, 100 + i, i % 4 == 0, 1'000'000 * i);
      a.scans.Consume(r);
      a.ports.Add(r);
    }
    v1::AnalyticsSnapshot s;
    Check(analytics::SaveSnapshot(a, &s).ok());
    return new std::string(s.SerializeAsString());
  }();
  return *base;
}

void Try(const v1::AnalyticsSnapshot& snap) {
  analytics::SnapshotLimits limits;
  limits.max_scan_memory_bytes = 1 << 20;
  limits.max_port_cells = 4096;
  absl::StatusOr<analytics::Analytics> a = analytics::LoadSnapshot(snap, limits);
  if (!a.ok()) return;
  const auto rows = a->scans.Rows();
  (void)a->scans.Servers(true);
  (void)a->scans.Verdicts();
  (void)analytics::AnalyzePorts(a->ports, {});
  v1::AnalyticsSnapshot again;
  Check(analytics::SaveSnapshot(*a, &again).ok());
  absl::StatusOr<analytics::Analytics> b = analytics::LoadSnapshot(again, limits);
  Check(b.ok());
  Check(b->scans.Rows().size() == rows.size());
  Check(analytics::MergeSnapshot(*a, *b).ok());
  (void)a->scans.Rows();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  v1::AnalyticsSnapshot snap;
  if (snap.ParseFromArray(data, static_cast<int>(size))) Try(snap);
  v1::AnalyticsSnapshot over;
  Check(over.ParseFromString(Base()));
  if (over.MergeFromString(std::string(reinterpret_cast<const char*>(data), size))) Try(over);
  return 0;
}
