#include "dataplane/telemetry.h"

#include <rte_telemetry.h>

#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ip_address.h"

namespace flowtrail::dataplane {
namespace {

std::mutex g_mu;
Snapshot g_snapshot;  // guarded by g_mu
std::mutex g_analytics_mu;
AnalyticsTop g_analytics;  // guarded by g_analytics_mu

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

void AddString(rte_tel_data* d, const char* name, const std::string& v) {
  rte_tel_data_add_dict_string(d, name, v.c_str());
}

// One row as a dict container under `key` (containers nest one level only;
// names may hold only letters, digits, '_' and '/': rows are keyed by rank,
// e.g. live0, row3, and carry their address as a field).
template <typename Fill>
int AddRow(rte_tel_data* d, const std::string& key, Fill&& fill) {
  rte_tel_data* c = rte_tel_data_alloc();
  if (c == nullptr) {
    return -1;
  }
  rte_tel_data_start_dict(c);
  fill(c);
  rte_tel_data_add_dict_container(d, key.c_str(), c, /*keep=*/0);
  return 0;
}

int ScansCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_analytics_mu);
  const AnalyticsTop& t = g_analytics;
  rte_tel_data_start_dict(d);
  AddU64(d, "live_events", t.live_stats.events);
  AddU64(d, "live_clients", t.live_stats.clients);
  AddU64(d, "live_scanners", t.live_stats.scanners);
  AddU64(d, "scan_rows", t.scan_stats.rows);
  for (size_t i = 0; i < t.live.size(); ++i) {
    const analytics::LiveClient& c = t.live[i];
    const int rc = AddRow(d, absl::StrCat("live", i), [&](rte_tel_data* r) {
      AddString(r, "kind", "live");
      AddString(r, "client", FormatIp(c.client, c.ip_version));
      AddString(r, "verdict", analytics::VerdictName(c.verdict));
      AddU64(r, "steps", c.steps);
      AddU64(r, "decided_after", c.decided_after);
      AddU64(r, "successes", c.successes);
      AddU64(r, "rejects", c.rejects);
      AddU64(r, "silents", c.silents);
      AddU64(r, "failures", c.Failures());
      AddU64(r, "first_us", c.first_us);
      AddU64(r, "decided_us", c.decided_us);
      AddU64(r, "last_us", c.last_us);
      AddString(r, "log_ratio", absl::StrFormat("%.3f", c.log_ratio));
    });
    if (rc != 0) return rc;
  }
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const AnalyticsTop::Row& row = t.rows[i];
    const analytics::ScanRow& r = row.row;
    const std::string client = FormatIp(r.client, r.ip_version);
    const int rc = AddRow(d, absl::StrCat("row", i), [&](rte_tel_data* c) {
      AddString(c, "kind", "row");
      AddString(c, "client", client);
      AddU64(c, "port", r.port);
      AddU64(c, "count", r.Count(false));
      AddU64(c, "reject_sessions", r.sessions[static_cast<int>(analytics::Outcome::kReject)]);
      AddU64(c, "silent_sessions", r.sessions[static_cast<int>(analytics::Outcome::kSilent)]);
      AddU64(c, "success_sessions", r.sessions[static_cast<int>(analytics::Outcome::kSuccess)]);
      AddU64(c, "disjoint", r.disjoint);
      AddU64(c, "blind_servers", r.blind_servers);
      AddString(c, "verdict", analytics::VerdictName(r.verdict));
      AddString(c, "live_verdict", analytics::VerdictName(row.live_verdict));
      AddU64(c, "first_us", r.first_time_us);
      AddU64(c, "last_us", r.last_time_us);
    });
    if (rc != 0) return rc;
  }
  return 0;
}

int PortsCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_analytics_mu);
  const AnalyticsTop& t = g_analytics;
  rte_tel_data_start_dict(d);
  AddU64(d, "cells", t.port_cells);
  AddU64(d, "flows", t.port_stats.flows);
  AddU64(d, "evicted_cells", t.port_stats.evicted_cells);
  for (size_t i = 0; i < t.ports.size(); ++i) {
    const AnalyticsTop::Port& p = t.ports[i];
    const int rc = AddRow(d, absl::StrCat("port", i), [&](rte_tel_data* c) {
      AddU64(c, "window_start_us", p.window_start_us);
      AddU64(c, "server_port", p.server_port);
      AddU64(c, "client_port", p.row.client_port);
      AddU64(c, "client_ports", p.client_ports);
      AddU64(c, "flows", p.row.flows);
      AddU64(c, "distinct_clients", p.row.distinct_clients);
      AddU64(c, "distinct_servers", p.row.distinct_servers);
      AddString(c, "z", absl::StrFormat("%.3f", p.row.z));
      AddString(c, "modified_z", absl::StrFormat("%.3f", p.row.modified_z));
      AddU64(c, "goldfarb", p.row.goldfarb);
      AddU64(c, "mad", p.row.mad);
      AddU64(c, "fanout", p.row.fanout);
    });
    if (rc != 0) return rc;
  }
  return 0;
}

int ServersCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_analytics_mu);
  const AnalyticsTop& t = g_analytics;
  rte_tel_data_start_dict(d);
  AddU64(d, "servers", t.scan_stats.servers);
  for (size_t i = 0; i < t.servers.size(); ++i) {
    const analytics::ServerRow& s = t.servers[i];
    const std::string addr = FormatIp(s.address, s.ip_version);
    const int rc = AddRow(d, absl::StrCat("server", i), [&](rte_tel_data* c) {
      AddString(c, "address", addr);
      AddU64(c, "port", s.port);
      AddU64(c, "accepts", s.accepts);
      AddU64(c, "clients", s.clients);
      AddU64(c, "first_accept_us", s.first_accept_us);
      AddU64(c, "last_accept_us", s.last_accept_us);
    });
    if (rc != 0) return rc;
  }
  return 0;
}

}  // namespace

void RegisterTelemetry() {
  rte_telemetry_register_cmd("/flowtrail/scans", ScansCommand,
                             "Live TRW verdicts and the scan table's top rows");
  rte_telemetry_register_cmd("/flowtrail/ports", PortsCommand,
                             "Flagged client ports (client-port distribution)");
  rte_telemetry_register_cmd("/flowtrail/servers", ServersCommand,
                             "Active servers, most accepts first");
  rte_telemetry_register_cmd("/flowtrail/stats", StatsCommand,
                             "Sensor totals: rx, drops, bad packets, sessions, records");
  rte_telemetry_register_cmd("/flowtrail/workers", WorkersCommand,
                             "Per-worker packets, sessions and ring drops");
}

void PublishAnalytics(AnalyticsTop top) {
  std::lock_guard<std::mutex> lock(g_analytics_mu);
  std::swap(g_analytics, top);
}

void PublishTelemetry(const Snapshot& snap) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_snapshot = snap;
}

}  // namespace flowtrail::dataplane
