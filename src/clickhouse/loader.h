// Loads session records into ClickHouse (deploy/clickhouse/schema.sql) over its HTTP
// interface, in RowBinary batches, with retries that never store a record twice.
//
// Idempotence (deploy/clickhouse/README.md, "Loading"): a batch is the records of one
// (sensor_id, run_id) with consecutive sequence numbers [first, last]. Before its rows the
// loader writes the range to the `batches` journal as 'started', after them as 'done'.
// Before sending a batch it reads the journal for ranges that overlap it:
//  - a 'done' range covers it: already stored, skipped;
//  - nothing overlaps: the rows are inserted;
//  - anything else (a 'started' range: an earlier attempt failed or the loader died
//    mid-batch; or a different batching): it reads which sequence numbers of the range are
//    stored (a query limited to the batch's days) and inserts only the missing ones.
// Inserts into the Distributed table are synchronous (insert_distributed_sync=1), so when
// an insert returns, its rows are on their shards or the request failed; a failure that
// wrote part of a batch (a shard down mid-insert) is resolved by the lookup above. 18.16
// has no deduplication token for non-replicated MergeTree (its block deduplication is for
// Replicated tables only), hence the journal.
//
// Blocking; for a control thread, never a worker lcore. One owner thread per loader.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::clickhouse {

struct LoaderOptions {
  std::string url = "http://127.0.0.1:8123/";  // the HTTP interface of any server
  std::string database = "flowtrail";
  std::string table = "sessions";         // the Distributed table (or a local one)
  std::string batches_table = "batches";  // the journal (Distributed or local)
  std::string user;                       // empty: the server's default user
  std::string password;
  size_t batch_rows = 100'000;                 // records per INSERT (a MergeTree part each)
  int retries = 5;                             // further attempts of a failed batch
  absl::Duration timeout = absl::Seconds(60);  // per HTTP request
  absl::Duration retry_backoff = absl::Milliseconds(200);  // doubled per retry, up to 5 s
  // Testing only: the responses of this many successful data INSERTs are treated as lost
  // (the rows are stored, the loader sees an error), to exercise the retry path.
  int test_lose_insert_responses = 0;
};

struct LoaderStats {
  uint64_t batches = 0;          // batches handed to the server (some rows inserted)
  uint64_t rows = 0;             // rows inserted
  uint64_t batches_skipped = 0;  // already stored in full ('done' or all present)
  uint64_t rows_skipped = 0;     // rows found stored and not sent again
  uint64_t resolved = 0;         // batches whose stored sequence numbers were looked up
  uint64_t retries = 0;          // failed attempts that were retried
  uint64_t bytes = 0;            // RowBinary bytes sent
};

// One HTTP POST: the query string (already URL-encoded, without '?') and the body.
// Returns the response body for a 2xx status, else an error with the server's message.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual absl::StatusOr<std::string> Post(const std::string& query_string,
                                           const std::string& body) = 0;
};

// libcurl, one connection kept alive.
absl::StatusOr<std::unique_ptr<HttpTransport>> CurlTransport(const std::string& url,
                                                             absl::Duration timeout);

class ClickHouseLoader {
 public:
  static absl::StatusOr<std::unique_ptr<ClickHouseLoader>> Create(const LoaderOptions& options);
  // With a given transport (tests).
  static absl::StatusOr<std::unique_ptr<ClickHouseLoader>> Create(
      const LoaderOptions& options, std::unique_ptr<HttpTransport> transport);

  // Stores `records`, which carry the sequence numbers first_sequence,
  // first_sequence + 1, ... of the stream (sensor_id, run_id), in batches of batch_rows.
  // Returns once every batch is stored (or was already), or the error of the first batch
  // that failed after all retries (the batches before it are stored; calling again with
  // the same arguments is safe). An invalid record (exporter::ValidateRecord) is an
  // InvalidArgument error naming its sequence number, before anything of its batch is sent.
  absl::Status Load(std::string_view sensor_id, std::string_view run_id, uint64_t first_sequence,
                    std::span<const v1::SessionRecord> records);

  const LoaderStats& stats() const { return stats_; }

 private:
  ClickHouseLoader(const LoaderOptions& options, std::unique_ptr<HttpTransport> transport);
  absl::Status LoadBatch(std::string_view sensor_id, std::string_view run_id, uint64_t first,
                         std::span<const v1::SessionRecord> records);
  absl::Status TryBatch(std::string_view sensor_id, std::string_view run_id, uint64_t first,
                        std::span<const v1::SessionRecord> records, const std::string& rows);
  absl::Status Mark(std::string_view sensor_id, std::string_view run_id, uint64_t first,
                    uint64_t last, bool done);
  absl::StatusOr<std::string> Query(const std::string& sql, const std::string& body = "");

  LoaderOptions options_;
  std::unique_ptr<HttpTransport> transport_;
  LoaderStats stats_;
  int lose_responses_ = 0;
};

// The column list of the INSERT, in the order AppendRowBinary writes them.
extern const char kSessionColumns[];

// Appends one row of `sessions` in RowBinary: the record must be valid
// (exporter::ValidateRecord); enums as their Int8 values, addresses as 16 bytes (IPv4
// mapped to ::ffff:a.b.c.d), booleans as UInt8, first_time as the DateTime of
// first_time_us (seconds, at most 2^32 - 1).
void AppendRowBinary(const v1::SessionRecord& record, std::string_view sensor_id,
                     std::string_view run_id, uint64_t sequence, std::string* out);

// A ClickHouse string literal ('...' with \ and ' escaped).
std::string SqlString(std::string_view s);

}  // namespace flowtrail::clickhouse
