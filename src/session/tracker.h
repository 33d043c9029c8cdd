// Per-worker session tracker: one instance per worker lcore, owned and used by
// that core only. No DPDK, no allocation after Create(), no locks. Time comes
// from packet timestamps (microseconds), never from the wall clock, so a
// capture replays deterministically.
//
// Finished sessions are appended to an internal output queue; the caller
// drains it after each burst with Drain(). The queue never blocks the tracker:
// if it is full when a record must leave (eviction), the record is counted in
// `records_dropped` (Advance() defers expiry instead, which loses nothing).
//
// Choices worth knowing (details in tracker.cc and the module headers):
// - Active timeout: the interim record carries the session's counters
//   cumulatively from its start (not deltas), with `continuing` set and the
//   same session id; the final record is cumulative too. Consumers that sum
//   must take the last record per session id.
// - Under table pressure the stalest of a small sample (16) of live sessions
//   is evicted: approximate LRU with no per-packet list maintenance.
// - A SYN with a new ISN on a closed session (FIN both ways or RST) ends the
//   old one with EndReason::kReplaced and starts a new one.
// - Timeouts fire within one wheel tick (65.536 ms) after they are due.
// - `sessions_ended` counts every session that ended (interim records
//   excluded), whether or not its record found room in the output queue.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "packet/parsed_packet.h"
#include "session/networks.h"
#include "session/session_record.h"

namespace flowtrail::session {

enum class FullAnalysisPolicy : uint8_t { kAll, kInboundOnly, kNone };

// Which VLAN ids are part of the session key: overlapping address spaces on a
// trunk are separate sessions unless told otherwise.
enum class VlanKey : uint8_t { kNone, kOuter, kBoth };

struct TrackerConfig {
  uint16_t worker_id = 0;           // goes into the top bits of session ids
  uint32_t capacity = 1 << 20;      // live sessions; fixed at Create()
  uint32_t output_capacity = 8192;  // finished records buffered until Drain()

  // Idle timeouts by state, microseconds.
  uint64_t tcp_syn_timeout_us = 30'000'000;           // lone SYN / handshake
  uint64_t tcp_established_timeout_us = 300'000'000;  // established
  uint64_t tcp_closing_timeout_us = 30'000'000;       // half-closed (one FIN)
  uint64_t tcp_linger_us = 2'000'000;                 // after FIN both ways or RST
  uint64_t udp_timeout_us = 60'000'000;
  uint64_t icmp_timeout_us = 30'000'000;
  uint64_t other_timeout_us = 60'000'000;  // other IP protocols (GRE, ESP, SCTP...)
  uint64_t active_timeout_us = 1'800'000'000;  // interim record; 0 = never

  Networks protected_networks;  // for the inbound flag
  FullAnalysisPolicy full_analysis = FullAnalysisPolicy::kAll;
  VlanKey vlan_key = VlanKey::kBoth;
};

struct TrackerCounters {
  uint64_t packets = 0;  // packets given to Process()
  uint64_t sessions_created = 0;
  uint64_t sessions_ended = 0;  // records emitted, interim records excluded
  uint64_t sessions_evicted = 0;
  uint64_t interim_records = 0;  // active-timeout records
  uint64_t records_dropped = 0;  // output queue full
  uint64_t fragments = 0;        // first fragments seen
  uint64_t sessions_active = 0;
  uint64_t later_fragments = 0;               // given to ProcessFragment()
  uint64_t later_fragments_unattributed = 0;  // of those, first fragment unknown
};

class Tracker {
 public:
  static absl::StatusOr<std::unique_ptr<Tracker>> Create(const TrackerConfig& config);
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // One parsed packet seen at `now_us` on DPDK port `input_port`.
  void Process(const packet::ParsedPacket& pkt, uint64_t now_us, uint16_t input_port);

  // The same as Process() on each packet in order (pkts[i] seen at now_us[i]),
  // with the table lookups of the burst overlapped by prefetching: use it for
  // RX bursts. Processes min(pkts.size(), now_us.size()) packets.
  void ProcessBurst(std::span<const packet::ParsedPacket> pkts, std::span<const uint64_t> now_us,
                    uint16_t input_port);

  // A later (non-first) IP fragment: ParseFrame() returned kNonFirstFragment
  // and set src, dst, ip_version, protocol, fragment_id and payload_len. It is
  // attributed to the session its first fragment went to (packets, payload
  // bytes and `fragments` of the sender's side) when that first fragment was
  // seen within the last 30 s; otherwise it is only counted.
  void ProcessFragment(const packet::ParsedPacket& pkt, uint64_t now_us);

  // Expires sessions whose timeouts passed by `now_us`. O(expired) amortised.
  void Advance(uint64_t now_us);

  // Ends every live session with `reason` (shutdown, end of input). Emits at
  // most the free room of the output queue per call; returns true once the
  // table is empty. Call Drain() between calls.
  bool FlushSome(EndReason reason, uint64_t now_us);

  // Moves up to out.size() finished records to `out`; returns how many.
  size_t Drain(std::span<SessionRecord> out);
  size_t PendingOutput() const;

  const TrackerCounters& counters() const;

 private:
  class Impl;
  explicit Tracker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowtrail::session
