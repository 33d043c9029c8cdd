// The sensor's counters as one plain snapshot, and its renderings: the
// periodic one-line status, the final human summary, --stats-json and the
// Prometheus text exposition, each a loop over the counter table
// (counter_table.h). DPDK-free; pipeline.cc fills the snapshot from the
// per-lcore counters (CopyCounters) and rte_eth_stats.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "capture/capture_file.h"
#include "packet/parser.h"

namespace flowtrail::dataplane {

struct PortSnapshot {
  uint16_t id = 0;
  std::string name;
  std::string driver;
  std::string mode;
  uint64_t rx = 0;
  uint64_t imissed = 0;
  uint64_t nombuf = 0;
  uint64_t ierrors = 0;
  std::vector<uint64_t> queue_rx;
};

// One capture file read by the sensor (file_input.h).
struct InputSnapshot {
  std::string path;
  std::string format;
  std::vector<uint16_t> link_types;
  uint64_t frames = 0;  // handed to the port
  uint64_t bytes = 0;   // captured bytes of those frames
  uint64_t clock_outliers = 0;
  uint64_t clock_backwards = 0;
  uint64_t clock_jumps = 0;
  // kFrame while reading, then kEnd, kTruncated (the file ends inside a
  // record) or kCorrupt (an invalid record with data after it).
  capture::ReadStatus end = capture::ReadStatus::kFrame;
  uint64_t end_offset = 0;  // byte offset where reading stopped
  std::string error;        // why reading stopped early, with the byte offset
};

struct WorkerSnapshot {
  unsigned lcore = 0;
  uint64_t packets = 0;
  std::array<uint64_t, packet::kParseResultCount> by_result{};  // index = packet::ParseResult
  uint64_t snapped = 0;
  uint64_t OfClass(packet::ParseClass c) const;
  uint64_t bad_packets() const { return OfClass(packet::ParseClass::kMalformed); }
  uint64_t sessions_created = 0;
  uint64_t sessions_ended = 0;
  uint64_t sessions_evicted = 0;
  uint64_t sessions_active = 0;
  uint64_t interim_records = 0;
  uint64_t fragments = 0;
  uint64_t later_fragments_unattributed = 0;
  uint64_t fragment_overlap_bytes = 0;
  uint64_t implausible_sequence = 0;
  uint64_t ftp_announcements_ignored = 0;
  uint64_t records_out = 0;
  uint64_t tracker_records_dropped = 0;
  // First-contact events: decided, lost (queue or deadline FIFO full), and
  // handed to the analytics lcore.
  uint64_t contacts = 0;
  uint64_t contacts_dropped = 0;
  uint64_t contacts_out = 0;
};

struct DispatcherSnapshot {
  unsigned lcore = 0;
  bool on_main = false;
  uint64_t packets = 0;
  uint64_t unparsed = 0;
  uint64_t ring_drops = 0;
  uint64_t backpressure = 0;
  uint64_t pool_waits = 0;
};

// One collector link (--collector; export/collector_link.h counters).
struct CollectorSnapshot {
  std::string name;        // HOST:PORT
  uint64_t connected = 0;  // 1 while connected (a gauge in the counter table)
  uint64_t connects = 0;
  uint64_t reconnects = 0;
  uint64_t connect_failures = 0;
  uint64_t tls_failures = 0;
  uint64_t bad_acks = 0;
  uint64_t refusals = 0;
  uint64_t bytes_sent = 0;
  uint64_t frames_sent = 0;
  uint64_t records_sent = 0;  // resends included
  uint64_t acked_sequence = 0;
  uint64_t records_acked = 0;
  uint64_t queued_bytes = 0;
  uint64_t spilled_bytes = 0;
  uint64_t spilled_total = 0;
  uint64_t records_dropped = 0;      // beyond memory and spill budget
  uint64_t frames_dropped = 0;       // their frames, snapshots included
  uint64_t records_undelivered = 0;  // unacknowledged when the drain at the end gave up
  uint64_t replayed_records = 0;     // of earlier runs' spill, acknowledged
  uint64_t spill_errors = 0;
  uint64_t lag_records = 0;  // records written minus acknowledged
};

struct Snapshot {
  std::string sensor_id;
  std::string output;
  bool capture = false;
  std::string lcore_plan;
  double elapsed_s = 0;
  double first_packet_s = -1;  // process start to the first packet received; < 0: none yet
  uint64_t capture_packets_expected = 0;  // capture mode: frames read from the files
  std::vector<InputSnapshot> inputs;
  std::vector<PortSnapshot> ports;
  std::vector<WorkerSnapshot> workers;
  std::optional<DispatcherSnapshot> dispatcher;
  uint64_t records_written = 0;
  uint64_t bytes_written = 0;
  uint64_t write_errors = 0;
  std::vector<CollectorSnapshot> collectors;
  uint64_t analytics_records = 0;
  uint64_t analytics_contacts = 0;         // first-contact events consumed
  uint64_t analytics_snapshots = 0;        // snapshot frames handed to the exporter
  uint64_t analytics_snapshot_errors = 0;  // tables that could not be saved
  uint64_t snapshots_written = 0;          // analytics snapshot frames in the stream
  uint64_t snapshots_dropped = 0;          // skipped (exporter behind) or over the frame cap
  std::string analytics_json = "{}";       // the analytics consumers' own object
  std::string end = "running";             // end_of_input | shutdown | running

  uint64_t RingDrops() const;                    // dispatcher ring drops (live mode)
  uint64_t OfClass(packet::ParseClass c) const;  // over the workers
  uint64_t PortRx() const;
  uint64_t ExportLag() const;  // records the workers handed on, not yet written
};

struct WorkerCounters;
struct DispatcherCounters;
struct AnalyticsTop;

// The owners' atomics into the snapshot, entry by entry of the counter table
// (relaxed loads).
void CopyCounters(const WorkerCounters& c, WorkerSnapshot* w);
void CopyCounters(const DispatcherCounters& c, DispatcherSnapshot* d);

// How an input's reading stands, as the summary and --stats-json name it:
// "reading", "end_of_file", "truncated", "corrupt".
std::string_view InputEndName(capture::ReadStatus end);

std::string StatusLine(const Snapshot& now, const Snapshot& before);
std::string SummaryText(const Snapshot& s);
std::string StatsJson(const Snapshot& s);
// The Prometheus text format (# HELP, # TYPE, one sample per label set);
// `analytics` may be null (nothing published yet).
std::string PrometheusText(const Snapshot& s, const AnalyticsTop* analytics);

}  // namespace flowtrail::dataplane
