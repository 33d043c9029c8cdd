// The scan table of SPEC §5 (Heberlein §6, Table 5), the active servers, and
// a Threshold Random Walk (Jung et al. 2004) per client. DPDK-free: the
// analytics lcore and `flowtrail report scans|servers` run this same code.
//
// Input: finished session records. Only TCP records whose client sent a SYN
// count, except announced FTP data connections (transient_server: expected,
// not first contacts; an active-mode server whose connections a client's
// firewall drops would otherwise look like a scanner); interim records (`continuing`, emitted by
// the active timeout) are skipped, so each session counts once, by its final record (records are
// cumulative, the final one holds everything). Decision: a session without a
// final record (sensor killed) is not counted; in exchange counting needs no
// per-session state and merging files that hold interim and final records of
// the same session still counts it once.
//
// Each record is classified once, from the server's flags:
//   Success  the server sent a SYN (SYN-ACK)           -> also Data if client_bytes > 0
//   Reject   no SYN-ACK, the server sent a RST (REJ)
//   Silent   no SYN-ACK, no RST from the server (S0, RSTOS0, SH ...)
//
// Time is record time (first_time_us), never the wall clock.
//
// Active servers: an (address, port) that answered with a SYN-ACK. Its
// active window is [first acceptance - horizon, last acceptance + horizon]
// (approximation: a server is taken as accepting throughout the span of its
// acceptances, so a silent gap longer than the horizon inside that span still
// counts as active; what it buys is a state of two times per server, exactly
// mergeable by min/max). A failure at time t is *blind* unless t lies in the
// window of its (address, port). Blindness is judged when results are asked
// for (Rows(), Verdicts()), against the final active-server table, never when
// a record is added: every result except memory is independent of the order
// of Consume() calls, and Merge() of two tables equals one pass over both
// inputs while nothing was evicted (records from several workers or files may
// arrive in any order). Per row and server the table keeps the earliest and
// latest failure time and the failure count:
//  - blind servers: a server is blind when its earliest or latest failure
//    lies outside its window (exact: the window is an interval).
//  - blind sessions: all its failures when both ends lie outside on one side
//    (exact); when only one end is outside, 1; when the window lies strictly
//    between the two ends, min(2, failures): lower bounds, exact for servers
//    with at most two failures (the scan case).
//  - past 16 servers (the sketch regime, `estimated`): blind servers =
//    |F \ A| = |F u A| - |A| on HyperLogLogs, F the failed servers of the row,
//    A the servers of that port whose window overlaps the row's failure time
//    range (so a server active at any time of that range counts as active:
//    a lower bound); blind sessions = failed sessions * blind servers /
//    failed servers, rounded.
//
// TRW: per client, its first contacts: for each (server address, port) the
// client's earliest record (by first_time, ties: success first). The client keeps
// its kTrwContacts earliest first contacts; the walk runs over them in time
// order at Verdicts(), so it is order-free and exactly mergeable (merge = the
// earliest kTrwContacts of the union); whether a failure contact was blind is
// judged then, by the window rule above. Per step: a success multiplies the
// likelihood ratio by θ1/θ0, a blind failure by (1-θ1)/(1-θ0); a failure
// against an active server is neutral by default (rwscan's and STRW's rule:
// a dead port on a live host is what benign clients see too), or a full
// failure with `active_failure_counts`. Scanner when the ratio reaches β/α,
// benign at (1-β)/(1-α), pending otherwise (also when the earliest
// kTrwContacts first contacts did not decide).
//
// Unique servers: a row keeps one exact list of up to 16 server addresses,
// each with the outcomes it had (reject, silent, success, data); past
// 16, one HyperLogLog (server_set.h) per outcome, made when the outcome first
// occurs. Disjoint = |failed \ accepted|, exact on the list, by
// inclusion-exclusion on the sketches. A server's clients are a ServerSet.
//
// Memory: three tables (rows, clients, active servers), each with a key
// limit and a share of `memory_bytes`; a new key evicts the coldest key
// (smallest last record time; exact below 16 keys, else the coldest of 8
// sampled ones, as Redis does). Evictions are counted.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "analytics/server_set.h"
#include "common/ip_address.h"
#include "record/session_record.h"

namespace flowtrail::v1 {
class ScanTableState;
}

namespace flowtrail::analytics {

enum class Outcome : uint8_t { kNone = 0, kReject, kSilent, kSuccess, kData };
// kNone: not a record of the scan table (not TCP, interim, no client SYN,
// transient).
Outcome ClassifyRecord(const record::SessionRecord& r);
const char* OutcomeName(Outcome o);

enum class Verdict : uint8_t { kPending = 0, kBenign, kScanner };
const char* VerdictName(Verdict v);

struct TrwOptions {
  double theta0 = 0.8;  // P(success | benign)
  double theta1 = 0.2;  // P(success | scanner)
  double alpha = 0.01;  // target false-positive probability
  double beta = 0.99;   // target detection probability
  bool active_failure_counts = false;
};

struct ScanOptions {
  uint64_t horizon_us = 1800ULL * 1'000'000;  // Bro's TRW kept locals 30 min
  TrwOptions trw;
  uint64_t memory_bytes = 0;  // 0: no budget, only the key limits
  uint64_t max_rows = 1'000'000;
  uint64_t max_clients = 1'000'000;
  uint64_t max_servers = 1'000'000;
  uint64_t hash_key = kDefaultHashKey;
};

inline constexpr int kTrwContacts = 16;

// One (client, server port) row of the report.
struct ScanRow {
  IpAddress client;
  uint8_t ip_version = 4;
  uint16_t port = 0;
  // By Outcome (index kReject..kData; 0 unused). Data sessions are also
  // Success sessions.
  uint64_t sessions[5] = {};
  uint64_t servers[5] = {};
  uint64_t disjoint = 0;  // unique servers that failed and never accepted
  uint64_t blind_sessions = 0;
  uint64_t blind_servers = 0;
  bool estimated = false;  // some server count is a HyperLogLog estimate
  uint64_t first_time_us = 0;
  uint64_t last_time_us = 0;
  // The client's TRW result (the same on all its rows).
  Verdict verdict = Verdict::kPending;
  uint32_t decided_after = 0;   // first contacts until the verdict (0: pending)
  uint32_t first_contacts = 0;  // first contacts known (at most kTrwContacts)

  uint64_t Count(bool by_sessions) const {
    const uint64_t* v = by_sessions ? sessions : servers;
    return v[static_cast<int>(Outcome::kReject)] + v[static_cast<int>(Outcome::kSilent)];
  }
};

struct ServerRow {
  IpAddress address;
  uint8_t ip_version = 4;
  uint16_t port = 0;
  uint64_t accepts = 0;  // sessions the server accepted (SYN-ACK)
  uint64_t clients = 0;  // unique clients it accepted
  bool estimated = false;
  uint64_t first_accept_us = 0;
  uint64_t last_accept_us = 0;
};

struct ClientVerdict {
  IpAddress client;
  uint8_t ip_version = 4;
  Verdict verdict = Verdict::kPending;
  uint32_t decided_after = 0;
  uint32_t first_contacts = 0;
  double log_ratio = 0;  // ln Λ after the walk
};

struct ScanStats {
  uint64_t records = 0;  // records consumed
  uint64_t counted = 0;  // TCP final records with a client SYN
  uint64_t skipped_interim = 0;
  uint64_t skipped_other = 0;  // not TCP, no client SYN (mid-stream pickup), transient
  uint64_t row_evictions = 0;
  uint64_t client_evictions = 0;
  uint64_t server_evictions = 0;
  uint64_t rows = 0;
  uint64_t clients = 0;
  uint64_t servers = 0;
  uint64_t memory_bytes = 0;  // estimate of everything held (tables, sketches)
  uint64_t memory_budget = 0;
  uint64_t max_time_us = 0;  // the latest record time seen
};

class ScanTable {
 public:
  explicit ScanTable(ScanOptions options = {});
  ~ScanTable();
  ScanTable(ScanTable&&) noexcept;
  ScanTable& operator=(ScanTable&&) noexcept;

  void Consume(const record::SessionRecord& r);
  // The same, record by record, with the table lookups of later records
  // prefetched (what the analytics lcore's batches should use).
  void Consume(std::span<const record::SessionRecord> records);
  // Union with another table built with the same options (hash key above
  // all). Key limits and the memory budget apply to the result.
  void Merge(const ScanTable& other);

  // The whole state (proto/flowtrail/v1/session.proto ScanTableState), and
  // back. Load validates everything (a snapshot is untrusted): options in
  // range, memory_bytes at most `max_memory_bytes` (it is reserved up front),
  // key counts within the limits, addresses, versions, sketch registers,
  // sorted unique contacts; any problem is an error, never a crash.
  // Load(Save(t)) gives the same Rows/Servers/Verdicts/Stats (but memory).
  absl::Status Save(v1::ScanTableState* state) const;
  static absl::StatusOr<ScanTable> Load(const v1::ScanTableState& state,
                                        uint64_t max_memory_bytes = uint64_t{4} << 30);
  // OK if both tables may be merged (same horizon, TRW parameters, hash key).
  static absl::Status Mergeable(const ScanOptions& a, const ScanOptions& b);

  std::vector<ScanRow> Rows() const;
  // Servers that accepted within the horizon of the latest record time, or
  // every server ever seen when `all`.
  std::vector<ServerRow> Servers(bool all) const;
  std::vector<ClientVerdict> Verdicts() const;
  // The n rows of largest Count(by_sessions) (ties: ip version, client,
  // port ascending), in that order; each equal to its row in Rows(). Only
  // those n rows are judged (blind, verdict), so the live telemetry costs one
  // pass over the table, not a Rows() of a million rows every second.
  std::vector<ScanRow> TopRows(size_t n, bool by_sessions = false) const;
  // The n active servers (Servers(false)) of most accepts (ties: ip version,
  // address, port ascending), in that order.
  std::vector<ServerRow> TopServers(size_t n) const;
  ScanStats Stats() const;
  const ScanOptions& options() const { return options_; }
  // New TRW parameters (a reload): verdicts are walked when asked for, so
  // every later result (and Save()) uses them; tables saved under other
  // parameters do not merge with this one (Mergeable()).
  void set_trw(const TrwOptions& trw) { options_.trw = trw; }

  // Memory of one row, one client, one server without sketches (the
  // per-key cost the budget is divided by).
  static size_t RowBytes();
  static size_t ClientBytes();
  static size_t ServerBytes();

 private:
  struct Impl;
  // A classified record of the table (o != kNone), `target` its server hash.
  // `hints` (may be null): the index hashes of the record's row, client and
  // server, and their slots as found by a prefetch stage (stale slots are
  // detected by their key, so eviction in between is harmless).
  struct Hints {
    uint64_t row_hash, client_hash, server_hash;
    uint32_t row_slot, client_slot, server_slot;
  };
  void Add(const record::SessionRecord& r, Outcome o, uint64_t target,
           const Hints* hints = nullptr);

  ScanOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowtrail::analytics
