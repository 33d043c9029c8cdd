#include "dataplane/exporter.h"

#include <cstdio>

#include <rte_cycles.h>

#include "dataplane/record_rings.h"
#include "export/fanout_sink.h"

#include "absl/strings/str_cat.h"

namespace flowtrail::dataplane {
namespace {
constexpr unsigned kBatch = 256;
}  // namespace

absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> WithCollectorLinks(
    std::unique_ptr<exporter::SegmentSink> primary, const CollectorConfig& config,
    std::vector<CollectorLinkView>* links) {
  if (config.addresses.empty()) {
    return primary;
  }
  std::vector<std::unique_ptr<exporter::CollectorLink>> made;
  for (const std::string& address : config.addresses) {
    exporter::CollectorLinkOptions o;
    if (absl::Status st = exporter::ParseHostPort(address, &o.host, &o.port); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--collector: ", st.message()));
    }
    o.ca_file = config.ca_file;
    o.cert_file = config.cert_file;
    o.key_file = config.key_file;
    o.insecure = config.insecure;
    o.queue_bytes = config.queue_bytes;
    o.spill_dir = config.spill_dir;
    o.spill_budget = config.spill_budget;
    absl::StatusOr<std::unique_ptr<exporter::CollectorLink>> link =
        exporter::CollectorLink::Create(std::move(o));
    if (!link.ok()) {
      return link.status();
    }
    links->push_back({(*link)->name(), (*link)->shared_counters()});
    made.push_back(*std::move(link));
  }
  return std::make_unique<exporter::FanoutSink>(std::move(primary), std::move(made));
}

std::vector<CollectorSnapshot> LinkSnapshots(const std::vector<CollectorLinkView>& links,
                                             uint64_t records_written) {
  std::vector<CollectorSnapshot> out;
  for (const CollectorLinkView& l : links) {
    const exporter::CollectorLinkCounters& c = *l.counters;
    auto get = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
    CollectorSnapshot s;
    s.name = l.name;
    s.connected = get(c.connected) != 0;
    s.connects = get(c.connects);
    s.reconnects = get(c.reconnects);
    s.connect_failures = get(c.connect_failures);
    s.tls_failures = get(c.tls_failures);
    s.bad_acks = get(c.bad_acks);
    s.refusals = get(c.refusals);
    s.bytes_sent = get(c.bytes_sent);
    s.frames_sent = get(c.frames_sent);
    s.records_sent = get(c.records_sent);
    s.acked_sequence = get(c.acked_sequence);
    s.records_acked = get(c.records_acked);
    s.queued_bytes = get(c.queued_bytes);
    s.spilled_bytes = get(c.spilled_bytes);
    s.spilled_total = get(c.spilled_total);
    s.records_dropped = get(c.records_dropped);
    s.frames_dropped = get(c.frames_dropped);
    s.records_undelivered = get(c.records_undelivered);
    s.replayed_records = get(c.replayed_records);
    s.spill_errors = get(c.spill_errors);
    s.lag_records = records_written > s.records_acked ? records_written - s.records_acked : 0;
    out.push_back(std::move(s));
  }
  return out;
}

Exporter::Exporter(ExporterSetup setup)
    : s_(std::move(setup)),
      flush_period_tsc_(rte_get_tsc_hz() / 10),
      last_flush_tsc_(rte_rdtsc()) {}

void Exporter::Report(const absl::Status& s, const char* what) {
  // The writer's errors are final: count and report the first one only.
  if (s.ok() || write_errors_ > 0) {
    return;
  }
  write_errors_ = 1;
  fprintf(stderr, "flowtrail: exporter: %s failed: %s\n", what, s.ToString().c_str());
  Set(s_.counters->write_errors, write_errors_);
}

bool Exporter::Poll() {
  if (done_) {
    return false;
  }
  // Read before dequeuing: if every worker was done before the rings were
  // seen empty, nothing more can arrive.
  const bool workers_done =
      s_.control->workers_done.load(std::memory_order_acquire) == s_.rings.size();
  const bool analytics_done =
      s_.snapshot_ring == nullptr || s_.control->analytics_done.load(std::memory_order_acquire);
  // Encoded straight from the ring slots: no copy of the records.
  size_t moved =
      ConsumeFromEachRing(s_.rings, kBatch, [&](std::span<const record::SessionRecord> recs) {
        // After a write error the records are drained and dropped, so the
        // workers never block on a dead output.
        if (write_errors_ == 0) Report(s_.writer->Append(recs), "append");
      });
  moved += WriteSnapshots();
  const uint64_t now = rte_rdtsc();
  if (write_errors_ == 0 && now - last_flush_tsc_ >= flush_period_tsc_) {
    Report(s_.writer->Flush(), "flush");
    last_flush_tsc_ = now;
  }
  Set(s_.counters->records_written, s_.writer->records_written());
  Set(s_.counters->bytes_written, s_.writer->bytes_written());
  if (moved == 0 && workers_done && analytics_done) {
    uint64_t dropped = 0;
    for (const WorkerCounters& w : s_.worker_counters) {
      dropped += Get(w.tracker_records_dropped);
    }
    const uint64_t end_us =
        s_.control->flush_time_us != 0 ? s_.control->flush_time_us : clock_.NowUs();
    Report(s_.writer->Close(dropped, end_us), "close");
    Set(s_.counters->records_written, s_.writer->records_written());
    Set(s_.counters->bytes_written, s_.writer->bytes_written());
    done_ = true;
    s_.control->exporter_done.store(true, std::memory_order_release);
  }
  return moved > 0;
}

size_t Exporter::WriteSnapshots() {
  if (s_.snapshot_ring == nullptr) {
    return 0;
  }
  void* ptrs[4];
  const unsigned n = rte_ring_sc_dequeue_burst(s_.snapshot_ring, ptrs, 4, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    std::unique_ptr<SnapshotHandoff> snap(static_cast<SnapshotHandoff*>(ptrs[i]));
    if (write_errors_ == 0) {
      const absl::Status st = s_.writer->WriteSnapshot(*snap->snapshot);
      // Larger than a frame may be (a flood of scanner clients): the
      // records go on; the snapshot is counted as dropped. A sink's own
      // ResourceExhausted (a full disk) is a write error like any other:
      // the writer is stuck then.
      if (absl::IsResourceExhausted(st) && !s_.writer->failed()) {
        if (snapshots_too_large_++ == 0) {
          fprintf(stderr, "flowtrail: exporter: analytics snapshot dropped: %s\n",
                  st.ToString().c_str());
        }
        Set(s_.counters->snapshots_too_large, snapshots_too_large_);
      } else {
        Report(st, "snapshot");
      }
    }
  }
  Set(s_.counters->snapshots_written, s_.writer->snapshots_written());
  return n;
}

}  // namespace flowtrail::dataplane
