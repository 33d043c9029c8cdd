#include "clickhouse/loader.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "export/record_encoder.h"

namespace flowtrail::clickhouse {

const char kSessionColumns[] =
    "sensor_id, run_id, sequence, first_time, session_id, server_confidence, client_ip, "
    "client_port, server_ip, server_port, transient_server, inbound, full_analysis, "
    "client_first_flags, server_first_flags, client_flags, server_flags, "
    "client_payload_bytes, server_payload_bytes, client_packets, server_packets, "
    "client_first_seq, server_first_seq, client_last_seq, server_last_seq, first_time_us, "
    "last_time_us, client_fingerprint, server_fingerprint, client_bytes, server_bytes, "
    "first_data_sender, shutdown_initiator, shutdown_kind, end_reason, conn_state, protocol, "
    "ip_version, vlan_outer, vlan_inner, vlan_count, input_port, record_sensor_id, continuing, "
    "client_simhash, server_simhash, client_first_data_len, server_first_data_len, icmp_id, "
    "worker_id, fragments, server_isn_changed";

namespace {

// Little-endian fixed width (RowBinary's integers).
template <typename T>
void Put(T v, std::string* out) {
  char b[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) {
    b[i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
  }
  out->append(b, sizeof(T));
}

void PutString(std::string_view s, std::string* out) {
  uint64_t n = s.size();
  do {
    const uint8_t byte = (n & 0x7f) | (n > 0x7f ? 0x80 : 0);
    out->push_back(static_cast<char>(byte));
    n >>= 7;
  } while (n != 0);
  out->append(s.data(), s.size());
}

void PutAddress(const std::string& bytes, std::string* out) {
  if (bytes.size() == 4) {
    static constexpr char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\xff', '\xff'};
    out->append(kMapped, sizeof kMapped);
    out->append(bytes);
  } else {
    std::string a = bytes;
    a.resize(16, '\0');
    out->append(a);
  }
}

}  // namespace

void AppendRowBinary(const v1::SessionRecord& r, std::string_view sensor_id,
                     std::string_view run_id, uint64_t sequence, std::string* out) {
  PutString(sensor_id, out);
  PutString(run_id, out);
  Put<uint64_t>(sequence, out);
  Put<uint32_t>(
      static_cast<uint32_t>(std::min<uint64_t>(r.first_time_us() / 1'000'000, UINT32_MAX)), out);
  Put<uint64_t>(r.session_id(), out);
  Put<int8_t>(static_cast<int8_t>(r.server_confidence()), out);
  PutAddress(r.client_ip(), out);
  Put<uint16_t>(static_cast<uint16_t>(r.client_port()), out);
  PutAddress(r.server_ip(), out);
  Put<uint16_t>(static_cast<uint16_t>(r.server_port()), out);
  Put<uint8_t>(r.transient_server(), out);
  Put<uint8_t>(r.inbound(), out);
  Put<uint8_t>(r.full_analysis(), out);
  Put<uint8_t>(static_cast<uint8_t>(r.client_first_flags()), out);
  Put<uint8_t>(static_cast<uint8_t>(r.server_first_flags()), out);
  Put<uint8_t>(static_cast<uint8_t>(r.client_flags()), out);
  Put<uint8_t>(static_cast<uint8_t>(r.server_flags()), out);
  Put<uint64_t>(r.client_payload_bytes(), out);
  Put<uint64_t>(r.server_payload_bytes(), out);
  Put<uint64_t>(r.client_packets(), out);
  Put<uint64_t>(r.server_packets(), out);
  Put<uint32_t>(r.client_first_seq(), out);
  Put<uint32_t>(r.server_first_seq(), out);
  Put<uint32_t>(r.client_last_seq(), out);
  Put<uint32_t>(r.server_last_seq(), out);
  Put<uint64_t>(r.first_time_us(), out);
  Put<uint64_t>(r.last_time_us(), out);
  Put<uint32_t>(r.client_fingerprint(), out);
  Put<uint32_t>(r.server_fingerprint(), out);
  Put<uint64_t>(r.client_bytes(), out);
  Put<uint64_t>(r.server_bytes(), out);
  Put<int8_t>(static_cast<int8_t>(r.first_data_sender()), out);
  Put<int8_t>(static_cast<int8_t>(r.shutdown_initiator()), out);
  Put<int8_t>(static_cast<int8_t>(r.shutdown_kind()), out);
  Put<int8_t>(static_cast<int8_t>(r.end_reason()), out);
  Put<int8_t>(static_cast<int8_t>(r.conn_state()), out);
  Put<uint8_t>(static_cast<uint8_t>(r.protocol()), out);
  Put<uint8_t>(static_cast<uint8_t>(r.ip_version()), out);
  Put<uint16_t>(static_cast<uint16_t>(r.vlan_outer()), out);
  Put<uint16_t>(static_cast<uint16_t>(r.vlan_inner()), out);
  Put<uint8_t>(static_cast<uint8_t>(r.vlan_count()), out);
  Put<uint16_t>(static_cast<uint16_t>(r.input_port()), out);
  PutString(r.sensor_id(), out);
  Put<uint8_t>(r.continuing(), out);
  Put<uint64_t>(r.client_simhash(), out);
  Put<uint64_t>(r.server_simhash(), out);
  Put<uint16_t>(static_cast<uint16_t>(r.client_first_data_len()), out);
  Put<uint16_t>(static_cast<uint16_t>(r.server_first_data_len()), out);
  Put<uint16_t>(static_cast<uint16_t>(r.icmp_id()), out);
  Put<uint16_t>(static_cast<uint16_t>(r.worker_id()), out);
  Put<uint32_t>(r.fragments(), out);
  Put<uint8_t>(r.server_isn_changed(), out);
}

std::string SqlString(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\\' || c == '\'') {
      out += '\\';
    }
    out += c;
  }
  return out + "'";
}

namespace {

// ValidateRecord leaves these wider than their columns (uint32 in the proto).
absl::Status CheckColumns(const v1::SessionRecord& r) {
  if (r.client_first_data_len() > UINT16_MAX || r.server_first_data_len() > UINT16_MAX ||
      r.icmp_id() > UINT16_MAX || r.worker_id() > UINT16_MAX) {
    return absl::InvalidArgumentError(
        "a first-data length, icmp_id or worker_id is above 65535 (the column is UInt16)");
  }
  return absl::OkStatus();
}

// curl_global_init is not thread-safe: once per process, before any handle.
void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Escape(CURL* curl, const std::string& s) {
  char* e = curl_easy_escape(curl, s.data(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

class Curl final : public HttpTransport {
 public:
  Curl(CURL* curl, std::string url, absl::Duration timeout)
      : curl_(curl), url_(std::move(url)), timeout_(timeout) {}
  ~Curl() override { curl_easy_cleanup(curl_); }

  absl::StatusOr<std::string> Post(const std::string& query_string,
                                   const std::string& body) override {
    const std::string url =
        absl::StrCat(url_, url_.find('?') == std::string::npos ? "?" : "&", query_string);
    std::string response;
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(timeout_)));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Curl::OnData);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response);
    const CURLcode rc = curl_easy_perform(curl_);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
    if (rc != CURLE_OK) {
      return absl::UnavailableError(
          absl::StrCat("HTTP POST to ", url_, ": ", error[0] ? error : curl_easy_strerror(rc)));
    }
    long code = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300) {
      while (!response.empty() && (response.back() == '\n' || response.back() == '\r')) {
        response.pop_back();
      }
      return absl::UnavailableError(absl::StrCat("ClickHouse at ", url_, " answered HTTP ", code,
                                                 ": ", response.substr(0, 600)));
    }
    return response;
  }

 private:
  static size_t OnData(char* p, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(p, size * n);
    return size * n;
  }

  CURL* curl_;
  std::string url_;
  absl::Duration timeout_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpTransport>> CurlTransport(const std::string& url,
                                                             absl::Duration timeout) {
  CurlGlobalInit();
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClickHouse URL '", url, "' must start with http:// or https://"));
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return absl::InternalError("curl_easy_init failed");
  }
  return std::unique_ptr<HttpTransport>(new Curl(curl, url, timeout));
}

absl::StatusOr<std::unique_ptr<ClickHouseLoader>> ClickHouseLoader::Create(
    const LoaderOptions& options) {
  absl::StatusOr<std::unique_ptr<HttpTransport>> t = CurlTransport(options.url, options.timeout);
  if (!t.ok()) {
    return t.status();
  }
  return Create(options, *std::move(t));
}

absl::StatusOr<std::unique_ptr<ClickHouseLoader>> ClickHouseLoader::Create(
    const LoaderOptions& options, std::unique_ptr<HttpTransport> transport) {
  auto name_ok = [](const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
  };
  for (const std::string* n : {&options.database, &options.table, &options.batches_table}) {
    if (!name_ok(*n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ClickHouse name '", *n, "' must be letters, digits and '_'"));
    }
  }
  if (options.batch_rows == 0 || options.retries < 0 || options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("batch rows and timeout must be positive, retries >= 0");
  }
  return std::unique_ptr<ClickHouseLoader>(new ClickHouseLoader(options, std::move(transport)));
}

ClickHouseLoader::ClickHouseLoader(const LoaderOptions& options,
                                   std::unique_ptr<HttpTransport> transport)
    : options_(options),
      transport_(std::move(transport)),
      lose_responses_(options.test_lose_insert_responses) {}

absl::StatusOr<std::string> ClickHouseLoader::Query(const std::string& sql,
                                                    const std::string& body) {
  // Escape through curl's rules (RFC 3986 unreserved kept), without a handle of our own.
  static CURL* escaper = [] {
    CurlGlobalInit();
    return curl_easy_init();
  }();
  std::string qs = absl::StrCat("database=", options_.database, "&query=", Escape(escaper, sql));
  if (!options_.user.empty()) {
    absl::StrAppend(&qs, "&user=", Escape(escaper, options_.user));
  }
  if (!options_.password.empty()) {
    absl::StrAppend(&qs, "&password=", Escape(escaper, options_.password));
  }
  // Synchronous Distributed inserts: when the request returns, the rows are on their
  // shards (or it failed), so the journal and the lookup see what was stored.
  absl::StrAppend(&qs, "&insert_distributed_sync=1");
  return transport_->Post(qs, body);
}

absl::Status ClickHouseLoader::Load(std::string_view sensor_id, std::string_view run_id,
                                    uint64_t first_sequence,
                                    std::span<const v1::SessionRecord> records) {
  for (size_t at = 0; at < records.size(); at += options_.batch_rows) {
    const size_t n = std::min(options_.batch_rows, records.size() - at);
    if (absl::Status s = LoadBatch(sensor_id, run_id, first_sequence + at, records.subspan(at, n));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ClickHouseLoader::LoadBatch(std::string_view sensor_id, std::string_view run_id,
                                         uint64_t first,
                                         std::span<const v1::SessionRecord> records) {
  std::string rows;
  rows.reserve(records.size() * 300);
  for (size_t i = 0; i < records.size(); ++i) {
    absl::Status s = exporter::ValidateRecord(records[i]);
    if (s.ok()) {
      s = CheckColumns(records[i]);
    }
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("record of sequence ", first + i, ": ", s.message()));
    }
    AppendRowBinary(records[i], sensor_id, run_id, first + i, &rows);
  }
  absl::Duration backoff = options_.retry_backoff;
  absl::Status last;
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    if (attempt > 0) {
      ++stats_.retries;
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
    last = TryBatch(sensor_id, run_id, first, records, rows);
    if (last.ok()) {
      return last;
    }
  }
  return absl::UnavailableError(absl::StrCat("batch of sequence ", first, "-",
                                             first + records.size() - 1, " not stored after ",
                                             options_.retries + 1, " attempts: ", last.message()));
}

absl::Status ClickHouseLoader::Mark(std::string_view sensor_id, std::string_view run_id,
                                    uint64_t first, uint64_t last, bool done) {
  const std::string sql = absl::StrCat(
      "INSERT INTO ", options_.database, ".", options_.batches_table,
      " (sensor_id, run_id, first_sequence, last_sequence, rows, state, loaded_at) VALUES (",
      SqlString(sensor_id), ", ", SqlString(run_id), ", ", first, ", ", last, ", ",
      last - first + 1, ", ", done ? "'done'" : "'started'", ", now())");
  return Query(sql).status();
}

absl::Status ClickHouseLoader::TryBatch(std::string_view sensor_id, std::string_view run_id,
                                        uint64_t first, std::span<const v1::SessionRecord> records,
                                        const std::string& rows) {
  const uint64_t last = first + records.size() - 1;
  const std::string stream =
      absl::StrCat("sensor_id = ", SqlString(sensor_id), " AND run_id = ", SqlString(run_id));
  absl::StatusOr<std::string> journal = Query(absl::StrCat(
      "SELECT state, first_sequence <= ", first, " AND last_sequence >= ", last, " FROM ",
      options_.database, ".", options_.batches_table, " WHERE ", stream,
      " AND first_sequence <= ", last, " AND last_sequence >= ", first, " FORMAT TabSeparated"));
  if (!journal.ok()) {
    return journal.status();
  }
  bool overlap = false;
  for (absl::string_view line : absl::StrSplit(*journal, '\n', absl::SkipEmpty())) {
    overlap = true;
    if (line == "done\t1") {
      ++stats_.batches_skipped;
      stats_.rows_skipped += records.size();
      return absl::OkStatus();
    }
  }
  if (absl::Status s = Mark(sensor_id, run_id, first, last, false); !s.ok()) {
    return s;
  }
  const std::string* body = &rows;
  std::string missing;
  size_t sending = records.size();
  if (overlap) {
    // An earlier attempt may have stored any part of the range: insert the rest. The days
    // of the batch bound the lookup (partition pruning on first_time).
    ++stats_.resolved;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const v1::SessionRecord& r : records) {
      lo = std::min<uint64_t>(lo, r.first_time_us() / 1'000'000);
      hi = std::max<uint64_t>(hi, r.first_time_us() / 1'000'000);
    }
    lo = std::min<uint64_t>(lo, UINT32_MAX);
    hi = std::min<uint64_t>(hi, UINT32_MAX);
    absl::StatusOr<std::string> present = Query(absl::StrCat(
        "SELECT DISTINCT sequence FROM ", options_.database, ".", options_.table, " WHERE ", stream,
        " AND sequence >= ", first, " AND sequence <= ", last, " AND first_time >= toDateTime(", lo,
        ") AND first_time <= toDateTime(", hi, ") FORMAT TabSeparated"));
    if (!present.ok()) {
      return present.status();
    }
    std::vector<bool> stored(records.size(), false);
    size_t n_stored = 0;
    for (absl::string_view line : absl::StrSplit(*present, '\n', absl::SkipEmpty())) {
      uint64_t seq = 0;
      if (absl::SimpleAtoi(line, &seq) && seq >= first && seq <= last && !stored[seq - first]) {
        stored[seq - first] = true;
        ++n_stored;
      }
    }
    stats_.rows_skipped += n_stored;
    sending = records.size() - n_stored;
    if (n_stored == records.size()) {
      ++stats_.batches_skipped;
      return Mark(sensor_id, run_id, first, last, true);
    }
    for (size_t i = 0; i < records.size(); ++i) {
      if (!stored[i]) {
        AppendRowBinary(records[i], sensor_id, run_id, first + i, &missing);
      }
    }
    body = &missing;
  }
  absl::Status s = Query(absl::StrCat("INSERT INTO ", options_.database, ".", options_.table, " (",
                                      kSessionColumns, ") FORMAT RowBinary"),
                         *body)
                       .status();
  if (s.ok() && lose_responses_ > 0) {
    --lose_responses_;
    s = absl::UnavailableError("testing: the INSERT's response was lost");
  }
  if (!s.ok()) {
    return s;
  }
  ++stats_.batches;
  stats_.bytes += body->size();
  stats_.rows += sending;
  return Mark(sensor_id, run_id, first, last, true);
}

}  // namespace flowtrail::clickhouse
