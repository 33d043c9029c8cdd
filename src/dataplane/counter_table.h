// The one table of the sensor's counters (issue 11): each counter once, with
// its name (the --stats-json and telemetry key; Prometheus
// flowtrail_<family>_<name>), help text, kind, labels (its family's) and the
// code that owns it. The status line, the summary, --stats-json, the
// /flowtrail/* telemetry and the Prometheus exposition all loop over these
// tables (stats_report.cc, telemetry.cc); stats_report_test fails when an
// owner's struct has an atomic the table does not list, or an output lacks an
// entry.
//
// The owners' structs stay as they are: an entry points at the owner's atomic
// and at its copy in the Snapshot (pointer-to-member), or reads the Snapshot
// through a function when the value is derived.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/analytics_top.h"
#include "dataplane/counters.h"
#include "dataplane/stats_report.h"

namespace flowtrail::dataplane {

enum class CounterKind : uint8_t { kCounter, kGauge };

// absl::StrCat takes absl::string_view, which is not std::string_view in
// Abseil 20220623: table names go through a std::string (control path).
inline std::string Str(std::string_view s) { return std::string(s); }

struct NoSource {};  // a family whose values are not copied from a Counter struct

// One counter of a family whose instances are `S` (one per worker, port...).
template <typename S, typename Src = NoSource>
struct CounterDef {
  std::string_view name;
  std::string_view help;
  CounterKind kind;
  uint64_t S::*value;              // the Snapshot's copy
  Counter Src::*source = nullptr;  // the owner's atomic (Counter families)
};

// A counter read through a function: sensor-wide totals and derived values.
template <typename S>
struct DerivedDef {
  std::string_view name;
  std::string_view help;
  CounterKind kind;
  std::string_view owner;
  uint64_t (*get)(const S&);
};

inline constexpr CounterKind kC = CounterKind::kCounter;
inline constexpr CounterKind kG = CounterKind::kGauge;

// Families: their Prometheus prefix, labels and owner.
struct Family {
  std::string_view prefix;  // flowtrail_<prefix>_<name>
  std::string_view labels;  // what tells the instances apart
  std::string_view owner;
};
inline constexpr Family kPortFamily{"port", "port, name", "the PMD (rte_eth_stats), read by main"};
inline constexpr Family kQueueFamily{"port", "port, name, queue",
                                     "the PMD (rte_eth_stats q_ipackets), read by main"};
inline constexpr Family kInputFamily{"input", "input, path",
                                     "FileInputPort (file reader on the main lcore)"};
inline constexpr Family kWorkerFamily{
    "worker", "worker, lcore", "WorkerCounters: Worker and its Tracker, on the worker lcore"};
inline constexpr Family kReasonFamily{
    "worker", "worker, lcore, class, reason",
    "WorkerCounters::by_result: the worker lcore, one per packet::ParseResult"};
inline constexpr Family kDispatcherFamily{"dispatcher", "lcore",
                                          "DispatcherCounters: the dispatcher lcore"};
inline constexpr Family kCollectorFamily{
    "collector", "collector",
    "exporter::CollectorLinkCounters: the link's I/O thread (LinkSnapshots copies them)"};
inline constexpr Family kSensorFamily{"", "", "(per entry)"};
inline constexpr Family kAnalyticsFamily{
    "analytics", "", "the analytics lcore's tables (AnalyticsTop, published once a second)"};

inline constexpr std::array<CounterDef<PortSnapshot>, 4> kPortCounters{{
    {"rx", "Frames the port received", kC, &PortSnapshot::rx},
    {"imissed", "Frames the NIC dropped: no RX descriptor free", kC, &PortSnapshot::imissed},
    {"nombuf", "RX mbuf allocation failures", kC, &PortSnapshot::nombuf},
    {"ierrors", "Erroneous frames the NIC received", kC, &PortSnapshot::ierrors},
}};
// Per queue: PortSnapshot::queue_rx[q], JSON ports[].queues[].rx.
inline constexpr std::string_view kQueueRxName = "queue_rx";
inline constexpr std::string_view kQueueRxHelp = "Frames the port's RX queue received";

inline constexpr std::array<CounterDef<InputSnapshot>, 6> kInputCounters{{
    {"frames", "Frames read from the capture file and handed to the port", kC,
     &InputSnapshot::frames},
    {"bytes", "Captured bytes of those frames", kC, &InputSnapshot::bytes},
    {"clock_outliers", "Frames whose capture time was an outlier (not followed)", kC,
     &InputSnapshot::clock_outliers},
    {"clock_backwards", "Frames whose capture time went backwards", kC,
     &InputSnapshot::clock_backwards},
    {"clock_jumps", "Confirmed jumps of the capture clock", kC, &InputSnapshot::clock_jumps},
    {"end_offset", "Byte offset where reading stopped (0 while reading)", kG,
     &InputSnapshot::end_offset},
}};

using WorkerDef = CounterDef<WorkerSnapshot, WorkerCounters>;
inline constexpr std::array<WorkerDef, 17> kWorkerCounters{{
    {"packets", "Frames taken by the worker", kC, &WorkerSnapshot::packets,
     &WorkerCounters::packets},
    {"snapped_frames", "Frames the capture cut (caplen < wire length), parsed or not", kC,
     &WorkerSnapshot::snapped, &WorkerCounters::snapped},
    {"sessions_created", "Sessions created", kC, &WorkerSnapshot::sessions_created,
     &WorkerCounters::sessions_created},
    {"sessions_ended", "Sessions ended (a final record)", kC, &WorkerSnapshot::sessions_ended,
     &WorkerCounters::sessions_ended},
    {"sessions_evicted", "Sessions evicted from a full table", kC,
     &WorkerSnapshot::sessions_evicted, &WorkerCounters::sessions_evicted},
    {"sessions_active", "Sessions in the table now", kG, &WorkerSnapshot::sessions_active,
     &WorkerCounters::sessions_active},
    {"interim_records", "Interim (active timeout) records", kC, &WorkerSnapshot::interim_records,
     &WorkerCounters::interim_records},
    {"fragments", "IP fragments seen", kC, &WorkerSnapshot::fragments, &WorkerCounters::fragments},
    {"later_fragments_unattributed", "Later fragments whose first fragment was unknown", kC,
     &WorkerSnapshot::later_fragments_unattributed, &WorkerCounters::later_fragments_unattributed},
    {"fragment_overlap_bytes", "Duplicate or overlapping fragment bytes not counted", kC,
     &WorkerSnapshot::fragment_overlap_bytes, &WorkerCounters::fragment_overlap_bytes},
    {"implausible_sequence", "TCP segments or ACKs beyond any plausible window", kC,
     &WorkerSnapshot::implausible_sequence, &WorkerCounters::implausible_sequence},
    {"ftp_announcements_ignored",
     "FTP PORT/EPRT/227/229 announcements ignored: one-sided or reset control session, or "
     "naming another host than the announcer",
     kC, &WorkerSnapshot::ftp_announcements_ignored, &WorkerCounters::ftp_announcements_ignored},
    {"records_out", "Records handed to the exporter ring", kC, &WorkerSnapshot::records_out,
     &WorkerCounters::records_out},
    {"tracker_records_dropped", "Records dropped: the tracker's output queue was full", kC,
     &WorkerSnapshot::tracker_records_dropped, &WorkerCounters::tracker_records_dropped},
    {"contacts", "First-contact events the tracker decided", kC, &WorkerSnapshot::contacts,
     &WorkerCounters::contacts},
    {"contacts_dropped", "First-contact events lost (queue or deadline FIFO full)", kC,
     &WorkerSnapshot::contacts_dropped, &WorkerCounters::contacts_dropped},
    {"contacts_out", "First-contact events handed to the analytics lcore", kC,
     &WorkerSnapshot::contacts_out, &WorkerCounters::contacts_out},
}};
// Per reason (WorkerCounters::by_result, every packet::ParseResult but kOk):
// JSON workers[].<class>_total and workers[].<class>.<reason>.
inline constexpr std::string_view kParseResultsName = "parse_results";
inline constexpr std::string_view kParseResultsHelp =
    "Frames by parse result other than ok: class malformed (bad_packets), non_ip, "
    "later_fragment, snapped";
// Atomics of WorkerCounters that are not counters: the clocks the control
// loop reads to decide the flush time.
inline constexpr std::array<Counter WorkerCounters::*, 2> kWorkerInternal{
    &WorkerCounters::max_time_us, &WorkerCounters::clock_us};

using DispatcherDef = CounterDef<DispatcherSnapshot, DispatcherCounters>;
inline constexpr std::array<DispatcherDef, 5> kDispatcherCounters{{
    {"packets", "Frames read and handed to workers", kC, &DispatcherSnapshot::packets,
     &DispatcherCounters::packets},
    {"unparsed", "Frames the parser refused, sent to worker 0 to be counted", kC,
     &DispatcherSnapshot::unparsed, &DispatcherCounters::unparsed},
    {"ring_drops", "Frames dropped at a full worker ring (live mode)", kC,
     &DispatcherSnapshot::ring_drops, &DispatcherCounters::ring_drops},
    {"backpressure_polls", "Polls spent waiting for a full worker ring (capture mode)", kC,
     &DispatcherSnapshot::backpressure, &DispatcherCounters::backpressure},
    {"pool_waits", "Polls skipped because the mbuf pool was low (capture mode)", kC,
     &DispatcherSnapshot::pool_waits, &DispatcherCounters::pool_waits},
}};
inline constexpr std::array<Counter DispatcherCounters::*, 1> kDispatcherInternal{
    &DispatcherCounters::max_time_us};

inline constexpr std::array<CounterDef<CollectorSnapshot>, 21> kCollectorCounters{{
    {"connected", "1 while the link is connected", kG, &CollectorSnapshot::connected},
    {"connects", "Connections made", kC, &CollectorSnapshot::connects},
    {"reconnects", "Connections made after a loss", kC, &CollectorSnapshot::reconnects},
    {"connect_failures", "Connection attempts that failed", kC,
     &CollectorSnapshot::connect_failures},
    {"tls_failures", "TLS handshakes that failed", kC, &CollectorSnapshot::tls_failures},
    {"bad_acks", "Acknowledgements that made no sense", kC, &CollectorSnapshot::bad_acks},
    {"refusals", "Streams the collector refused", kC, &CollectorSnapshot::refusals},
    {"bytes_sent", "Bytes sent", kC, &CollectorSnapshot::bytes_sent},
    {"frames_sent", "Frames sent", kC, &CollectorSnapshot::frames_sent},
    {"records_sent", "Records sent, resends included", kC, &CollectorSnapshot::records_sent},
    {"acked_sequence", "Highest record sequence acknowledged", kG,
     &CollectorSnapshot::acked_sequence},
    {"records_acked", "Records acknowledged", kC, &CollectorSnapshot::records_acked},
    {"lag_records", "Records written minus acknowledged (the export lag)", kG,
     &CollectorSnapshot::lag_records},
    {"queued_bytes", "Bytes queued in memory", kG, &CollectorSnapshot::queued_bytes},
    {"spilled_bytes", "Bytes spilled to disk now", kG, &CollectorSnapshot::spilled_bytes},
    {"spilled_total_bytes", "Bytes spilled to disk in all", kC, &CollectorSnapshot::spilled_total},
    {"spill_errors", "Spill file errors", kC, &CollectorSnapshot::spill_errors},
    {"records_dropped", "Records dropped beyond the memory and spill budget", kC,
     &CollectorSnapshot::records_dropped},
    {"frames_dropped", "Frames of those records, snapshots included", kC,
     &CollectorSnapshot::frames_dropped},
    {"records_undelivered", "Records unacknowledged when the final drain gave up", kC,
     &CollectorSnapshot::records_undelivered},
    {"replayed_records", "Records of earlier runs' spill delivered and acknowledged", kC,
     &CollectorSnapshot::replayed_records},
}};

// Sensor-wide: the exporter's and the analytics lcore's counters, and values
// derived from several owners.
inline constexpr std::string_view kExporterOwner = "ExporterCounters: the exporter lcore";
inline constexpr std::string_view kAnalyticsOwner = "AnalyticsCounters: the analytics lcore";
inline constexpr std::array<DerivedDef<Snapshot>, 12> kSensorCounters{{
    {"records_written", "Records written to the stream", kC, kExporterOwner,
     [](const Snapshot& s) { return s.records_written; }},
    {"bytes_written", "Bytes written to the stream", kC, kExporterOwner,
     [](const Snapshot& s) { return s.bytes_written; }},
    {"write_errors", "Stream write errors", kC, kExporterOwner,
     [](const Snapshot& s) { return s.write_errors; }},
    {"snapshots_written", "Analytics snapshot frames in the stream", kC, kExporterOwner,
     [](const Snapshot& s) { return s.snapshots_written; }},
    {"snapshots_dropped", "Analytics snapshots skipped (exporter behind) or over the frame cap", kC,
     "AnalyticsCounters::snapshots_dropped + ExporterCounters::snapshots_too_large",
     [](const Snapshot& s) { return s.snapshots_dropped; }},
    {"analytics_records", "Records the analytics lcore consumed", kC, kAnalyticsOwner,
     [](const Snapshot& s) { return s.analytics_records; }},
    {"analytics_contacts", "First-contact events the analytics lcore consumed", kC, kAnalyticsOwner,
     [](const Snapshot& s) { return s.analytics_contacts; }},
    {"analytics_snapshots", "Snapshot frames the analytics lcore handed to the exporter", kC,
     kAnalyticsOwner, [](const Snapshot& s) { return s.analytics_snapshots; }},
    {"analytics_snapshot_errors", "Analytics tables that could not be saved", kC, kAnalyticsOwner,
     [](const Snapshot& s) { return s.analytics_snapshot_errors; }},
    {"ring_drops", "Frames dropped at a full worker ring (the dispatcher's, live mode)", kC,
     "DispatcherCounters::ring_drops", [](const Snapshot& s) { return s.RingDrops(); }},
    {"export_lag_records", "Records the workers handed on that the exporter has not written", kG,
     "WorkerCounters::records_out - ExporterCounters::records_written",
     [](const Snapshot& s) { return s.ExportLag(); }},
    {"capture_packets_expected", "Capture mode: frames read from the files", kG,
     "FileInputPort (file reader on the main lcore)",
     [](const Snapshot& s) { return s.capture_packets_expected; }},
}};

// The analytics' table sizes and evictions (telemetry /flowtrail/analytics).
inline constexpr std::array<DerivedDef<AnalyticsTop>, 20> kAnalyticsCounters{{
    {"live_events", "First-contact events the live verdicts took", kC, "LiveVerdicts",
     [](const AnalyticsTop& t) { return t.live_stats.events; }},
    {"live_clients", "Clients in the live verdict table", kG, "LiveVerdicts",
     [](const AnalyticsTop& t) { return t.live_stats.clients; }},
    {"live_servers", "Servers in the live verdict table", kG, "LiveVerdicts",
     [](const AnalyticsTop& t) { return t.live_stats.servers; }},
    {"live_client_evictions", "Clients evicted from the live verdict table", kC, "LiveVerdicts",
     [](const AnalyticsTop& t) { return t.live_stats.client_evictions; }},
    {"live_server_evictions", "Servers evicted from the live verdict table", kC, "LiveVerdicts",
     [](const AnalyticsTop& t) { return t.live_stats.server_evictions; }},
    {"live_scanners", "Clients held now with the live verdict scanner", kG, "LiveVerdicts",
     [](const AnalyticsTop& t) { return t.live_stats.scanners; }},
    {"live_benign", "Clients held now with the live verdict benign", kG, "LiveVerdicts",
     [](const AnalyticsTop& t) { return t.live_stats.benign; }},
    {"live_pending", "Clients held now with no live verdict yet", kG, "LiveVerdicts",
     [](const AnalyticsTop& t) { return t.live_stats.pending; }},
    {"live_memory_bytes", "Memory the live verdict tables hold", kG, "LiveVerdicts",
     [](const AnalyticsTop& t) { return t.live_stats.memory_bytes; }},
    {"scan_rows", "Rows in the scan table", kG, "ScanTable",
     [](const AnalyticsTop& t) { return t.scan_stats.rows; }},
    {"scan_clients", "Clients in the scan table", kG, "ScanTable",
     [](const AnalyticsTop& t) { return t.scan_stats.clients; }},
    {"scan_servers", "Servers in the scan table", kG, "ScanTable",
     [](const AnalyticsTop& t) { return t.scan_stats.servers; }},
    {"scan_row_evictions", "Rows evicted from the scan table", kC, "ScanTable",
     [](const AnalyticsTop& t) { return t.scan_stats.row_evictions; }},
    {"scan_client_evictions", "Clients evicted from the scan table", kC, "ScanTable",
     [](const AnalyticsTop& t) { return t.scan_stats.client_evictions; }},
    {"scan_server_evictions", "Servers evicted from the scan table", kC, "ScanTable",
     [](const AnalyticsTop& t) { return t.scan_stats.server_evictions; }},
    {"scan_memory_bytes", "Memory the scan table holds (estimate)", kG, "ScanTable",
     [](const AnalyticsTop& t) { return t.scan_stats.memory_bytes; }},
    {"port_cells", "Cells in the client-port distribution", kG, "PortDistribution",
     [](const AnalyticsTop& t) { return t.port_cells; }},
    {"port_flows", "Flows counted into the client-port distribution", kC, "PortDistribution",
     [](const AnalyticsTop& t) { return t.port_stats.flows; }},
    {"port_evicted_cells", "Cells evicted from the client-port distribution", kC,
     "PortDistribution", [](const AnalyticsTop& t) { return t.port_stats.evicted_cells; }},
    {"port_evicted_flows", "Flows in the evicted cells", kC, "PortDistribution",
     [](const AnalyticsTop& t) { return t.port_stats.evicted_flows; }},
}};

// The exporter's and analytics lcore's atomics and the table entry each feeds
// (pipeline.cc TakeSnapshot copies them; the unit test checks every atomic
// of the struct is here and every name is in a table).
template <typename Src>
struct SourceOf {
  Counter Src::*source;
  std::string_view name;
};
inline constexpr std::array<SourceOf<ExporterCounters>, 5> kExporterSources{{
    {&ExporterCounters::records_written, "records_written"},
    {&ExporterCounters::bytes_written, "bytes_written"},
    {&ExporterCounters::write_errors, "write_errors"},
    {&ExporterCounters::snapshots_written, "snapshots_written"},
    {&ExporterCounters::snapshots_too_large, "snapshots_dropped"},
}};
inline constexpr std::array<SourceOf<AnalyticsCounters>, 6> kAnalyticsSources{{
    {&AnalyticsCounters::records, "analytics_records"},
    {&AnalyticsCounters::contacts, "analytics_contacts"},
    {&AnalyticsCounters::live_scanners, "live_scanners"},  // kAnalyticsCounters
    {&AnalyticsCounters::snapshots, "analytics_snapshots"},
    {&AnalyticsCounters::snapshots_dropped, "snapshots_dropped"},
    {&AnalyticsCounters::snapshot_errors, "analytics_snapshot_errors"},
}};

// The status line: (word, worker/sensor/port table name) in the order
// bench/linerate.sh parses; "sessions" opens the session group.
struct StatusItem {
  std::string_view word;
  std::string_view name;
};
inline constexpr std::array<StatusItem, 9> kStatusLine{{
    {"imissed", "imissed"},
    {"nombuf", "nombuf"},
    {"bad", "bad_packets_total"},
    {"sessions active", "sessions_active"},
    {"created", "sessions_created"},
    {"ended", "sessions_ended"},
    {"evicted", "sessions_evicted"},
    {"records", "records_written"},
    {"ring_drops", "ring_drops"},
}};

// The JSON/telemetry key of a parse class's total and its reason object:
// "bad_packets" for malformed (bad means malformed and nothing else).
std::string ParseClassKey(packet::ParseClass c);

// A sensor-wide total by table name: a port counter summed over the ports, a
// worker counter or class total summed over the workers, or a sensor
// counter. False when the name is in no table.
bool TotalByName(const Snapshot& s, std::string_view name, uint64_t* out);

}  // namespace flowtrail::dataplane
