#include "dataplane/telemetry.h"

#include <rte_telemetry.h>

#include <mutex>
#include <string>

namespace flowtrail::dataplane {
namespace {

std::mutex g_mu;
Snapshot g_snapshot;  // guarded by g_mu

// rte_tel_data_add_dict_u64 becomes _uint in DPDK 23.03+: one place to change.
void AddU64(rte_tel_data* d, const char* name, uint64_t v) {
  rte_tel_data_add_dict_u64(d, name, v);
}

int StatsCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  const Snapshot& s = g_snapshot;
  rte_tel_data_start_dict(d);
  uint64_t imissed = 0, nombuf = 0, packets = 0, bad = 0, active = 0, created = 0, ended = 0,
           evicted = 0;
  for (const PortSnapshot& p : s.ports) {
    imissed += p.imissed;
    nombuf += p.nombuf;
  }
  for (const WorkerSnapshot& w : s.workers) {
    packets += w.packets;
    bad += w.bad_packets();
    active += w.sessions_active;
    created += w.sessions_created;
    ended += w.sessions_ended;
    evicted += w.sessions_evicted;
  }
  AddU64(d, "rx", s.PortRx());
  AddU64(d, "imissed", imissed);
  AddU64(d, "nombuf", nombuf);
  AddU64(d, "packets", packets);
  AddU64(d, "bad_packets", bad);
  AddU64(d, "sessions_active", active);
  AddU64(d, "sessions_created", created);
  AddU64(d, "sessions_ended", ended);
  AddU64(d, "sessions_evicted", evicted);
  AddU64(d, "ring_drops", s.RingDrops());
  AddU64(d, "records_written", s.records_written);
  AddU64(d, "bytes_written", s.bytes_written);
  AddU64(d, "analytics_records", s.analytics_records);
  AddU64(d, "workers", s.workers.size());
  return 0;
}

int WorkersCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  rte_tel_data_start_dict(d);
  for (size_t i = 0; i < g_snapshot.workers.size(); ++i) {
    const WorkerSnapshot& w = g_snapshot.workers[i];
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) {
      return -1;
    }
    rte_tel_data_start_dict(c);
    AddU64(c, "lcore", w.lcore);
    AddU64(c, "packets", w.packets);
    AddU64(c, "bad_packets", w.bad_packets());
    AddU64(c, "non_ip", w.OfClass(packet::ParseClass::kNonIp));
    AddU64(c, "snapped", w.snapped);
    AddU64(c, "sessions_active", w.sessions_active);
    AddU64(c, "sessions_created", w.sessions_created);
    AddU64(c, "sessions_ended", w.sessions_ended);
    AddU64(c, "sessions_evicted", w.sessions_evicted);
    AddU64(c, "records_out", w.records_out);
    const std::string name = "worker" + std::to_string(i);
    rte_tel_data_add_dict_container(d, name.c_str(), c, /*keep=*/0);
  }
  return 0;
}

}  // namespace

void RegisterTelemetry() {
  rte_telemetry_register_cmd("/flowtrail/stats", StatsCommand,
                             "Sensor totals: rx, drops, bad packets, sessions, records");
  rte_telemetry_register_cmd("/flowtrail/workers", WorkersCommand,
                             "Per-worker packets, sessions and ring drops");
}

void PublishTelemetry(const Snapshot& snap) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_snapshot = snap;
}

}  // namespace flowtrail::dataplane
