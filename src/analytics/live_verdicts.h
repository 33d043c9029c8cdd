// Live TRW verdicts over first-contact events (record/contact_event.h): the
// early view of a scanner, seconds after its first probes, while the scan
// table (scan_table.h) still waits for the sessions' records (a lone SYN's
// record leaves on the 30 s SYN timeout). The order-free, mergeable tables
// for snapshots and reports come from records; this one follows the events
// as they arrive and is not merged.
//
// Per client (address, ip_version): a Threshold Random Walk (Jung et al.
// 2004) with ScanTable's TrwOptions and its rules: a success multiplies the
// likelihood ratio by θ1/θ0, a blind failure by (1-θ1)/(1-θ0); a failure
// against an active server (one that accepted within `horizon_us` of record
// time before the failure) is neutral unless `active_failure_counts`.
// Scanner at β/α, benign at (1-β)/(1-α); the first verdict sticks (its
// record time is kept: decided_us). A step is a *first* contact: a client
// contacting the same (server, port) again is not a new step, judged against
// the client's last kRecentContacts distinct (server, port) pairs (bounded
// per client; a scanner's probes are all distinct anyway).
// Order: events arrive in decision order (an answer at once, silence only
// attempt_timeout later), which would walk a scanner's lucky hits before the
// silent probes sent before them. So events wait in a bounded min-heap by
// first_time_us and are walked once the watermark is `reorder_us` (the
// attempt timeout) past their first_time. A worker sends its events in
// decision order, so once it sent one decided at t (or its clock, given to
// Advance(worker, t), reached t) every attempt it will still decide has
// first_time > t - reorder_us; the watermark is the smallest such t over
// the `workers`. The walk is then in SYN order, as the scan table's, with
// any number of workers.
// A full heap walks its earliest event early (counted); Flush() walks all.
//
// Memory: the reorder heap and two tables (clients, active servers), each
// with a fixed key limit (max_clients / max_servers, or fewer to fit its
// share of what the heap leaves of `memory_bytes`: then its storage is
// reserved up front and measured, so a full table stays within it); a new
// key evicts the coldest of 8 sampled keys (smallest last event time),
// counted. No allocation per event once the tables reached their size.
// DPDK-free; one owner thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "analytics/scan_table.h"
#include "common/ip_address.h"
#include "record/contact_event.h"

namespace flowtrail::analytics {

struct LiveVerdictOptions {
  TrwOptions trw;
  uint64_t horizon_us = 1800ULL * 1'000'000;  // ScanOptions' default
  uint64_t memory_bytes = 0;                  // heap and tables; 0: only the key limits
  uint64_t max_clients = 1'000'000;
  uint64_t max_servers = 1'000'000;
  uint64_t reorder_us = 3'000'000;  // the tracker's attempt timeout; 0 = walk at once
  // Events held (92 bytes each: the event, its heap entry and free-list
  // slot, reserved up front).
  size_t reorder_capacity = 65536;
  uint32_t workers = 1;  // worker ids 0..workers-1 (more are added as seen)
};

inline constexpr int kRecentContacts = 16;

struct LiveClient {
  IpAddress client;
  uint8_t ip_version = 4;
  Verdict verdict = Verdict::kPending;
  uint32_t steps = 0;          // first contacts walked
  uint32_t decided_after = 0;  // steps until the verdict (0: pending)
  uint64_t successes = 0;      // events, repeats included
  uint64_t rejects = 0;
  uint64_t silents = 0;
  uint64_t blind_failures = 0;  // first-contact failures that moved the walk
  double log_ratio = 0;
  uint64_t first_us = 0;  // earliest event's first_time_us (the first SYN)
  // Record time the live view reached the verdict (the watermark when the
  // deciding event was walked; 0: pending).
  uint64_t decided_us = 0;
  uint64_t last_us = 0;  // latest decided_us seen
  uint64_t Failures() const { return rejects + silents; }
};

struct LiveVerdictStats {
  uint64_t events = 0;
  uint64_t success = 0;
  uint64_t reject = 0;
  uint64_t silent = 0;
  uint64_t repeats = 0;       // events not a first contact of their client
  uint64_t held = 0;          // waiting in the reorder heap
  uint64_t walked_early = 0;  // the heap was full
  uint64_t clients = 0;
  uint64_t servers = 0;
  uint64_t client_evictions = 0;
  uint64_t server_evictions = 0;
  uint64_t scanners = 0;  // clients held now, by verdict
  uint64_t benign = 0;
  uint64_t pending = 0;
  uint64_t memory_bytes = 0;
  uint64_t memory_budget = 0;
  uint64_t max_clients = 0;
  uint64_t max_servers = 0;
};

class LiveVerdicts {
 public:
  explicit LiveVerdicts(LiveVerdictOptions options = {});
  ~LiveVerdicts();
  LiveVerdicts(LiveVerdicts&&) noexcept;
  LiveVerdicts& operator=(LiveVerdicts&&) noexcept;

  void Consume(const record::ContactEvent& e);
  void Consume(std::span<const record::ContactEvent> events);
  // Moves every worker's mark to record time `now_us` (live mode: the wall
  // clock, so held events are walked without new ones arriving).
  void Advance(uint64_t now_us);
  // One worker's clock reached `now_us` (capture mode: its tracker clock, so
  // an idle worker does not hold everything back).
  void Advance(uint16_t worker, uint64_t now_us);
  // Walks every held event (end of input).
  void Flush();

  // The client's state, or null.
  const LiveClient* Find(const IpAddress& client, uint8_t ip_version) const;
  // Up to n clients, most failures first (ties: scanner first, then address):
  // O(clients) with a bounded heap, no copy of the table.
  std::vector<LiveClient> Top(size_t n) const;
  LiveVerdictStats Stats() const;
  const LiveVerdictOptions& options() const { return options_; }
  // New TRW parameters (a reload): decided clients keep their verdict; a
  // pending walk keeps its ratio and goes on with the new steps and bounds.
  void SetTrw(const TrwOptions& trw);

  static size_t ClientBytes();
  static size_t ServerBytes();

 private:
  struct Impl;
  void Release(uint64_t reorder_us);
  LiveVerdictOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowtrail::analytics
