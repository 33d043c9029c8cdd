#include "app/options.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
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

}  // namespace

std::string Usage(std::string_view program) {
  return absl::StrCat("usage: ", A(program), " [EAL options] -- --output FILE [options]\n",
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

Output
  --output FILE            record stream file; "-" = stdout (this or
                           --output-dir is required). Never an input capture
                           (rx_pcap=FILE) nor the --stats-json file: refused
                           before anything runs
  --output-dir DIR         the stream as segment files in DIR (an existing
                           directory), each a complete segment named
                           SENSOR_RUNID_FIRSTSEQ_UTCTIME.ftr, written as a
                           hidden .part file and renamed once closed and
                           fsync'd; `flowtrail cat DIR/*` joins them
  --rotate-bytes BYTES     with --output-dir: start a new file before one
                           would exceed BYTES (k, M, G suffixes; at least 4k)
  --rotate-seconds S       with --output-dir: start a new file once one is S
                           seconds old (wall clock)
  --compress zstd          with --output-dir: compress each closed file to
                           NAME.ftr.zst (a background thread; every closed
                           file is compressed before the sensor exits)
  --sensor-id ID           sensor id in the stream header and every record,
                           at most 256 bytes of UTF-8 (default: hostname)
  --stats-json FILE        write the final counters as one JSON object
  --status-interval S      one-line status on stderr every S seconds; 0 = off
                           (default 10)
  --metrics ADDR:PORT      serve Prometheus metrics at http://ADDR:PORT/metrics
                           (a bare PORT listens on 127.0.0.1)

Lcores and input
  --workers N              worker lcores, each with its own session table
                           (default 1). Lcore roles, from the EAL lcore list: the
                           main lcore runs control; then N workers; then a
                           dispatcher when ports have fewer RX queues than
                           workers; then the exporter and analytics lcores (they
                           run on the main lcore when lcores are short)
  --capture                capture mode: lossless input, times from the capture,
                           stop at its end and flush live sessions as
                           END_OF_INPUT. Default: on when every port reads
                           capture files (rx_pcap= without infinite_rx=1)
  --no-capture             live mode even on net_pcap files (wall-clock times;
                           runs until SIGINT/SIGTERM or --duration)
  --duration S             stop (as on SIGTERM) after S seconds; 0 = never
                           (default 0; for throughput runs with infinite_rx=1)
  --mbufs N                mbuf pool size, at least 1152 (what capture mode
                           needs: the reader's margin of 34 bursts plus two
                           bursts in flight); default: derived from queues,
                           rings and lcores; in capture mode any size from
                           1152 up is lossless
  --record-ring-size N     records each worker's ring to the exporter (and to
                           the analytics lcore) holds, a power of two in
                           [64, 1048576] (default 4096). Records never drop
                           at a full ring: expiry waits for room
  --clock-jump S           capture mode: a packet more than S seconds ahead of
                           the tracker's clock moves the clock only when the
                           next packet confirms the jump (default 10)

Sessions
  --table-size N           live sessions per worker (default 1048576). Every
                           worker allocates its table at start (about 300
                           bytes per session, the exact figure is in the error):
                           the tables of all workers plus the EAL's memory (-m
                           or --socket-mem) must fit in physical memory, or
                           the value is refused up front
  --protected-nets CIDR[,CIDR...]
                           protected networks, for the inbound flag
  --full-analysis all|inbound|none
                           which sessions get the optional analysis (default all)
  --tcp-syn-timeout S      idle timeout of a handshake / lone SYN (default 30)
  --tcp-idle-timeout S     idle timeout of an established session (default 300)
  --tcp-closing-timeout S  idle timeout after one FIN (default 30)
  --tcp-linger S           linger after FIN both ways or RST (default 2)
  --udp-timeout S          UDP idle timeout (default 60)
  --icmp-timeout S         ICMP idle timeout (default 30)
  --other-timeout S        idle timeout of flows of other IP protocols (GRE,
                           ESP, SCTP, ...) (default 60)
  --active-timeout S       interim record of long sessions every S seconds;
                           0 = off (default 1800)
  --vlan-key none|outer|both
                           which VLAN ids are part of the session key: both
                           (default; the same 5-tuple on two VLANs is two
                           sessions), the outer one only, or none
  Seconds may be fractional, down to 0.000001 (1 microsecond); a shorter
  non-zero value is refused (times are kept in whole microseconds).

Live analytics (the analytics lcore; SPEC §5)
  --attempt-timeout S      a client SYN without SYN-ACK or RST for S seconds of
                           capture/clock time is a silent first contact, told
                           to the analytics lcore at once (the session's record
                           waits for its idle timeout); 0 = no first-contact
                           events, no live verdicts (default 3)
  --analytics-memory BYTES memory of the scan table, the client-port
                           distribution and the live verdicts together (k/M/G
                           suffix; split 1/2, 1/4, 1/4); 0 = only each table's
                           key limits (default 256M)
  --scan-horizon S         an (address, port) that accepted within S seconds
                           of a failure is an active server (default 1800)
  --trw-theta0 P, --trw-theta1 P, --trw-alpha P, --trw-beta P
  --trw THETA0,THETA1,ALPHA,BETA
                           the Threshold Random Walk of `flowtrail report scans`
                           and of the live verdicts (default 0.8,0.2,0.01,0.99)
  --trw-active-failure neutral|failure
                           a failure on an active server (default neutral)
  --window S               client-port distribution window, as `flowtrail report
                           ports` (default 3600)
  --server-ports SET       server ports of the distribution, e.g. 0-1023 (the
                           default), "22,80,8000-8999" or all
  --telemetry-top N        rows of /flowtrail/scans, /flowtrail/ports and
                           /flowtrail/servers, at most 20 (default 10)
  --snapshot-interval S    write an analytics snapshot frame (scan table and
                           client-port distribution, mergeable: `flowtrail
                           report --from snapshots`) into the record stream
                           whenever the latest record time passes another
                           multiple of S seconds, and a final one at the end;
                           0 = only the final one (default 60)
  --no-snapshots           records only, no snapshot frames

Collectors (each block of the stream also goes to every collector)
  --collector HOST:PORT    a collector (`flowtrail collect`); repeatable, one
                           link each. Acknowledged blocks are forgotten; the
                           rest is resent after a reconnect (at-least-once,
                           duplicates identified by sequence number). With
                           --collector, --output is optional
  --collector-ca FILE      PEM CA that verifies the collector (whose
                           certificate must name HOST)
  --collector-cert FILE    PEM certificate of this sensor (mutual TLS)
  --collector-key FILE     its PEM private key. Without the three, links are
                           plaintext: only to a loopback collector, unless
  --insecure               plaintext to any collector
  --collector-queue BYTES  memory per collector for blocks not yet
                           acknowledged (k/M/G, at least 1M; default 64M)
  --spill-dir DIR          blocks that do not fit go to DIR/HOST_PORT/RUN_ID/
                           and are replayed in order; what is still
                           unacknowledged after the 10 s drain at the end
                           stays there (not replayed by a later run)
  --spill-budget BYTES     disk per collector (default 1G); beyond it blocks
                           are dropped and their records counted

  --help                   this text

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
be written; 2 bad options, or a capture file that cannot be read (missing,
not pcap/pcapng, an unsupported link type): nothing has been started or
written; 3 a capture file is corrupt: reading stopped at its first invalid
record (the summary and --stats-json give the byte offset and why), every
record before it is complete and written, the rest of the file was not read.
A capture whose last record is cut short (a file still being written or
copied) is not an error: it ends there, with a warning in the summary, exit 0.
)");
}

namespace {

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

}  // namespace

absl::StatusOr<ParsedOptions> ParseOptions(const std::vector<std::string_view>& args,
                                           const Environment& env) {
  ParsedOptions parsed;
  dataplane::SensorConfig& c = parsed.config;
  session::TrackerConfig& t = c.tracker;
  bool have_output = false;

  using Setter = std::function<absl::Status(std::string_view option, std::string_view v)>;
  dataplane::AnalyticsConfig& an = c.analytics;
  auto probability = [](double* field) -> Setter {
    return [field](std::string_view o, std::string_view v) -> absl::Status {
      absl::StatusOr<double> p = ParseProbability(o, v);
      if (!p.ok()) {
        return p.status();
      }
      *field = *p;
      return absl::OkStatus();
    };
  };
  auto timeout = [](uint64_t* field, bool allow_zero) -> Setter {
    return [field, allow_zero](std::string_view o, std::string_view v) -> absl::Status {
      absl::StatusOr<double> s = ParseSeconds(o, v, allow_zero);
      if (!s.ok()) {
        return s.status();
      }
      *field = ToMicros(*s);
      return absl::OkStatus();
    };
  };
  auto file = [](std::string* field) -> Setter {
    return [field](std::string_view o, std::string_view v) -> absl::Status {
      if (v.empty()) {
        return Bad(o, v, "expected a path");
      }
      *field = std::string(v);
      return absl::OkStatus();
    };
  };
  auto bytes = [](uint64_t* field, uint64_t min) -> Setter {
    return [field, min](std::string_view o, std::string_view v) -> absl::Status {
      absl::StatusOr<uint64_t> n = ParseBytes(o, v);
      if (!n.ok()) {
        return n.status();
      }
      if (*n < min) {
        return Bad(o, v, absl::StrCat("expected at least ", min, " bytes"));
      }
      *field = *n;
      return absl::OkStatus();
    };
  };
  const std::map<std::string_view, Setter> with_value = {
      {"--output",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         if (v.empty()) {
           return Bad(o, v, "expected a file name or -");
         }
         c.output = std::string(v);
         have_output = true;
         return absl::OkStatus();
       }},
      {"--output-dir",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         if (v.empty()) {
           return Bad(o, v, "expected a directory");
         }
         c.output_dir = std::string(v);
         return absl::OkStatus();
       }},
      {"--rotate-bytes",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<uint64_t> n = ParseBytes(o, v);
         if (!n.ok()) {
           return n.status();
         }
         // Smaller files would hold a block or two each.
         if (*n < 4096) {
           return Bad(o, v, "expected at least 4k");
         }
         c.rotate_bytes = *n;
         return absl::OkStatus();
       }},
      {"--rotate-seconds",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<double> s = ParseSeconds(o, v, /*allow_zero=*/false);
         if (!s.ok()) {
           return s.status();
         }
         c.rotate_seconds = std::max<uint64_t>(1, static_cast<uint64_t>(*s));
         return absl::OkStatus();
       }},
      {"--compress",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         if (v != "zstd") {
           return Bad(o, v, "expected zstd");
         }
         c.compress_zstd = true;
         return absl::OkStatus();
       }},
      {"--sensor-id",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         if (v.empty()) {
           return Bad(o, v, "expected a non-empty id");
         }
         // The stream carries it in its header and every record.
         if (absl::Status s = exporter::ValidateSensorId(v); !s.ok()) {
           return absl::InvalidArgumentError(
               absl::StrFormat("invalid value for %s: %s", A(o), s.message()));
         }
         c.sensor_id = std::string(v);
         return absl::OkStatus();
       }},
      {"--workers",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<uint64_t> n = ParseCount(o, v, 1, kMaxWorkers);
         if (!n.ok()) {
           return n.status();
         }
         c.workers = static_cast<uint32_t>(*n);
         return absl::OkStatus();
       }},
      {"--table-size",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<uint64_t> n = ParseCount(o, v, 1, kMaxTableSize);
         if (!n.ok()) {
           return n.status();
         }
         t.capacity = static_cast<uint32_t>(*n);
         return absl::OkStatus();
       }},
      {"--mbufs",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         // Capture mode needs this many (pipeline.cc); live mode fewer, but a
         // pool this small is a mistake there too.
         absl::StatusOr<uint64_t> n = ParseCount(o, v, dataplane::kMinCaptureMbufs, kMaxMbufs);
         if (!n.ok()) {
           return n.status();
         }
         c.mbufs = static_cast<uint32_t>(*n);
         return absl::OkStatus();
       }},
      {"--record-ring-size",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<uint64_t> n = ParseCount(o, v, 64, uint64_t{1} << 20);
         if (!n.ok()) {
           return n.status();
         }
         if ((*n & (*n - 1)) != 0) {
           return Bad(o, v, "expected a power of two");
         }
         c.record_ring_size = static_cast<uint32_t>(*n);
         return absl::OkStatus();
       }},
      {"--protected-nets",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<session::Networks> n = session::Networks::Parse(v);
         if (!n.ok()) {
           return Bad(o, v, std::string(n.status().message()));
         }
         t.protected_networks = *std::move(n);
         return absl::OkStatus();
       }},
      {"--full-analysis",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         if (v == "all") {
           t.full_analysis = session::FullAnalysisPolicy::kAll;
         } else if (v == "inbound") {
           t.full_analysis = session::FullAnalysisPolicy::kInboundOnly;
         } else if (v == "none") {
           t.full_analysis = session::FullAnalysisPolicy::kNone;
         } else {
           return Bad(o, v, "expected all, inbound or none");
         }
         return absl::OkStatus();
       }},
      {"--vlan-key",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         if (v == "none") {
           t.vlan_key = session::VlanKey::kNone;
         } else if (v == "outer") {
           t.vlan_key = session::VlanKey::kOuter;
         } else if (v == "both") {
           t.vlan_key = session::VlanKey::kBoth;
         } else {
           return Bad(o, v, "expected none, outer or both");
         }
         return absl::OkStatus();
       }},
      {"--other-timeout", timeout(&t.other_timeout_us, false)},
      {"--clock-jump", timeout(&c.clock_jump_us, false)},
      {"--tcp-syn-timeout", timeout(&t.tcp_syn_timeout_us, false)},
      {"--tcp-idle-timeout", timeout(&t.tcp_established_timeout_us, false)},
      {"--tcp-closing-timeout", timeout(&t.tcp_closing_timeout_us, false)},
      {"--tcp-linger", timeout(&t.tcp_linger_us, true)},
      {"--udp-timeout", timeout(&t.udp_timeout_us, false)},
      {"--icmp-timeout", timeout(&t.icmp_timeout_us, false)},
      {"--active-timeout", timeout(&t.active_timeout_us, true)},
      {"--status-interval",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<double> s = ParseSeconds(o, v, true);
         if (!s.ok()) {
           return s.status();
         }
         c.status_interval_s = *s;
         return absl::OkStatus();
       }},
      {"--duration",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<double> s = ParseSeconds(o, v, true);
         if (!s.ok()) {
           return s.status();
         }
         c.duration_s = *s;
         return absl::OkStatus();
       }},
      {"--stats-json",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         if (v.empty()) {
           return Bad(o, v, "expected a file name");
         }
         c.stats_json = std::string(v);
         return absl::OkStatus();
       }},
      {"--metrics",
       [&](std::string_view, std::string_view v) -> absl::Status {
         if (absl::StatusOr<dataplane::ListenAddress> a = dataplane::ParseListenAddress(v);
             !a.ok()) {
           return a.status();
         }
         c.metrics_listen = std::string(v);
         return absl::OkStatus();
       }},
      {"--attempt-timeout", timeout(&t.attempt_timeout_us, true)},
      {"--scan-horizon", timeout(&an.scan.horizon_us, true)},
      {"--analytics-memory",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<uint64_t> n = ParseBytes(o, v);
         if (!n.ok()) {
           return n.status();
         }
         an.memory_bytes = *n;
         return absl::OkStatus();
       }},
      {"--trw-theta0", probability(&an.scan.trw.theta0)},
      {"--trw-theta1", probability(&an.scan.trw.theta1)},
      {"--trw-alpha", probability(&an.scan.trw.alpha)},
      {"--trw-beta", probability(&an.scan.trw.beta)},
      {"--trw",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         std::vector<std::string> parts = absl::StrSplit(A(v), ',');
         if (parts.size() != 4) {
           return Bad(o, v, "expected THETA0,THETA1,ALPHA,BETA");
         }
         double* fields[] = {&an.scan.trw.theta0, &an.scan.trw.theta1, &an.scan.trw.alpha,
                             &an.scan.trw.beta};
         for (size_t i = 0; i < 4; ++i) {
           absl::StatusOr<double> p = ParseProbability(o, parts[i]);
           if (!p.ok()) {
             return p.status();
           }
           *fields[i] = *p;
         }
         return absl::OkStatus();
       }},
      {"--trw-active-failure",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         if (v != "neutral" && v != "failure") {
           return Bad(o, v, "expected neutral or failure");
         }
         an.scan.trw.active_failure_counts = v == "failure";
         return absl::OkStatus();
       }},
      {"--window",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<uint64_t> n = ParseCount(o, v, 1, 100ull * 365 * 86400);
         if (!n.ok()) {
           return n.status();
         }
         an.ports.window_us = *n * 1'000'000;
         return absl::OkStatus();
       }},
      {"--server-ports",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<analytics::PortSet> set = analytics::ParsePortSet(v);
         if (!set.ok()) {
           return Bad(o, v, std::string(set.status().message()));
         }
         an.ports.server_ports = *set;
         return absl::OkStatus();
       }},
      {"--snapshot-interval",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         absl::StatusOr<uint64_t> n = ParseCount(o, v, 0, 100ull * 365 * 86400);
         if (!n.ok()) {
           return n.status();
         }
         an.snapshot_interval_us = *n * 1'000'000;
         return absl::OkStatus();
       }},
      {"--collector",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         std::string host;
         uint16_t port = 0;
         if (absl::Status s = exporter::ParseHostPort(std::string(v), &host, &port); !s.ok()) {
           return Bad(o, v, "expected HOST:PORT ([V6ADDR]:PORT), port 1-65535");
         }
         c.collectors.addresses.push_back(std::string(v));
         return absl::OkStatus();
       }},
      {"--collector-ca", file(&c.collectors.ca_file)},
      {"--collector-cert", file(&c.collectors.cert_file)},
      {"--collector-key", file(&c.collectors.key_file)},
      {"--spill-dir", file(&c.collectors.spill_dir)},
      {"--spill-budget", bytes(&c.collectors.spill_budget, 0)},
      // Half is the ring from the exporter: room for 8 of its 64 KiB blocks.
      {"--collector-queue", bytes(&c.collectors.queue_bytes, 1 << 20)},
      {"--telemetry-top",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         // The telemetry socket answers in at most 16 KiB.
         absl::StatusOr<uint64_t> n = ParseCount(o, v, 1, 20);
         if (!n.ok()) {
           return n.status();
         }
         an.telemetry_top = static_cast<uint32_t>(*n);
         return absl::OkStatus();
       }},
  };

  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      return parsed;
    }
    if (arg == "--capture") {
      c.capture = true;
      continue;
    }
    if (arg == "--no-capture") {
      c.capture = false;
      continue;
    }
    if (arg == "--insecure") {
      c.collectors.insecure = true;
      continue;
    }
    if (arg == "--no-snapshots") {
      an.snapshots = false;
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto it = with_value.find(name);
    if (it == with_value.end()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("unknown option '%s' (see --help; EAL options go before --)", A(arg)));
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrFormat("option %s needs a value", A(name)));
      }
      value = args[++i];
    }
    if (absl::Status s = it->second(name, *value); !s.ok()) {
      return s;
    }
  }
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
  if (physical != 0 && tables + eal_memory > physical) {
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

}  // namespace flowtrail::app
