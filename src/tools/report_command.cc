#include "tools/report_command.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "analytics/scan_table.h"
#include "analytics/snapshot.h"
#include "common/byte_size.h"
#include "export/stream_reader.h"
#include "export/stream_writer.h"
#include "tools/cat_command.h"
#include "tools/clusters_command.h"
#include "tools/report_ports.h"
#include "tools/report_table.h"
#include "tools/stream_inputs.h"

namespace flowtrail::tools {

const char kReportHelp[] =
    R"(usage: flowtrail report scans    [options] [FILE...]
       flowtrail report servers  [options] [FILE...]
       flowtrail report ports    [options] [FILE...]  (flowtrail report ports --help)
       flowtrail report clusters [options] [FILE...]  (flowtrail report clusters --help)
       flowtrail report snapshot [options] -o OUT [FILE...]

Analytics over flowtrail record streams (FILE "-", or no FILE, reads stdin;
several files, e.g. from several sensors, are one data set). Only TCP final
records whose client sent a SYN count; interim records (continuing) are
skipped so that each session counts once, by its final record. The result
does not depend on the order of the records (how workers or files interleave
them): blindness and the TRW walk are judged after all records are in, and
several files give the same report as one file holding all their records.
All windows run on record time.

scans: one row per (client, server port), the paper's Table 5 columns:
  Rejects  the server answered the SYN with RST
  Silents  the server never answered
  Success  the server sent SYN-ACK
  Data     success and the client sent data
  Count    Rejects + Silents
  disjoint unique servers that failed and never accepted this client
  blind    failures outside the active window of their (address, port): from
           its first acceptance minus the horizon to its last acceptance
           plus the horizon (a lower bound when one server failed more than
           twice, and estimated on est rows)
  verdict  the client's Threshold Random Walk (Jung et al. 2004) over its
           first contacts: scanner, benign or pending; after = first contacts
           until it decided
  est      the server counts are HyperLogLog estimates (a row is exact up to
           16 distinct servers; beyond, about 2.3 % standard error)
  --by servers      (default) count unique servers (Table 5)
  --by sessions     count sessions (Tables 3-4)
  --data-only       only rows where the client sent data
  --top N           the first N rows (rows are sorted by Count, highest first)

servers: the active servers: (address, port) that accepted a connection
  within the horizon of the latest record time; sorted by accepted sessions.
  --all             every server that ever accepted

snapshot: writes OUT, a stream (schema revision 2) holding no records and one
  analytics snapshot frame: the scan table (with the scan options below) and
  the client-port distribution (the defaults of `report ports`: 3600 s
  windows, server ports 0-1023) of all the inputs' records. Snapshots of
  parts merge into the report of the whole (`--from snapshots`).
  -o, --output OUT          the stream to write ("-" = stdout)

  --from records|snapshots  (scans, servers) records (default): count the
                            inputs' records; snapshots: merge the LAST
                            snapshot frame of each input (the most complete
                            one; several sensors or files) and report from
                            that state. The tables' options are then the
                            snapshots' (they must agree on horizon, TRW
                            parameters and hash key); --horizon, --trw-*,
                            --hash-key, --max-keys and --analytics-memory
                            are ignored.

common options:
  --format table|json|csv   (default table) json: one object per row
  --horizon SECONDS         how long an acceptance makes a server active
                            (default 1800)
  --trw-theta0 P            P(success | benign), default 0.8
  --trw-theta1 P            P(success | scanner), default 0.2
  --trw-alpha P             target false-positive rate, default 0.01
  --trw-beta P              target detection rate, default 0.99
  --trw-active-failure neutral|failure
                            a failure against an active server: no evidence
                            (default) or as much as a blind failure
  --analytics-memory BYTES  memory budget of the tables (suffix k, M, G:
                            powers of 1024); the coldest keys are evicted
  --max-keys N              at most N rows, N clients, N servers (1000000)
  --hash-key HEX            the 64-bit key of the server-set hash (default a
                            fixed one, so that reports are reproducible; set
                            a secret one where attackers could read this
                            source and choose colliding addresses)
  --allow-unfinished        a stream without its trailer is not an error
  -h, --help                this text

A summary (records, rows, evictions, memory and bytes per key) goes to
stderr. Exit status: 0 ok; 1 a stream could not be opened or is truncated or
corrupt (the report covers the good records, then the error is printed);
2 bad usage.
)";

namespace {

using analytics::Outcome;
using analytics::ScanOptions;
using analytics::ScanRow;
using analytics::ScanTable;
using analytics::ServerRow;

struct Options {
  std::string command;
  ReportFormat format = ReportFormat::kTable;
  bool by_sessions = false;
  bool data_only = false;
  bool all = false;
  uint64_t top = 0;  // 0: all
  bool from_snapshots = false;
  std::string output;  // snapshot
  ScanOptions scan;
  exporter::ReaderOptions reader;
  std::vector<std::string> files;
};

int Usage(std::FILE* err, const std::string& command, const std::string& message) {
  std::fprintf(err, "flowtrail report%s%s: %s\nRun 'flowtrail report --help' for usage.\n",
               command.empty() ? "" : " ", command.c_str(), message.c_str());
  return kExitUsage;
}

bool ParseProbability(const std::string& v, double* out) {
  double d = 0;
  if (!absl::SimpleAtod(v, &d) || !(d > 0 && d < 1)) {
    return false;
  }
  *out = d;
  return true;
}

std::string Time(uint64_t us) { return absl::StrFormat("%d.%06d", us / 1'000'000, us % 1'000'000); }

// `report snapshot`: every record of the inputs into one snapshot frame.
int RunSnapshot(const Options& o, std::FILE* err) {
  if (o.output.empty()) {
    return Usage(err, "snapshot", "needs -o OUT");
  }
  analytics::Analytics a{ScanTable(o.scan), analytics::PortDistribution()};
  std::vector<std::string> errors;
  // Segments of one run are joined: a sequence read twice counts once.
  const bool ok = ForEachRecordOfRuns(
      o.files, o.reader,
      [&](const v1::SessionRecord&, const record::SessionRecord& rec) {
        a.scans.Consume(rec);
        a.ports.Add(rec);
        a.first_record_time_us = a.records == 0
                                     ? rec.first_time_us
                                     : std::min(a.first_record_time_us, rec.first_time_us);
        a.last_record_time_us = std::max(a.last_record_time_us, rec.first_time_us);
        ++a.records;
        return true;
      },
      &errors);
  v1::AnalyticsSnapshot snap;
  absl::Status s = analytics::SaveSnapshot(a, &snap);
  absl::StatusOr<std::unique_ptr<exporter::ByteSink>> sink = exporter::OpenFileSink(o.output);
  if (s.ok() && !sink.ok()) {
    s = sink.status();
  }
  if (s.ok()) {
    exporter::StreamInfo info;
    info.sensor_id = "flowtrail-report";
    info.inputs = o.files;
    info.snapshots = true;
    absl::StatusOr<std::unique_ptr<exporter::StreamWriter>> w =
        exporter::StreamWriter::Create(*std::move(sink), info);
    s = w.ok() ? (*w)->WriteSnapshot(snap) : w.status();
    if (s.ok()) {
      s = (*w)->Close(0, a.last_record_time_us);
    }
  }
  if (!s.ok()) {
    std::fprintf(err, "flowtrail report snapshot: %s: %s\n", o.output.c_str(),
                 std::string(s.message()).c_str());
    return kExitBadStream;
  }
  std::fprintf(err, "flowtrail report snapshot: %" PRIu64 " records, %zu bytes of snapshot in %s\n",
               a.records, snap.ByteSizeLong(), o.output.c_str());
  for (const std::string& e : errors) {
    std::fprintf(err, "flowtrail report: %s\n", e.c_str());
  }
  return ok ? kExitOk : kExitBadStream;
}

// Feeds every file's good records (those the scan table counts), in order,
// to the table in chunks: the memory is the table's (its budget), not the
// input's (a whole capture's records held first took ~200 bytes each).
// Returns false if some file was bad; the error is printed after the report.
bool ConsumeRecords(const Options& o, ScanTable* table, uint64_t* other_records,
                    std::vector<std::string>* errors) {
  constexpr size_t kChunk = 1 << 16;
  std::vector<record::SessionRecord> chunk;
  chunk.reserve(kChunk);
  // Segments of one run are joined: a sequence read twice counts once.
  const bool ok = ForEachRecordOfRuns(
      o.files, o.reader,
      [&](const v1::SessionRecord&, const record::SessionRecord& rec) {
        if (analytics::ClassifyRecord(rec) == Outcome::kNone) {
          ++*other_records;
          return true;
        }
        chunk.push_back(rec);
        if (chunk.size() == kChunk) {
          table->Consume(std::span<const record::SessionRecord>(chunk));
          chunk.clear();
        }
        return true;
      },
      errors);
  table->Consume(std::span<const record::SessionRecord>(chunk));
  return ok;
}

std::string Address(const IpAddress& a, uint8_t v) { return FormatIp(a, v); }

void WriteScans(const Options& o, const ScanTable& table, std::FILE* out) {
  std::vector<ScanRow> rows = table.Rows();
  if (o.data_only) {
    std::erase_if(
        rows, [](const ScanRow& r) { return r.sessions[static_cast<int>(Outcome::kData)] == 0; });
  }
  const bool s = o.by_sessions;
  std::sort(rows.begin(), rows.end(), [s](const ScanRow& a, const ScanRow& b) {
    if (a.Count(s) != b.Count(s)) {
      return a.Count(s) > b.Count(s);
    }
    if (a.Count(!s) != b.Count(!s)) {
      return a.Count(!s) > b.Count(!s);
    }
    return std::tie(a.ip_version, a.client, a.port) < std::tie(b.ip_version, b.client, b.port);
  });
  if (o.top != 0 && rows.size() > o.top) {
    rows.resize(o.top);
  }
  ReportTable t({{"client"},
                 {"port", true},
                 {"rejects", true},
                 {"silents", true},
                 {"success", true},
                 {"data", true},
                 {"count", true},
                 {"disjoint", true},
                 {"blind", true},
                 {"verdict"},
                 {"after", true},
                 {"est", true}});
  for (const ScanRow& r : rows) {
    const uint64_t* v = s ? r.sessions : r.servers;
    auto n = [](uint64_t x) { return std::to_string(x); };
    t.AddRow({Address(r.client, r.ip_version), n(r.port), n(v[1]), n(v[2]), n(v[3]), n(v[4]),
              n(r.Count(s)), n(r.disjoint), n(s ? r.blind_sessions : r.blind_servers),
              analytics::VerdictName(r.verdict), n(r.decided_after),
              r.estimated ? "true" : "false"});
  }
  const std::string text = t.Render(o.format);
  std::fwrite(text.data(), 1, text.size(), out);
}

void WriteServers(const Options& o, const ScanTable& table, std::FILE* out) {
  std::vector<ServerRow> rows = table.Servers(o.all);
  std::sort(rows.begin(), rows.end(), [](const ServerRow& a, const ServerRow& b) {
    if (a.accepts != b.accepts) {
      return a.accepts > b.accepts;
    }
    if (a.clients != b.clients) {
      return a.clients > b.clients;
    }
    return std::tie(a.ip_version, a.address, a.port) < std::tie(b.ip_version, b.address, b.port);
  });
  if (o.top != 0 && rows.size() > o.top) {
    rows.resize(o.top);
  }
  ReportTable t({{"server"},
                 {"port", true},
                 {"accepts", true},
                 {"clients", true},
                 {"first_accept"},
                 {"last_accept"},
                 {"est", true}});
  for (const ServerRow& r : rows) {
    t.AddRow({Address(r.address, r.ip_version), std::to_string(r.port), std::to_string(r.accepts),
              std::to_string(r.clients), Time(r.first_accept_us), Time(r.last_accept_us),
              r.estimated ? "true" : "false"});
  }
  const std::string text = t.Render(o.format);
  std::fwrite(text.data(), 1, text.size(), out);
}

// Returns -1 when parsing succeeded, else the exit status.
int ParseArgs(std::span<const std::string> args, Options* o, std::FILE* out, std::FILE* err) {
  const std::string& cmd = o->command;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a == "-" || !absl::StartsWith(a, "-")) {
      o->files.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kReportHelp, out);
      return kExitOk;
    }
    if (a == "--data-only" && cmd == "scans") {
      o->data_only = true;
      continue;
    }
    if (a == "--all" && cmd == "servers") {
      o->all = true;
      continue;
    }
    if (a == "-o" && cmd == "snapshot" && i + 1 < args.size()) {
      o->output = args[++i];
      continue;
    }
    if (a == "--allow-unfinished") {
      o->reader.require_trailer = false;
      continue;
    }
    // Options with a value: --name VALUE or --name=VALUE.
    std::string name = a;
    std::string value;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Usage(err, cmd, a + " needs a value (or is unknown)");
    }
    double d = 0;
    uint64_t n = 0;
    if (name == "--output" && cmd == "snapshot") {
      o->output = value;
    } else if (name == "--from" && cmd != "snapshot") {
      if (value != "records" && value != "snapshots") {
        return Usage(err, cmd, "--from must be records or snapshots, not '" + value + "'");
      }
      o->from_snapshots = value == "snapshots";
    } else if (name == "--format") {
      if (!ParseReportFormat(value, &o->format)) {
        return Usage(err, cmd, "--format must be table, json or csv, not '" + value + "'");
      }
    } else if (name == "--by" && cmd == "scans") {
      if (value != "servers" && value != "sessions") {
        return Usage(err, cmd, "--by must be servers or sessions, not '" + value + "'");
      }
      o->by_sessions = value == "sessions";
    } else if (name == "--top") {
      if (!absl::SimpleAtoi(value, &o->top)) {
        return Usage(err, cmd, "bad --top '" + value + "'");
      }
    } else if (name == "--horizon") {
      if (!absl::SimpleAtod(value, &d) || !(d >= 0 && d < 1e9)) {
        return Usage(err, cmd, "bad --horizon '" + value + "' (seconds)");
      }
      o->scan.horizon_us = static_cast<uint64_t>(std::llround(d * 1e6));
    } else if (name == "--trw-theta0" || name == "--trw-theta1" || name == "--trw-alpha" ||
               name == "--trw-beta") {
      if (!ParseProbability(value, &d)) {
        return Usage(err, cmd, name + " must be a probability strictly between 0 and 1");
      }
      analytics::TrwOptions& p = o->scan.trw;
      (name == "--trw-theta0"   ? p.theta0
       : name == "--trw-theta1" ? p.theta1
       : name == "--trw-alpha"  ? p.alpha
                                : p.beta) = d;
    } else if (name == "--trw-active-failure") {
      if (value != "neutral" && value != "failure") {
        return Usage(err, cmd, "--trw-active-failure must be neutral or failure");
      }
      o->scan.trw.active_failure_counts = value == "failure";
    } else if (name == "--analytics-memory") {
      if (!ParseByteSize(value, &n) || n == 0) {
        return Usage(err, cmd, "bad --analytics-memory '" + value + "' (bytes, k/M/G suffix)");
      }
      o->scan.memory_bytes = n;
    } else if (name == "--hash-key") {
      if (!absl::SimpleHexAtoi(value, &o->scan.hash_key)) {
        return Usage(err, cmd, "bad --hash-key '" + value + "' (hexadecimal)");
      }
    } else if (name == "--max-keys") {
      if (!absl::SimpleAtoi(value, &n) || n == 0) {
        return Usage(err, cmd, "bad --max-keys '" + value + "'");
      }
      o->scan.max_rows = o->scan.max_clients = o->scan.max_servers = n;
    } else {
      return Usage(err, cmd, "unknown option '" + name + "'");
    }
  }
  const analytics::TrwOptions& p = o->scan.trw;
  if (!(p.theta0 > p.theta1)) {
    return Usage(err, cmd, "--trw-theta0 must exceed --trw-theta1");
  }
  if (!(p.beta > p.alpha)) {
    return Usage(err, cmd, "--trw-beta must exceed --trw-alpha");
  }
  if (o->files.empty()) {
    o->files.push_back("-");
  }
  return -1;
}

}  // namespace

int RunReport(std::span<const std::string> args, std::FILE* out, std::FILE* err) {
  if (args.empty()) {
    std::fputs(kReportHelp, err);
    return kExitUsage;
  }
  Options o;
  o.command = args[0];
  if (o.command == "-h" || o.command == "--help" || o.command == "help") {
    std::fputs(kReportHelp, out);
    return kExitOk;
  }
  if (o.command == "ports") {
    return RunReportPorts(args.subspan(1), out, err);
  }
  if (o.command == "clusters") {
    return RunReportClusters(args.subspan(1), out, err);
  }
  if (o.command != "scans" && o.command != "servers" && o.command != "snapshot") {
    return Usage(err, "",
                 "unknown report '" + o.command + "' (scans, servers, ports, clusters, snapshot)");
  }
  if (int rc = ParseArgs(args.subspan(1), &o, out, err); rc >= 0) {
    return rc;
  }
  if (o.command == "snapshot") {
    return RunSnapshot(o, err);
  }

  uint64_t other = 0;
  std::vector<std::string> errors;
  bool ok = true;
  ScanTable table(o.scan);
  if (o.from_snapshots) {
    std::optional<analytics::Analytics> merged;
    ok = ReadSnapshots(o.files, o.reader, &merged, &errors);
    if (merged.has_value()) {
      table = std::move(merged->scans);
      other = table.Stats().records - table.Stats().counted;
    }
  } else {
    ok = ConsumeRecords(o, &table, &other, &errors);
  }

  if (o.command == "scans") {
    WriteScans(o, table, out);
  } else {
    WriteServers(o, table, out);
  }
  std::fflush(out);
  const analytics::ScanStats st = table.Stats();
  std::fprintf(err,
               "flowtrail report %s: %" PRIu64 " records counted, %" PRIu64
               " not counted (interim, not TCP, no client SYN); %" PRIu64 " rows, %" PRIu64
               " clients, %" PRIu64 " servers; evicted %" PRIu64 " rows, %" PRIu64
               " clients, %" PRIu64 " servers; memory %" PRIu64
               " bytes (budget %s; %zu per row, "
               "%zu per client, %zu per server before sketches)\n",
               o.command.c_str(), st.counted, other, st.rows, st.clients, st.servers,
               st.row_evictions, st.client_evictions, st.server_evictions, st.memory_bytes,
               st.memory_budget ? std::to_string(st.memory_budget).c_str() : "none",
               ScanTable::RowBytes(), ScanTable::ClientBytes(), ScanTable::ServerBytes());
  for (const std::string& e : errors) {
    std::fprintf(err, "flowtrail report: %s\n", e.c_str());
  }
  return ok ? kExitOk : kExitBadStream;
}

}  // namespace flowtrail::tools
