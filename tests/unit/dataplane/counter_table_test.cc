// The counter table (counter_table.h) against the owners' structs and every
// rendering: an atomic added to a counters struct without a table entry, or
// a table entry some output leaves out, fails here.
#include "dataplane/counter_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dataplane/metrics_listen.h"

namespace flowtrail::dataplane {
namespace {

template <typename S>
size_t OffsetOf(Counter S::*m) {
  static const S probe{};
  return reinterpret_cast<const char*>(&(probe.*m)) - reinterpret_cast<const char*>(&probe);
}

// The offsets the table accounts for must tile the struct's atomics from 0
// with no gap, and the struct may hold nothing after them but its padding.
template <typename S>
void ExpectTiled(const std::vector<size_t>& offsets, const char* what) {
  std::set<size_t> seen;
  for (size_t o : offsets) {
    EXPECT_TRUE(seen.insert(o).second) << what << ": offset " << o << " listed twice";
  }
  size_t next = 0;
  for (size_t o : seen) {
    EXPECT_EQ(o, next) << what << ": the atomic at offset " << next
                       << " is in no table entry (counter_table.h)";
    next = o + sizeof(Counter);
  }
  const size_t padded = (next + alignof(S) - 1) / alignof(S) * alignof(S);
  EXPECT_EQ(padded, sizeof(S)) << what << ": atomics after offset " << next
                               << " are in no table entry";
}

template <typename Table>
bool InTable(const Table& t, std::string_view name) {
  for (const auto& d : t) {
    if (d.name == name) return true;
  }
  return false;
}

bool InAnyTable(std::string_view name) {
  return InTable(kSensorCounters, name) || InTable(kAnalyticsCounters, name) ||
         InTable(kWorkerCounters, name) || InTable(kPortCounters, name);
}

TEST(CounterTable, EveryWorkerAtomicIsListed) {
  std::vector<size_t> offsets;
  for (const WorkerDef& d : kWorkerCounters) offsets.push_back(OffsetOf(d.source));
  for (auto m : kWorkerInternal) offsets.push_back(OffsetOf(m));
  static const WorkerCounters probe{};
  for (const Counter& c : probe.by_result) {
    offsets.push_back(reinterpret_cast<const char*>(&c) - reinterpret_cast<const char*>(&probe));
  }
  ExpectTiled<WorkerCounters>(offsets, "WorkerCounters");
}

TEST(CounterTable, EveryDispatcherExporterAnalyticsAtomicIsListed) {
  std::vector<size_t> d;
  for (const DispatcherDef& def : kDispatcherCounters) d.push_back(OffsetOf(def.source));
  for (auto m : kDispatcherInternal) d.push_back(OffsetOf(m));
  ExpectTiled<DispatcherCounters>(d, "DispatcherCounters");
  std::vector<size_t> e;
  for (const auto& s : kExporterSources) {
    e.push_back(OffsetOf(s.source));
    EXPECT_TRUE(InAnyTable(s.name)) << s.name;
  }
  ExpectTiled<ExporterCounters>(e, "ExporterCounters");
  std::vector<size_t> a;
  for (const auto& s : kAnalyticsSources) {
    a.push_back(OffsetOf(s.source));
    EXPECT_TRUE(InAnyTable(s.name)) << s.name;
  }
  ExpectTiled<AnalyticsCounters>(a, "AnalyticsCounters");
}

TEST(CounterTable, NamesAreUniqueWithinAFamily) {
  auto check = [](const auto& table, const char* what) {
    std::set<std::string_view> names;
    for (const auto& d : table) {
      EXPECT_TRUE(names.insert(d.name).second) << what << ": " << d.name;
      EXPECT_FALSE(d.help.empty()) << d.name;
    }
  };
  check(kPortCounters, "port");
  check(kInputCounters, "input");
  check(kWorkerCounters, "worker");
  check(kDispatcherCounters, "dispatcher");
  check(kCollectorCounters, "collector");
  check(kSensorCounters, "sensor");
  check(kAnalyticsCounters, "analytics");
}

// Every table value set to a distinct number: seed + entry index.
template <typename Table, typename S>
void Fill(const Table& table, S* v, uint64_t seed) {
  uint64_t i = 0;
  for (const auto& d : table) {
    v->*d.value = seed + i++;
  }
}

struct Fake {
  Snapshot snap;
  AnalyticsTop top;
};

Fake Populated() {
  Fake f;
  Snapshot& s = f.snap;
  s.sensor_id = "fake";
  s.elapsed_s = 2;
  for (uint16_t p = 0; p < 2; ++p) {
    PortSnapshot ps;
    ps.id = p;
    ps.name = absl::StrCat("net_fake", p);
    Fill(kPortCounters, &ps, 1000 + 100 * p);
    ps.queue_rx = {1500u + p * 10, 1501u + p * 10};
    s.ports.push_back(ps);
  }
  InputSnapshot in;
  in.path = "a \"quoted\" path.pcap";
  Fill(kInputCounters, &in, 2000);
  s.inputs.push_back(in);
  for (unsigned w = 0; w < 2; ++w) {
    WorkerSnapshot ws;
    ws.lcore = 3 + w;
    Fill(kWorkerCounters, &ws, 3000 + 100 * w);
    for (size_t r = 1; r < packet::kParseResultCount; ++r) {
      ws.by_result[r] = 4000 + 100 * w + r;
    }
    s.workers.push_back(ws);
  }
  DispatcherSnapshot d;
  d.lcore = 2;
  Fill(kDispatcherCounters, &d, 5000);
  s.dispatcher = d;
  for (int c = 0; c < 2; ++c) {
    CollectorSnapshot cs;
    cs.name = absl::StrCat("host", c, ":9000");
    Fill(kCollectorCounters, &cs, 6000 + 100 * c);
    cs.connected = 1;
    s.collectors.push_back(cs);
  }
  // Sensor-wide values through their Snapshot fields.
  s.records_written = 7001;
  s.bytes_written = 7002;
  s.write_errors = 7003;
  s.snapshots_written = 7004;
  s.snapshots_dropped = 7005;
  s.analytics_records = 7006;
  s.analytics_contacts = 7007;
  s.analytics_snapshots = 7008;
  s.analytics_snapshot_errors = 7009;
  s.capture_packets_expected = 7010;
  f.top.live_stats.events = 8001;
  f.top.scan_stats.rows = 8002;
  f.top.port_cells = 8003;
  return f;
}

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(CounterTable, SensorCountersAreDistinctInTheFake) {
  const Fake f = Populated();
  std::set<uint64_t> values;
  for (const auto& d : kSensorCounters) {
    if (d.name == "ring_drops" || d.name == "export_lag_records") continue;  // derived
    EXPECT_TRUE(values.insert(d.get(f.snap)).second) << d.name << " is not set by the fake";
  }
}

TEST(CounterTable, StatsJsonHasEveryEntry) {
  const Fake f = Populated();
  const std::string j = StatsJson(f.snap);
  auto each = [&](const auto& table, const auto& v) {
    for (const auto& d : table) {
      if (d.value == nullptr) continue;
      const std::string want = absl::StrCat("\"", Str(d.name), "\":", v.*d.value);
      EXPECT_TRUE(Has(j, want) || d.name == "connected") << want << " in " << j;
    }
  };
  for (const PortSnapshot& p : f.snap.ports) each(kPortCounters, p);
  for (const InputSnapshot& in : f.snap.inputs) each(kInputCounters, in);
  for (const WorkerSnapshot& w : f.snap.workers) {
    each(kWorkerCounters, w);
    for (size_t r = 1; r < packet::kParseResultCount; ++r) {
      const auto result = static_cast<packet::ParseResult>(r);
      EXPECT_TRUE(
          Has(j, absl::StrCat("\"", Str(packet::ParseResultName(result)), "\":", w.by_result[r])));
    }
    for (size_t c = 1; c < packet::kParseClassCount; ++c) {
      const auto cls = static_cast<packet::ParseClass>(c);
      EXPECT_TRUE(Has(j, absl::StrCat("\"", ParseClassKey(cls), "_total\":", w.OfClass(cls))));
    }
  }
  each(kDispatcherCounters, *f.snap.dispatcher);
  for (const CollectorSnapshot& c : f.snap.collectors) each(kCollectorCounters, c);
  EXPECT_TRUE(Has(j, "\"connected\":true"));
  for (const auto& d : kSensorCounters) {
    EXPECT_TRUE(Has(j, absl::StrCat("\"", Str(d.name), "\":", d.get(f.snap)))) << d.name;
  }
  for (const PortSnapshot& p : f.snap.ports) {
    for (uint64_t q : p.queue_rx) EXPECT_TRUE(Has(j, absl::StrCat("\"rx\":", q)));
  }
}

TEST(CounterTable, SummaryHasEveryEntry) {
  const Fake f = Populated();
  const std::string t = SummaryText(f.snap);
  auto each = [&](const auto& table, const auto& v) {
    for (const auto& d : table) {
      const std::string want = absl::StrCat(Str(d.name), "=", v.*d.value);
      EXPECT_TRUE(Has(t, want)) << want << " in " << t;
    }
  };
  for (const PortSnapshot& p : f.snap.ports) {
    each(kPortCounters, p);
    EXPECT_TRUE(Has(t, absl::StrCat(Str(kQueueRxName), "=", p.queue_rx[0], ",", p.queue_rx[1])));
  }
  for (const InputSnapshot& in : f.snap.inputs) each(kInputCounters, in);
  for (const WorkerSnapshot& w : f.snap.workers) {
    each(kWorkerCounters, w);
    for (size_t c = 1; c < packet::kParseClassCount; ++c) {
      const auto cls = static_cast<packet::ParseClass>(c);
      EXPECT_TRUE(Has(t, absl::StrCat(ParseClassKey(cls), "_total=", w.OfClass(cls))));
    }
  }
  each(kDispatcherCounters, *f.snap.dispatcher);
  for (const CollectorSnapshot& c : f.snap.collectors) each(kCollectorCounters, c);
  for (const auto& d : kSensorCounters) {
    EXPECT_TRUE(Has(t, absl::StrCat(Str(d.name), "=", d.get(f.snap)))) << d.name;
  }
}

TEST(CounterTable, StatusLineWordsComeFromTheTable) {
  const Fake f = Populated();
  const std::string line = StatusLine(f.snap, Snapshot{});
  for (const StatusItem& item : kStatusLine) {
    uint64_t v = 0;
    ASSERT_TRUE(TotalByName(f.snap, item.name, &v)) << item.name << " is in no table";
    EXPECT_TRUE(Has(line, absl::StrCat(" ", Str(item.word), "=", v))) << item.word << ": " << line;
  }
  // The words bench/linerate.sh reads.
  EXPECT_TRUE(line.starts_with("flowtrail: 2.0s rx=2100 (")) << line;
  EXPECT_TRUE(Has(line, " created=6104 ended=6106 evicted=6108 records=7001 ring_drops=5002"))
      << line;
}

std::string PromName(std::string_view prefix, std::string_view name, CounterKind kind) {
  std::string m = absl::StrCat("flowtrail_", Str(prefix), prefix.empty() ? "" : "_", Str(name));
  if (kind == CounterKind::kCounter && !m.ends_with("_total")) m += "_total";
  return m;
}

TEST(CounterTable, PrometheusHasEveryEntryWithHelpAndType) {
  const Fake f = Populated();
  const std::string t = PrometheusText(f.snap, &f.top);
  auto header = [&](const std::string& m, CounterKind kind) {
    EXPECT_TRUE(Has(t, "# HELP " + m + " ")) << m;
    EXPECT_TRUE(Has(t, absl::StrCat("# TYPE ", m, kind == kC ? " counter\n" : " gauge\n"))) << m;
  };
  auto each = [&](const Family& fam, const auto& table, const auto& v, const std::string& labels) {
    for (const auto& d : table) {
      const std::string m = PromName(fam.prefix, d.name, d.kind);
      header(m, d.kind);
      const std::string want = absl::StrCat(m, "{", labels, "} ", v.*d.value, "\n");
      EXPECT_TRUE(Has(t, want)) << want;
    }
  };
  for (const PortSnapshot& p : f.snap.ports) {
    const std::string l = absl::StrCat("port=\"", p.id, "\",name=\"", p.name, "\"");
    each(kPortFamily, kPortCounters, p, l);
    header(PromName("port", kQueueRxName, kC), kC);
    EXPECT_TRUE(Has(t, absl::StrCat("flowtrail_port_queue_rx_total{", l, ",queue=\"1\"} ",
                                    p.queue_rx[1], "\n")));
  }
  each(kInputFamily, kInputCounters, f.snap.inputs[0],
       "input=\"0\",path=\"a \\\"quoted\\\" path.pcap\"");
  for (size_t i = 0; i < f.snap.workers.size(); ++i) {
    const WorkerSnapshot& w = f.snap.workers[i];
    const std::string l = absl::StrCat("worker=\"", i, "\",lcore=\"", w.lcore, "\"");
    each(kWorkerFamily, kWorkerCounters, w, l);
    header("flowtrail_worker_parse_results_total", kC);
    for (size_t r = 1; r < packet::kParseResultCount; ++r) {
      const auto result = static_cast<packet::ParseResult>(r);
      EXPECT_TRUE(
          Has(t, absl::StrCat("flowtrail_worker_parse_results_total{", l, ",class=\"",
                              ParseClassKey(packet::ParseResultClass(result)), "\",reason=\"",
                              Str(packet::ParseResultName(result)), "\"} ", w.by_result[r], "\n")));
    }
  }
  each(kDispatcherFamily, kDispatcherCounters, *f.snap.dispatcher, "lcore=\"2\"");
  for (const CollectorSnapshot& c : f.snap.collectors) {
    each(kCollectorFamily, kCollectorCounters, c, absl::StrCat("collector=\"", c.name, "\""));
  }
  for (const auto& d : kSensorCounters) {
    const std::string m = PromName("", d.name, d.kind);
    header(m, d.kind);
    EXPECT_TRUE(Has(t, absl::StrCat(m, " ", d.get(f.snap), "\n"))) << m;
  }
  for (const auto& d : kAnalyticsCounters) {
    const std::string m = PromName("analytics", d.name, d.kind);
    header(m, d.kind);
    EXPECT_TRUE(Has(t, absl::StrCat(m, " ", d.get(f.top), "\n"))) << m;
  }
  EXPECT_TRUE(Has(t, "flowtrail_analytics_live_events_total 8001\n"));
  // Every HELP once: a family is described once, whatever its instances.
  std::set<std::string> helps;
  for (size_t at = t.find("# HELP "); at != std::string::npos; at = t.find("# HELP ", at + 1)) {
    const size_t end = t.find(' ', at + 7);
    EXPECT_TRUE(helps.insert(t.substr(at + 7, end - at - 7)).second) << t.substr(at, 80);
  }
}

TEST(CounterTable, CopyCountersTakesEveryWorkerAtomic) {
  WorkerCounters c;
  uint64_t v = 1;
  for (const WorkerDef& d : kWorkerCounters) Set(c.*d.source, v++);
  for (Counter& r : c.by_result) Set(r, v++);
  WorkerSnapshot w;
  CopyCounters(c, &w);
  v = 1;
  for (const WorkerDef& d : kWorkerCounters) EXPECT_EQ(w.*d.value, v++) << d.name;
  for (uint64_t r : w.by_result) EXPECT_EQ(r, v++);
  DispatcherCounters dc;
  v = 1;
  for (const DispatcherDef& d : kDispatcherCounters) Set(dc.*d.source, v++);
  DispatcherSnapshot ds;
  CopyCounters(dc, &ds);
  v = 1;
  for (const DispatcherDef& d : kDispatcherCounters) EXPECT_EQ(ds.*d.value, v++) << d.name;
}

TEST(MetricsListen, BarePortIsLoopback) {
  absl::StatusOr<ListenAddress> a = ParseListenAddress("9100");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9100);
  a = ParseListenAddress("0.0.0.0:9200");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 9200);
  a = ParseListenAddress("[::1]:9300");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  for (const char* bad : {"", "0", "65536", "x", "host:", ":80", "::1:80", "h:-1"}) {
    EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
  }
  EXPECT_NE(ParseListenAddress("70000").status().message().find("1 to 65535"), std::string::npos);
}

}  // namespace
}  // namespace flowtrail::dataplane
