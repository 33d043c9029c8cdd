#include "tools/collect_command.h"

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "collect/clickhouse_feed.h"
#include "collect/collector.h"
#include "common/byte_size.h"
#include "export/rotating_file_sink.h"
#include "tools/cat_command.h"

namespace flowtrail::tools {

const char kCollectHelp[] =
    R"(usage: flowtrail collect --listen ADDR:PORT --dir DIR [options]

Receives the record streams of sensors (flowtrail-sensor --collector) and
stores each sensor's runs as segment files under DIR/SENSOR/, readable with
`flowtrail cat --allow-unfinished DIR/SENSOR/*.ftr` (names: see
src/export/rotating_file_sink.h). Every frame is validated;
a bad connection is closed with a logged error while the others go on. What is
written is fsync'd, then acknowledged to the sensor (CollectorAck). Frames a
run already holds (a sensor resending after a reconnect) are counted as
duplicates and not stored twice; gaps and duplicates per run are in the log
and the summary. SIGTERM or SIGINT: finish what arrived, fsync, send the final
acks, close the files, print the summary, exit 0. One collector per DIR (it
holds a lock on DIR/.flowtrail-collect.lock; a second one is refused); at start
it reads its files back, fsyncs them and gives the unfinished ones a crash left
(.part) their final name.

options:
  --listen ADDR:PORT     address to listen on ([::1]:PORT for IPv6)
  --dir DIR              where the files go (must exist)
  --tls-ca FILE          CA certificate (PEM) that signed the sensors' certificates
  --tls-cert FILE        this collector's certificate (PEM)
  --tls-key FILE         its private key (PEM)
  --insecure             accept plaintext on a non-loopback address (without
                         TLS, plaintext is accepted only on loopback)
  --any-sensor-id        with TLS, accept any sensor id; by default a stream's
                         sensor id must be its certificate's CN or one of its
                         DNS subjectAltNames (one sensor cannot write as another)
  --max-connections N    more are accepted and closed at once (default 1024)
  --max-buffered-bytes N incomplete frames held across all connections (k, M,
                         G suffixes; default 512M): the connection that would
                         pass it is closed and its sensor resends
  --idle-timeout S       close a connection silent for S seconds, or with a
                         frame or TLS handshake incomplete for S (default 120)
  --rotate-bytes N       start a new file after N bytes (default: no limit)
  --rotate-seconds S     start a new file after S seconds (default: no limit)
  --stats-json FILE      write the counters and per-run gaps there at exit
  --clickhouse URL       also load what is durable into ClickHouse over its HTTP
                         interface (e.g. http://127.0.0.1:8123/; the tables of
                         deploy/clickhouse/schema.sql: flowtrail.sessions and
                         flowtrail.batches), from a thread of its own; what it
                         cannot load is logged and stays in the files for
                         `flowtrail clickhouse-load`, which never loads twice
  -h, --help             this text
)";

namespace {

collect::Collector* g_collector = nullptr;

void OnSignal(int) {
  if (g_collector != nullptr) g_collector->RequestStop();
}

int Usage(std::FILE* err, const std::string& message) {
  std::fprintf(err, "flowtrail collect: %s\nRun 'flowtrail collect --help' for usage.\n",
               message.c_str());
  return kExitUsage;
}

}  // namespace

int RunCollect(std::span<const std::string> args, std::FILE* out, std::FILE* err) {
  collect::CollectorOptions options;
  options.log = err;
  std::string listen, stats_json, clickhouse_url;
  uint64_t rotate_bytes = 0, rotate_seconds = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kCollectHelp, out);
      return kExitOk;
    }
    if (a == "--insecure") {
      options.insecure = true;
      continue;
    }
    if (a == "--any-sensor-id") {
      options.any_sensor_id = true;
      continue;
    }
    static const char* const kValued[] = {
        "--listen",       "--dir",          "--tls-ca",
        "--tls-cert",     "--tls-key",      "--max-connections",
        "--idle-timeout", "--rotate-bytes", "--rotate-seconds",
        "--stats-json",   "--clickhouse",   "--max-buffered-bytes"};
    bool known = false;
    for (const char* k : kValued) known = known || a == k;
    if (!known) return Usage(err, "unknown option '" + a + "'");
    if (i + 1 >= args.size()) return Usage(err, a + " needs a value");
    const std::string& v = args[++i];
    uint64_t n = 0;
    double d = 0;
    if (a == "--listen") {
      listen = v;
    } else if (a == "--dir") {
      options.dir = v;
    } else if (a == "--tls-ca") {
      options.tls_ca = v;
    } else if (a == "--tls-cert") {
      options.tls_cert = v;
    } else if (a == "--tls-key") {
      options.tls_key = v;
    } else if (a == "--stats-json") {
      stats_json = v;
    } else if (a == "--clickhouse") {
      if (!v.starts_with("http://") && !v.starts_with("https://")) {
        return Usage(err, "--clickhouse needs an http:// or https:// URL, not '" + v + "'");
      }
      clickhouse_url = v;
    } else if (a == "--max-buffered-bytes") {
      if (!ParseByteSize(v, &n) || n < (uint64_t{1} << 20)) {
        return Usage(
            err,
            absl::StrCat("--max-buffered-bytes needs a byte count of at least 1M, not '", v, "'"));
      }
      options.max_buffered_bytes = n;
    } else if (a == "--idle-timeout") {
      if (!absl::SimpleAtod(v, &d) || !(d > 0) || d > 1e7) {
        return Usage(err, "--idle-timeout needs seconds > 0, not '" + v + "'");
      }
      options.idle_timeout_ms = static_cast<uint64_t>(d * 1000);
    } else if (!absl::SimpleAtoi(v, &n)) {
      return Usage(err, a + " needs a non-negative integer, not '" + v + "'");
    } else if (a == "--max-connections") {
      if (n == 0) return Usage(err, "--max-connections must be at least 1");
      options.max_connections = n;
    } else if (a == "--rotate-bytes") {
      rotate_bytes = n;
    } else if (a == "--rotate-seconds") {
      rotate_seconds = n;
    }
  }
  if (listen.empty()) return Usage(err, "--listen ADDR:PORT is required");
  if (options.dir.empty()) return Usage(err, "--dir DIR is required");
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port > 65535) {
    return Usage(err, "--listen needs ADDR:PORT, not '" + listen + "'");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  options.listen_host = host;
  options.listen_port = static_cast<uint16_t>(port);
  options.sink_factory =
      [rotate_bytes, rotate_seconds](
          const std::string& dir,
          const v1::StreamHeader&) -> absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> {
    exporter::RotatingFileOptions o;
    o.dir = dir;
    o.rotate_bytes = rotate_bytes;
    o.rotate_seconds = rotate_seconds;
    absl::StatusOr<std::unique_ptr<exporter::RotatingFileSink>> sink =
        exporter::RotatingFileSink::Create(std::move(o));
    if (!sink.ok()) return sink.status();
    return std::unique_ptr<exporter::SegmentSink>(*std::move(sink));
  };

  std::unique_ptr<collect::ClickHouseFeed> feed;
  if (!clickhouse_url.empty()) {
    collect::ClickHouseFeedOptions fo;
    fo.loader.url = clickhouse_url;
    fo.log = err;
    absl::StatusOr<std::unique_ptr<collect::ClickHouseFeed>> f =
        collect::ClickHouseFeed::Create(std::move(fo));
    if (!f.ok()) {
      std::fprintf(err, "flowtrail collect: --clickhouse: %s\n",
                   std::string(f.status().message()).c_str());
      return kExitUsage;
    }
    feed = *std::move(f);
    options.consumer = feed.get();
  }
  absl::StatusOr<std::unique_ptr<collect::Collector>> c = collect::Collector::Create(options);
  if (!c.ok()) {
    std::fprintf(err, "flowtrail collect: %s\n", std::string(c.status().message()).c_str());
    return kExitUsage;
  }
  g_collector = c->get();
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  absl::Status s = (*c)->Run();
  g_collector = nullptr;
  if (feed != nullptr) {
    feed->Finish();
    const collect::ClickHouseFeedStats fs = feed->stats();
    std::fprintf(err,
                 "flowtrail collect: clickhouse: %llu records loaded, %llu failed, %llu dropped "
                 "(queue full)\n",
                 static_cast<unsigned long long>(fs.records_loaded),
                 static_cast<unsigned long long>(fs.records_failed),
                 static_cast<unsigned long long>(fs.records_dropped));
  }
  if (!stats_json.empty()) {
    std::ofstream f(stats_json);
    f << (*c)->StatsJson();
    if (!f) std::fprintf(err, "flowtrail collect: cannot write %s\n", stats_json.c_str());
  }
  if (!s.ok()) {
    std::fprintf(err, "flowtrail collect: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return kExitOk;
}

}  // namespace flowtrail::tools
