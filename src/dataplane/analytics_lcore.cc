#include "dataplane/analytics_lcore.h"

#include <rte_cycles.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analytics/snapshot.h"
#include "common/log.h"
#include "dataplane/clock.h"
#include "dataplane/live_settings.h"
#include "dataplane/record_rings.h"

namespace flowtrail::dataplane {
namespace {

// One cell's cost in the port distribution's table at its maximum load of
// 7/8 (port_cells.h: 32 bytes a slot), rounded up.
constexpr uint64_t kPortCellBytes = 38;

}  // namespace

analytics::ScanOptions ScanOptionsFor(const AnalyticsConfig& c) {
  analytics::ScanOptions o = c.scan;
  o.memory_bytes = c.memory_bytes / 2;
  return o;
}

analytics::PortDistributionOptions PortOptionsFor(const AnalyticsConfig& c) {
  analytics::PortDistributionOptions o = c.ports;
  if (c.memory_bytes != 0) {
    o.max_cells = std::clamp<uint64_t>(c.memory_bytes / 4 / kPortCellBytes, 8, o.max_cells);
  }
  return o;
}

analytics::LiveVerdictOptions LiveOptionsFor(const AnalyticsConfig& c, uint64_t attempt_timeout_us,
                                             uint32_t workers) {
  analytics::LiveVerdictOptions o;
  o.reorder_us = attempt_timeout_us;
  o.workers = workers;
  o.trw = c.scan.trw;
  o.horizon_us = c.scan.horizon_us;
  o.memory_bytes = c.memory_bytes / 4;
  return o;
}

AnalyticsLcore::AnalyticsLcore(AnalyticsSetup setup)
    : s_(std::move(setup)),
      batch_(256),
      contact_batch_(256),
      scan_(ScanOptionsFor(s_.config)),
      ports_(PortOptionsFor(s_.config)),
      live_(
          LiveOptionsFor(s_.config, s_.attempt_timeout_us, static_cast<uint32_t>(s_.rings.size()))),
      port_analysis_(s_.config.port_analysis) {
  publish_period_tsc_ = static_cast<uint64_t>(std::max(0.01, s_.config.publish_interval_s) *
                                              static_cast<double>(rte_get_tsc_hz()));
  next_publish_tsc_ = rte_rdtsc() + publish_period_tsc_;
}

bool AnalyticsLcore::Poll() {
  if (done_) {
    return false;
  }
  TakeLiveValues();
  const bool workers_done =
      s_.control->workers_done.load(std::memory_order_acquire) == s_.rings.size();
  // Events first: they are the early view, and a record of the same session
  // never overtakes its event's information.
  size_t moved = 0;
  for (rte_ring* r : s_.contact_rings) {
    const unsigned n = DequeueContacts(r, contact_batch_);
    if (n != 0) {
      moved += n;
      contacts_ += n;
      live_.Consume(std::span<const record::ContactEvent>(contact_batch_.data(), n));
    }
  }
  moved += DequeueFromEachRing(s_.rings, batch_, [&](std::span<const record::SessionRecord> recs) {
    counts_.Consume(recs);
    scan_.Consume(recs);
    ports_.Consume(recs);
    NoteRecordTimes(recs);
  });
  Set(s_.counters->records, counts_.records());
  Set(s_.counters->contacts, contacts_);
  const uint64_t now = rte_rdtsc();
  if (!s_.contact_rings.empty() && (++polls_ & 255) == 0) {
    // Each worker's published tracker clock, in live mode too (its clock
    // follows the wall clock even when idle): a worker the OS stalls holds
    // the watermark back, where the analytics lcore's own clock would walk
    // past the silent contacts that worker has yet to decide.
    if (s_.worker_counters.empty()) {
      if (s_.live_clock) live_.Advance(LiveClock().NowUs());
    } else {
      for (size_t w = 0; w < s_.worker_counters.size(); ++w) {
        live_.Advance(static_cast<uint16_t>(w), Get(s_.worker_counters[w].clock_us));
      }
    }
  }
  if (now >= next_publish_tsc_) {
    next_publish_tsc_ = now + publish_period_tsc_;
    Publish();
  }
  if (s_.snapshot_ring != nullptr && s_.config.snapshot_interval_us != 0 &&
      next_snapshot_us_ != 0 && last_record_us_ >= next_snapshot_us_) {
    OfferSnapshot(false);
    next_snapshot_us_ =
        (last_record_us_ / s_.config.snapshot_interval_us + 1) * s_.config.snapshot_interval_us;
  }
  if (moved == 0 && workers_done) {
    // The final snapshot holds every record; the exporter waits for it
    // (analytics_done) before it writes the trailer.
    if (s_.snapshot_ring != nullptr && !OfferSnapshot(true)) {
      return false;  // the exporter is draining the ring: offer it again
    }
    live_.Flush();
    Publish();  // the final state stays readable until the process exits
    done_ = true;
    s_.control->analytics_done.store(true, std::memory_order_release);
  }
  return moved > 0;
}

void AnalyticsLcore::TakeLiveValues() {
  if (s_.live == nullptr) return;
  const LiveValues* v = s_.live->Acquire(s_.live_reader, live_values_);
  if (v == live_values_) return;
  // The first poll takes the initial values (those configured) too.
  live_values_ = v;
  scan_.set_trw(v->trw);
  live_.SetTrw(v->trw);
  port_analysis_ = v->port_analysis;
}

void AnalyticsLcore::NoteRecordTimes(std::span<const record::SessionRecord> recs) {
  for (const record::SessionRecord& r : recs) {
    first_record_us_ = std::min(first_record_us_, r.first_time_us);
    last_record_us_ = std::max(last_record_us_, r.first_time_us);
  }
  if (next_snapshot_us_ == 0 && s_.config.snapshot_interval_us != 0 && !recs.empty()) {
    next_snapshot_us_ =
        (last_record_us_ / s_.config.snapshot_interval_us + 1) * s_.config.snapshot_interval_us;
  }
}

bool AnalyticsLcore::OfferSnapshot(bool final) {
  if (final && final_offered_) {
    return true;
  }
  std::unique_ptr<SnapshotHandoff> snap = std::move(pending_final_);
  if (snap == nullptr) {
    snap = std::make_unique<SnapshotHandoff>();
    if (absl::Status st = analytics::SaveSnapshot(scan_, ports_, snap->snapshot); !st.ok()) {
      Bump(s_.counters->snapshot_errors);
      Log(LogLevel::kError, "flowtrail: analytics: snapshot not saved: %s", st.ToString().c_str());
      final_offered_ = final_offered_ || final;
      return true;
    }
    snap->snapshot->set_first_record_time_us(counts_.records() == 0 ? 0 : first_record_us_);
    snap->snapshot->set_last_record_time_us(last_record_us_);
    snap->snapshot->set_records(counts_.records());
  }
  if (rte_ring_sp_enqueue(s_.snapshot_ring, snap.get()) != 0) {
    if (final) {
      pending_final_ = std::move(snap);
      return false;
    }
    Bump(s_.counters->snapshots_dropped);  // the exporter is behind: skip one interval
    return true;
  }
  (void)snap.release();  // the exporter owns it now
  Bump(s_.counters->snapshots);
  final_offered_ = final_offered_ || final;
  return true;
}

void AnalyticsLcore::Publish() {
  const uint64_t t0 = rte_rdtsc();
  if (s_.on_tables) {
    s_.on_tables(*this);
  }
  if (s_.publish) {
    PublishAnalytics(Top(s_.config.telemetry_top));
  }
  Set(s_.counters->live_scanners, live_.Stats().scanners);
  ++publishes_;
  const uint64_t us = (rte_rdtsc() - t0) * 1'000'000 / rte_get_tsc_hz();
  publish_max_us_ = std::max(publish_max_us_, us);
}

AnalyticsTop AnalyticsLcore::Top(size_t n) const {
  AnalyticsTop top;
  top.live = live_.Top(n);
  top.live_stats = live_.Stats();
  top.scan_stats = scan_.Stats();
  top.port_stats = ports_.stats();
  top.port_cells = ports_.cells();
  // One pass over the tables, judging only the n kept rows: a Rows() of a
  // million rows every publish period would stall the consuming loop.
  for (const analytics::ScanRow& r : scan_.TopRows(n)) {
    const analytics::LiveClient* c = live_.Find(r.client, r.ip_version);
    top.rows.push_back({r, c != nullptr ? c->verdict : analytics::Verdict::kPending});
  }
  top.servers = scan_.TopServers(n);
  // Flagged client ports, latest windows first.
  const std::vector<analytics::ServerPortReport> reports =
      analytics::AnalyzePorts(ports_, port_analysis_);
  for (auto it = reports.rbegin(); it != reports.rend() && top.ports.size() < n; ++it) {
    for (const analytics::ClientPortRow& row : it->flagged) {
      if (top.ports.size() == n) break;
      top.ports.push_back({it->window_start_us, it->server_port, it->client_ports, row});
    }
  }
  return top;
}

std::string AnalyticsLcore::SummaryJson() const {
  std::string counts = counts_.ToJson();
  if (!counts.empty() && counts.back() == '}') counts.pop_back();
  const analytics::ScanStats sc = scan_.Stats();
  const analytics::PortDistributionStats& ps = ports_.stats();
  const analytics::LiveVerdictStats lv = live_.Stats();
  std::string out = counts;
  absl::StrAppend(
      &out, counts.size() > 1 ? "," : "", "\"memory_budget\":", s_.config.memory_bytes,
      ",\"scan_table\":{\"records\":", sc.records, ",\"counted\":", sc.counted,
      ",\"rows\":", sc.rows, ",\"clients\":", sc.clients, ",\"servers\":", sc.servers,
      ",\"row_evictions\":", sc.row_evictions, ",\"client_evictions\":", sc.client_evictions,
      ",\"server_evictions\":", sc.server_evictions, ",\"memory_bytes\":", sc.memory_bytes,
      ",\"memory_budget\":", sc.memory_budget, "}");
  absl::StrAppend(&out, ",\"ports\":{\"records\":", ps.records, ",\"flows\":", ps.flows,
                  ",\"cells\":", ports_.cells(), ",\"max_cells\":", ports_.options().max_cells,
                  ",\"evicted_cells\":", ps.evicted_cells, ",\"evicted_flows\":", ps.evicted_flows,
                  ",\"memory_bytes\":", ports_.MemoryBytes(), "}");
  absl::StrAppend(&out, ",\"live\":{\"events\":", lv.events, ",\"success\":", lv.success,
                  ",\"reject\":", lv.reject, ",\"silent\":", lv.silent, ",\"repeats\":", lv.repeats,
                  ",\"held\":", lv.held, ",\"walked_early\":", lv.walked_early,
                  ",\"clients\":", lv.clients, ",\"servers\":", lv.servers,
                  ",\"max_clients\":", lv.max_clients, ",\"max_servers\":", lv.max_servers,
                  ",\"client_evictions\":", lv.client_evictions,
                  ",\"server_evictions\":", lv.server_evictions, ",\"scanners\":", lv.scanners,
                  ",\"benign\":", lv.benign, ",\"pending\":", lv.pending,
                  ",\"memory_bytes\":", lv.memory_bytes, ",\"memory_budget\":", lv.memory_budget,
                  ",\"publishes\":", publishes_, ",\"publish_max_us\":", publish_max_us_, "}");
  out += ",\"live_scanners\":[";
  bool first = true;
  for (const analytics::LiveClient& c : live_.Top(s_.config.telemetry_top)) {
    if (c.verdict != analytics::Verdict::kScanner) continue;
    absl::StrAppend(&out, first ? "" : ",", "{\"client\":\"", FormatIp(c.client, c.ip_version),
                    "\",\"verdict\":\"", analytics::VerdictName(c.verdict),
                    "\",\"first_us\":", c.first_us, ",\"decided_us\":", c.decided_us,
                    ",\"decided_after\":", c.decided_after, ",\"steps\":", c.steps,
                    ",\"failures\":", c.Failures(), ",\"successes\":", c.successes, "}");
    first = false;
  }
  out += "]}";
  return out;
}

}  // namespace flowtrail::dataplane
