#include "tools/clusters_command.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "analytics/behaviour_clusters.h"
#include "analytics/scan_table.h"
#include "export/stream_reader.h"
#include "tools/cat_command.h"
#include "tools/output_buffer.h"
#include "tools/plot.h"
#include "tools/report_table.h"
#include "tools/stream_inputs.h"

namespace flowtrail::tools {

const char kReportClustersHelp[] =
    R"help(usage: flowtrail report clusters --client IP --port P [options] [FILE...]
       flowtrail report clusters [--top N] [options] [FILE...]

Behaviour clusters (Heberlein, "Analysis of Session Flow Information", §7)
over flowtrail record streams (FILE "-", or no FILE, reads stdin; several
files are one data set). For one (client, server port), or for the top N
rows of `flowtrail report scans` (ranked by Count = rejects + silents, as
unique servers or --by sessions; default --top 1), over that key's TCP final
records with a client SYN (interim records are skipped):

  value    the distribution (value -> sessions) of client_bytes and
           server_bytes (sequence-derived application bytes), the first-data
           fingerprints (client_/server_fingerprint) and simhashes, the first
           data sender, the shutdown initiator and kind
  group    near-equal fingerprints, single linkage: scalar fingerprints
           whose values differ by at most D (--distance) are one group (so a
           group is a run of sorted values with no gap > D), simhashes within
           Hamming distance H (--simhash-distance); each group with its
           value range, members and sessions. 0 (no data) is never grouped.
  rule     the strongest correlations A=a -> B=b between attributes of
           different families (a side's fingerprint, its group and its
           simhash group are one family): for every a with at least
           --min-support sessions, b is B's most frequent value among them;
           kept when confidence >= --min-confidence and b is not what every
           session has (lift > 1); items that hold in exactly the same
           sessions are one fact (the earliest attribute's item stands for
           them); ranked by confidence, then leverage (P(a,b) - P(a)P(b)),
           then support; the first --rules K. Printed as the paper's sentences: "when server
           bytes is 111, client fingerprint group is 3711000-3711164 in 100%
           of sessions (12 of 12)".

options:
  --client IP --port P      the key (IPv4 or IPv6 client, server port)
  --top N                   the top N scan rows (default 1, when no --client)
  --by servers|sessions     how the top rows are ranked (default servers)
  --data-only               rank only rows where the client sent data
  --distance D              scalar fingerprint distance (default 256)
  --simhash-distance H      simhash Hamming distance, 0-64 (default 6)
  --min-support N           sessions with A=a for a rule (default 3)
  --min-confidence P        0-1 (default 0.75)
  --rules K                 rules per key (default 20)
  --max-values N            table format: the N most frequent values per
                            attribute (default 20; 0 all); json/csv: all
                            unless given
  --max-vectors N           distinct behaviour vectors kept per key
                            (default 65536; further sessions are counted as
                            overflow, not profiled)
  --plot DIR                write PNG histograms per key and attribute (one
                            column per distinct value, in value order, y =
                            sessions; fingerprint columns coloured by group):
                            DIR/CLIENT_PORT_ATTRIBUTE.png
  --format table|json|csv   (default table) json: one object per row with a
                            "section" of key, value, group or rule; csv: one
                            header for every section's columns
  --allow-unfinished        a stream without its trailer is not an error
  -h, --help                this text

Exit status: 0 ok; 1 a stream could not be read (the report covers the good
records) or a picture could not be written; 2 bad usage.
)help";

namespace {

using analytics::BehaviourClusters;
using analytics::ClusterAttribute;
using analytics::ClusterKey;
using analytics::ClusterOptions;
using analytics::ClusterReport;
using analytics::Outcome;
using analytics::ScanRow;
using analytics::ScanTable;

struct Options {
  ReportFormat format = ReportFormat::kTable;
  bool have_client = false;
  ClusterKey key;
  bool have_port = false;
  uint64_t top = 1;
  bool by_sessions = false;
  bool data_only = false;
  int64_t max_values = -1;  // -1: the format's default
  ClusterOptions clusters;
  std::string plot_dir;
  exporter::ReaderOptions reader;
  std::vector<std::string> files;
};

int Usage(std::FILE* err, const std::string& message) {
  std::fprintf(err,
               "flowtrail report clusters: %s\nRun 'flowtrail report clusters --help' for "
               "usage.\n",
               message.c_str());
  return kExitUsage;
}

bool ParseClient(const std::string& text, ClusterKey* key) {
  if (inet_pton(AF_INET, text.c_str(), key->client.bytes.data()) == 1) {
    key->ip_version = 4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), key->client.bytes.data()) == 1) {
    key->ip_version = 6;
    return true;
  }
  return false;
}

int ParseArgs(std::span<const std::string> args, Options* o, std::FILE* out, std::FILE* err) {
  bool options_done = false;
  bool have_top = false;
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
      std::fputs(kReportClustersHelp, out);
      return kExitOk;
    }
    if (a == "--data-only") {
      o->data_only = true;
      continue;
    }
    if (a == "--allow-unfinished") {
      o->reader.require_trailer = false;
      continue;
    }
    std::string name = a;
    std::string value;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Usage(err, a + " needs a value (or is unknown)");
    }
    uint64_t n = 0;
    double d = 0;
    if (name == "--format") {
      if (!ParseReportFormat(value, &o->format)) {
        return Usage(err, "--format must be table, json or csv, not '" + value + "'");
      }
    } else if (name == "--client") {
      if (!ParseClient(value, &o->key)) {
        return Usage(err, "bad --client '" + value + "' (an IPv4 or IPv6 address)");
      }
      o->have_client = true;
    } else if (name == "--port") {
      if (!absl::SimpleAtoi(value, &n) || n > 65535) {
        return Usage(err, "bad --port '" + value + "' (0-65535)");
      }
      o->key.port = static_cast<uint16_t>(n);
      o->have_port = true;
    } else if (name == "--top") {
      if (!absl::SimpleAtoi(value, &o->top) || o->top == 0) {
        return Usage(err, "bad --top '" + value + "' (1 or more)");
      }
      have_top = true;
    } else if (name == "--by") {
      if (value != "servers" && value != "sessions") {
        return Usage(err, "--by must be servers or sessions, not '" + value + "'");
      }
      o->by_sessions = value == "sessions";
    } else if (name == "--distance") {
      if (!absl::SimpleAtoi(value, &n) || n > UINT32_MAX) {
        return Usage(err, "bad --distance '" + value + "' (0-4294967295)");
      }
      o->clusters.fingerprint_distance = static_cast<uint32_t>(n);
    } else if (name == "--simhash-distance") {
      if (!absl::SimpleAtoi(value, &n) || n > 64) {
        return Usage(err, "bad --simhash-distance '" + value + "' (0-64)");
      }
      o->clusters.simhash_distance = static_cast<int>(n);
    } else if (name == "--min-support") {
      if (!absl::SimpleAtoi(value, &n) || n == 0) {
        return Usage(err, "bad --min-support '" + value + "' (1 or more)");
      }
      o->clusters.min_support = n;
    } else if (name == "--min-confidence") {
      if (!absl::SimpleAtod(value, &d) || !(d >= 0 && d <= 1)) {
        return Usage(err, "bad --min-confidence '" + value + "' (0-1)");
      }
      o->clusters.min_confidence = d;
    } else if (name == "--rules") {
      if (!absl::SimpleAtoi(value, &n)) {
        return Usage(err, "bad --rules '" + value + "'");
      }
      o->clusters.max_rules = n;
    } else if (name == "--max-values") {
      if (!absl::SimpleAtoi(value, &n) || n > INT64_MAX) {
        return Usage(err, "bad --max-values '" + value + "'");
      }
      o->max_values = static_cast<int64_t>(n);
    } else if (name == "--max-vectors") {
      if (!absl::SimpleAtoi(value, &n) || n == 0) {
        return Usage(err, "bad --max-vectors '" + value + "' (1 or more)");
      }
      o->clusters.max_vectors = n;
    } else if (name == "--plot") {
      if (value.empty()) {
        return Usage(err, "--plot needs a directory");
      }
      o->plot_dir = value;
    } else {
      return Usage(err, "unknown option '" + name + "'");
    }
  }
  if (o->have_client != o->have_port) {
    return Usage(err, "--client and --port go together");
  }
  if (o->have_client && have_top) {
    return Usage(err, "--top ranks scanners; it does not go with --client");
  }
  if (o->files.empty()) {
    o->files.push_back("-");
  }
  return -1;
}

// Every file's records that the scan table counts. False when a file was
// bad (the errors are printed after the report).
bool ReadRecords(const Options& o, std::vector<record::SessionRecord>* records,
                 std::vector<std::string>* errors) {
  // Segments of one run are joined: a sequence read twice counts once.
  return ForEachRecordOfRuns(
      o.files, o.reader,
      [&](const v1::SessionRecord&, const record::SessionRecord& rec) {
        if (analytics::ClassifyRecord(rec) != Outcome::kNone) {
          records->push_back(rec);
        }
        return true;
      },
      errors);
}

// A key's scan row (the ranking's columns) and its rank (0: not ranked).
struct Selected {
  ClusterKey key;
  uint64_t rank = 0;
  const ScanRow* row = nullptr;
};

std::string Pct(uint64_t part, uint64_t whole) {
  return whole ? absl::StrFormat("%.1f",
                                 100.0 * static_cast<double>(part) / static_cast<double>(whole))
               : "0.0";
}

std::string FileSafe(std::string s) {
  for (char& c : s) {
    if (c == ':' || c == '/') {
      c = '_';
    }
  }
  return s;
}

// The values shown for one distribution: all, or the `limit` most frequent
// (in value order again).
std::vector<const analytics::ClusterValue*> Shown(const analytics::ClusterDistribution& d,
                                                  int64_t limit) {
  std::vector<const analytics::ClusterValue*> v;
  for (const auto& x : d.values) {
    v.push_back(&x);
  }
  if (limit > 0 && v.size() > static_cast<size_t>(limit)) {
    std::stable_sort(v.begin(), v.end(),
                     [](const auto* a, const auto* b) { return a->sessions > b->sessions; });
    v.resize(static_cast<size_t>(limit));
    std::sort(v.begin(), v.end(), [](const auto* a, const auto* b) { return a->value < b->value; });
  }
  return v;
}

std::string Members(const analytics::FingerprintGroup& g) {
  std::string s;
  for (const auto& m : g.members) {
    if (!s.empty()) {
      s += ' ';
    }
    s += m.text + ":" + std::to_string(m.sessions);
  }
  return s;
}

// The columns of every section (csv: all in one header).
struct Row {
  std::string section, client, port, rank, count, verdict, attribute, value, sessions, percent,
      group, lo, hi, members, mode, then_attribute, then_value, support, confidence, lift, leverage,
      text;
};

const std::vector<std::pair<std::string, bool>> kAllColumns = {
    {"section", false},    {"client", false},  {"port", true},       {"rank", true},
    {"count", true},       {"verdict", false}, {"attribute", false}, {"value", false},
    {"sessions", true},    {"percent", true},  {"group", false},     {"lo", false},
    {"hi", false},         {"members", true},  {"mode", false},      {"then_attribute", false},
    {"then_value", false}, {"support", true},  {"confidence", true}, {"lift", true},
    {"leverage", true},    {"text", false}};

std::string Field(const Row& r, const std::string& c) {
  const std::string* f[] = {&r.section,        &r.client,     &r.port,    &r.rank,       &r.count,
                            &r.verdict,        &r.attribute,  &r.value,   &r.sessions,   &r.percent,
                            &r.group,          &r.lo,         &r.hi,      &r.members,    &r.mode,
                            &r.then_attribute, &r.then_value, &r.support, &r.confidence, &r.lift,
                            &r.leverage,       &r.text};
  for (size_t i = 0; i < kAllColumns.size(); ++i) {
    if (kAllColumns[i].first == c) {
      return *f[i];
    }
  }
  return "";
}

// Renders rows of one section with the given columns.
std::string RenderSection(const std::vector<Row>& rows, const std::vector<std::string>& cols,
                          ReportFormat format) {
  std::vector<ReportColumn> rc;
  for (const std::string& c : cols) {
    bool numeric = false;
    for (const auto& [name, num] : kAllColumns) {
      if (name == c) {
        numeric = num;
      }
    }
    rc.push_back({c, numeric});
  }
  ReportTable t(rc);
  for (const Row& r : rows) {
    std::vector<std::string> v;
    v.reserve(cols.size());
    for (const std::string& c : cols) {
      v.push_back(Field(r, c));
    }
    t.AddRow(std::move(v));
  }
  return t.Render(format);
}

const std::vector<std::string> kKeyCols = {"section", "client",  "port",     "rank",
                                           "count",   "verdict", "sessions", "text"};
const std::vector<std::string> kValueCols = {"section", "client",   "port",    "attribute",
                                             "value",   "sessions", "percent", "group"};
const std::vector<std::string> kGroupCols = {"section", "client",   "port",    "attribute",
                                             "group",   "lo",       "hi",      "mode",
                                             "members", "sessions", "percent", "text"};
const std::vector<std::string> kRuleCols = {"section",  "client",         "port",       "attribute",
                                            "value",    "then_attribute", "then_value", "support",
                                            "sessions", "confidence",     "lift",       "leverage",
                                            "text"};

struct KeyRows {
  Row key;
  std::vector<Row> values, groups, rules;
  uint64_t hidden_values = 0;  // not shown by --max-values
};

KeyRows BuildRows(const ClusterReport& rep, const Selected& sel, int64_t max_values) {
  KeyRows out;
  const std::string client = FormatIp(rep.key.client, rep.key.ip_version);
  const std::string port = std::to_string(rep.key.port);
  auto base = [&](const char* section) {
    Row r;
    r.section = section;
    r.client = client;
    r.port = port;
    return r;
  };
  out.key = base("key");
  out.key.rank = std::to_string(sel.rank);
  out.key.sessions = std::to_string(rep.sessions);
  if (sel.row != nullptr) {
    out.key.count = std::to_string(sel.row->Count(false));
    out.key.verdict = analytics::VerdictName(sel.row->verdict);
    out.key.text = absl::StrFormat("%d rejects, %d silents, %d success, %d data (unique servers); ",
                                   sel.row->servers[static_cast<int>(Outcome::kReject)],
                                   sel.row->servers[static_cast<int>(Outcome::kSilent)],
                                   sel.row->servers[static_cast<int>(Outcome::kSuccess)],
                                   sel.row->servers[static_cast<int>(Outcome::kData)]);
  } else {
    out.key.count = "0";
    out.key.verdict = "none";
  }
  out.key.text += absl::StrFormat(
      "%d distinct behaviour vectors, %d sessions not profiled; rules over the %d sessions "
      "with data",
      rep.vectors, rep.overflow, rep.rule_sessions);
  for (const auto& d : rep.distributions) {
    const auto shown = Shown(d, max_values);
    out.hidden_values += d.values.size() - shown.size();
    for (const auto* v : shown) {
      Row r = base("value");
      r.attribute = analytics::ClusterAttributeName(d.attribute);
      r.value = v->text;
      r.sessions = std::to_string(v->sessions);
      r.percent = Pct(v->sessions, rep.sessions);
      r.group = v->group;
      out.values.push_back(std::move(r));
    }
  }
  for (const auto& g : rep.groups) {
    Row r = base("group");
    r.attribute = analytics::ClusterAttributeName(g.attribute);
    r.group = g.label;
    r.lo = g.members.front().text;
    r.hi = g.members.back().text;
    r.mode = g.members.empty() ? "" : [&] {
      for (const auto& m : g.members) {
        if (m.value == g.mode) {
          return m.text;
        }
      }
      return std::string();
    }();
    r.members = std::to_string(g.members.size());
    r.sessions = std::to_string(g.sessions);
    r.percent = Pct(g.sessions, rep.sessions);
    r.text = Members(g);
    out.groups.push_back(std::move(r));
  }
  for (const auto& rule : rep.rules) {
    Row r = base("rule");
    r.attribute = analytics::ClusterAttributeName(rule.if_attribute);
    r.value = rule.if_value;
    r.then_attribute = analytics::ClusterAttributeName(rule.then_attribute);
    r.then_value = rule.then_value;
    r.support = std::to_string(rule.support);
    r.sessions = std::to_string(rule.antecedent);
    r.confidence = absl::StrFormat("%.1f", 100 * rule.confidence);
    r.lift = absl::StrFormat("%.2f", rule.lift);
    r.leverage = absl::StrFormat("%.4f", rule.leverage);
    r.text = rule.Sentence();
    out.rules.push_back(std::move(r));
  }
  return out;
}

void WriteTable(const std::vector<KeyRows>& keys, int64_t max_values, std::string* out) {
  for (const KeyRows& k : keys) {
    *out += absl::StrFormat("== client %s port %s: %s sessions (scan rank %s, count %s, %s)\n",
                            k.key.client, k.key.port, k.key.sessions, k.key.rank, k.key.count,
                            k.key.verdict);
    *out += "   " + k.key.text + "\n\nvalues";
    if (max_values > 0) {
      *out += absl::StrFormat(" (the %d most frequent per attribute)", max_values);
    }
    *out += ":\n";
    *out += RenderSection(k.values, {"attribute", "value", "sessions", "percent", "group"},
                          ReportFormat::kTable);
    if (k.hidden_values) {
      *out += absl::StrFormat("(%d more values: --max-values 0 shows all)\n", k.hidden_values);
    }
    *out += "\nfingerprint groups:\n";
    *out += k.groups.empty() ? "(none: no session carried data)\n"
                             : RenderSection(k.groups,
                                             {"attribute", "group", "members", "sessions",
                                              "percent", "mode", "text"},
                                             ReportFormat::kTable);
    *out += "\ncorrelations:\n";
    if (k.rules.empty()) {
      *out += "(none above the support and confidence thresholds)\n";
    }
    for (const Row& r : k.rules) {
      *out += "  " + r.text + " (lift " + r.lift + ")\n";
    }
    *out += '\n';
  }
}

// One histogram per plotted attribute; fingerprint columns coloured by group.
absl::Status Plot(const ClusterReport& rep, const ClusterOptions& co, const std::string& dir,
                  std::vector<std::string>* written) {
  constexpr ClusterAttribute kPlotted[] = {
      ClusterAttribute::kClientBytes,       ClusterAttribute::kServerBytes,
      ClusterAttribute::kClientFingerprint, ClusterAttribute::kServerFingerprint,
      ClusterAttribute::kFirstDataSender,   ClusterAttribute::kShutdownInitiator,
      ClusterAttribute::kShutdownKind};
  const std::string client = FormatIp(rep.key.client, rep.key.ip_version);
  for (ClusterAttribute a : kPlotted) {
    const analytics::ClusterDistribution* d = rep.Distribution(a);
    if (d == nullptr) {
      continue;
    }
    const bool fingerprint =
        a == ClusterAttribute::kClientFingerprint || a == ClusterAttribute::kServerFingerprint;
    // Bytes and fingerprints are drawn over the sessions with data, as the
    // paper's figures: the failed attempts' 0 / none would dwarf them.
    const bool drop_zero =
        a == ClusterAttribute::kClientBytes || a == ClusterAttribute::kServerBytes || fingerprint;
    uint64_t zero = 0;
    size_t distinct = 0;
    for (const auto& v : d->values) {
      if (drop_zero && v.value == 0) {
        zero = v.sessions;
      } else {
        ++distinct;
      }
    }
    Histogram h;
    h.title = absl::StrFormat("%s port %d: %s", client, rep.key.port,
                              analytics::ClusterAttributePhrase(a));
    h.subtitle = absl::StrFormat("%d sessions, %d distinct values", rep.sessions - zero, distinct);
    if (drop_zero) {
      h.subtitle += absl::StrFormat(" (not drawn: %d sessions with %s)", zero,
                                    fingerprint ? "no data" : "0 bytes");
    }
    h.x_label = absl::StrFormat("%s: one column per distinct value, in value order (not to scale)",
                                analytics::ClusterAttributePhrase(a));
    // Colour: a new colour for each multi-member group, in value order.
    int colour = -1;
    std::string last_group;
    for (const auto& v : d->values) {
      if (drop_zero && v.value == 0) {
        continue;
      }
      // Fingerprints: grey unless in a group of several values.
      HistogramBar b{v.text, v.sessions, fingerprint ? -1 : 0};
      if (fingerprint && v.group != "none") {
        size_t members = 0;
        for (const auto& g : rep.groups) {
          if (g.attribute == a && g.label == v.group) {
            members = g.members.size();
          }
        }
        if (members > 1) {
          if (v.group != last_group) {
            ++colour;
            last_group = v.group;
            h.legend.emplace_back(absl::StrFormat("group %s (%d values within %d)", v.group,
                                                  members, co.fingerprint_distance),
                                  colour);
          }
          b.cluster = colour;
        }
      }
      h.bars.push_back(std::move(b));
    }
    const std::string path = absl::StrFormat("%s/%s_%d_%s.png", dir, FileSafe(client), rep.key.port,
                                             analytics::ClusterAttributeName(a));
    if (absl::Status st = WriteHistogramPng(h, path); !st.ok()) {
      return st;
    }
    written->push_back(path);
  }
  return absl::OkStatus();
}

}  // namespace

int RunReportClusters(std::span<const std::string> args, std::FILE* out, std::FILE* err) {
  Options o;
  if (int rc = ParseArgs(args, &o, out, err); rc >= 0) {
    return rc;
  }
  if (!o.plot_dir.empty() && mkdir(o.plot_dir.c_str(), 0777) != 0 && errno != EEXIST) {
    std::fprintf(err, "flowtrail report clusters: cannot create %s: %s\n", o.plot_dir.c_str(),
                 std::strerror(errno));
    return kExitBadStream;
  }
  std::vector<record::SessionRecord> records;
  std::vector<std::string> errors;
  bool ok = ReadRecords(o, &records, &errors);

  // The ranking is the scan table's (record-time order, as `report scans`).
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first_time_us, a.last_time_us, a.client_ip, a.server_ip, a.client_port,
                    a.server_port, a.session_id, a.worker_id) <
           std::tie(b.first_time_us, b.last_time_us, b.client_ip, b.server_ip, b.client_port,
                    b.server_port, b.session_id, b.worker_id);
  });
  ScanTable table;
  table.Consume(std::span<const record::SessionRecord>(records));
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
  std::vector<Selected> selected;
  if (o.have_client) {
    Selected sel{o.key, 0, nullptr};
    for (size_t i = 0; i < rows.size(); ++i) {
      const ScanRow& r = rows[i];
      if (r.client == o.key.client && r.ip_version == o.key.ip_version && r.port == o.key.port) {
        sel.rank = i + 1;
        sel.row = &r;
      }
    }
    selected.push_back(sel);
  } else {
    for (size_t i = 0; i < rows.size() && i < o.top; ++i) {
      selected.push_back(
          {ClusterKey{rows[i].client, rows[i].ip_version, rows[i].port}, i + 1, &rows[i]});
    }
  }

  BehaviourClusters clusters(o.clusters);
  for (const Selected& sel : selected) {
    clusters.Select(sel.key);
  }
  clusters.Consume(std::span<const record::SessionRecord>(records));
  const std::vector<ClusterReport> reports = clusters.Reports();

  const int64_t max_values =
      o.max_values >= 0 ? o.max_values : (o.format == ReportFormat::kTable ? 20 : 0);
  std::vector<KeyRows> keys;
  for (size_t i = 0; i < reports.size(); ++i) {
    keys.push_back(BuildRows(reports[i], selected[i], max_values));
  }
  OutputBuffer buf(out);
  std::string& text = *buf.buf();
  if (o.format == ReportFormat::kTable) {
    WriteTable(keys, max_values, &text);
  } else if (o.format == ReportFormat::kJson) {
    for (const KeyRows& k : keys) {
      text += RenderSection({k.key}, kKeyCols, o.format);
      text += RenderSection(k.values, kValueCols, o.format);
      text += RenderSection(k.groups, kGroupCols, o.format);
      text += RenderSection(k.rules, kRuleCols, o.format);
    }
  } else {
    std::vector<Row> all;
    for (const KeyRows& k : keys) {
      all.push_back(k.key);
      all.insert(all.end(), k.values.begin(), k.values.end());
      all.insert(all.end(), k.groups.begin(), k.groups.end());
      all.insert(all.end(), k.rules.begin(), k.rules.end());
    }
    std::vector<std::string> cols;
    cols.reserve(kAllColumns.size());
    for (const auto& c : kAllColumns) {
      cols.push_back(c.first);
    }
    text += RenderSection(all, cols, o.format);
  }
  buf.Flush();

  std::vector<std::string> written;
  if (!o.plot_dir.empty()) {
    for (const ClusterReport& rep : reports) {
      if (absl::Status st = Plot(rep, o.clusters, o.plot_dir, &written); !st.ok()) {
        errors.push_back(std::string(st.message()));
        ok = false;
        break;
      }
    }
  }
  uint64_t profiled = 0;
  for (const ClusterReport& rep : reports) {
    profiled += rep.sessions;
  }
  std::fprintf(err,
               "flowtrail report clusters: %zu records counted; %zu keys, %" PRIu64
               " sessions profiled; %zu pictures written\n",
               records.size(), reports.size(), profiled, written.size());
  for (const std::string& e : errors) {
    std::fprintf(err, "flowtrail report clusters: %s\n", e.c_str());
  }
  if (buf.failed()) {
    std::fprintf(err, "flowtrail report clusters: write error: %s\n", std::strerror(buf.error()));
    return kExitBadStream;
  }
  return ok ? kExitOk : kExitBadStream;
}

}  // namespace flowtrail::tools
