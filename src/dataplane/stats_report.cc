#include "dataplane/stats_report.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dataplane/counter_table.h"
#include "packet/link_type.h"

namespace flowtrail::dataplane {
namespace {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string LinkTypesText(const std::vector<uint16_t>& types) {
  std::string out;
  for (uint16_t t : types) {
    const std::string_view name = packet::LinkTypeName(t);
    absl::StrAppend(&out, out.empty() ? "" : ",",
                    name.empty() ? absl::StrCat(t) : std::string(name));
  }
  return out.empty() ? "none" : out;
}

template <typename S>
uint64_t Sum(const std::vector<S>& v, uint64_t S::*field) {
  uint64_t n = 0;
  for (const S& x : v) {
    n += x.*field;
  }
  return n;
}

// name=value for every entry of a family's table.
template <typename Table, typename S>
void AppendPairs(std::string* out, const Table& table, const S& v) {
  for (const auto& d : table) {
    absl::StrAppend(out, out->empty() || out->back() == ' ' ? "" : " ", Str(d.name), "=",
                    v.*d.value);
  }
}

// ,"name":value for every entry of a family's table.
template <typename Table, typename S>
void AppendJson(std::string* out, const Table& table, const S& v) {
  for (const auto& d : table) {
    absl::StrAppend(out, ",\"", Str(d.name), "\":", v.*d.value);
  }
}

}  // namespace

std::string ParseClassKey(packet::ParseClass c) {
  return c == packet::ParseClass::kMalformed ? "bad_packets"
                                             : std::string(packet::ParseClassName(c));
}

bool TotalByName(const Snapshot& s, std::string_view name, uint64_t* out) {
  for (const auto& d : kPortCounters) {
    if (d.name == name) return *out = Sum(s.ports, d.value), true;
  }
  for (const auto& d : kWorkerCounters) {
    if (d.name == name) return *out = Sum(s.workers, d.value), true;
  }
  for (const auto& d : kSensorCounters) {
    if (d.name == name) return *out = d.get(s), true;
  }
  for (size_t c = 1; c < packet::kParseClassCount; ++c) {
    const auto cls = static_cast<packet::ParseClass>(c);
    if (ParseClassKey(cls) + "_total" == name) return *out = s.OfClass(cls), true;
  }
  return false;
}

void CopyCounters(const WorkerCounters& c, WorkerSnapshot* w) {
  for (const WorkerDef& d : kWorkerCounters) {
    w->*d.value = Get(c.*d.source);
  }
  for (size_t r = 0; r < packet::kParseResultCount; ++r) {
    w->by_result[r] = Get(c.by_result[r]);
  }
}

void CopyCounters(const DispatcherCounters& c, DispatcherSnapshot* d) {
  for (const DispatcherDef& def : kDispatcherCounters) {
    d->*def.value = Get(c.*def.source);
  }
}

uint64_t WorkerSnapshot::OfClass(packet::ParseClass c) const {
  uint64_t n = 0;
  for (size_t r = 1; r < packet::kParseResultCount; ++r) {
    if (packet::ParseResultClass(static_cast<packet::ParseResult>(r)) == c) {
      n += by_result[r];
    }
  }
  return n;
}

uint64_t Snapshot::OfClass(packet::ParseClass c) const {
  uint64_t n = 0;
  for (const WorkerSnapshot& w : workers) {
    n += w.OfClass(c);
  }
  return n;
}

// Records never wait out a full worker ring (they stay in the tracker's
// queue, whose overflow is tracker_records_dropped); only the dispatcher
// drops packets, in live mode.
uint64_t Snapshot::RingDrops() const { return dispatcher ? dispatcher->ring_drops : 0; }

uint64_t Snapshot::ExportLag() const {
  uint64_t out = 0;
  for (const WorkerSnapshot& w : workers) {
    out += w.records_out;
  }
  return out > records_written ? out - records_written : 0;
}

uint64_t Snapshot::PortRx() const {
  uint64_t n = 0;
  for (const PortSnapshot& p : ports) {
    n += p.rx;
  }
  return n;
}

std::string_view InputEndName(capture::ReadStatus end) {
  switch (end) {
    case capture::ReadStatus::kFrame:
      return "reading";
    case capture::ReadStatus::kEnd:
      return "end_of_file";
    case capture::ReadStatus::kTruncated:
      return "truncated";
    case capture::ReadStatus::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

std::string StatusLine(const Snapshot& now, const Snapshot& before) {
  const double dt = now.elapsed_s - before.elapsed_s;
  const uint64_t rx = now.PortRx();
  const double pps = dt > 0 ? static_cast<double>(rx - before.PortRx()) / dt : 0;
  std::string line = absl::StrFormat("flowtrail: %.1fs rx=%d (%.0f pps)", now.elapsed_s, rx, pps);
  for (const StatusItem& item : kStatusLine) {
    uint64_t v = 0;
    TotalByName(now, item.name, &v);
    absl::StrAppend(&line, " ", Str(item.word), "=", v);
  }
  for (const CollectorSnapshot& c : now.collectors) {
    absl::StrAppendFormat(&line, " collector %s %s lag=%d queued=%d spilled=%d dropped=%d", c.name,
                          c.connected ? "up" : "down", c.lag_records, c.queued_bytes,
                          c.spilled_bytes, c.records_dropped);
  }
  return line;
}

std::string SummaryText(const Snapshot& s) {
  std::string out =
      absl::StrFormat("flowtrail-sensor summary (%s, %s mode, %.3f s)\n  lcores: %s\n", s.end,
                      s.capture ? "capture" : "live", s.elapsed_s, s.lcore_plan);
  for (const PortSnapshot& p : s.ports) {
    std::string pairs;
    AppendPairs(&pairs, kPortCounters, p);
    std::string queues;
    for (uint64_t q : p.queue_rx) absl::StrAppend(&queues, queues.empty() ? "" : ",", q);
    absl::StrAppendFormat(&out, "  port %d %s (%s, %s, %d queues): %s %s=%s\n", p.id, p.name,
                          p.driver, p.mode, p.queue_rx.size(), pairs, kQueueRxName, queues);
  }
  for (const InputSnapshot& in : s.inputs) {
    absl::StrAppendFormat(&out, "  input %s (%s, link type %s): %s", in.path, in.format,
                          LinkTypesText(in.link_types), InputEndName(in.end));
    if (in.end == capture::ReadStatus::kTruncated || in.end == capture::ReadStatus::kCorrupt) {
      absl::StrAppendFormat(&out, " at byte %d: %s", in.end_offset, in.error);
    }
    std::string pairs;
    AppendPairs(&pairs, kInputCounters, in);
    absl::StrAppend(&out, "; ", pairs, "\n");
  }
  if (s.dispatcher) {
    std::string pairs;
    AppendPairs(&pairs, kDispatcherCounters, *s.dispatcher);
    absl::StrAppendFormat(&out, "  dispatcher (lcore %d%s): %s\n", s.dispatcher->lcore,
                          s.dispatcher->on_main ? ", on main" : "", pairs);
  }
  for (size_t i = 0; i < s.workers.size(); ++i) {
    const WorkerSnapshot& w = s.workers[i];
    std::string pairs;
    AppendPairs(&pairs, kWorkerCounters, w);
    for (size_t c = 1; c < packet::kParseClassCount; ++c) {
      const auto cls = static_cast<packet::ParseClass>(c);
      absl::StrAppend(&pairs, " ", ParseClassKey(cls), "_total=", w.OfClass(cls));
    }
    absl::StrAppendFormat(&out, "  worker %d (lcore %d): %s\n", i, w.lcore, pairs);
    for (size_t r = 1; r < packet::kParseResultCount; ++r) {
      if (w.by_result[r] == 0) {
        continue;
      }
      const auto result = static_cast<packet::ParseResult>(r);
      absl::StrAppendFormat(&out, "    %s %s: %d\n",
                            packet::ParseClassName(packet::ParseResultClass(result)),
                            packet::ParseResultName(result), w.by_result[r]);
    }
  }
  std::string totals;
  for (const auto& d : kSensorCounters) {
    absl::StrAppend(&totals, totals.empty() ? "" : " ", Str(d.name), "=", d.get(s));
  }
  absl::StrAppendFormat(&out, "  records written: %d (%d bytes) to %s; %s\n  analytics: %s\n",
                        s.records_written, s.bytes_written, s.output.empty() ? "no file" : s.output,
                        totals, s.analytics_json);
  for (const CollectorSnapshot& c : s.collectors) {
    std::string pairs;
    AppendPairs(&pairs, kCollectorCounters, c);
    absl::StrAppendFormat(&out, "  collector %s: %s, %s\n", c.name,
                          c.connected ? "connected" : "not connected", pairs);
  }
  return out;
}

std::string StatsJson(const Snapshot& s) {
  std::string j = absl::StrCat(
      "{\"sensor_id\":", JsonString(s.sensor_id), ",\"capture\":", s.capture ? "true" : "false",
      ",\"end\":", JsonString(s.end), ",\"elapsed_s\":", absl::StrFormat("%.6f", s.elapsed_s),
      ",\"first_packet_s\":", absl::StrFormat("%.6f", s.first_packet_s),
      ",\"lcores\":", JsonString(s.lcore_plan), ",\"inputs\":[");
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    const InputSnapshot& in = s.inputs[i];
    std::string types;
    for (uint16_t t : in.link_types) {
      absl::StrAppend(&types, types.empty() ? "" : ",", t);
    }
    absl::StrAppend(&j, i ? "," : "", "{\"path\":", JsonString(in.path),
                    ",\"format\":", JsonString(in.format), ",\"link_types\":[", types,
                    "],\"end\":", JsonString(InputEndName(in.end)),
                    ",\"error\":", JsonString(in.error));
    AppendJson(&j, kInputCounters, in);
    absl::StrAppend(&j, "}");
  }
  absl::StrAppend(&j, "],\"ports\":[");
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const PortSnapshot& p = s.ports[i];
    absl::StrAppend(&j, i ? "," : "", "{\"port\":", p.id, ",\"name\":", JsonString(p.name),
                    ",\"driver\":", JsonString(p.driver), ",\"mode\":", JsonString(p.mode));
    AppendJson(&j, kPortCounters, p);
    absl::StrAppend(&j, ",\"queues\":[");
    for (size_t q = 0; q < p.queue_rx.size(); ++q) {
      absl::StrAppend(&j, q ? "," : "", "{\"queue\":", q, ",\"rx\":", p.queue_rx[q], "}");
    }
    absl::StrAppend(&j, "]}");
  }
  absl::StrAppend(&j, "],\"workers\":[");
  for (size_t i = 0; i < s.workers.size(); ++i) {
    const WorkerSnapshot& w = s.workers[i];
    absl::StrAppend(&j, i ? "," : "", "{\"worker\":", i, ",\"lcore\":", w.lcore);
    AppendJson(&j, kWorkerCounters, w);
    // Per class: the total, and an object by result.
    for (size_t c = 1; c < packet::kParseClassCount; ++c) {
      const auto cls = static_cast<packet::ParseClass>(c);
      const std::string key = ParseClassKey(cls);
      absl::StrAppend(&j, ",\"", key, "_total\":", w.OfClass(cls), ",\"", key, "\":{");
      bool first = true;
      for (size_t r = 1; r < packet::kParseResultCount; ++r) {
        const auto result = static_cast<packet::ParseResult>(r);
        if (packet::ParseResultClass(result) != cls) {
          continue;
        }
        absl::StrAppend(&j, first ? "" : ",", JsonString(packet::ParseResultName(result)), ":",
                        w.by_result[r]);
        first = false;
      }
      absl::StrAppend(&j, "}");
    }
    absl::StrAppend(&j, "}");
  }
  absl::StrAppend(&j, "]");
  if (s.dispatcher) {
    const DispatcherSnapshot& d = *s.dispatcher;
    absl::StrAppend(&j, ",\"dispatcher\":{\"lcore\":", d.lcore,
                    ",\"on_main\":", d.on_main ? "true" : "false");
    AppendJson(&j, kDispatcherCounters, d);
    absl::StrAppend(&j, "}");
  }
  for (const auto& d : kSensorCounters) {
    absl::StrAppend(&j, ",\"", Str(d.name), "\":", d.get(s));
  }
  absl::StrAppend(&j, ",\"collectors\":[");
  for (size_t i = 0; i < s.collectors.size(); ++i) {
    const CollectorSnapshot& c = s.collectors[i];
    absl::StrAppend(&j, i ? "," : "", "{\"collector\":", JsonString(c.name));
    for (const auto& d : kCollectorCounters) {
      // "connected" stays a JSON boolean, as it always was.
      const uint64_t v = c.*d.value;
      absl::StrAppend(
          &j, ",\"", Str(d.name), "\":",
          d.value == &CollectorSnapshot::connected ? (v ? "true" : "false") : absl::StrCat(v));
    }
    absl::StrAppend(&j, "}");
  }
  absl::StrAppend(&j, "],\"analytics\":", s.analytics_json, "}\n");
  return j;
}

namespace {

// Prometheus label values: backslash, double quote and newline escaped.
std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Help text: backslash and newline escaped.
std::string HelpText(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// flowtrail_<prefix>_<name>, counters ending in _total.
std::string MetricName(std::string_view prefix, std::string_view name, CounterKind kind) {
  std::string m = absl::StrCat("flowtrail_", Str(prefix), prefix.empty() ? "" : "_", Str(name));
  if (kind == CounterKind::kCounter && !absl::EndsWith(m, "_total")) {
    m += "_total";
  }
  return m;
}

void Header(std::string* out, const std::string& metric, std::string_view help, CounterKind kind) {
  absl::StrAppend(out, "# HELP ", metric, " ", HelpText(help), "\n# TYPE ", metric, " ",
                  kind == CounterKind::kCounter ? "counter" : "gauge", "\n");
}

void Sample(std::string* out, const std::string& metric, const std::string& labels, uint64_t v) {
  absl::StrAppend(out, metric, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}", " ", v,
                  "\n");
}

// One metric family over the instances of a vector, labelled by `label`.
template <typename Table, typename S, typename Label>
void Families(std::string* out, std::string_view prefix, const Table& table,
              const std::vector<S>& v, Label label) {
  for (const auto& d : table) {
    const std::string m = MetricName(prefix, d.name, d.kind);
    Header(out, m, d.help, d.kind);
    for (size_t i = 0; i < v.size(); ++i) {
      Sample(out, m, label(i, v[i]), v[i].*d.value);
    }
  }
}

}  // namespace

std::string PrometheusText(const Snapshot& s, const AnalyticsTop* analytics) {
  std::string out;
  const std::string sensor = absl::StrCat("sensor_id=\"", LabelValue(s.sensor_id), "\"");
  Header(&out, "flowtrail_uptime_seconds", "Seconds since the sensor started", kG);
  absl::StrAppend(&out, "flowtrail_uptime_seconds{", sensor, "} ",
                  absl::StrFormat("%.3f", s.elapsed_s), "\n");
  auto port_label = [](const PortSnapshot& p) {
    return absl::StrCat("port=\"", p.id, "\",name=\"", LabelValue(p.name), "\"");
  };
  Families(&out, kPortFamily.prefix, kPortCounters, s.ports,
           [&](size_t, const PortSnapshot& p) { return port_label(p); });
  {
    const std::string m = MetricName(kQueueFamily.prefix, kQueueRxName, kC);
    Header(&out, m, kQueueRxHelp, kC);
    for (const PortSnapshot& p : s.ports) {
      for (size_t q = 0; q < p.queue_rx.size(); ++q) {
        Sample(&out, m, absl::StrCat(port_label(p), ",queue=\"", q, "\""), p.queue_rx[q]);
      }
    }
  }
  Families(&out, kInputFamily.prefix, kInputCounters, s.inputs,
           [](size_t i, const InputSnapshot& in) {
             return absl::StrCat("input=\"", i, "\",path=\"", LabelValue(in.path), "\"");
           });
  auto worker_label = [](size_t i, const WorkerSnapshot& w) {
    return absl::StrCat("worker=\"", i, "\",lcore=\"", w.lcore, "\"");
  };
  Families(&out, kWorkerFamily.prefix, kWorkerCounters, s.workers, worker_label);
  {
    const std::string m = MetricName(kReasonFamily.prefix, kParseResultsName, kC);
    Header(&out, m, kParseResultsHelp, kC);
    for (size_t i = 0; i < s.workers.size(); ++i) {
      for (size_t r = 1; r < packet::kParseResultCount; ++r) {
        const auto result = static_cast<packet::ParseResult>(r);
        Sample(&out, m,
               absl::StrCat(worker_label(i, s.workers[i]), ",class=\"",
                            ParseClassKey(packet::ParseResultClass(result)), "\",reason=\"",
                            Str(packet::ParseResultName(result)), "\""),
               s.workers[i].by_result[r]);
      }
    }
  }
  if (s.dispatcher) {
    Families(&out, kDispatcherFamily.prefix, kDispatcherCounters,
             std::vector<DispatcherSnapshot>{*s.dispatcher},
             [](size_t, const DispatcherSnapshot& d) {
               return absl::StrCat("lcore=\"", d.lcore, "\"");
             });
  }
  Families(&out, kCollectorFamily.prefix, kCollectorCounters, s.collectors,
           [](size_t, const CollectorSnapshot& c) {
             return absl::StrCat("collector=\"", LabelValue(c.name), "\"");
           });
  for (const auto& d : kSensorCounters) {
    const std::string m = MetricName(kSensorFamily.prefix, d.name, d.kind);
    Header(&out, m, d.help, d.kind);
    Sample(&out, m, "", d.get(s));
  }
  if (analytics != nullptr) {
    for (const auto& d : kAnalyticsCounters) {
      const std::string m = MetricName(kAnalyticsFamily.prefix, d.name, d.kind);
      Header(&out, m, d.help, d.kind);
      Sample(&out, m, "", d.get(*analytics));
    }
  }
  return out;
}

}  // namespace flowtrail::dataplane
