#include "app/options.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/byte_size.h"
#include "dataplane/metrics_listen.h"
#include "dataplane/pcap_devargs.h"
#include "dataplane/rx_queue.h"
#include "export/collector_link.h"
#include "export/stream_format.h"
#include "export/stream_writer.h"
#include "record/session_record.h"
#include "session/networks.h"
#include "session/session_state.h"

// Debian's toml++ is a shared library built with exceptions: parse errors
// are caught in ApplyFile() and become a Status (control path only).
#include <toml++/toml.h>

namespace flowtrail::app {
namespace {

constexpr uint32_t kMaxWorkers = 64;
constexpr uint64_t kMaxTableSize = 1ull << 28;
constexpr double kMaxTimeoutS = 365.0 * 86400;
// Times are kept in whole microseconds: anything shorter would become 0.
constexpr double kMinSecondsNonZero = 1e-6;
constexpr uint32_t kMaxMbufs = 1u << 24;

absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Bad(std::string_view option, std::string_view value, std::string_view want) {
  return absl::InvalidArgumentError(
      absl::StrFormat("invalid value '%s' for %s: %s", A(value), A(option), A(want)));
}

absl::StatusOr<uint64_t> ParseCount(std::string_view option, std::string_view value, uint64_t min,
                                    uint64_t max) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(A(value), &v) || v < min || v > max) {
    return Bad(option, value, absl::StrFormat("expected an integer in [%d, %d]", min, max));
  }
  return v;
}

// Seconds, possibly fractional, to microseconds. `allow_zero` for the options
// where 0 means "off".
absl::StatusOr<double> ParseSeconds(std::string_view option, std::string_view value,
                                    bool allow_zero) {
  double v = 0;
  if (!absl::SimpleAtod(A(value), &v) || !std::isfinite(v) || v < 0 || v > kMaxTimeoutS ||
      (!allow_zero && v == 0) || (v > 0 && v < kMinSecondsNonZero)) {
    return Bad(option, value,
               allow_zero ? "expected 0 or seconds >= 0.000001 (1 microsecond; fractions allowed)"
                          : "expected seconds >= 0.000001 (1 microsecond; fractions allowed)");
  }
  return v;
}

uint64_t ToMicros(double s) { return static_cast<uint64_t>(std::llround(s * 1e6)); }

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') {
    return "flowtrail";
  }
  return buf;
}

// The values of one EAL option, in the spellings getopt accepts: --name=V,
// --name V, and for a short option -xV and -x V.
std::vector<std::string_view> EalValues(const std::vector<std::string_view>& eal,
                                        std::string_view long_name, char short_name = 0) {
  std::vector<std::string_view> values;
  for (size_t i = 0; i < eal.size(); ++i) {
    const std::string_view a = eal[i];
    const bool is_long = !long_name.empty() && a.starts_with(long_name);
    const bool is_short = short_name != 0 && a.size() >= 2 && a[0] == '-' && a[1] == short_name;
    if (is_long && a.size() > long_name.size() && a[long_name.size()] == '=') {
      values.push_back(a.substr(long_name.size() + 1));
    } else if ((is_long && a.size() == long_name.size()) || (is_short && a.size() == 2)) {
      if (i + 1 < eal.size()) values.push_back(eal[++i]);
    } else if (is_short && a.size() > 2) {
      values.push_back(a.substr(2));
    }
  }
  return values;
}

// The rx_pcap=FILE captures of the net_pcap vdevs.
std::vector<std::string> InputCaptures(const std::vector<std::string_view>& eal) {
  std::vector<std::string> files;
  for (std::string_view vdev : EalValues(eal, "--vdev")) {
    const size_t comma = vdev.find(',');
    const std::string_view name = vdev.substr(0, comma);
    if (comma == std::string_view::npos ||
        !(name.starts_with("net_pcap") || name.starts_with("eth_pcap"))) {
      continue;
    }
    for (std::string& f : dataplane::ParsePcapDevargs(vdev.substr(comma + 1)).rx_files) {
      files.push_back(std::move(f));
    }
  }
  return files;
}

// Whether writing `a` would overwrite `b`: the same inode when both exist
// (hard links, symlinks, other spellings), else the same normalised path. A
// character device or FIFO (/dev/null, /dev/stdout) is not a file to protect.
bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  const bool ea = ::stat(a.c_str(), &sa) == 0, eb = ::stat(b.c_str(), &sb) == 0;
  if (ea && eb) {
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && S_ISREG(sa.st_mode);
  }
  if (ea != eb) return false;
  std::error_code e1, e2;
  const std::filesystem::path pa = std::filesystem::weakly_canonical(a, e1);
  const std::filesystem::path pb = std::filesystem::weakly_canonical(b, e2);
  return !e1 && !e2 && pa == pb;
}

// Megabytes the EAL reserves: -m MB, or the sum of --socket-mem MB,MB,...
uint64_t EalMemoryBytes(const std::vector<std::string_view>& eal) {
  uint64_t mb = 0;
  for (std::string_view v : EalValues(eal, "", 'm')) {
    uint64_t n = 0;
    if (absl::SimpleAtoi(A(v), &n)) mb = std::max(mb, n);
  }
  for (std::string_view v : EalValues(eal, "--socket-mem")) {
    uint64_t sum = 0;
    for (absl::string_view part : absl::StrSplit(A(v), ',')) {
      uint64_t n = 0;
      if (absl::SimpleAtoi(part, &n)) sum += n;
    }
    mb = std::max(mb, sum);
  }
  return mb << 20;
}

uint64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

std::string GiB(uint64_t bytes) {
  return absl::StrFormat("%.1f GiB", static_cast<double>(bytes) / double(uint64_t{1} << 30));
}

// Bytes with an optional k/M/G suffix (common/byte_size.h), at most 2^50.
absl::StatusOr<uint64_t> ParseBytes(std::string_view option, std::string_view value) {
  uint64_t v = 0;
  if (!ParseByteSize(value, &v) || v > (uint64_t{1} << 50)) {
    return Bad(option, value, "expected bytes, with an optional k, M or G suffix");
  }
  return v;
}

// How many of the three TLS files were given (all or none).
struct CollectorTls {
  explicit CollectorTls(const dataplane::CollectorConfig& c)
      : given(!c.ca_file.empty() + !c.cert_file.empty() + !c.key_file.empty()) {}
  int given;
};

absl::StatusOr<double> ParseProbability(std::string_view option, std::string_view value) {
  double v = 0;
  if (!absl::SimpleAtod(A(value), &v) || !(v > 0 && v < 1)) {
    return Bad(option, value, "expected a probability strictly between 0 and 1");
  }
  return v;
}

absl::StatusOr<double> ParseNonNegative(std::string_view option, std::string_view value) {
  double v = 0;
  if (!absl::SimpleAtod(A(value), &v) || !(v >= 0 && v < 1e9)) {
    return Bad(option, value, "expected a number >= 0");
  }
  return v;
}

// ---------------------------------------------------------------------------
// The option table. Each option has a command-line spelling and/or a file key
// ("section.key"), a setter that validates a value given as text (both the
// command line and the file go through it, so they refuse the same values),
// and a getter that prints the effective value as a TOML literal (nullopt:
// unset) for --print-config, --help's defaults and the reload's diff.

enum class Kind {
  kFlag,    // command line: no value
  kBool,    // command line: no value (sets true); file: true/false
  kInt,     // file: integer
  kNumber,  // file: integer or float (seconds, probabilities, thresholds)
  kBytes,   // file: integer or string with a k/M/G suffix
  kString,  // file: string
  kList,    // command line: repeatable; file: array of strings
};

struct Ctx {
  ParsedOptions& p;
  dataplane::SensorConfig& c;
};

using Setter = std::function<absl::Status(Ctx&, std::string_view name, std::string_view v)>;
using Getter = std::function<std::optional<std::string>(const ParsedOptions&)>;

struct Option {
  std::string_view flag;  // "--udp-timeout"; "" = file only
  std::string_view key;   // "tracker.udp_timeout"; "" = command line only
  Kind kind;
  std::string_view metavar;
  std::string_view help;
  Setter set;
  Getter get;
  std::string_view unset;           // what no value means (--help, --print-config)
  bool live = false;                // SIGHUP applies it
  bool join = false;                // kList: the file's array is one comma-separated value
  std::function<void(Ctx&)> clear;  // kList that appends: emptied first
  std::string_view group;           // --help heading before this option

  Option& Live() {
    live = true;
    return *this;
  }
  Option& Group(std::string_view g) {
    group = g;
    return *this;
  }
  Option& Unset(std::string_view u) {
    unset = u;
    return *this;
  }
  // 0 is what "unset" means (the setter refuses it).
  Option& ZeroIsUnset(std::string_view u) {
    unset = u;
    get = [g = get](const ParsedOptions& p) -> std::optional<std::string> {
      std::optional<std::string> v = g(p);
      if (v == "0") return std::nullopt;
      return v;
    };
    return *this;
  }
};

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u == 0x7f) {
      out += absl::StrFormat("\\u%04x", u);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::optional<std::string> QuoteOrUnset(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return Quote(s);
}

std::string Array(const std::vector<std::string>& items) {
  std::vector<std::string> q;
  for (const std::string& s : items) q.push_back(Quote(s));
  return absl::StrCat("[", absl::StrJoin(q, ", "), "]");
}

// The shortest text that reads back as the same double.
std::string Double(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  // Too long in fixed notation (|v| >= 1e64, or tiny): the shortest form,
  // with an exponent (r.ptr was the buffer's end, its bytes never written).
  if (r.ec != std::errc()) r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string Micros(uint64_t us) {
  if (us % 1'000'000 == 0) return absl::StrCat(us / 1'000'000);
  return Double(static_cast<double>(us) / 1e6);
}

std::string Bytes(uint64_t b) {
  if (b == 0) return "0";
  for (auto [shift, suffix] : {std::pair{30, "G"}, std::pair{20, "M"}, std::pair{10, "k"}}) {
    if (b % (uint64_t{1} << shift) == 0) {
      return Quote(absl::StrCat(b >> shift, suffix));
    }
  }
  return absl::StrCat(b);
}

std::string PortSetText(const analytics::PortSet& s) {
  if (s.all()) return "all";
  std::vector<std::string> ranges;
  for (uint32_t p = 0; p < 65536;) {
    if (!s.test(p)) {
      ++p;
      continue;
    }
    uint32_t q = p;
    while (q + 1 < 65536 && s.test(q + 1)) ++q;
    ranges.push_back(p == q ? absl::StrCat(p) : absl::StrCat(p, "-", q));
    p = q + 1;
  }
  return absl::StrJoin(ranges, ",");
}

// Accessors: `F` is [](SensorConfig& c) -> T& { return c.field; }.
template <class F>
auto& Field(F f, const ParsedOptions& p) {
  return f(const_cast<dataplane::SensorConfig&>(p.config));
}

// An option whose text `parse` validates (returning the field's value or the
// refusal) into the field `f` is; `print` shows the field as a TOML literal.
template <class F, class Parse, class Print>
Option Typed(std::string_view flag, std::string_view key, Kind kind, std::string_view metavar,
             std::string_view help, F f, Parse parse, Print print) {
  return Option{.flag = flag,
                .key = key,
                .kind = kind,
                .metavar = metavar,
                .help = help,
                .set = [f, parse](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
                  auto n = parse(o, v);
                  if (!n.ok()) return n.status();
                  f(x.c) = static_cast<std::remove_reference_t<decltype(f(x.c))>>(*n);
                  return absl::OkStatus();
                },
                .get = [f, print](const ParsedOptions& p) -> std::optional<std::string> {
                  return print(Field(f, p));
                }};
}

template <class F>
Option Count(std::string_view flag, std::string_view key, std::string_view metavar,
             std::string_view help, F f, uint64_t min, uint64_t max) {
  return Typed(
      flag, key, Kind::kInt, metavar, help, f,
      [min, max](std::string_view o, std::string_view v) { return ParseCount(o, v, min, max); },
      [](uint64_t v) { return absl::StrCat(v); });
}

// Seconds kept as whole microseconds.
template <class F>
Option Timeout(std::string_view flag, std::string_view key, std::string_view help, F f,
               bool allow_zero) {
  return Typed(
      flag, key, Kind::kNumber, "S", help, f,
      [allow_zero](std::string_view o, std::string_view v) -> absl::StatusOr<uint64_t> {
        absl::StatusOr<double> s = ParseSeconds(o, v, allow_zero);
        if (!s.ok()) return s.status();
        return ToMicros(*s);
      },
      Micros);
}

// Seconds kept as a double; 0 = off.
template <class F>
Option SecondsDouble(std::string_view flag, std::string_view key, std::string_view help, F f) {
  return Typed(
      flag, key, Kind::kNumber, "S", help, f,
      [](std::string_view o, std::string_view v) { return ParseSeconds(o, v, true); }, Double);
}

template <class F>
Option ByteCount(std::string_view flag, std::string_view key, std::string_view help, F f,
                 uint64_t min) {
  return Typed(
      flag, key, Kind::kBytes, "BYTES", help, f,
      [min](std::string_view o, std::string_view v) -> absl::StatusOr<uint64_t> {
        absl::StatusOr<uint64_t> n = ParseBytes(o, v);
        if (n.ok() && *n < min) {
          return Bad(o, v,
                     min == 4096 ? std::string("expected at least 4k")
                                 : absl::StrCat("expected at least ", min, " bytes"));
        }
        return n;
      },
      Bytes);
}

// A threshold: a number >= 0, integer or float in the file.
template <class F>
Option Threshold(std::string_view flag, std::string_view key, std::string_view metavar,
                 std::string_view help, F f) {
  return Typed(flag, key, Kind::kNumber, metavar, help, f, ParseNonNegative, Double);
}

// Whole seconds (at most a century) kept as microseconds.
template <class F>
Option WholeSeconds(std::string_view flag, std::string_view key, std::string_view help, F f,
                    uint64_t min) {
  return Typed(
      flag, key, Kind::kInt, "S", help, f,
      [min](std::string_view o, std::string_view v) -> absl::StatusOr<uint64_t> {
        absl::StatusOr<uint64_t> n = ParseCount(o, v, min, 100ull * 365 * 86400);
        if (!n.ok()) return n.status();
        return *n * 1'000'000;
      },
      [](uint64_t us) { return absl::StrCat(us / 1'000'000); });
}

// A number in the file: integer or float.
template <class F>
Option Probability(std::string_view flag, std::string_view key, std::string_view help, F f) {
  return Typed(flag, key, Kind::kNumber, "P", help, f, ParseProbability, Double);
}

// A path or name; `what` is the refusal of an empty one.
template <class F>
Option Path(std::string_view flag, std::string_view key, std::string_view metavar,
            std::string_view help, F f, std::string_view what = "expected a path") {
  return Option{.flag = flag,
                .key = key,
                .kind = Kind::kString,
                .metavar = metavar,
                .help = help,
                .set = [f, what](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
                  if (v.empty()) return Bad(o, v, what);
                  f(x.c) = std::string(v);
                  return absl::OkStatus();
                },
                .get = [f](const ParsedOptions& p) -> std::optional<std::string> {
                  return QuoteOrUnset(Field(f, p));
                }};
}

// One of `names`, in the order of `values`.
template <class F, class T>
Option Enum(std::string_view flag, std::string_view key, std::string_view help, F f,
            std::vector<std::pair<std::string_view, T>> names) {
  std::vector<std::string> list;
  for (const auto& [n, v] : names) list.push_back(std::string(n));
  const std::string metavar = absl::StrJoin(list, "|");
  std::string want = "expected ";
  for (size_t i = 0; i < list.size(); ++i) {
    absl::StrAppend(&want, i == 0 ? "" : (i + 1 == list.size() ? " or " : ", "), list[i]);
  }
  // The metavar's storage outlives the table (it is built once).
  static std::vector<std::unique_ptr<std::string>> storage;
  storage.push_back(std::make_unique<std::string>(metavar));
  return Option{
      .flag = flag,
      .key = key,
      .kind = Kind::kString,
      .metavar = *storage.back(),
      .help = help,
      .set = [f, names, want](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
        for (const auto& [n, val] : names) {
          if (v == n) {
            f(x.c) = val;
            return absl::OkStatus();
          }
        }
        return Bad(o, v, want);
      },
      .get = [f, names](const ParsedOptions& p) -> std::optional<std::string> {
        for (const auto& [n, val] : names) {
          if (Field(f, p) == val) return Quote(n);
        }
        return std::nullopt;
      }};
}

#define FT_FIELD(expr) \
  [](dataplane::SensorConfig & c) -> auto& { return expr; }

const std::vector<Option>& Table() {
  static const std::vector<Option>* table = new std::vector<Option>{
      // --- Output
      Option{.flag = "--output",
             .key = "output.file",
             .kind = Kind::kString,
             .metavar = "FILE",
             .help = "record stream file; \"-\" = stdout (this, --output-dir or --collector is "
                     "required). Never an input capture (rx_pcap=FILE) nor the --stats-json "
                     "file: refused before anything runs",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               if (v.empty()) return Bad(o, v, "expected a file name or -");
               x.c.output = std::string(v);
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) { return QuoteOrUnset(p.config.output); },
             .unset = "none"}
          .Group("Output"),
      Path("--output-dir", "output.dir", "DIR",
           "the stream as segment files in DIR (an existing directory), each a complete "
           "segment named SENSOR_RUNID_FIRSTSEQ_UTCTIME.ftr, written as a hidden .part file "
           "and renamed once closed and fsync'd; `flowtrail cat DIR/*` joins them",
           FT_FIELD(c.output_dir), "expected a directory")
          .Unset("none"),
      ByteCount("--rotate-bytes", "output.rotate_bytes",
                "with --output-dir: start a new file before one would exceed BYTES (k, M, G "
                "suffixes; at least 4k)",
                FT_FIELD(c.rotate_bytes), 4096)
          .ZeroIsUnset("no size limit"),
      Typed(
          "--rotate-seconds", "output.rotate_seconds", Kind::kNumber, "S",
          "with --output-dir: start a new file once one is S seconds old (wall clock)",
          FT_FIELD(c.rotate_seconds),
          [](std::string_view o, std::string_view v) -> absl::StatusOr<uint64_t> {
            absl::StatusOr<double> s = ParseSeconds(o, v, /*allow_zero=*/false);
            if (!s.ok()) return s.status();
            return std::max<uint64_t>(1, static_cast<uint64_t>(*s));
          },
          [](uint64_t v) { return absl::StrCat(v); })
          .ZeroIsUnset("no age limit"),
      Option{.flag = "--compress",
             .key = "output.compress",
             .kind = Kind::kString,
             .metavar = "zstd|none",
             .help = "with --output-dir: compress each closed file to NAME.ftr.zst (a "
                     "background thread; every closed file is compressed before the sensor "
                     "exits)",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               if (v != "zstd" && v != "none") return Bad(o, v, "expected zstd or none");
               x.c.compress_zstd = v == "zstd";
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) -> std::optional<std::string> {
               return Quote(p.config.compress_zstd ? "zstd" : "none");
             }},
      Option{.flag = "--sensor-id",
             .key = "output.sensor_id",
             .kind = Kind::kString,
             .metavar = "ID",
             .help = "sensor id in the stream header and every record, at most 256 bytes of "
                     "UTF-8",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               if (v.empty()) return Bad(o, v, "expected a non-empty id");
               // The stream carries it in its header and every record.
               if (absl::Status s = exporter::ValidateSensorId(v); !s.ok()) {
                 return absl::InvalidArgumentError(
                     absl::StrFormat("invalid value '%s' for %s: %s", A(v), A(o), s.message()));
               }
               x.c.sensor_id = std::string(v);
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) { return QuoteOrUnset(p.config.sensor_id); },
             .unset = "the hostname"},
      Path("--stats-json", "output.stats_json", "FILE",
           "write the final counters as one JSON object", FT_FIELD(c.stats_json),
           "expected a file name")
          .Unset("none"),
      SecondsDouble("--status-interval", "output.status_interval",
                    "one-line status on stderr every S seconds; 0 = off",
                    FT_FIELD(c.status_interval_s)),
      Enum("--log-level", "output.log_level",
           "the sensor's messages on stderr (and DPDK's log level): each level shows itself "
           "and the more severe ones",
           FT_FIELD(c.log_level),
           std::vector<std::pair<std::string_view, LogLevel>>{{"error", LogLevel::kError},
                                                              {"warning", LogLevel::kWarning},
                                                              {"notice", LogLevel::kNotice},
                                                              {"info", LogLevel::kInfo},
                                                              {"debug", LogLevel::kDebug}})
          .Live(),

      // --- Lcores and input
      Count("--workers", "lcores.workers", "N",
            "worker lcores, each with its own session table. Lcore roles, from the EAL lcore "
            "list: the main lcore runs control; then N workers; then a dispatcher when ports "
            "have fewer RX queues than workers; then the exporter and analytics lcores (they "
            "run on the main lcore when lcores are short)",
            FT_FIELD(c.workers), 1, kMaxWorkers)
          .Group("Lcores and input"),
      Option{.flag = "--capture",
             .key = "input.capture",
             .kind = Kind::kBool,
             .help = "capture mode: lossless input, times from the capture, stop at its end and "
                     "flush live sessions as END_OF_INPUT. Default: on when every port reads "
                     "capture files (rx_pcap= without infinite_rx=1)",
             .set = [](Ctx& x, std::string_view, std::string_view v) -> absl::Status {
               x.c.capture = v == "true";
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) -> std::optional<std::string> {
               if (!p.config.capture) return std::nullopt;
               return *p.config.capture ? "true" : "false";
             },
             .unset = "automatic"},
      Option{.flag = "--no-capture",
             .kind = Kind::kFlag,
             .help = "live mode even on net_pcap files (wall-clock times; runs until "
                     "SIGINT/SIGTERM or --duration); input.capture = false in the file",
             .set = [](Ctx& x, std::string_view, std::string_view) -> absl::Status {
               x.c.capture = false;
               return absl::OkStatus();
             }},
      SecondsDouble("--duration", "input.duration",
                    "stop (as on SIGTERM) after S seconds; 0 = never (for throughput runs with "
                    "infinite_rx=1)",
                    FT_FIELD(c.duration_s)),
      // Capture mode needs kMinCaptureMbufs (pipeline.cc); live mode fewer,
      // but a pool this small is a mistake there too.
      Count("--mbufs", "input.mbufs", "N",
            "mbuf pool size, at least 1152 (what capture mode needs: the reader's margin of 34 "
            "bursts plus two bursts in flight); in capture mode any size from 1152 up is "
            "lossless",
            FT_FIELD(c.mbufs), dataplane::kMinCaptureMbufs, kMaxMbufs)
          .ZeroIsUnset("derived from queues, rings and lcores"),
      Option{.flag = "--record-ring-size",
             .key = "lcores.record_ring_size",
             .kind = Kind::kInt,
             .metavar = "N",
             .help = "records each worker's ring to the exporter (and to the analytics lcore) "
                     "holds, a power of two in [64, 1048576]. Records never drop at a full "
                     "ring: expiry waits for room",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               absl::StatusOr<uint64_t> n = ParseCount(o, v, 64, uint64_t{1} << 20);
               if (!n.ok()) return n.status();
               if ((*n & (*n - 1)) != 0) return Bad(o, v, "expected a power of two");
               x.c.record_ring_size = static_cast<uint32_t>(*n);
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) -> std::optional<std::string> {
               return absl::StrCat(p.config.record_ring_size);
             }},
      Timeout("--clock-jump", "input.clock_jump",
              "capture mode: a packet more than S seconds ahead of the tracker's clock moves the "
              "clock only when the next packet confirms the jump",
              FT_FIELD(c.clock_jump_us), false),
      Option{.key = "eal.args",
             .kind = Kind::kList,
             .metavar = "ARGS",
             .help = "the EAL's arguments (lcores -l, devices -a, memory --socket-mem, ...), "
                     "used when the command line gives none before --",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               x.p.eal_args.push_back(std::string(v));
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) -> std::optional<std::string> {
               return Array(p.eal_args);
             },
             .clear = [](Ctx& x) { x.p.eal_args.clear(); }},

      // --- Sessions
      Count("--table-size", "tracker.table_size", "N",
            "live sessions per worker. Every worker allocates its table at start (about 300 "
            "bytes per session, the exact figure is in the error): the tables of all workers "
            "plus the EAL's memory (-m or --socket-mem) must fit in physical memory, or the "
            "value is refused up front. A full table makes room for a new session by "
            "evicting the one nearest its idle timeout (a lone SYN before an established "
            "session idle as long), reported with end reason evicted",
            FT_FIELD(c.tracker.capacity), 1, kMaxTableSize)
          .Group("Sessions"),
      Option{.flag = "--protected-nets",
             .key = "tracker.protected_nets",
             .kind = Kind::kList,
             .metavar = "CIDR[,CIDR...]",
             .help = "protected networks, for the inbound flag (the file: an array of CIDRs)",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               absl::StatusOr<session::Networks> n = session::Networks::Parse(v);
               if (!n.ok()) return Bad(o, v, std::string(n.status().message()));
               x.c.tracker.protected_networks = *std::move(n);
               x.p.text["tracker.protected_nets"] = std::string(v);
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) -> std::optional<std::string> {
               auto it = p.text.find("tracker.protected_nets");
               std::vector<std::string> nets;
               if (it != p.text.end()) {
                 for (absl::string_view n :
                      absl::StrSplit(it->second, ',', absl::SkipWhitespace())) {
                   nets.push_back(std::string(absl::StripAsciiWhitespace(n)));
                 }
               }
               return Array(nets);
             },
             .join = true}
          .Live(),
      Enum("--full-analysis", "tracker.full_analysis", "which sessions get the optional analysis",
           FT_FIELD(c.tracker.full_analysis),
           std::vector<std::pair<std::string_view, session::FullAnalysisPolicy>>{
               {"all", session::FullAnalysisPolicy::kAll},
               {"inbound", session::FullAnalysisPolicy::kInboundOnly},
               {"none", session::FullAnalysisPolicy::kNone}}),
      Timeout("--tcp-syn-timeout", "tracker.tcp_syn_timeout",
              "idle timeout of a handshake / lone SYN", FT_FIELD(c.tracker.tcp_syn_timeout_us),
              false),
      Timeout("--tcp-idle-timeout", "tracker.tcp_idle_timeout",
              "idle timeout of an established session",
              FT_FIELD(c.tracker.tcp_established_timeout_us), false),
      Timeout("--tcp-closing-timeout", "tracker.tcp_closing_timeout", "idle timeout after one FIN",
              FT_FIELD(c.tracker.tcp_closing_timeout_us), false),
      Timeout("--tcp-linger", "tracker.tcp_linger", "linger after FIN both ways or RST",
              FT_FIELD(c.tracker.tcp_linger_us), true),
      Timeout("--udp-timeout", "tracker.udp_timeout", "UDP idle timeout",
              FT_FIELD(c.tracker.udp_timeout_us), false),
      Timeout("--icmp-timeout", "tracker.icmp_timeout", "ICMP idle timeout",
              FT_FIELD(c.tracker.icmp_timeout_us), false),
      Timeout("--other-timeout", "tracker.other_timeout",
              "idle timeout of flows of other IP protocols (GRE, ESP, SCTP, ...)",
              FT_FIELD(c.tracker.other_timeout_us), false),
      Timeout("--active-timeout", "tracker.active_timeout",
              "interim record of long sessions every S seconds; 0 = off",
              FT_FIELD(c.tracker.active_timeout_us), true),
      Enum("--vlan-key", "tracker.vlan_key",
           "which VLAN ids are part of the session key: both (the same 5-tuple on two VLANs is "
           "two sessions), the outer one only, or none",
           FT_FIELD(c.tracker.vlan_key),
           std::vector<std::pair<std::string_view, session::VlanKey>>{
               {"none", session::VlanKey::kNone},
               {"outer", session::VlanKey::kOuter},
               {"both", session::VlanKey::kBoth}}),

      // --- Live analytics
      Timeout("--attempt-timeout", "analytics.attempt_timeout",
              "a client SYN without SYN-ACK or RST for S seconds of capture/clock time is a "
              "silent first contact, told to the analytics lcore at once (the session's record "
              "waits for its idle timeout); 0 = no first-contact events, no live verdicts",
              FT_FIELD(c.tracker.attempt_timeout_us), true)
          .Group("Live analytics (the analytics lcore; SPEC §5)"),
      ByteCount("--analytics-memory", "analytics.memory",
                "memory of the scan table, the client-port distribution and the live verdicts "
                "together (k/M/G suffix; split 1/2, 1/4, 1/4); 0 = only each table's key limits",
                FT_FIELD(c.analytics.memory_bytes), 0),
      Timeout("--scan-horizon", "analytics.scan_horizon",
              "an (address, port) that accepted within S seconds of a failure is an active server",
              FT_FIELD(c.analytics.scan.horizon_us), true),
      Probability("--trw-theta0", "analytics.trw_theta0",
                  "P(success | benign) of the Threshold Random Walk of `flowtrail report scans` "
                  "and of the live verdicts",
                  FT_FIELD(c.analytics.scan.trw.theta0))
          .Live(),
      Probability("--trw-theta1", "analytics.trw_theta1",
                  "P(success | scanner); below --trw-theta0", FT_FIELD(c.analytics.scan.trw.theta1))
          .Live(),
      Probability("--trw-alpha", "analytics.trw_alpha", "target false-positive probability",
                  FT_FIELD(c.analytics.scan.trw.alpha))
          .Live(),
      Probability("--trw-beta", "analytics.trw_beta",
                  "target detection probability; above --trw-alpha",
                  FT_FIELD(c.analytics.scan.trw.beta))
          .Live(),
      Option{.flag = "--trw",
             .kind = Kind::kString,
             .metavar = "THETA0,THETA1,ALPHA,BETA",
             .help = "the four TRW parameters at once (default 0.8,0.2,0.01,0.99)",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               std::vector<std::string> parts = absl::StrSplit(A(v), ',');
               if (parts.size() != 4) return Bad(o, v, "expected THETA0,THETA1,ALPHA,BETA");
               analytics::TrwOptions& trw = x.c.analytics.scan.trw;
               double* fields[] = {&trw.theta0, &trw.theta1, &trw.alpha, &trw.beta};
               for (size_t i = 0; i < 4; ++i) {
                 absl::StatusOr<double> p = ParseProbability(o, parts[i]);
                 if (!p.ok()) return p.status();
                 *fields[i] = *p;
               }
               return absl::OkStatus();
             }},
      Enum("--trw-active-failure", "analytics.trw_active_failure", "a failure on an active server",
           FT_FIELD(c.analytics.scan.trw.active_failure_counts),
           std::vector<std::pair<std::string_view, bool>>{{"neutral", false}, {"failure", true}})
          .Live(),
      Count("--min-client-ports", "analytics.min_client_ports", "C",
            "client-port method (`flowtrail report ports`): a server port is analysed when more "
            "than C client ports reached it",
            FT_FIELD(c.analytics.port_analysis.min_client_ports), 0, 65535)
          .Live(),
      Threshold("--sigma", "analytics.sigma", "S",
                "client-port method: a client port is flagged above mean + S standard deviations",
                FT_FIELD(c.analytics.port_analysis.sigma))
          .Live(),
      Threshold("--robust-threshold", "analytics.robust_threshold", "Z",
                "robust (mad) method: a client port is flagged above this modified z-score",
                FT_FIELD(c.analytics.port_analysis.robust_threshold))
          .Live(),
      WholeSeconds("--window", "analytics.window",
                   "client-port distribution window in whole seconds, as `flowtrail report "
                   "ports`",
                   FT_FIELD(c.analytics.ports.window_us), 1),
      Option{.flag = "--server-ports",
             .key = "analytics.server_ports",
             .kind = Kind::kString,
             .metavar = "SET",
             .help = "server ports of the distribution, e.g. 0-1023, \"22,80,8000-8999\" or all",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               absl::StatusOr<analytics::PortSet> set = analytics::ParsePortSet(v);
               if (!set.ok()) return Bad(o, v, std::string(set.status().message()));
               x.c.analytics.ports.server_ports = *set;
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) -> std::optional<std::string> {
               return Quote(PortSetText(p.config.analytics.ports.server_ports));
             }},
      // The telemetry socket answers in at most 16 KiB.
      Count("--telemetry-top", "analytics.telemetry_top", "N",
            "rows of /flowtrail/scans, /flowtrail/ports and /flowtrail/servers, at most 20",
            FT_FIELD(c.analytics.telemetry_top), 1, 20),
      WholeSeconds("--snapshot-interval", "analytics.snapshot_interval",
                   "write an analytics snapshot frame (scan table and client-port distribution, "
                   "mergeable: `flowtrail report --from snapshots`) into the record stream "
                   "whenever the latest record time passes another multiple of S seconds, and a "
                   "final one at the end; 0 = only the final one",
                   FT_FIELD(c.analytics.snapshot_interval_us), 0),
      Option{.flag = "--no-snapshots",
             .kind = Kind::kFlag,
             .help = "records only, no snapshot frames; analytics.snapshots = false in the file",
             .set = [](Ctx& x, std::string_view, std::string_view) -> absl::Status {
               x.c.analytics.snapshots = false;
               return absl::OkStatus();
             }},
      Option{.key = "analytics.snapshots",
             .kind = Kind::kBool,
             .help = "analytics snapshot frames in the record stream",
             .set = [](Ctx& x, std::string_view, std::string_view v) -> absl::Status {
               x.c.analytics.snapshots = v == "true";
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) -> std::optional<std::string> {
               return p.config.analytics.snapshots ? "true" : "false";
             }},

      // --- Collectors
      Option{.flag = "--collector",
             .key = "collectors.addresses",
             .kind = Kind::kList,
             .metavar = "HOST:PORT",
             .help = "a collector (`flowtrail collect`); repeatable, one link each. "
                     "Acknowledged blocks are forgotten; the rest is resent after a reconnect "
                     "(at-least-once, duplicates identified by sequence number). With "
                     "--collector, --output is optional",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               std::string host;
               uint16_t port = 0;
               if (!exporter::ParseHostPort(std::string(v), &host, &port).ok()) {
                 return Bad(o, v, "expected HOST:PORT ([V6ADDR]:PORT), port 1-65535");
               }
               x.c.collectors.addresses.push_back(std::string(v));
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) -> std::optional<std::string> {
               return Array(p.config.collectors.addresses);
             },
             .clear = [](Ctx& x) { x.c.collectors.addresses.clear(); }}
          .Group("Collectors (each block of the stream also goes to every collector)"),
      Path("--collector-ca", "collectors.ca", "FILE",
           "PEM CA that verifies the collector (whose certificate must name HOST)",
           FT_FIELD(c.collectors.ca_file))
          .Unset("none"),
      Path("--collector-cert", "collectors.cert", "FILE",
           "PEM certificate of this sensor (mutual TLS)", FT_FIELD(c.collectors.cert_file))
          .Unset("none"),
      Path("--collector-key", "collectors.key", "FILE",
           "its PEM private key. Without the three, links are plaintext: only to a loopback "
           "collector, unless --insecure",
           FT_FIELD(c.collectors.key_file))
          .Unset("none"),
      Option{.flag = "--insecure",
             .key = "collectors.insecure",
             .kind = Kind::kBool,
             .help = "plaintext to any collector",
             .set = [](Ctx& x, std::string_view, std::string_view v) -> absl::Status {
               x.c.collectors.insecure = v == "true";
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) -> std::optional<std::string> {
               return p.config.collectors.insecure ? "true" : "false";
             }},
      // Half is the ring from the exporter: room for 8 of its 64 KiB blocks.
      ByteCount("--collector-queue", "collectors.queue",
                "memory per collector for blocks not yet acknowledged (k/M/G, at least 1M)",
                FT_FIELD(c.collectors.queue_bytes), 1 << 20),
      Path("--spill-dir", "collectors.spill_dir", "DIR",
           "blocks that do not fit go to DIR/HOST_PORT/RUN_ID/ and are replayed in order; what "
           "is still unacknowledged after the 10 s drain at the end stays there, and the next "
           "run delivers it first",
           FT_FIELD(c.collectors.spill_dir))
          .Unset("no spill: overflow is dropped"),
      ByteCount("--spill-budget", "collectors.spill_budget",
                "disk per collector; beyond it blocks are dropped and their records counted",
                FT_FIELD(c.collectors.spill_budget), 0),

      // --- Metrics
      Option{.flag = "--metrics",
             .key = "metrics.listen",
             .kind = Kind::kString,
             .metavar = "ADDR:PORT",
             .help = "serve the counters in the Prometheus text format on ADDR:PORT (a control "
                     "thread; use a loopback ADDR unless the port is firewalled)",
             .set = [](Ctx& x, std::string_view o, std::string_view v) -> absl::Status {
               if (!dataplane::ParseListenAddress(v).ok()) {
                 return Bad(o, v,
                            "expected PORT (binds 127.0.0.1), ADDR:PORT or [V6ADDR]:PORT (an IPv6 "
                            "address goes in brackets), the port a number from 1 to 65535");
               }
               x.c.metrics_listen = std::string(v);
               return absl::OkStatus();
             },
             .get = [](const ParsedOptions& p) { return QuoteOrUnset(p.config.metrics_listen); },
             .unset = "off"}
          .Group("Metrics"),

      // --- This command
      Option{.flag = "--config",
             .kind = Kind::kString,
             .metavar = "FILE",
             .help = "read the options from a TOML file (deploy/sensor/*.toml; the keys are "
                     "those in brackets here); command-line options override it. SIGHUP "
                     "re-reads it: the keys marked live change at once, any other change is "
                     "refused (it needs a restart) and reported on stderr"}
          .Group("Configuration"),
      Option{.flag = "--print-config",
             .kind = Kind::kFlag,
             .help = "print the effective configuration as TOML (defaults filled in, readable "
                     "by --config) and exit; the host's memory is not checked"},
      Option{.flag = "--help", .kind = Kind::kFlag, .help = "this text"},
  };
  return *table;
}

#undef FT_FIELD

const Option* FindFlag(std::string_view flag) {
  for (const Option& o : Table()) {
    if (!o.flag.empty() && o.flag == flag) return &o;
  }
  return nullptr;
}

const Option* FindKey(std::string_view key) {
  for (const Option& o : Table()) {
    if (!o.key.empty() && o.key == key) return &o;
  }
  return nullptr;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

// "; did you mean X?" for the nearest name within a few edits, else "".
std::string Suggest(std::string_view name, bool keys) {
  std::string_view best;
  size_t best_d = SIZE_MAX;
  for (const Option& o : Table()) {
    const std::string_view cand = keys ? o.key : o.flag;
    if (cand.empty()) continue;
    size_t d = EditDistance(name, cand);
    // A key in the wrong section ("udp_timeout" for "tracker.udp_timeout").
    if (keys) {
      const std::string_view leaf = cand.substr(cand.find('.') + 1);
      const std::string_view name_leaf = name.substr(name.find('.') + 1);
      d = std::min(d, EditDistance(name_leaf, leaf) + (name_leaf == name ? 0 : 1));
    }
    if (d < best_d) {
      best_d = d;
      best = cand;
    }
  }
  if (best.empty() || best_d > std::max<size_t>(2, name.size() / 4)) return "";
  return absl::StrCat("; did you mean ", A(best), "?");
}

// Keys of an older spelling, accepted with a warning (deploy/sensor/README.md, "Upgrades").
struct RenamedKey {
  std::string_view old_key, key;
};
constexpr RenamedKey kRenamed[] = {
    {"tracker.tcp_established_timeout", "tracker.tcp_idle_timeout"},
};

std::string KindName(Kind k) {
  switch (k) {
    case Kind::kFlag:
    case Kind::kBool:
      return "a boolean (true or false)";
    case Kind::kInt:
      return "an integer";
    case Kind::kNumber:
      return "a number";
    case Kind::kBytes:
      return "an integer or a string with a k, M or G suffix";
    case Kind::kString:
      return "a string";
    case Kind::kList:
      return "an array of strings";
  }
  return "";
}

std::string NodeTypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date or time";
  }
}

// A scalar as the text its setter takes, or nullopt when its type does not
// fit the option's kind.
std::optional<std::string> ScalarText(const toml::node& n, Kind kind) {
  if (auto* s = n.as_string();
      s && (kind == Kind::kString || kind == Kind::kBytes || kind == Kind::kList)) {
    return s->get();
  }
  if (auto* i = n.as_integer();
      i && (kind == Kind::kInt || kind == Kind::kNumber || kind == Kind::kBytes)) {
    return absl::StrCat(i->get());
  }
  if (auto* f = n.as_floating_point(); f && kind == Kind::kNumber) {
    return Double(f->get());
  }
  if (auto* b = n.as_boolean(); b && kind == Kind::kBool) {
    return b->get() ? "true" : "false";
  }
  return std::nullopt;
}

absl::Status ApplyFileValue(Ctx& x, const Option& opt, const std::string& where,
                            const toml::node& n) {
  auto mismatch = [&]() {
    std::string shown;
    if (n.is_value()) {
      std::ostringstream os;
      n.visit([&os](auto&& v) { os << v; });
      shown = absl::StrCat(" (", os.str(), ")");
    }
    return absl::InvalidArgumentError(absl::StrFormat("%s: expected %s, got %s%s", where,
                                                      KindName(opt.kind), NodeTypeName(n), shown));
  };
  if (opt.kind == Kind::kList) {
    std::vector<std::string> items;
    if (const toml::array* arr = n.as_array()) {
      for (const toml::node& e : *arr) {
        if (!e.is_string()) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s: expected an array of strings, got %s in it", where, NodeTypeName(e)));
        }
        items.push_back(e.as_string()->get());
      }
    } else if (opt.join && n.is_string()) {
      items.push_back(n.as_string()->get());
    } else {
      return mismatch();
    }
    if (opt.clear) opt.clear(x);
    if (opt.join) return opt.set(x, where, absl::StrJoin(items, ","));
    for (const std::string& item : items) {
      if (absl::Status s = opt.set(x, where, item); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  std::optional<std::string> text = ScalarText(n, opt.kind);
  if (!text) return mismatch();
  return opt.set(x, where, *text);
}

absl::Status ApplyTable(Ctx& x, const std::string& file, const toml::table& table,
                        const std::string& prefix) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : absl::StrCat(prefix, ".", A(k.str()));
    const std::string where = absl::StrFormat("%s:%d: %s", file, node.source().begin.line, key);
    const Option* opt = FindKey(key);
    for (const RenamedKey& r : kRenamed) {
      if (!opt && key == r.old_key) {
        x.p.warnings.push_back(
            absl::StrFormat("%s is deprecated: it is now %s (the old name goes in a later release)",
                            where, A(r.key)));
        opt = FindKey(r.key);
      }
    }
    // A section: its keys are checked one by one (an unknown section's
    // first key is refused with a suggestion of the nearest known key).
    if (opt == nullptr && prefix.empty() && node.is_table()) {
      const toml::table& sub = *node.as_table();
      if (!sub.empty()) {
        if (absl::Status s = ApplyTable(x, file, sub, key); !s.ok()) return s;
        continue;
      }
      bool known_section = false;
      for (const Option& o : Table()) {
        known_section = known_section || (!o.key.empty() && o.key.starts_with(key + "."));
      }
      if (known_section) continue;
    }
    if (opt == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: unknown key%s (the keys are listed by --help)", where, Suggest(key, /*keys=*/true)));
    }
    if (absl::Status s = ApplyFileValue(x, *opt, where, node); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ApplyFile(Ctx& x, const std::string& file) {
  toml::table table;
  try {
    table = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--config %s:%d:%d: %s", file, e.source().begin.line,
                        e.source().begin.column, std::string(e.description())));
  }
  return ApplyTable(x, file, table, "");
}

// Wraps `text` to 79 columns, every line indented by `indent`.
std::string Wrap(std::string_view text, size_t indent, size_t first_column) {
  std::string out;
  size_t column = first_column;
  for (absl::string_view word : absl::StrSplit(A(text), ' ', absl::SkipEmpty())) {
    if (column > indent && column + 1 + word.size() > 79) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    } else {
      out += std::string(indent - std::min(indent, column), ' ');
      column = indent;
    }
    absl::StrAppend(&out, absl::StrReplaceAll(word, {{"\x01", " "}}));
    column += word.size();
  }
  return out + "\n";
}

}  // namespace

std::string Usage(std::string_view program) {
  std::string out = absl::StrCat("usage: ", A(program),
                                 " [EAL options] -- (--output FILE|--config FILE) [options]\n",
                                 R"(
Turns every conversation seen on the DPDK ports (TCP, UDP and ICMP sessions,
flows of every other IP protocol) into a session record, written as a
length-delimited protobuf stream. Ports are every ethdev the EAL offers: NICs,
or capture files given as --vdev=net_pcap0,rx_pcap=FILE[,rx_pcap=FILE2...].
flowtrail reads such files itself (pcap or pcapng, any byte order and time
precision; link types EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL,
LOOP, taken from each file's header) and keeps each frame's wire length, so
captures cut by a snap length give the sessions and bytes of the full ones.
Only infinite_rx=1 replays (benchmarks) and live interfaces go to net_pcap.

Every option is also a key of the --config file, shown as [section.key];
"live" keys change on SIGHUP. Seconds may be fractional, down to 0.000001
(1 microsecond); a shorter non-zero value is refused (times are kept in whole
microseconds).
)");
  ParsedOptions defaults;
  for (const Option& o : Table()) {
    if (!o.group.empty()) absl::StrAppend(&out, "\n", A(o.group), "\n");
    std::string head = "  ";
    if (!o.flag.empty()) {
      absl::StrAppend(&head, A(o.flag));
      if (o.kind != Kind::kFlag && o.kind != Kind::kBool) absl::StrAppend(&head, " ", A(o.metavar));
    } else {
      absl::StrAppend(&head, "(file only) ", A(o.key), " = ", A(o.metavar));
    }
    std::string text(o.help);
    // \x01: a space the wrapping keeps ("[key] (live)", "(default X)").
    if (!o.key.empty() && !o.flag.empty()) absl::StrAppend(&text, " [", A(o.key), "]");
    if (o.live) absl::StrAppend(&text, "\x01(live)");
    if (o.get) {
      std::optional<std::string> d = o.get(defaults);
      if (d) {
        absl::StrAppend(&text, " (default\x01", *d, ")");
      } else if (!o.unset.empty()) {
        absl::StrAppend(&text, " (default:\x01", absl::StrReplaceAll(A(o.unset), {{" ", "\x01"}}),
                        ")");
      }
    }
    constexpr size_t kIndent = 27;
    if (head.size() + 1 >= kIndent) {
      absl::StrAppend(&out, head, "\n", Wrap(text, kIndent, 0));
    } else {
      absl::StrAppend(&out, head, Wrap(text, kIndent, head.size()));
    }
  }
  absl::StrAppend(&out, R"(
Live counters: the periodic status line, and the DPDK telemetry commands
/flowtrail/stats and /flowtrail/workers, with the analytics lcore's top rows
in /flowtrail/scans (live TRW verdicts and scan-table rows), /flowtrail/ports
(flagged client ports) and /flowtrail/servers (active servers), published
once a second (dpdk-telemetry.py -f FILE_PREFIX) unless the EAL runs with
--no-telemetry.

Exit status: 0 done (end of capture, SIGINT/SIGTERM or --duration); 1 EAL,
port or lcore set-up failed (e.g. too few lcores for --workers), or the run
ended but its output is incomplete: a write error on --output (disk full,
the reader of "-" went away: the sensor stops writing, counts the error,
still flushes its sessions and prints its summary) or --stats-json could not
be written; 2 bad options or configuration file, or a capture file that
cannot be read (missing, not pcap/pcapng, an unsupported link type): nothing
has been started or written; 3 a capture file is corrupt: reading stopped at
its first invalid record (the summary and --stats-json give the byte offset
and why), every record before it is complete and written, the rest of the
file was not read. A capture whose last record is cut short (a file still
being written or copied) is not an error: it ends there, with a warning in
the summary, exit 0.
)");
  return out;
}

std::string PrintConfig(const ParsedOptions& parsed) {
  std::string out =
      "# flowtrail-sensor effective configuration (--print-config): every key with its value,\n"
      "# defaults filled in; a commented key is unset. Read back with --config.\n";
  std::vector<std::string_view> sections;
  for (const Option& o : Table()) {
    if (o.key.empty()) continue;
    const std::string_view section = o.key.substr(0, o.key.find('.'));
    if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
      sections.push_back(section);
    }
  }
  for (std::string_view section : sections) {
    absl::StrAppend(&out, "\n[", A(section), "]\n");
    for (const Option& o : Table()) {
      if (o.key.empty() || o.key.substr(0, o.key.find('.')) != section) continue;
      const std::string_view leaf = o.key.substr(section.size() + 1);
      std::optional<std::string> v = o.get(parsed);
      if (v) {
        absl::StrAppend(&out, A(leaf), " = ", *v, "\n");
      } else {
        absl::StrAppend(&out, "# ", A(leaf), " unset: ", A(o.unset), "\n");
      }
    }
  }
  return out;
}

std::vector<std::string> LiveKeys() {
  std::vector<std::string> keys;
  for (const Option& o : Table()) {
    if (o.live) keys.push_back(std::string(o.key));
  }
  return keys;
}

absl::StatusOr<ParsedOptions> ParseOptions(const std::vector<std::string_view>& args,
                                           const Environment& env_in) {
  ParsedOptions parsed;
  for (std::string_view a : args) parsed.args.emplace_back(a);
  dataplane::SensorConfig& c = parsed.config;
  session::TrackerConfig& t = c.tracker;
  dataplane::AnalyticsConfig& an = c.analytics;
  Ctx x{parsed, c};

  // The file first, so that the command line overrides it.
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") break;
    std::optional<std::string_view> file;
    if (args[i] == "--config" && i + 1 < args.size()) {
      file = args[i + 1];
    } else if (args[i].starts_with("--config=")) {
      file = args[i].substr(9);
    }
    if (file) {
      if (file->empty()) return Bad("--config", *file, "expected a file name");
      parsed.config_file = std::string(*file);
    }
  }
  if (!parsed.config_file.empty()) {
    if (absl::Status s = ApplyFile(x, parsed.config_file); !s.ok()) return s;
  }

  std::vector<const Option*> cleared;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      return parsed;
    }
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const Option* opt = FindFlag(name);
    if (opt == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("unknown option '%s'%s (see --help; EAL options go before --)", A(arg),
                          Suggest(name, /*keys=*/false)));
    }
    if (opt->kind == Kind::kFlag || opt->kind == Kind::kBool) {
      if (value) {
        return absl::InvalidArgumentError(absl::StrFormat("option %s takes no value", A(name)));
      }
      if (opt->flag == "--print-config") {
        parsed.print_config = true;
      } else if (opt->set) {
        if (absl::Status s = opt->set(x, name, "true"); !s.ok()) return s;
      }
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrFormat("option %s needs a value", A(name)));
      }
      value = args[++i];
    }
    if (opt->flag == "--config") continue;  // read above
    // A list given on the command line replaces the file's.
    if (opt->clear && std::find(cleared.begin(), cleared.end(), opt) == cleared.end()) {
      opt->clear(x);
      cleared.push_back(opt);
    }
    if (absl::Status s = opt->set(x, name, *value); !s.ok()) return s;
  }

  // The file's EAL arguments stand in for an empty EAL command line.
  Environment env = env_in;
  std::vector<std::string_view> file_eal;
  if (env.eal_args.empty()) {
    for (const std::string& a : parsed.eal_args) file_eal.push_back(a);
    env.eal_args = file_eal;
  }
  const bool have_output = !c.output.empty();
  if (have_output && !c.output_dir.empty()) {
    return absl::InvalidArgumentError(
        "--output and --output-dir are exclusive: one file, or rotating files in a directory");
  }
  if (!have_output && c.output_dir.empty() && c.collectors.addresses.empty()) {
    return absl::InvalidArgumentError(
        "--output FILE (\"-\" for stdout), --output-dir DIR or --collector HOST:PORT is required");
  }
  if (c.output_dir.empty() && (c.rotate_bytes != 0 || c.rotate_seconds != 0 || c.compress_zstd)) {
    return absl::InvalidArgumentError(
        "--rotate-bytes, --rotate-seconds and --compress need --output-dir DIR");
  }
  {
    const CollectorTls tls{c.collectors};
    if (tls.given != 0 && tls.given != 3) {
      return absl::InvalidArgumentError(
          "--collector-ca, --collector-cert and --collector-key go together (mutual TLS)");
    }
    if (tls.given != 0 && c.collectors.addresses.empty()) {
      return absl::InvalidArgumentError(
          "--collector-ca/--collector-cert/--collector-key need --collector");
    }
  }
  if (!(an.scan.trw.theta0 > an.scan.trw.theta1)) {
    return absl::InvalidArgumentError("--trw-theta0 must exceed --trw-theta1");
  }
  if (!(an.scan.trw.beta > an.scan.trw.alpha)) {
    return absl::InvalidArgumentError("--trw-beta must exceed --trw-alpha");
  }
  if (c.sensor_id.empty()) {
    c.sensor_id = Hostname();
    if (absl::Status s = exporter::ValidateSensorId(c.sensor_id); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the hostname is not a usable sensor id (",
                                                     s.message(), "); give --sensor-id ID"));
    }
  }

  // Files: never overwrite the input, nor one output with the other.
  struct Out {
    const char* option;
    const std::string& path;
  };
  for (const Out& out : {Out{"--output", c.output}, Out{"--stats-json", c.stats_json}}) {
    if (out.path.empty() || out.path == "-") {
      continue;
    }
    for (const std::string& capture : InputCaptures(env.eal_args)) {
      if (SameFile(out.path, capture)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s %s is the input capture (rx_pcap=%s): refusing to overwrite it",
                            out.option, out.path, capture));
      }
    }
  }
  if (!c.stats_json.empty() && c.output != "-" && SameFile(c.stats_json, c.output)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--stats-json %s is the same file as --output %s: give them different files", c.stats_json,
        c.output));
  }

  // The session tables are allocated (and zeroed) by every worker at start:
  // together with the EAL's memory they must fit in physical memory, or the
  // start fails or the OOM killer ends it.
  const uint64_t physical =
      env.physical_memory_bytes != 0 ? env.physical_memory_bytes : PhysicalMemoryBytes();
  const uint64_t eal_memory = EalMemoryBytes(env.eal_args);
  const uint64_t per_worker = session::Tracker::MemoryBytes(t);
  const uint64_t tables = per_worker * c.workers;
  if (!parsed.print_config && physical != 0 && tables + eal_memory > physical) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--table-size %d with %d worker%s needs %s of session tables (%d bytes per session), "
        "more than the %s of physical memory%s; lower --table-size or --workers",
        t.capacity, c.workers, c.workers == 1 ? "" : "s", GiB(tables), per_worker / t.capacity,
        GiB(physical),
        eal_memory == 0
            ? ""
            : absl::StrCat(" less ", GiB(eal_memory), " for the EAL (-m/--socket-mem)")));
  }
  return parsed;
}

namespace {

// The running value of every live key, taken from `from`.
void CopyLive(const ParsedOptions& from, ParsedOptions* to) {
  to->config.tracker.protected_networks = from.config.tracker.protected_networks;
  to->config.analytics.scan.trw = from.config.analytics.scan.trw;
  const analytics::PortAnalysisOptions& pa = from.config.analytics.port_analysis;
  to->config.analytics.port_analysis.min_client_ports = pa.min_client_ports;
  to->config.analytics.port_analysis.sigma = pa.sigma;
  to->config.analytics.port_analysis.robust_threshold = pa.robust_threshold;
  to->config.log_level = from.config.log_level;
  to->text["tracker.protected_nets"] =
      from.text.count("tracker.protected_nets") ? from.text.at("tracker.protected_nets") : "";
}

}  // namespace

absl::StatusOr<Reload> ReloadOptions(const ParsedOptions& running, const Environment& env) {
  std::vector<std::string_view> args(running.args.begin(), running.args.end());
  absl::StatusOr<ParsedOptions> fresh = ParseOptions(args, env);
  if (!fresh.ok()) return fresh.status();
  Reload r;
  r.parsed = running;
  for (const Option& o : Table()) {
    if (o.key.empty() || !o.get) continue;
    const std::optional<std::string> was = o.get(running), now = o.get(*fresh);
    if (was == now) continue;
    if (o.live) {
      r.applied.push_back(std::string(o.key));
    } else {
      r.refused.push_back(
          absl::StrCat(A(o.key), ": ", was.value_or("unset"), " -> ", now.value_or("unset")));
    }
  }
  CopyLive(*fresh, &r.parsed);
  return r;
}

}  // namespace flowtrail::app
