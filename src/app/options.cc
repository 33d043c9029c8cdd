#include "app/options.h"

#include <unistd.h>

#include <cmath>
#include <functional>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "session/networks.h"

namespace flowtrail::app {
namespace {

constexpr uint32_t kMaxWorkers = 64;
constexpr uint64_t kMaxTableSize = 1ull << 28;
constexpr double kMaxTimeoutS = 365.0 * 86400;

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
      (!allow_zero && v == 0)) {
    return Bad(option, value,
               allow_zero ? "expected seconds >= 0 (fractions allowed)"
                          : "expected seconds > 0 (fractions allowed)");
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

}  // namespace

std::string Usage(std::string_view program) {
  return absl::StrCat("usage: ", A(program), " [EAL options] -- --output FILE [options]\n",
                      R"(
Turns every TCP, UDP and ICMP conversation seen on the DPDK ports into a
session record, written as a length-delimited protobuf stream. Ports are every
ethdev the EAL offers (NICs, or --vdev=net_pcap0,rx_pcap=FILE for a capture).

Output
  --output FILE            record stream file; "-" = stdout (required)
  --sensor-id ID           sensor id in the stream header (default: hostname)
  --stats-json FILE        write the final counters as one JSON object
  --status-interval S      one-line status on stderr every S seconds; 0 = off
                           (default 10)

Lcores and input
  --workers N              worker lcores, each with its own session table
                           (default 1). Lcore roles, from the EAL lcore list: the
                           main lcore runs control; then N workers; then a
                           dispatcher when ports have fewer RX queues than
                           workers; then the exporter and analytics lcores (they
                           run on the main lcore when lcores are short)
  --capture                capture mode: lossless input, times from the capture,
                           stop at its end and flush live sessions as
                           END_OF_INPUT. Default: on when every port is a
                           net_pcap vdev reading files without infinite_rx=1
  --no-capture             live mode even on net_pcap files (wall-clock times;
                           runs until SIGINT/SIGTERM or --duration)
  --duration S             stop (as on SIGTERM) after S seconds; 0 = never
                           (default 0; for throughput runs with infinite_rx=1)
  --mbufs N                mbuf pool size (default: derived from queues, rings
                           and lcores; in capture mode any size is lossless)

Sessions
  --table-size N           live sessions per worker (default 1048576)
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
  --active-timeout S       interim record of long sessions every S seconds;
                           0 = off (default 1800)
  Seconds may be fractional.

  --help                   this text

Live counters: the periodic status line, and the DPDK telemetry commands
/flowtrail/stats and /flowtrail/workers (dpdk-telemetry.py -f FILE_PREFIX)
unless the EAL runs with --no-telemetry.

Exit status: 0 done (end of capture, SIGINT/SIGTERM or --duration), 1 EAL,
port or lcore set-up failed (e.g. too few lcores for --workers), 2 bad options.
)");
}

absl::StatusOr<ParsedOptions> ParseOptions(const std::vector<std::string_view>& args) {
  ParsedOptions parsed;
  dataplane::SensorConfig& c = parsed.config;
  session::TrackerConfig& t = c.tracker;
  bool have_output = false;

  using Setter = std::function<absl::Status(std::string_view option, std::string_view v)>;
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
      {"--sensor-id",
       [&](std::string_view o, std::string_view v) -> absl::Status {
         if (v.empty()) {
           return Bad(o, v, "expected a non-empty id");
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
         absl::StatusOr<uint64_t> n = ParseCount(o, v, 1024, 1u << 24);
         if (!n.ok()) {
           return n.status();
         }
         c.mbufs = static_cast<uint32_t>(*n);
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
  if (!have_output) {
    return absl::InvalidArgumentError("--output FILE is required (\"-\" for stdout)");
  }
  if (c.sensor_id.empty()) {
    c.sensor_id = Hostname();
  }
  return parsed;
}

}  // namespace flowtrail::app
