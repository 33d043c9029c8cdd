#include "tools/report_ports.h"

#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <ctime>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "analytics/port_distribution.h"
#include "export/stream_reader.h"
#include "tools/cat_command.h"
#include "tools/output_buffer.h"
#include "tools/record_format.h"
#include "tools/report_table.h"
#include "tools/stream_inputs.h"

namespace flowtrail::tools {

const char kReportPortsHelp[] =
    R"(usage: flowtrail report ports [options] [FILE...]

The client-port distribution of Goldfarb's "Identifying Anomalous Network
Traffic Through the Use of Client Port Distribution" (US-CERT 2005) over
flowtrail record streams (FILE "-", or no FILE, reads stdin; several files,
e.g. from several sensors, are merged). Per window of record time (aligned to
multiples of its length, by each session's first packet) and per server port,
flows are counted per client port (0-65535). A flow is a TCP or UDP session,
counted once at its final record (interim records of active timeouts are
skipped). Two methods, both reported and labelled:

  goldfarb  the paper: for server ports with more than C client ports, flag
            client ports whose count is > mean + S * stddev. The stddev is the
            sample one (n - 1); with n client ports no z-score can exceed
            (n - 1)/sqrt(n), below 3 for n <= 10, so small server ports never
            alert (the report says so).
  robust    mad: modified z-score 0.6745 (count - median) / MAD > 3.5
            (Iglewicz-Hoaglin), median and MAD over the client ports of the
            same ephemeral-port band (0-1023, 1024-5000, 5001-32767,
            32768-49151, 49152-60999, 61000-65535) when it has more than C
            of them, else over all of the server port's; MAD floored at 1;
            and P(X >= count) < alpha / n for X ~ Poisson(that median), so
            a busy port's natural tail over thousands of client ports is
            not flagged.
            fanout: the client hosts of one client port reached >= F
            distinct servers each (a fixed-source-port scan, by one host or
            several sharing the port), whatever n is.
            Distinct hosts are estimated (64-bit linear counting per cell).

options:
  --from records|snapshots
                          count the streams' records (default), or merge the
                          last analytics snapshot frame of each stream (a
                          sensor's, or `flowtrail report snapshot`'s); with
                          snapshots the window, server ports and protocol are
                          the snapshots' own
  --window SECONDS        window length (default 3600)
  --server-ports SET      server ports analysed: 0-1023 (default), a list of
                          ports and ranges (22,80,8000-8999), or all
  --protocol tcp|udp|both (default both)
  --min-client-ports C    analyse server ports with more than C (default 5)
  --sigma S               goldfarb's S (default 3)
  --stddev sample|population
                          goldfarb's standard deviation (default sample)
  --robust-threshold Z    mad rule's modified z-score (default 3.5)
  --mad-floor N           smallest MAD used, in flows (default 1)
  --robust-alpha A        mad rule's Poisson gate, family-wise per server
                          port (default 0.01; 1 switches it off)
  --fanout-servers F      fanout rule's distinct servers per client host
                          (default 16; 0 off)
  --max-cells N           memory budget in (window, server port, client port)
                          cells (default 900000, about 34 MiB); beyond it the oldest
                          window's smallest cells are evicted and counted
  --format table|json|csv the report: the paper's Appendix A ("Port 445",
                          "sPort | count") per method (default table); one
                          JSON document; or one CSV row per flagged pair and
                          method
  --all                   list every analysed server port, flagged or not
  --flows SERVER_PORT:CLIENT_PORT
                          the follow-up query: print the records counted for
                          that pair instead of the report (repeatable), with
                          --format classic|json|csv as `flowtrail cat`
                          (table = classic)
  --allow-unfinished      a stream without its trailer is not an error
  -h, --help              this text

Exit status: 0 every stream read cleanly; 1 a stream could not be opened or
is truncated or corrupt (the report covers the records read before), or the
output could not be written; 2 bad usage.
)";

namespace {

using analytics::ClientPortRow;
using analytics::PortAnalysisOptions;
using analytics::PortDistribution;
using analytics::PortDistributionOptions;
using analytics::ServerPortReport;
using analytics::StddevKind;

struct Options {
  PortDistributionOptions counts;
  PortAnalysisOptions analysis;
  ReportFormat format = ReportFormat::kTable;
  Format record_format = Format::kClassic;
  bool all = false;
  bool from_snapshots = false;
  std::vector<std::pair<uint16_t, uint16_t>> flows;
  exporter::ReaderOptions reader;
  std::vector<std::string> files;
};

int Usage(std::FILE* err, const std::string& message) {
  std::fprintf(err, "flowtrail report ports: %s\nRun 'flowtrail report ports --help' for usage.\n",
               message.c_str());
  return kExitUsage;
}

template <typename T>
bool ParseUnsigned(const std::string& s, T* out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

bool ParseDouble(const std::string& s, double* out) {
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() && errno == 0 && std::isfinite(*out) &&
         *out >= 0;
}

// "0-1023", "22,80,443" ... from a set.
std::string PortSetText(const analytics::PortSet& set) {
  if (set.all()) {
    return "all";
  }
  std::string out;
  for (uint32_t p = 0; p < 65536;) {
    if (!set.test(p)) {
      ++p;
      continue;
    }
    uint32_t q = p;
    while (q + 1 < 65536 && set.test(q + 1)) {
      ++q;
    }
    absl::StrAppend(&out, out.empty() ? "" : ",", p);
    if (q > p) {
      absl::StrAppend(&out, "-", q);
    }
    p = q + 1;
  }
  return out.empty() ? "none" : out;
}

std::string UtcText(uint64_t us) {
  const auto secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// Numbers for JSON and CSV: integers plainly, others with 6 significant digits.
std::string Num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
std::string Sci(double v) {
  if (v == 0) {
    return "<1e-300";  // underflow: the tail is beyond a double
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", v);
  return buf;
}
std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string Rules(const ClientPortRow& r) {
  std::string s;
  if (r.mad) {
    s = "mad";
  }
  if (r.fanout) {
    absl::StrAppend(&s, s.empty() ? "" : "+", "fanout");
  }
  return s;
}

// A saturated bitmap's estimate is a lower bound.
std::string Distinct(uint32_t n) {
  return n >= analytics::kDistinctSaturated ? absl::StrCat(n, "+") : absl::StrCat(n);
}

const char* StddevName(StddevKind k) { return k == StddevKind::kSample ? "sample" : "population"; }

using Output = OutputBuffer;

// Reads the streams (segments of one run joined: a sequence read twice
// counts once), calling `each` per valid record. Returns false after
// printing the errors (the records before each were delivered).
template <typename Each>
bool ReadStreams(std::span<const std::string> files, const exporter::ReaderOptions& options,
                 std::FILE* err, Each&& each) {
  std::vector<std::string> errors;
  const bool ok = ForEachRecordOfRuns(files, options, each, &errors);
  for (const std::string& e : errors) std::fprintf(err, "flowtrail report ports: %s\n", e.c_str());
  return ok;
}

void AppendTable(const Options& o, const PortDistribution& d,
                 const std::vector<ServerPortReport>& reports, std::string* out) {
  const analytics::PortDistributionStats& s = d.stats();
  const PortAnalysisOptions& a = o.analysis;
  absl::StrAppend(out, "client-port distribution: ", s.records, " records, ", s.flows,
                  " flows counted (", s.interim_skipped, " interim records skipped, ",
                  s.other_protocol, " not ",
                  o.counts.tcp && o.counts.udp ? "TCP/UDP"
                  : o.counts.tcp               ? "TCP"
                                               : "UDP",
                  ", ", s.port_excluded, " to other server ports)\n");
  absl::StrAppend(out, "window ", o.counts.window_us / 1'000'000, " s, server ports ",
                  PortSetText(o.counts.server_ports), "; cells ", d.cells(), " (budget ",
                  o.counts.max_cells, "), evicted ", s.evicted_cells, " cells / ", s.evicted_flows,
                  " flows\n");
  if (s.evicted_cells > 0) {
    absl::StrAppend(out,
                    "warning: the cell budget was exceeded; the statistics below leave out the "
                    "evicted cells (raise --max-cells)\n");
  }
  absl::StrAppend(out, "goldfarb: server ports with more than ", a.min_client_ports,
                  " client ports, count > mean + ", Num(a.sigma), " * stddev (",
                  StddevName(a.stddev), ")\n");
  absl::StrAppend(out, "robust: mad = modified z > ", Num(a.robust_threshold),
                  " against the band's (else the port's) median/MAD, MAD floor ", Num(a.mad_floor),
                  ", Poisson p < ", Num(a.alpha), "/n");
  if (a.fanout_servers > 0) {
    absl::StrAppend(out, "; fanout = >= ", a.fanout_servers,
                    " servers per client host from one client port");
  }
  absl::StrAppend(out, "\n");
  uint64_t window = UINT64_MAX;
  size_t shown = 0;
  for (const ServerPortReport& r : reports) {
    if (!o.all && r.flagged.empty()) {
      continue;
    }
    ++shown;
    if (r.window_start_us != window) {
      window = r.window_start_us;
      absl::StrAppend(out, "\nwindow ", UtcText(window), " (", window / 1'000'000, ")\n");
    }
    absl::StrAppend(out, "\nPort ", r.server_port, "\n");
    absl::StrAppend(out, "client ports ", r.client_ports, ", flows ", r.flows, ", mean ",
                    Fixed(r.mean), ", stddev ", Fixed(r.stddev), ", mean+", Num(a.sigma), "sd ",
                    Fixed(r.threshold), ", median ", Num(r.median), ", mad ", Num(r.mad), "\n");
    absl::StrAppend(out, "goldfarb:\n");
    if (!r.goldfarb_eligible) {
      absl::StrAppend(out, "(not analysed: ", r.client_ports, " client ports, not more than ",
                      a.min_client_ports, ")\n");
    } else if (r.max_z <= a.sigma) {
      absl::StrAppend(out, "(cannot alert: with ", r.client_ports,
                      " client ports no z-score can exceed ", Fixed(r.max_z), ")\n");
    } else if (r.goldfarb_flags() == 0) {
      absl::StrAppend(out, "(none)\n");
    }
    if (r.goldfarb_flags() > 0) {
      absl::StrAppend(out, "sPort | count\n");
      for (const ClientPortRow& p : r.flagged) {
        if (p.goldfarb) {
          absl::StrAppend(out, p.client_port, " | ", p.flows, "\n");
        }
      }
    }
    absl::StrAppend(out, "robust:\n");
    if (r.robust_flags() == 0) {
      absl::StrAppend(out, "(none)\n");
    } else {
      absl::StrAppend(out,
                      "sPort | count | clients | servers | band | median | mad | mz | p | why\n");
      for (const ClientPortRow& p : r.flagged) {
        if (!p.mad && !p.fanout) {
          continue;
        }
        absl::StrAppend(out, p.client_port, " | ", p.flows, " | ", Distinct(p.distinct_clients),
                        " | ", Distinct(p.distinct_servers), " | ", analytics::PortBandName(p.band),
                        p.band_reference ? "" : " (port)", " | ", Num(p.ref_median), " | ",
                        Num(p.ref_mad), " | ", Fixed(p.modified_z), " | ", Sci(p.p_value), " | ",
                        Rules(p), "\n");
      }
    }
  }
  if (shown == 0) {
    absl::StrAppend(out, "\nno client port flagged\n");
  }
}

void AppendJson(const Options& o, const PortDistribution& d,
                const std::vector<ServerPortReport>& reports, std::string* out) {
  const analytics::PortDistributionStats& s = d.stats();
  const PortAnalysisOptions& a = o.analysis;
  absl::StrAppend(
      out, "{\"params\":{\"window_s\":", o.counts.window_us / 1'000'000, ",\"server_ports\":\"",
      PortSetText(o.counts.server_ports), "\",\"tcp\":", o.counts.tcp ? "true" : "false",
      ",\"udp\":", o.counts.udp ? "true" : "false", ",\"min_client_ports\":", a.min_client_ports,
      ",\"sigma\":", Num(a.sigma), ",\"stddev\":\"", StddevName(a.stddev),
      "\",\"robust_threshold\":", Num(a.robust_threshold), ",\"mad_floor\":", Num(a.mad_floor),
      ",\"alpha\":", Num(a.alpha), ",\"fanout_servers\":", a.fanout_servers,
      ",\"max_cells\":", o.counts.max_cells, "},");
  absl::StrAppend(out, "\"stats\":{\"records\":", s.records, ",\"flows\":", s.flows,
                  ",\"interim_skipped\":", s.interim_skipped,
                  ",\"other_protocol\":", s.other_protocol, ",\"port_excluded\":", s.port_excluded,
                  ",\"cells\":", d.cells(), ",\"evicted_cells\":", s.evicted_cells,
                  ",\"evicted_flows\":", s.evicted_flows, ",\"memory_bytes\":", d.MemoryBytes(),
                  "},\"server_ports\":[");
  bool first = true;
  for (const ServerPortReport& r : reports) {
    if (!o.all && r.flagged.empty()) {
      continue;
    }
    absl::StrAppend(out, first ? "" : ",", "\n{\"window_start_us\":", r.window_start_us,
                    ",\"server_port\":", r.server_port, ",\"client_ports\":", r.client_ports,
                    ",\"flows\":", r.flows, ",\"mean\":", Num(r.mean),
                    ",\"stddev\":", Num(r.stddev), ",\"threshold\":", Num(r.threshold),
                    ",\"goldfarb_eligible\":", r.goldfarb_eligible ? "true" : "false",
                    ",\"max_z\":", Num(r.max_z), ",\"median\":", Num(r.median),
                    ",\"mad\":", Num(r.mad), ",\"goldfarb\":[");
    first = false;
    bool f2 = true;
    for (const ClientPortRow& p : r.flagged) {
      if (!p.goldfarb) {
        continue;
      }
      absl::StrAppend(out, f2 ? "" : ",", "{\"client_port\":", p.client_port,
                      ",\"flows\":", p.flows, ",\"z\":", Num(p.z), "}");
      f2 = false;
    }
    absl::StrAppend(out, "],\"robust\":[");
    f2 = true;
    for (const ClientPortRow& p : r.flagged) {
      if (!p.mad && !p.fanout) {
        continue;
      }
      absl::StrAppend(out, f2 ? "" : ",", "{\"client_port\":", p.client_port,
                      ",\"flows\":", p.flows, ",\"band\":\"", analytics::PortBandName(p.band),
                      "\",\"band_reference\":", p.band_reference ? "true" : "false",
                      ",\"ref_median\":", Num(p.ref_median), ",\"ref_mad\":", Num(p.ref_mad),
                      ",\"modified_z\":", Num(p.modified_z), ",\"p_value\":", Num(p.p_value),
                      ",\"distinct_clients\":", p.distinct_clients,
                      ",\"distinct_servers\":", p.distinct_servers,
                      ",\"mad\":", p.mad ? "true" : "false",
                      ",\"fanout\":", p.fanout ? "true" : "false", "}");
      f2 = false;
    }
    absl::StrAppend(out, "]}");
  }
  absl::StrAppend(out, "]}\n");
}

void AppendCsv(const Options& o, const std::vector<ServerPortReport>& reports, std::string* out) {
  absl::StrAppend(out,
                  "window_start_us,server_port,method,client_port,flows,client_ports,mean,stddev,"
                  "threshold,z,band,ref_median,ref_mad,modified_z,p_value,distinct_clients,"
                  "distinct_servers,rules\n");
  for (const ServerPortReport& r : reports) {
    for (int method = 0; method < 2; ++method) {
      for (const ClientPortRow& p : r.flagged) {
        if (method == 0 ? !p.goldfarb : !(p.mad || p.fanout)) {
          continue;
        }
        absl::StrAppend(out, r.window_start_us, ",", r.server_port, ",",
                        method == 0 ? "goldfarb" : "robust", ",", p.client_port, ",", p.flows, ",",
                        r.client_ports, ",", Num(r.mean), ",", Num(r.stddev), ",", Num(r.threshold),
                        ",", Num(p.z), ",", analytics::PortBandName(p.band), ",", Num(p.ref_median),
                        ",", Num(p.ref_mad), ",", Num(p.modified_z), ",", Num(p.p_value), ",",
                        p.distinct_clients, ",", p.distinct_servers, ",",
                        method == 0 ? "goldfarb" : Rules(p), "\n");
      }
    }
  }
  (void)o;
}

// Parses everything; returns -1 to go on, else the exit code.
int ParseArgs(std::span<const std::string> args, Options& o, std::FILE* out, std::FILE* err) {
  bool options_done = false;
  std::string format_name;
  uint64_t window_s = 3600;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a == "-" || !absl::StartsWith(a, "-")) {
      o.files.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kReportPortsHelp, out);
      return kExitOk;
    }
    if (a == "--all") {
      o.all = true;
      continue;
    }
    if (a == "--allow-unfinished") {
      o.reader.require_trailer = false;
      continue;
    }
    // Options with a value: --name VALUE or --name=VALUE.
    std::string name = a, value;
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Usage(err, a + " needs a value");
    }
    auto bad = [&](const std::string& why) {
      return Usage(err, absl::StrCat(name, " ", value, ": ", why));
    };
    if (name == "--format" || name == "-f") {
      format_name = value;
    } else if (name == "--from") {
      if (value != "records" && value != "snapshots") {
        return bad("must be records or snapshots");
      }
      o.from_snapshots = value == "snapshots";
    } else if (name == "--window") {
      if (!ParseUnsigned(value, &window_s) || window_s == 0 || window_s > 100ULL * 365 * 86400) {
        return bad("not a number of seconds (1 or more)");
      }
    } else if (name == "--server-ports") {
      absl::StatusOr<analytics::PortSet> set = analytics::ParsePortSet(value);
      if (!set.ok()) {
        return Usage(err, std::string(set.status().message()));
      }
      o.counts.server_ports = *set;
    } else if (name == "--protocol") {
      if (value == "tcp" || value == "udp" || value == "both") {
        o.counts.tcp = value != "udp";
        o.counts.udp = value != "tcp";
      } else {
        return bad("not tcp, udp or both");
      }
    } else if (name == "--min-client-ports") {
      if (!ParseUnsigned(value, &o.analysis.min_client_ports)) {
        return bad("not a count");
      }
    } else if (name == "--sigma") {
      if (!ParseDouble(value, &o.analysis.sigma)) {
        return bad("not a non-negative number");
      }
    } else if (name == "--stddev") {
      if (value == "sample") {
        o.analysis.stddev = StddevKind::kSample;
      } else if (value == "population") {
        o.analysis.stddev = StddevKind::kPopulation;
      } else {
        return bad("not sample or population");
      }
    } else if (name == "--robust-threshold") {
      if (!ParseDouble(value, &o.analysis.robust_threshold)) {
        return bad("not a non-negative number");
      }
    } else if (name == "--mad-floor") {
      if (!ParseDouble(value, &o.analysis.mad_floor) || o.analysis.mad_floor <= 0) {
        return bad("not a positive number");
      }
    } else if (name == "--robust-alpha") {
      if (!ParseDouble(value, &o.analysis.alpha) || o.analysis.alpha <= 0 || o.analysis.alpha > 1) {
        return bad("not a level in (0, 1]");
      }
    } else if (name == "--fanout-servers") {
      if (!ParseUnsigned(value, &o.analysis.fanout_servers)) {
        return bad("not a count");
      }
    } else if (name == "--max-cells") {
      if (!ParseUnsigned(value, &o.counts.max_cells) || o.counts.max_cells < 8) {
        return bad("not a count of 8 or more");
      }
    } else if (name == "--flows") {
      const size_t colon = value.find(':');
      uint32_t sp = 0, cp = 0;
      if (colon == std::string::npos || !ParseUnsigned(value.substr(0, colon), &sp) ||
          !ParseUnsigned(value.substr(colon + 1), &cp) || sp > 65535 || cp > 65535) {
        return bad("not SERVER_PORT:CLIENT_PORT");
      }
      o.flows.emplace_back(static_cast<uint16_t>(sp), static_cast<uint16_t>(cp));
    } else {
      return Usage(err, "unknown option '" + a + "'");
    }
  }
  o.counts.window_us = window_s * 1'000'000;
  if (!format_name.empty()) {
    if (!o.flows.empty()) {
      absl::StatusOr<Format> f = ParseFormat(format_name == "table" ? "classic" : format_name);
      if (!f.ok()) {
        return Usage(err, "--format for --flows: classic, json or csv");
      }
      o.record_format = *f;
    } else if (format_name == "table") {
      o.format = ReportFormat::kTable;
    } else if (format_name == "json") {
      o.format = ReportFormat::kJson;
    } else if (format_name == "csv") {
      o.format = ReportFormat::kCsv;
    } else {
      return Usage(err, "--format: table, json or csv");
    }
  }
  if (absl::Status s = PortDistribution::ValidateOptions(o.counts); !s.ok()) {
    return Usage(err, std::string(s.message()));
  }
  if (o.files.empty()) {
    o.files.push_back("-");
  }
  return -1;
}

int Finish(Output& output, std::FILE* err, bool ok) {
  output.Flush();
  if (output.failed()) {
    std::fprintf(err, "flowtrail report ports: error writing the output: %s\n",
                 std::strerror(output.error()));
    return kExitBadStream;
  }
  return ok ? kExitOk : kExitBadStream;
}

}  // namespace

int RunReportPorts(std::span<const std::string> args, std::FILE* out, std::FILE* err) {
  Options o;
  if (int rc = ParseArgs(args, o, out, err); rc >= 0) {
    return rc;
  }
  Output output(out);
  bool ok = true;

  if (!o.flows.empty()) {
    // The follow-up query: the records the report counted for these pairs.
    const PortDistribution filter(o.counts);
    if (o.record_format == Format::kCsv) {
      AppendCsvHeader(output.buf());
    }
    ok = ReadStreams(o.files, o.reader, err,
                     [&](const v1::SessionRecord& rec, const record::SessionRecord& r) {
                       if (!filter.Counts(r)) {
                         return true;
                       }
                       for (const auto& [sp, cp] : o.flows) {
                         if (r.server_port == sp && r.client_port == cp) {
                           AppendRecord(o.record_format, rec, output.buf());
                           output.MaybeFlush();
                           break;
                         }
                       }
                       return !output.closed();
                     });
    return Finish(output, err, ok);
  }

  // Snapshots of several sensors are merged (the same result as one pass
  // over all records); records go through one pass.
  PortDistribution total(o.counts);
  if (o.from_snapshots) {
    std::optional<analytics::Analytics> merged;
    std::vector<std::string> errors;
    ok = ReadSnapshots(o.files, o.reader, &merged, &errors);
    for (const std::string& e : errors) {
      std::fprintf(err, "flowtrail report ports: %s\n", e.c_str());
    }
    if (!merged.has_value()) {
      return kExitBadStream;
    }
    total = std::move(merged->ports);
  } else {
    PortDistribution one(o.counts);
    ok = ReadStreams(o.files, o.reader, err,
                     [&](const v1::SessionRecord&, const record::SessionRecord& r) {
                       one.Add(r);
                       return true;
                     });
    if (absl::Status s = total.Merge(one); !s.ok()) {
      std::fprintf(err, "flowtrail report ports: %s\n", std::string(s.message()).c_str());
      return kExitBadStream;
    }
  }
  const std::vector<ServerPortReport> reports = analytics::AnalyzePorts(total, o.analysis);
  switch (o.format) {
    case ReportFormat::kTable:
      AppendTable(o, total, reports, output.buf());
      break;
    case ReportFormat::kJson:
      AppendJson(o, total, reports, output.buf());
      break;
    case ReportFormat::kCsv:
      AppendCsv(o, reports, output.buf());
      break;
  }
  return Finish(output, err, ok);
}

}  // namespace flowtrail::tools
