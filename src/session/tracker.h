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
// - Under table pressure the session nearest its idle deadline is evicted
//   (found through the timer wheel, exact to one tick; tracker.cc
//   EvictEarliest): O(1), with no per-packet list maintenance.
// - A SYN with a new ISN on a closed session (FIN both ways or RST) ends the
//   old one with EndReason::kReplaced and starts a new one.
// - Two times per packet (PacketTime): the capture time as written goes into
//   the records' first/last packet times; the clock time (CaptureClock, or
//   the wall clock live) decides idle expiry and "a packet after its
//   session's timeout starts a new one". Give the clock in non-decreasing
//   order; capture times may do anything.
// - Timeouts fire within one wheel tick (65.536 ms) after they are due.
// - Port reuse: a SYN with a new ISN after any FIN or RST of the session (a
//   half-close included) ends the old one with EndReason::kReplaced.
// - Other IP protocols (GRE, ESP, SCTP...; ports 0) are flows by (protocol,
//   address pair), first sender = client (LOW confidence), conn_state OTH.
// - `sessions_ended` counts every session that ended (interim records
//   excluded), whether or not its record found room in the output queue.
// - First contacts (contact_event.h): with attempt_timeout_us > 0, every TCP
//   session whose client SYN was seen yields exactly one ContactEvent, on the
//   server's SYN-ACK or RST, when attempt_timeout_us of clock passed without
//   either, or (silent) when the session ends first. Deadlines all have the
//   same length, so one FIFO of (session, generation, deadline) replaces a
//   per-session timer; it is checked per packet (one compare) and in
//   Advance()/FlushSome(), so events depend on the clock only, never on the
//   Advance() cadence. Events wait in their own bounded queue
//   (DrainContacts); a full queue drops and counts them, records never wait
//   for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "packet/parsed_packet.h"
#include "session/networks.h"
#include "session/prefault.h"
#include "session/record_types.h"
#include "session/session_key.h"

namespace flowtrail::session {

enum class FullAnalysisPolicy : uint8_t { kAll, kInboundOnly, kNone };

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
  uint64_t other_timeout_us = 60'000'000;      // other IP protocols (GRE, ESP, SCTP...)
  uint64_t active_timeout_us = 1'800'000'000;  // interim record; 0 = never
  // First-contact events: an unanswered client SYN is silent after this much
  // clock; 0 = no contact events at all (nothing allocated, no per-packet
  // work beyond one branch).
  uint64_t attempt_timeout_us = 3'000'000;
  uint32_t contact_capacity = 8192;  // events buffered until DrainContacts()

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
  // Fragment bytes already covered by an earlier fragment of their datagram
  // (duplicates, overlaps): not counted into payload bytes.
  uint64_t fragment_overlap_bytes = 0;
  // TCP segments / ACKs beyond any plausible window: not counted into bytes.
  uint64_t implausible_sequence = 0;
  // FTP data-channel announcements not taken: from a control session one end
  // never answered (or reset), or naming another host than the announcer.
  uint64_t ftp_announcements_ignored = 0;
  // First contacts, by outcome (emitted or dropped), and what was lost.
  uint64_t contacts_success = 0;
  uint64_t contacts_reject = 0;
  uint64_t contacts_silent = 0;
  uint64_t contacts_dropped = 0;    // event queue full
  uint64_t contacts_untracked = 0;  // deadline FIFO full: no event for that session
};

// One packet's two times, microseconds: `capture_us` as the capture wrote it
// (0 and any u64 valid), `clock_us` the tracker clock for that packet.
struct PacketTime {
  uint64_t capture_us = 0;
  uint64_t clock_us = 0;
};

class Tracker {
 public:
  static absl::StatusOr<std::unique_ptr<Tracker>> Create(const TrackerConfig& config);
  // What Create(config) allocates, in bytes (table, timer wheel, output
  // queue): for refusing a table size the machine cannot hold, up front.
  static uint64_t MemoryBytes(const TrackerConfig& config);
  // The mapped arrays that pages come into on first touch (session table,
  // timer wheel), for a Prefaulter (prefault.h). Control path.
  std::vector<MemoryRegion> MappedRegions() const;
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // One parsed packet with its capture and clock times, from DPDK port
  // `input_port`. The uint64_t overload uses one time for both.
  void Process(const packet::ParsedPacket& pkt, PacketTime t, uint16_t input_port);
  void Process(const packet::ParsedPacket& pkt, uint64_t now_us, uint16_t input_port) {
    Process(pkt, PacketTime{now_us, now_us}, input_port);
  }

  // The same as Process() on each packet in order (pkts[i] at times[i]),
  // with the table lookups of the burst overlapped by prefetching: use it for
  // RX bursts. Processes min(pkts.size(), times.size()) packets.
  void ProcessBurst(std::span<const packet::ParsedPacket> pkts, std::span<const PacketTime> times,
                    uint16_t input_port);
  // One time per packet as both capture and clock time (tests, tools).
  void ProcessBurst(std::span<const packet::ParsedPacket> pkts, std::span<const uint64_t> now_us,
                    uint16_t input_port);

  // A later (non-first) IP fragment: ParseFrame() returned kNonFirstFragment
  // and set src, dst, ip_version, protocol, fragment_id, fragment_offset,
  // more_fragments, the VLAN ids and payload_len (the fragment's IP payload).
  // It is attributed to the session its first fragment went to (a packet,
  // `fragments`, and the payload bytes not already covered by an earlier
  // fragment of the datagram, on the sender's side) when that first fragment
  // was seen within the last 30 s of clock; otherwise it is only counted.
  void ProcessFragment(const packet::ParsedPacket& pkt, PacketTime t);
  void ProcessFragment(const packet::ParsedPacket& pkt, uint64_t now_us) {
    ProcessFragment(pkt, PacketTime{now_us, now_us});
  }

  // Expires sessions whose timeouts passed by clock `clock_us`, emitting at
  // most `max_records` records (interim ones included) and never more than
  // the output queue's free room. Sessions not reached stay in the table and
  // are expired by a later call: nothing is lost or emitted twice. Returns
  // true when nothing due by `clock_us` is left (to wheel-tick precision);
  // false means call again (after Drain() / DrainContacts()) at the same
  // clock. Silent attempts also wait for room in the contact queue here.
  // O(expired) amortised.
  bool Advance(uint64_t clock_us, size_t max_records);
  bool Advance(uint64_t clock_us) { return Advance(clock_us, SIZE_MAX); }

  // Ends every live session (shutdown, end of input): with its expiry reason
  // (closed, reset, idle) if its idle timeout had passed by clock `clock_us`,
  // else with `reason`. Emits at most the free room of the output queue (and
  // of the contact queue) per call; returns true once the table is empty.
  // Call Drain() and DrainContacts() between calls.
  bool FlushSome(EndReason reason, uint64_t clock_us);

  // Moves up to out.size() finished records to `out`; returns how many.
  size_t Drain(std::span<SessionRecord> out);
  size_t PendingOutput() const;
  // The oldest pending records in place, for a caller that copies them
  // itself: the first contiguous stretch of the queue (empty when none
  // wait); DropOutput(n), n <= its size, then removes the first n.
  std::span<const SessionRecord> PeekOutput() const;
  void DropOutput(size_t n);

  // Moves up to out.size() first-contact events to `out`; returns how many.
  size_t DrainContacts(std::span<ContactEvent> out);
  size_t PendingContacts() const;
  // As PeekOutput() and DropOutput(), for the first-contact events.
  std::span<const ContactEvent> PeekContacts() const;
  void DropContacts(size_t n);

  const TrackerCounters& counters() const;

  // The protected networks from now on (a reload): `nets` must outlive its
  // use; null = the configured ones again. Between bursts only.
  void SetProtectedNetworks(const Networks* nets);

 private:
  class Impl;
  explicit Tracker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowtrail::session
