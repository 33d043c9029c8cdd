#include "dataplane/telemetry.h"

#include <rte_telemetry.h>

#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ip_address.h"
#include "dataplane/counter_table.h"

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

// Every entry of a family's table into dict `d`.
template <typename Table, typename S>
void AddTable(rte_tel_data* d, const Table& table, const S& v) {
  for (const auto& def : table) {
    AddU64(d, std::string(def.name).c_str(), v.*def.value);
  }
}

// Sensor totals: every port and worker counter summed, the class totals,
// the dispatcher's counters (dispatcher_*), the sensor-wide counters.
int StatsCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  const Snapshot& s = g_snapshot;
  rte_tel_data_start_dict(d);
  uint64_t v = 0;
  for (const auto& def : kPortCounters) {
    TotalByName(s, def.name, &v);
    AddU64(d, std::string(def.name).c_str(), v);
  }
  for (const auto& def : kWorkerCounters) {
    TotalByName(s, def.name, &v);
    AddU64(d, std::string(def.name).c_str(), v);
  }
  for (size_t c = 1; c < packet::kParseClassCount; ++c) {
    const auto cls = static_cast<packet::ParseClass>(c);
    AddU64(d, (ParseClassKey(cls) + "_total").c_str(), s.OfClass(cls));
  }
  for (const auto& def : kDispatcherCounters) {
    AddU64(d, absl::StrCat("dispatcher_", Str(def.name)).c_str(),
           s.dispatcher ? (*s.dispatcher).*def.value : 0);
  }
  for (const auto& def : kSensorCounters) {
    AddU64(d, std::string(def.name).c_str(), def.get(s));
  }
  AddU64(d, "workers", s.workers.size());
  return 0;
}

// One dict container per instance, keyed <key><i> (containers nest one level).
template <typename S, typename Fill>
int PerInstance(rte_tel_data* d, const char* key, const std::vector<S>& v, Fill&& fill) {
  for (size_t i = 0; i < v.size(); ++i) {
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) {
      return -1;
    }
    rte_tel_data_start_dict(c);
    fill(c, i, v[i]);
    rte_tel_data_add_dict_container(d, absl::StrCat(key, i).c_str(), c, /*keep=*/0);
  }
  return 0;
}

int WorkersCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  rte_tel_data_start_dict(d);
  return PerInstance(d, "worker", g_snapshot.workers,
                     [](rte_tel_data* c, size_t, const WorkerSnapshot& w) {
                       AddU64(c, "lcore", w.lcore);
                       AddTable(c, kWorkerCounters, w);
                       for (size_t k = 1; k < packet::kParseClassCount; ++k) {
                         const auto cls = static_cast<packet::ParseClass>(k);
                         AddU64(c, (ParseClassKey(cls) + "_total").c_str(), w.OfClass(cls));
                       }
                       // Each reason as <class key>_<reason>, e.g. bad_packets_truncated_ipv4.
                       for (size_t r = 1; r < packet::kParseResultCount; ++r) {
                         const auto result = static_cast<packet::ParseResult>(r);
                         AddU64(c,
                                absl::StrCat(ParseClassKey(packet::ParseResultClass(result)), "_",
                                             std::string(packet::ParseResultName(result)))
                                    .c_str(),
                                w.by_result[r]);
                       }
                     });
}

int DispatcherCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  rte_tel_data_start_dict(d);
  if (g_snapshot.dispatcher) {
    AddU64(d, "lcore", g_snapshot.dispatcher->lcore);
    AddTable(d, kDispatcherCounters, *g_snapshot.dispatcher);
  }
  return 0;
}

int PortStatsCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  rte_tel_data_start_dict(d);
  return PerInstance(d, "port", g_snapshot.ports,
                     [](rte_tel_data* c, size_t, const PortSnapshot& p) {
                       rte_tel_data_add_dict_string(c, "name", p.name.c_str());
                       AddU64(c, "port", p.id);
                       AddTable(c, kPortCounters, p);
                       for (size_t q = 0; q < p.queue_rx.size(); ++q) {
                         AddU64(c, absl::StrCat(Str(kQueueRxName), q).c_str(), p.queue_rx[q]);
                       }
                     });
}

int InputsCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  rte_tel_data_start_dict(d);
  return PerInstance(
      d, "input", g_snapshot.inputs, [](rte_tel_data* c, size_t, const InputSnapshot& in) {
        rte_tel_data_add_dict_string(c, "path", in.path.c_str());
        rte_tel_data_add_dict_string(c, "end", std::string(InputEndName(in.end)).c_str());
        AddTable(c, kInputCounters, in);
      });
}

int CollectorsCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  rte_tel_data_start_dict(d);
  return PerInstance(d, "collector", g_snapshot.collectors,
                     [](rte_tel_data* c, size_t, const CollectorSnapshot& l) {
                       rte_tel_data_add_dict_string(c, "collector", l.name.c_str());
                       AddTable(c, kCollectorCounters, l);
                     });
}

int AnalyticsCommand(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_analytics_mu);
  rte_tel_data_start_dict(d);
  for (const auto& def : kAnalyticsCounters) {
    AddU64(d, std::string(def.name).c_str(), def.get(g_analytics));
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
                             "Sensor totals: every counter summed over ports and workers");
  rte_telemetry_register_cmd("/flowtrail/workers", WorkersCommand,
                             "Every worker counter, per worker");
  rte_telemetry_register_cmd("/flowtrail/dispatcher", DispatcherCommand,
                             "The dispatcher's counters (empty without a dispatcher)");
  rte_telemetry_register_cmd("/flowtrail/port_stats", PortStatsCommand,
                             "Every port counter and per-queue rx, per port");
  rte_telemetry_register_cmd("/flowtrail/inputs", InputsCommand,
                             "The capture files' counters, per file");
  rte_telemetry_register_cmd("/flowtrail/collectors", CollectorsCommand,
                             "Every collector link counter, per link");
  rte_telemetry_register_cmd("/flowtrail/analytics", AnalyticsCommand,
                             "The analytics' table sizes and evictions");
}

void PublishAnalytics(AnalyticsTop top) {
  std::lock_guard<std::mutex> lock(g_analytics_mu);
  std::swap(g_analytics, top);
}

void PublishTelemetry(const Snapshot& snap) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_snapshot = snap;
}

std::string PublishedPrometheusText() {
  Snapshot snap;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    snap = g_snapshot;
  }
  std::lock_guard<std::mutex> lock(g_analytics_mu);
  return PrometheusText(snap, &g_analytics);
}

}  // namespace flowtrail::dataplane
