#include "tools/clickhouse_command.h"

#include <cinttypes>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "clickhouse/loader.h"
#include "export/stream_reader.h"
#include "tools/cat_command.h"

namespace flowtrail::tools {

const char kClickHouseLoadHelp[] =
    R"(usage: flowtrail clickhouse-load --url URL [options] FILE...

Loads flowtrail record streams into ClickHouse (the schema of
deploy/clickhouse/schema.sql) over its HTTP interface, in RowBinary batches.
Each record is stored once with its stream's sensor id and run id and its
frame sequence number: a batch already stored (the same file loaded again, or
a retry after an error) is skipped or completed, never stored twice
(deploy/clickhouse/README.md, "Loading").

options:
  --url URL            a server's HTTP interface, e.g. http://127.0.0.1:8123/
  --database D         (default flowtrail)
  --table T            the Distributed table (default sessions)
  --batches-table T    the loader's journal (default batches)
  --batch N            records per INSERT (default 100000)
  --retries N          further attempts of a failed batch (default 5)
  --timeout SECONDS    per HTTP request (default 60)
  --user U, --password P
  --allow-unfinished   a stream without its trailer is not an error (its
                       records are loaded)
  -h, --help           this text

A summary (records, batches, skipped, records/s) goes to stderr. Exit status:
0 ok; 1 a stream was bad or a batch could not be stored (the batches before
were); 2 bad usage.
)";

namespace {

int Usage(std::FILE* err, const std::string& message) {
  std::fprintf(err,
               "flowtrail clickhouse-load: %s\nRun 'flowtrail clickhouse-load --help' for "
               "usage.\n",
               message.c_str());
  return kExitUsage;
}

// One stream (a segment of a run): its records in batches of consecutive
// sequence numbers, keyed by the header's sensor id and run id (empty in
// streams before revision 3, whose frames are numbered from 1 as well).
absl::Status LoadFile(const std::string& path, const exporter::ReaderOptions& reader_options,
                      size_t batch, clickhouse::ClickHouseLoader& loader, uint64_t* records) {
  absl::StatusOr<std::unique_ptr<exporter::StreamReader>> reader =
      exporter::StreamReader::OpenFile(path, reader_options);
  if (!reader.ok()) {
    return reader.status();
  }
  exporter::StreamReader& r = **reader;
  std::vector<v1::SessionRecord> pending;
  pending.reserve(batch);
  uint64_t first = 0;
  std::string sensor_id;
  std::string run_id;
  auto flush = [&]() -> absl::Status {
    if (pending.empty()) {
      return absl::OkStatus();
    }
    absl::Status s = loader.Load(sensor_id, run_id, first, pending);
    *records += s.ok() ? pending.size() : 0;
    pending.clear();
    return s;
  };
  for (;;) {
    absl::StatusOr<const v1::SessionRecord*> next = r.Next();
    if (!next.ok()) {
      // The good records before the error are loaded, then the error is reported.
      absl::Status s = flush();
      return s.ok() ? next.status() : s;
    }
    if (*next == nullptr) {
      return flush();
    }
    if (sensor_id.empty() && r.header() != nullptr) {
      sensor_id = r.header()->sensor_id();
      run_id = r.header()->run_id();
    }
    const uint64_t sequence = r.last_sequence();
    if (!pending.empty() && (sequence != first + pending.size() || pending.size() >= batch)) {
      if (absl::Status s = flush(); !s.ok()) {
        return s;
      }
    }
    if (pending.empty()) {
      first = sequence;
    }
    pending.push_back(**next);
  }
}

}  // namespace

int RunClickHouseLoad(std::span<const std::string> args, std::FILE* out, std::FILE* err) {
  clickhouse::LoaderOptions o;
  exporter::ReaderOptions reader;
  std::vector<std::string> files;
  bool have_url = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kClickHouseLoadHelp, out);
      return kExitOk;
    }
    if (a == "--allow-unfinished") {
      reader.require_trailer = false;
      continue;
    }
    if (!absl::StartsWith(a, "--")) {
      files.push_back(a);
      continue;
    }
    std::string name = a, value;
    if (const size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Usage(err, name + " needs a value");
    }
    uint64_t n = 0;
    if (name == "--url") {
      o.url = value;
      have_url = true;
    } else if (name == "--database") {
      o.database = value;
    } else if (name == "--table") {
      o.table = value;
    } else if (name == "--batches-table") {
      o.batches_table = value;
    } else if (name == "--user") {
      o.user = value;
    } else if (name == "--password") {
      o.password = value;
    } else if (name == "--batch" || name == "--retries" || name == "--timeout" ||
               name == "--test-lose-insert-responses") {
      if (!absl::SimpleAtoi(value, &n) || n > 100'000'000 ||
          (n == 0 && name != "--retries" && name != "--test-lose-insert-responses")) {
        return Usage(err, "bad " + name + " '" + value + "'");
      }
      if (name == "--batch") {
        o.batch_rows = n;
      } else if (name == "--retries") {
        o.retries = static_cast<int>(n);
      } else if (name == "--timeout") {
        o.timeout = absl::Seconds(n);
      } else {
        // Testing only (the e2e retry check): treat N stored INSERTs as failed.
        o.test_lose_insert_responses = static_cast<int>(n);
      }
    } else {
      return Usage(err, "unknown option '" + name + "'");
    }
  }
  if (!have_url) {
    return Usage(err, "needs --url");
  }
  if (files.empty()) {
    return Usage(err, "needs at least one FILE");
  }
  absl::StatusOr<std::unique_ptr<clickhouse::ClickHouseLoader>> loader =
      clickhouse::ClickHouseLoader::Create(o);
  if (!loader.ok()) {
    return Usage(err, std::string(loader.status().message()));
  }
  const absl::Time start = absl::Now();
  uint64_t records = 0;
  int rc = kExitOk;
  for (const std::string& path : files) {
    if (absl::Status s = LoadFile(path, reader, o.batch_rows, **loader, &records); !s.ok()) {
      std::fprintf(err, "flowtrail clickhouse-load: %s: %s\n", path.c_str(),
                   std::string(s.message()).c_str());
      rc = kExitBadStream;
    }
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  const clickhouse::LoaderStats& st = (*loader)->stats();
  std::fprintf(err,
               "flowtrail clickhouse-load: %" PRIu64 " records in %.3f s (%.0f records/s): %" PRIu64
               " rows inserted in %" PRIu64 " batches (%" PRIu64 " bytes), %" PRIu64
               " rows already stored (%" PRIu64 " batches skipped, %" PRIu64 " looked up), %" PRIu64
               " retries\n",
               records, secs, secs > 0 ? static_cast<double>(records) / secs : 0.0, st.rows,
               st.batches, st.bytes, st.rows_skipped, st.batches_skipped, st.resolved, st.retries);
  return rc;
}

}  // namespace flowtrail::tools
