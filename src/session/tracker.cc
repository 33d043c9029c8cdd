// The tracker: table lookup, role decision, per-side accounting, timers and
// the output queue. The pieces with one job each live beside it:
// session_key.h (canonical key, CRC32C), session_table (fixed-capacity index),
// timer_wheel.h (lazy expiry), tcp_sequence.h (application bytes),
// conn_state (Zeek's vocabulary), ftp_announce (transient servers),
// fingerprint (first-data fingerprints).
#include "session/tracker.h"

#include <emmintrin.h>

#include <algorithm>
#include <new>

#include "absl/strings/str_cat.h"
#include "session/conn_state.h"
#include "session/fingerprint.h"
#include "session/fragment_map.h"
#include "session/ftp_announce.h"
#include "session/session_key.h"
#include "session/session_state.h"
#include "session/session_table.h"
#include "session/timer_wheel.h"

namespace flowtrail::session {
namespace {

// 65.536 ms ticks, 8192 slots: one rotation is about 537 s, more than the
// longest idle timeout by default; longer deadlines come round again.
constexpr uint64_t kTickUs = uint64_t{1} << 16;
constexpr uint32_t kWheelSlots = 8192;
// Eviction looks at no more than this many wheel entries for one due in the
// earliest tick (EvictEarliest()).
constexpr uint32_t kEvictionLook = 32;
// With a full attempt FIFO (eviction churn) each new attempt pops stale
// entries: the sessions of the entry this far behind the head are prefetched.
constexpr uint32_t kAttemptAhead = 8;
constexpr uint64_t kCounterMask = (uint64_t{1} << 56) - 1;
constexpr uint64_t kAttemptBytes = 16;  // Tracker::Impl::Attempt
constexpr uint8_t kNoSide = 2;

// Plausible-window bounds for sequence numbers (see PlausibleWindow()).
constexpr uint64_t kWindowFloor = 64 * 1024;
constexpr uint64_t kWindowWithoutHandshake = 16 * 1024 * 1024;

// Ports that identify a server even above 1023 (databases, proxies, brokers,
// alternative HTTP ports, VNC/RDP, VoIP...).
bool IsServicePort(uint16_t port) {
  if (port != 0 && port < 1024) return true;
  switch (port) {
    case 1080:
    case 1194:
    case 1433:
    case 1521:
    case 1723:
    case 1812:
    case 1883:
    case 2049:
    case 2181:
    case 2375:
    case 2376:
    case 3128:
    case 3306:
    case 3389:
    case 4443:
    case 5060:
    case 5061:
    case 5222:
    case 5432:
    case 5672:
    case 5900:
    case 5984:
    case 6379:
    case 6443:
    case 6667:
    case 8000:
    case 8008:
    case 8080:
    case 8081:
    case 8443:
    case 8888:
    case 9000:
    case 9090:
    case 9092:
    case 9200:
    case 9418:
    case 11211:
    case 27017:
      return true;
    default:
      return false;
  }
}

Side SideOf(uint8_t endpoint, uint8_t client_side) {
  if (endpoint == kNoSide) return Side::kNone;
  return endpoint == client_side ? Side::kClient : Side::kServer;
}

// The output and contact queues are rings over fixed arrays, (head, count):
// their oldest entries as one contiguous stretch, and their removal. Emptied,
// a queue starts at slot 0 again: the next entries go to the first slots,
// still in cache, instead of walking the whole ring (one write miss per line).
template <typename T>
std::span<const T> OldestStretch(const T* items, uint32_t capacity, uint32_t head, uint32_t count) {
  return {items + head, std::min(count, capacity - head)};
}
void PopOldest(size_t n, uint32_t capacity, uint32_t* head, uint32_t* count) {
  *head += static_cast<uint32_t>(n);
  if (*head >= capacity) {
    *head -= capacity;
  }
  *count -= static_cast<uint32_t>(n);
  if (*count == 0) {
    *head = 0;
  }
}
// Copies the oldest entries into `out` through `peek` and `pop` (the queue's
// OldestStretch and PopOldest), a stretch at a time; returns how many.
template <typename T, typename Peek, typename Pop>
size_t DrainQueue(std::span<T> out, Peek&& peek, Pop&& pop) {
  size_t n = 0;
  while (n < out.size()) {
    const std::span<const T> in = peek();
    if (in.empty()) {
      break;
    }
    const size_t k = std::min(in.size(), out.size() - n);
    std::copy_n(in.begin(), k, out.begin() + static_cast<ptrdiff_t>(n));
    pop(k);
    n += k;
  }
  return n;
}

}  // namespace

class Tracker::Impl {
 public:
  explicit Impl(const TrackerConfig& config) : cfg_(config) {}
  void SetProtectedNetworks(const Networks* n) {
    nets_ = n != nullptr ? n : &cfg_.protected_networks;
  }

  absl::Status Init() {
    if (absl::Status s = table_.Init(cfg_.capacity); !s.ok()) return s;
    if (contacts_on_) {
      attempts_.reset(new (std::nothrow) Attempt[cfg_.capacity]);
      contacts_.reset(new (std::nothrow) ContactEvent[cfg_.contact_capacity]);
      if (!attempts_ || !contacts_) {
        return absl::ResourceExhaustedError("cannot allocate the tracker's contact queues");
      }
    }
    if (!wheel_.Init(cfg_.capacity, kWheelSlots, kTickUs)) {
      return absl::ResourceExhaustedError("cannot allocate the session timer wheel");
    }
    out_.reset(new (std::nothrow) SessionRecord[cfg_.output_capacity]);
    if (!out_) return absl::ResourceExhaustedError("cannot allocate the tracker output queue");
    return absl::OkStatus();
  }

  void Process(const packet::ParsedPacket& pkt, PacketTime t, uint16_t input_port);
  void ProcessBurst(std::span<const packet::ParsedPacket> pkts, std::span<const PacketTime> times,
                    uint16_t input_port);
  void ProcessFragment(const packet::ParsedPacket& pkt, PacketTime t);
  bool Advance(uint64_t now, size_t max_records);
  bool FlushSome(EndReason reason, uint64_t now);
  size_t Drain(std::span<SessionRecord> out);
  size_t PendingOutput() const { return out_count_; }
  std::span<const SessionRecord> PeekOutput() const;
  void DropOutput(size_t n);
  std::vector<MemoryRegion> MappedRegions() const {
    std::vector<MemoryRegion> r;
    table_.AppendRegions(&r);
    r.push_back(wheel_.region());
    return r;
  }
  size_t DrainContacts(std::span<ContactEvent> out);
  size_t PendingContacts() const { return contact_count_; }
  std::span<const ContactEvent> PeekContacts() const {
    return OldestStretch(contacts_.get(), cfg_.contact_capacity, contact_head_, contact_count_);
  }
  void DropContacts(size_t n) {
    PopOldest(n, cfg_.contact_capacity, &contact_head_, &contact_count_);
  }
  const TrackerCounters& counters() const { return counters_; }

 private:
  // One client SYN waiting for its answer. The low 31 bits of the session id
  // are the generation: a slot reused by another session no longer matches
  // (one that matched would be 2^31 sessions of this worker later, within an
  // attempt timeout of seconds). 16 bytes: the FIFO has one per table entry.
  struct Attempt {
    uint64_t deadline;  // clock
    uint32_t idx;
    uint32_t tag;  // AttemptTag(): generation and side
  };
  static_assert(sizeof(Attempt) == kAttemptBytes);  // MemoryBytes()
  static uint32_t AttemptTag(uint64_t session_id, uint8_t side) {
    return static_cast<uint32_t>(session_id << 1) | side;
  }

  bool OutputFull() const { return out_count_ == cfg_.output_capacity; }
  const IpAddress& Addr(const Session& s, uint8_t side) const {
    return side == 0 ? s.key.lo_addr : s.key.hi_addr;
  }
  uint16_t Port(const Session& s, uint8_t side) const {
    return side == 0 ? s.key.lo_port : s.key.hi_port;
  }
  // The 64-bit per-side counts: hot low words, cold carries.
  uint64_t Packets(const Session& s, uint8_t side) const {
    return (uint64_t{table_.cold(s).side[side].packets_hi} << 32) | s.side[side].packets;
  }
  uint64_t PayloadBytes(const Session& s, uint8_t side) const {
    return (uint64_t{table_.cold(s).side[side].payload_hi} << 32) | s.side[side].payload_bytes;
  }
  // One more packet of `bytes` payload on `side`; returns true for the side's
  // first packet. The cold part is touched only on a carry (once per 2^32)
  // or when the low word reads 1.
  bool CountPacket(uint32_t idx, Session& s, uint8_t side, uint32_t bytes) {
    SideState& me = s.side[side];
    ColdSide& c = table_.cold(idx).side[side];
    const uint32_t before = me.payload_bytes;
    me.payload_bytes += bytes;
    if (me.payload_bytes < before) [[unlikely]] {
      ++c.payload_hi;
    }
    if (++me.packets == 0) [[unlikely]] {
      ++c.packets_hi;
    }
    return me.packets == 1 && c.packets_hi == 0;
  }
  uint64_t FirstTime(const Session& s) const { return table_.cold(s).first_time_us; }
  // Capture times may go back: the earliest (cold) is read only then.
  void TouchTimes(uint32_t idx, Session& s, const PacketTime& t) {
    if (t.capture_us >= s.last_time_us) {
      s.last_time_us = t.capture_us;
    } else {
      uint64_t& first = table_.cold(idx).first_time_us;
      first = std::min(first, t.capture_us);
    }
    s.last_clock_us = std::max(s.last_clock_us, t.clock_us);
  }
  static constexpr uint8_t kGapUnknown = 15;
  static uint8_t FpGap(const Session& s, uint8_t side) { return (s.fp_gap >> (4 * side)) & 15; }
  static void SetFpGap(Session& s, uint8_t side, uint8_t gap) {
    s.fp_gap = static_cast<uint8_t>((s.fp_gap & ~(15u << (4 * side))) | (gap << (4 * side)));
  }
  bool EarlierThanFingerprinted(uint32_t idx, const Session& s, uint8_t from, uint64_t seg_start,
                                uint64_t lowest, uint64_t highest_before) const;
  // Session::window_shift from both sides' SYN window scales.
  void UpdateWindowShift(uint32_t idx, Session& s) {
    const SessionCold& c = table_.cold(idx);
    const uint8_t w0 = c.side[0].wscale, w1 = c.side[1].wscale;
    uint8_t shift = 0;
    if (w0 != packet::kNoWindowScale && w1 != packet::kNoWindowScale) {
      shift = static_cast<uint8_t>(std::min<uint8_t>(w0, 14) | std::min<uint8_t>(w1, 14) << 4);
    }
    s.window_shift = shift;
  }

  void ProcessKeyed(const packet::ParsedPacket& pkt, const SessionKey& key, uint32_t hash,
                    uint8_t from, const PacketTime& t, uint16_t input_port);
  uint32_t Create(const SessionKey& key, uint32_t hash, const packet::ParsedPacket& pkt,
                  uint8_t from, const PacketTime& t, uint16_t input_port);
  uint64_t PlausibleWindow(const Session& s, uint8_t receiver) const;
  bool Expired(const Session& s, uint64_t now) const {
    return ExpiredAfter(s, now, IdleTimeout(s));
  }
  // Expired() with the session's IdleTimeout() already at hand.
  static bool ExpiredAfter(const Session& s, uint64_t now, uint64_t idle_timeout) {
    return now >= s.last_clock_us && now - s.last_clock_us >= idle_timeout;
  }
  void DecideInitialRoles(Session& s, const packet::ParsedPacket& pkt, uint8_t from);
  void SetRoles(Session& s, uint8_t client_side, RoleSource source);
  // What a TCP packet did (UpdateTcp): its segment's sequence accounting
  // (taken into it or not, and the positions around it; after a re-anchor
  // the positions before are the fresh state's); whether something the idle
  // timeout depends on changed (an endpoint state, a FIN or a RST).
  struct TcpUpdate {
    TcpSequence::Segment seg;
    bool timeout_inputs_changed;
  };
  TcpUpdate UpdateTcp(uint32_t idx, Session& s, const packet::ParsedPacket& pkt, uint8_t from,
                      bool first_packet);
  void UpdateFtp(const Session& s, const packet::ParsedPacket& pkt, uint64_t now);
  uint64_t IdleTimeout(const Session& s) const;
  // When the session ends if idle from now on; Deadline() also counts the
  // active timeout (an interim record, not an end).
  uint64_t IdleDeadline(const Session& s) const { return s.last_clock_us + IdleTimeout(s); }
  uint64_t Deadline(const Session& s) const;
  EndReason ExpiryReason(const Session& s) const;
  void ScheduleIfEarlier(uint32_t idx, Session& s);
  bool Fire(uint32_t idx, uint64_t now);
  void EvictEarliest(uint64_t now);
  void Emit(const Session& s, EndReason reason, bool continuing);
  void End(uint32_t idx, EndReason reason);
  void BuildRecord(const Session& s, EndReason reason, bool continuing, SessionRecord& r) const;
  void UpdateContact(uint32_t idx, Session& s, const packet::ParsedPacket& pkt, uint8_t from,
                     const PacketTime& t);
  // Silent events for the attempts whose deadline passed by clock `now`.
  // `bounded` (Advance, FlushSome): stop while the event queue is full and
  // return false; the due attempts stay and leave on a later call. The packet
  // path cannot wait (an answer after the deadline must not count): it
  // decides them anyway and counts what the queue cannot keep.
  bool ExpireAttempts(uint64_t now, bool bounded = false) {
    if (attempt_count_ == 0 || attempts_[attempt_head_].deadline > now) return true;
    return ExpireAttemptsSlow(now, bounded);
  }
  bool ExpireAttemptsSlow(uint64_t now, bool bounded);
  bool ContactRoomFor(uint32_t n) const { return contact_count_ + n <= cfg_.contact_capacity; }
  // The session ended (its event left then), or the slot holds another one.
  bool AttemptStale(const Attempt& a) const {
    const Session& s = table_.at(a.idx);
    return !s.live || AttemptTag(table_.cold(a.idx).session_id, a.tag & 1) != a.tag ||
           s.side[a.tag & 1].contact != kContactPending;
  }
  void EmitContact(const Session& s, uint8_t client, ContactOutcome outcome, uint64_t decided_us);

  TrackerConfig cfg_;
  const Networks* nets_ = &cfg_.protected_networks;  // SetProtectedNetworks()
  // ProcessBurst's keys, hashes and directions of one chunk. Members, not
  // locals: a local SessionKey array is zero-filled on every burst (2.8 KB),
  // and MakeSessionKey writes every byte of its key anyway.
  static constexpr size_t kChunk = 64;
  SessionKey chunk_keys_[kChunk];
  uint32_t chunk_hashes_[kChunk];
  uint8_t chunk_from_[kChunk];
  SessionTable table_;
  TimerWheel wheel_;
  FtpAnnouncements ftp_;
  FragmentMap fragments_;
  std::unique_ptr<SessionRecord[]> out_;
  uint32_t out_head_ = 0;
  uint32_t out_count_ = 0;
  TrackerCounters counters_;
  uint64_t next_counter_ = 0;
  uint32_t flush_cursor_ = 0;
  size_t advance_budget_ = 0;  // records Advance() may still emit

  const bool contacts_on_ = cfg_.attempt_timeout_us != 0;
  std::unique_ptr<Attempt[]> attempts_;  // FIFO, deadline order (one timeout length)
  uint32_t attempt_head_ = 0;
  uint32_t attempt_count_ = 0;
  std::unique_ptr<ContactEvent[]> contacts_;
  uint32_t contact_head_ = 0;
  uint32_t contact_count_ = 0;
};

// Whether a TCP segment starting at `seg_start` (unwrapped, after its
// accounting, which left the side's lowest start at `lowest`) lies before
// the side's fingerprinted one: first data in sequence order. fp_seq is kept
// in 32 bits, unwrapped near the highest end, which is exact while the side
// spans less than 2^31. The hot part answers
// without fp_seq in the usual cases: while the fingerprinted segment's gap
// above the lowest start is known (retransmissions of it included), or when
// the segment starts at or above the highest end seen before it, since a
// counted fingerprinted segment ended at or below that (no re-anchoring once
// it was counted: a re-anchor marks it untrusted). Only an uncounted
// fingerprinted segment or an unknown gap with a segment below the highest
// end read the cold fp_seq.
inline bool Tracker::Impl::EarlierThanFingerprinted(uint32_t idx, const Session& s, uint8_t from,
                                                    uint64_t seg_start, uint64_t lowest,
                                                    uint64_t highest_before) const {
  const TcpSequence& seq = s.side[from].seq;
  if (seq.highest() - lowest >= (uint64_t{1} << 31) || seg_start < lowest) {
    return false;
  }
  const bool untrusted = (s.fp_untrusted >> from) & 1;
  if (!untrusted) {
    const uint8_t gap = FpGap(s, from);
    if (gap != kGapUnknown) {
      return seg_start < lowest + gap;
    }
    if (seg_start >= highest_before) {
      return false;
    }
  }
  return seg_start < seq.Unwrap(table_.cold(idx).side[from].fp_seq);
}

// Inlined into ProcessKeyed, its one caller (the call and its register
// saves were ~35 instructions of every TCP packet; callgrind).
[[gnu::always_inline]] inline Tracker::Impl::TcpUpdate Tracker::Impl::UpdateTcp(
    uint32_t idx, Session& s, const packet::ParsedPacket& pkt, uint8_t from, bool first_packet) {
  SideState& me = s.side[from];
  SideState& peer = s.side[1 - from];
  const uint8_t f = pkt.tcp_flags;
  const bool syn = f & packet::kTcpSyn, ack = f & packet::kTcpAck;
  const bool fin = f & packet::kTcpFin, rst = f & packet::kTcpRst;
  me.flags |= f;
  me.last_seq = pkt.seq;
  // Touched on SYNs and first packets.
  uint32_t& first_seq = table_.cold(idx).side[from].first_seq;
  if (first_packet) {
    first_seq = pkt.seq;
  }
  // (A SYN's window never matters to PlausibleWindow(): at most 65535, below
  // its 64 KiB floor.)
  if (syn) {
    if (!me.isn_seen) {
      table_.cold(idx).side[from].wscale = pkt.tcp_window_scale;
      UpdateWindowShift(idx, s);
    }
  } else {
    me.max_window = std::max(me.max_window, pkt.window);
  }

  if (syn && !rst) {
    if (!ack) {
      SetRoles(s, from, RoleSource::kRequest);
    } else {
      SetRoles(s, 1 - from, RoleSource::kReply);
    }
    if (!me.isn_seen) {
      // The ISN is the first sequence number even if other packets of this
      // side were seen before the SYN (reordering).
      me.isn_seen = 1;
      first_seq = pkt.seq;
    } else if (pkt.seq != first_seq && me.seq.Bytes() == 0 && !me.seq.fin_seen()) {
      // Retransmitted SYN(-ACK) with a new ISN before any data (Zeek #3313):
      // re-anchor rather than count 2^32-scale garbage.
      me.seq.Reset();
      first_seq = pkt.seq;
      // Positions re-anchor: where a fingerprinted segment lies is unknown.
      s.fp_untrusted |= static_cast<uint8_t>(1u << from);
      SetFpGap(s, from, kGapUnknown);
      if (ack) {
        table_.cold(idx).server_isn_changed = 1;
      }
    }
  }
  // Segments and ACKs beyond the receiver's plausible window are not trusted
  // (one stray segment at seq + 10^9 must not count a gigabyte).
  const uint8_t to = 1 - from;
  const TcpSequence::Segment seg =
      me.seq.Account(pkt.seq, pkt.payload_len, syn, fin, PlausibleWindow(s, to));
  if (!seg.trusted) {
    ++counters_.implausible_sequence;
  }
  // ACKs in RST packets are not trusted (Zeek does the same). The ACK covers
  // data the peer sent into this side's window.
  if (ack && !rst && !peer.seq.OnPeerAck(pkt.ack, PlausibleWindow(s, from))) {
    ++counters_.implausible_sequence;
  }

  if (me.tcp_state() != TcpEndpointState::kReset && !rst &&
      (fin || (ack && !syn && pkt.payload_len == 0))) {
    me.acked_or_fin = 1;
  }
  const TcpEndpointState mine_before = me.tcp_state(), theirs_before = peer.tcp_state();
  TcpEndpointState mine = mine_before, theirs = theirs_before;
  UpdateTcpEndpointStates(f, pkt.payload_len, &mine, &theirs);
  const bool states_changed = mine != mine_before || theirs != theirs_before;
  if (states_changed) {
    me.set_tcp_state(mine);
    peer.set_tcp_state(theirs);
  }
  if ((fin || rst) && s.shutdown_side == kNoSide) {
    s.shutdown_side = from;
    s.shutdown_kind = rst ? ShutdownKind::kRst : ShutdownKind::kFin;
  }
  if (fin) {
    s.fin[from] = true;
  }
  if (rst) {
    s.rst = true;
  }
  return {seg, states_changed || fin || rst};
}

// How far beyond what was seen a segment towards `receiver` may start: the
// receiver's largest advertised window (RFC 7323: scaled by its window scale
// when both SYNs carried the option; SYN windows are never scaled), at least
// kWindowFloor (64 KiB). Without both SYNs the scale is unknown: a fixed
// 16 MiB, above Linux's default maximum receive buffer and any unscaled
// window at scale 8, far below the 2^30 TCP limit. Data beyond it (a capture
// gap of more than a window) is not counted until the stream comes back into
// range.
inline uint64_t Tracker::Impl::PlausibleWindow(const Session& s, uint8_t receiver) const {
  const SideState& r = s.side[receiver];
  const SideState& o = s.side[1 - receiver];
  if (!r.isn_seen || !o.isn_seen) {
    return kWindowWithoutHandshake;
  }
  const uint64_t w = uint64_t{r.max_window} << ((s.window_shift >> (4 * receiver)) & 15);
  return std::max(w, kWindowFloor);
}

// Inline: every packet reads it (twice when its state may shrink it).
inline uint64_t Tracker::Impl::IdleTimeout(const Session& s) const {
  switch (s.key.protocol) {
    case packet::kProtoTcp: {
      if (s.Closed()) {
        return cfg_.tcp_linger_us;
      }
      if (s.fin[0] || s.fin[1]) {
        return cfg_.tcp_closing_timeout_us;
      }
      for (const SideState& side : s.side) {
        if (side.tcp_state() == TcpEndpointState::kEstablished ||
            side.tcp_state() == TcpEndpointState::kPartial) {
          return cfg_.tcp_established_timeout_us;
        }
      }
      return cfg_.tcp_syn_timeout_us;
    }
    case packet::kProtoIcmp:
    case packet::kProtoIcmpV6:
      return cfg_.icmp_timeout_us;
    case packet::kProtoUdp:
      return cfg_.udp_timeout_us;
    default:
      return cfg_.other_timeout_us;
  }
}

void Tracker::Impl::Process(const packet::ParsedPacket& pkt, PacketTime t, uint16_t input_port) {
  SessionKey key;
  uint32_t hash;
  const uint8_t from = MakeSessionKey(pkt, &key, cfg_.vlan_key, &hash) ? 0 : 1;
  ProcessKeyed(pkt, key, hash, from, t, input_port);
}

// A software pipeline over the burst so the DRAM misses overlap
// (notes/dpdk_design.md §2.6): keys and hashes first (packet data is in
// cache), then while packet i is processed, the hot entry of packet i + kAhead
// (whose index slot came in meanwhile) and the slot of packet i + 2 kAhead are
// prefetched. A handful of misses stay in flight at any time, about what the
// core's fill buffers hold, instead of a whole burst's worth queueing up at
// once (prefetches beyond that are dropped or stall).
void Tracker::Impl::ProcessBurst(std::span<const packet::ParsedPacket> pkts,
                                 std::span<const PacketTime> times, uint16_t input_port) {
  constexpr size_t kAhead = 8;
  SessionKey* const keys = chunk_keys_;
  uint32_t* const hashes = chunk_hashes_;
  uint8_t* const from = chunk_from_;
  const size_t total = std::min(pkts.size(), times.size());
  for (size_t base = 0; base < total; base += kChunk) {
    const size_t n = std::min(kChunk, total - base);
    for (size_t i = 0; i < n; ++i) {
      from[i] = MakeSessionKey(pkts[base + i], &keys[i], cfg_.vlan_key, &hashes[i]) ? 0 : 1;
      if (i < 2 * kAhead) table_.Prefetch(hashes[i]);
    }
    for (size_t i = 0; i < std::min(n, kAhead); ++i) table_.PrefetchProbe(hashes[i]);
    for (size_t i = 0; i < n; ++i) {
      if (i + 2 * kAhead < n) table_.Prefetch(hashes[i + 2 * kAhead]);
      if (i + kAhead < n) table_.PrefetchProbe(hashes[i + kAhead]);
      ProcessKeyed(pkts[base + i], keys[i], hashes[i], from[i], times[base + i], input_port);
    }
  }
}

void Tracker::Impl::ProcessKeyed(const packet::ParsedPacket& pkt, const SessionKey& key,
                                 uint32_t hash, uint8_t from, const PacketTime& t,
                                 uint16_t input_port) {
  const uint64_t now = t.clock_us;
  ++counters_.packets;
  wheel_.Start(now);
  // Before the lookup: an answer at or after the deadline comes too late,
  // however often Advance() ran.
  if (contacts_on_) ExpireAttempts(now);
  uint32_t idx = table_.Find(key, hash);
  // The found session's idle timeout before this packet (0 = a new one),
  // for the expiry check here and the wheel at the end.
  uint64_t timeout_before = idx != SessionTable::kNone ? IdleTimeout(table_.at(idx)) : 0;
  if (idx != SessionTable::kNone && !OutputFull()) {
    // Timed out but not yet fired (the wheel fires up to one tick late, or
    // Advance() has not run): end it now, so a packet after the timeout
    // always starts a new session, whatever the Advance() cadence. Clock
    // time on both sides, so this and the wheel always agree.
    const Session& old = table_.at(idx);
    if (ExpiredAfter(old, now, timeout_before)) {
      End(idx, ExpiryReason(old));
      idx = SessionTable::kNone;
    }
  }
  const bool tcp = pkt.protocol == packet::kProtoTcp;
  if (idx != SessionTable::kNone && tcp &&
      (pkt.tcp_flags & (packet::kTcpSyn | packet::kTcpAck)) == packet::kTcpSyn) {
    // A SYN with a new ISN after a FIN (either side: a half-close is enough)
    // or a RST is a new connection on a reused port (as tshark counts
    // conversations); the old one leaves first.
    const Session& old = table_.at(idx);
    const SideState& me = old.side[from];
    if ((old.Closed() || old.fin[0] || old.fin[1]) &&
        !(me.isn_seen && table_.cold(idx).side[from].first_seq == pkt.seq)) {
      End(idx, EndReason::kReplaced);
      idx = SessionTable::kNone;
    }
  }
  // The wheel needs a look only when the deadline may have moved earlier:
  // a new session, or a packet that shrank the idle timeout (FIN, RST...).
  // Otherwise the deadline only grew (the clock never goes back), and the
  // scheduled one, never later than it, stays valid (ScheduleIfEarlier).
  if (idx == SessionTable::kNone) {
    timeout_before = 0;
    idx = Create(key, hash, pkt, from, t, input_port);
  }
  Session& s = table_.at(idx);

  TouchTimes(idx, s, t);
  uint32_t new_payload = pkt.payload_len;
  if (pkt.first_fragment) {
    SessionCold& c = table_.cold(idx);
    ++c.fragments;
    ++counters_.fragments;
    new_payload =
        fragments_.RememberFirst(pkt, key.vlan_outer, key.vlan_inner, idx, c.session_id, now);
    counters_.fragment_overlap_bytes += pkt.payload_len - new_payload;
  }
  SideState& me = s.side[from];
  const bool first_packet = CountPacket(idx, s, from, new_payload);
  if (first_packet) {
    SessionCold& c = table_.cold(idx);
    c.side[from].first_flags = tcp ? pkt.tcp_flags : 0;
    c.icmp_first_type[from] = pkt.icmp_type;
    c.icmp_first_code[from] = pkt.icmp_code;
  }

  uint64_t seg_start = 0;
  uint64_t lowest = 0;  // the side's lowest start after this packet (0: not TCP)
  uint64_t highest_before = 0;
  bool trusted = false;
  bool timeout_inputs_changed = false;
  if (tcp) {
    // (After a re-anchor the positions before are the fresh state's, which
    // no check below reads: the re-anchor left the gap unknown and the
    // fingerprinted segment untrusted.)
    const TcpUpdate u = UpdateTcp(idx, s, pkt, from, first_packet);
    trusted = u.seg.trusted;
    timeout_inputs_changed = u.timeout_inputs_changed;
    seg_start = u.seg.start;
    highest_before = u.seg.highest_before;
    lowest = u.seg.lowest;
    // Keep the fingerprinted segment's known gap above the lowest start.
    if (lowest < u.seg.lowest_before && FpGap(s, from) != kGapUnknown) {
      const uint64_t gap = FpGap(s, from) + (u.seg.lowest_before - lowest);
      SetFpGap(s, from, static_cast<uint8_t>(std::min<uint64_t>(gap, kGapUnknown)));
    }
    // Only a SYN or a RST starts or decides a first contact.
    if (contacts_on_ && (pkt.tcp_flags & (packet::kTcpSyn | packet::kTcpRst)) != 0) {
      UpdateContact(idx, s, pkt, from, t);
    }
  } else if (IsIcmp(pkt.protocol)) {
    const int dir = IcmpRequestDirection(pkt.protocol, pkt.icmp_type);
    if (dir > 0) SetRoles(s, from, RoleSource::kRequest);
    if (dir < 0) SetRoles(s, 1 - from, RoleSource::kReply);
  }

  if (pkt.payload_len > 0) {
    if (s.first_data_side == kNoSide) s.first_data_side = from;
    // First data in sequence order: a reordered earlier segment replaces the
    // fingerprint of a later one.
    // (Only trusted segments: an implausible sequence number lies below the
    // lowest start the sequence accounting accepted.)
    // (fp_seq is kept in 32 bits: unwrapped near the highest end, which is
    // exact while the side spans less than 2^31.)
    const bool take =
        !me.has_first_data ||
        (tcp && EarlierThanFingerprinted(idx, s, from, seg_start, lowest, highest_before));
    if (take) {
      ColdSide& cs = table_.cold(idx).side[from];
      me.has_first_data = 1;
      cs.first_data_len = static_cast<uint16_t>(std::min<uint32_t>(pkt.payload_len, 65535));
      cs.fp_seq = pkt.seq;
      const uint8_t bit = static_cast<uint8_t>(1u << from);
      s.fp_untrusted = (s.fp_untrusted & ~bit) | (tcp && !trusted ? bit : 0);
      const uint64_t gap = seg_start - lowest;  // trusted: seg_start >= lowest
      SetFpGap(s, from,
               tcp && trusted && gap < kGapUnknown ? static_cast<uint8_t>(gap) : kGapUnknown);
      if (s.full_analysis && pkt.captured_payload_len > 0 && pkt.payload != nullptr) {
        cs.fingerprint = ScalarFingerprint(pkt.payload, pkt.captured_payload_len, pkt.payload_len);
        cs.simhash = SimHash64(pkt.payload, pkt.captured_payload_len);
      }
    }
    if (tcp && pkt.captured_payload_len > 0 && (pkt.src_port == 21 || pkt.dst_port == 21)) {
      UpdateFtp(s, pkt, now);
    }
  }
  // A packet can shrink the idle timeout only by changing what it depends on:
  // for TCP the endpoint states, a FIN or a RST (UpdateTcp); for the other
  // protocols nothing but the protocol.
  if (timeout_before == 0 || (timeout_inputs_changed && IdleTimeout(s) < timeout_before)) {
    ScheduleIfEarlier(idx, s);
  }
}

void Tracker::Impl::ProcessFragment(const packet::ParsedPacket& pkt, PacketTime t) {
  ++counters_.later_fragments;
  uint32_t idx;
  uint64_t id;
  uint32_t new_bytes;
  uint16_t vo, vi;
  KeyVlans(pkt, cfg_.vlan_key, &vo, &vi);
  if (!fragments_.FindLater(pkt, vo, vi, t.clock_us, &idx, &id, &new_bytes) ||
      !table_.at(idx).live || table_.cold(idx).session_id != id) {
    ++counters_.later_fragments_unattributed;
    return;
  }
  Session& s = table_.at(idx);
  // The sender's side: ICMP keys order by address only, so compare addresses.
  const uint8_t from = pkt.src == s.key.lo_addr ? 0 : 1;
  // The first fragment's L4 length covered only its share.
  CountPacket(idx, s, from, new_bytes);
  counters_.fragment_overlap_bytes += pkt.payload_len - new_bytes;
  ++table_.cold(idx).fragments;
  TouchTimes(idx, s, t);
}

uint32_t Tracker::Impl::Create(const SessionKey& key, uint32_t hash,
                               const packet::ParsedPacket& pkt, uint8_t from, const PacketTime& t,
                               uint16_t input_port) {
  const uint64_t now = t.clock_us;
  if (table_.full()) EvictEarliest(now);
  const uint32_t idx = table_.Insert(key, hash);
  Session& s = table_.at(idx);
  SessionCold& c = table_.cold(idx);
  c.session_id = (uint64_t{cfg_.worker_id} << 56) | (++next_counter_ & kCounterMask);
  c.first_time_us = s.last_time_us = t.capture_us;
  s.last_clock_us = c.active_start_us = now;
  c.vlan_count = pkt.vlan_count;
  c.vlan_outer = pkt.vlan_outer;
  c.vlan_inner = pkt.vlan_inner;
  c.input_port = input_port;
  // Announced FTP data endpoints are ports: TCP (and UDP, harmlessly) only.
  if (pkt.protocol == packet::kProtoTcp || pkt.protocol == packet::kProtoUdp) {
    for (uint8_t side = 0; side < 2; ++side) {
      if (ftp_.Match(Addr(s, side), key.ip_version, Port(s, side), now)) s.transient_side = side;
    }
  }
  DecideInitialRoles(s, pkt, from);
  ++counters_.sessions_created;
  ++counters_.sessions_active;
  return idx;
}

void Tracker::Impl::DecideInitialRoles(Session& s, const packet::ParsedPacket& pkt, uint8_t from) {
  const uint8_t to = 1 - from;
  if (pkt.protocol == packet::kProtoTcp) {
    const uint8_t sa = pkt.tcp_flags & (packet::kTcpSyn | packet::kTcpAck);
    if (sa == packet::kTcpSyn) return SetRoles(s, from, RoleSource::kRequest);
    if (sa == (packet::kTcpSyn | packet::kTcpAck)) return SetRoles(s, to, RoleSource::kReply);
  }
  if (pkt.protocol != packet::kProtoTcp && pkt.protocol != packet::kProtoUdp) {
    // ICMP: request/reply upgrades happen in Process(); errors keep the
    // sender. Other protocols have no ports: the first sender stays client.
    return SetRoles(s, from, RoleSource::kFirstPacket);
  }
  const bool src_service = IsServicePort(pkt.src_port);
  const bool dst_service = IsServicePort(pkt.dst_port);
  if (dst_service && !src_service) return SetRoles(s, from, RoleSource::kServicePort);
  if (src_service && !dst_service) return SetRoles(s, to, RoleSource::kServicePort);
  SetRoles(s, from, RoleSource::kFirstPacket);
}

// Roles change only towards a stronger source; a new session always takes them.
void Tracker::Impl::SetRoles(Session& s, uint8_t client_side, RoleSource source) {
  const bool fresh =
      s.side[0].packets == 0 && s.side[1].packets == 0 && Packets(s, 0) == 0 && Packets(s, 1) == 0;
  if (!fresh && source <= s.role_source) return;
  s.client_side = client_side;
  s.role_source = source;
  const uint8_t v = s.key.ip_version;
  const Networks& nets = *nets_;
  const bool inbound = !nets.empty() && !nets.Contains(Addr(s, client_side), v) &&
                       nets.Contains(Addr(s, 1 - client_side), v);
  table_.cold(s).inbound = inbound;
  switch (cfg_.full_analysis) {
    case FullAnalysisPolicy::kAll:
      s.full_analysis = true;
      break;
    case FullAnalysisPolicy::kInboundOnly:
      s.full_analysis = inbound;
      break;
    case FullAnalysisPolicy::kNone:
      s.full_analysis = false;
      break;
  }
}

// An announcement counts only from a control session both ends took part
// in (not reset), for the announcing end's own address: one forged segment
// (PORT or 227 naming a third host) would otherwise mark that host's
// sessions transient and silence their first contacts, hiding a scan of it.
void Tracker::Impl::UpdateFtp(const Session& s, const packet::ParsedPacket& pkt, uint64_t now) {
  FtpEndpoint ep;
  const bool parsed = pkt.dst_port == 21
                          ? ParseFtpClientAnnounce(pkt.payload, pkt.captured_payload_len, &ep)
                          : ParseFtpServerAnnounce(pkt.payload, pkt.captured_payload_len, pkt.src,
                                                   pkt.ip_version, &ep);
  if (!parsed) {
    return;
  }
  if (s.side[0].packets == 0 || s.side[1].packets == 0 || s.rst ||
      ep.ip_version != pkt.ip_version || !(ep.addr == pkt.src)) {
    ++counters_.ftp_announcements_ignored;
    return;
  }
  ftp_.Add(ep, now);
}

// Why a session whose idle deadline passed ends: a closed TCP session's
// linger is over, anything else was idle.
EndReason Tracker::Impl::ExpiryReason(const Session& s) const {
  if (s.key.protocol == packet::kProtoTcp && s.Closed()) {
    return s.rst ? EndReason::kReset : EndReason::kClosed;
  }
  return EndReason::kIdleTimeout;
}

uint64_t Tracker::Impl::Deadline(const Session& s) const {
  uint64_t d = IdleDeadline(s);
  if (cfg_.active_timeout_us != 0) {
    d = std::min(d, table_.cold(s).active_start_us + cfg_.active_timeout_us);
  }
  return d;
}

// Per packet the wheel is touched only when the deadline moved earlier (a FIN,
// a RST); later deadlines are found when the slot fires.
// A live session is always in the wheel (scheduled_us != 0) except while its
// slot fires, so this reads nothing outside the session.
void Tracker::Impl::ScheduleIfEarlier(uint32_t idx, Session& s) {
  const uint64_t d = Deadline(s);
  SessionCold& c = table_.cold(idx);
  if (c.scheduled_us == 0 || d < c.scheduled_us) {
    wheel_.Schedule(idx, d);
    c.scheduled_us = d;
  }
}

bool Tracker::Impl::Fire(uint32_t idx, uint64_t now) {
  Session& s = table_.at(idx);
  if (Expired(s, now)) {
    if (OutputFull() || advance_budget_ == 0) return false;
    --advance_budget_;
    End(idx, ExpiryReason(s));
    return true;
  }
  SessionCold& c = table_.cold(idx);
  if (cfg_.active_timeout_us != 0 && now >= c.active_start_us + cfg_.active_timeout_us) {
    if (OutputFull() || advance_budget_ == 0) return false;
    --advance_budget_;
    // Interim record: counters stay cumulative from the session's start; the
    // session goes on with the same id.
    Emit(s, EndReason::kActiveTimeout, /*continuing=*/true);
    ++counters_.interim_records;
    // Periods stay active_timeout apart even when Advance() runs late; after
    // a long stall (capture gap) the next period starts now.
    c.active_start_us += cfg_.active_timeout_us;
    if (now >= c.active_start_us + cfg_.active_timeout_us) c.active_start_us = now;
  }
  const uint64_t d = Deadline(s);
  wheel_.Schedule(idx, d);
  c.scheduled_us = d;
  return true;
}

// A client SYN starts an attempt; the peer's SYN-ACK or RST decides it. The
// attempt belongs to the SYN's sender, whatever the roles say later.
void Tracker::Impl::UpdateContact(uint32_t idx, Session& s, const packet::ParsedPacket& pkt,
                                  uint8_t from, const PacketTime& t) {
  // An announced FTP data connection (transient_server) was expected by both
  // ends: no first contact, so a server whose active-mode connections a
  // client's firewall drops is not walked towards a scanner verdict.
  if (s.transient_side != 2) return;
  const uint8_t f = pkt.tcp_flags;
  SideState& me = s.side[from];
  SideState& peer = s.side[1 - from];
  if (peer.contact == kContactPending) {
    if (f & packet::kTcpRst) {
      peer.contact = kContactDecided;
      EmitContact(s, 1 - from, ContactOutcome::kReject, t.capture_us);
    } else if ((f & (packet::kTcpSyn | packet::kTcpAck)) == (packet::kTcpSyn | packet::kTcpAck)) {
      peer.contact = kContactDecided;
      EmitContact(s, 1 - from, ContactOutcome::kSuccess, t.capture_us);
    }
  }
  if (me.contact != kContactNone ||
      (f & (packet::kTcpSyn | packet::kTcpAck | packet::kTcpRst)) != packet::kTcpSyn) {
    return;
  }
  // The peer answered before our SYN was seen (reordered capture): decided.
  if ((peer.flags & (packet::kTcpSyn | packet::kTcpAck)) == (packet::kTcpSyn | packet::kTcpAck)) {
    me.contact = kContactDecided;
    EmitContact(s, from, ContactOutcome::kSuccess, t.capture_us);
    return;
  }
  // Full: entries of sessions that already ended (eviction churn) go first.
  if (attempt_count_ == cfg_.capacity) {
    uint32_t later = attempt_head_ + kAttemptAhead;
    if (later >= cfg_.capacity) later %= cfg_.capacity;
    table_.PrefetchIdentity(attempts_[later].idx);
  }
  while (attempt_count_ == cfg_.capacity && AttemptStale(attempts_[attempt_head_])) {
    attempt_head_ = attempt_head_ + 1 == cfg_.capacity ? 0 : attempt_head_ + 1;
    --attempt_count_;
  }
  if (attempt_count_ == cfg_.capacity) {
    ++counters_.contacts_untracked;
    return;
  }
  me.contact = kContactPending;
  uint32_t at = attempt_head_ + attempt_count_;  // below 2 capacities: no division
  if (at >= cfg_.capacity) at -= cfg_.capacity;
  Attempt& a = attempts_[at];
  a.deadline = t.clock_us + cfg_.attempt_timeout_us;
  a.idx = idx;
  a.tag = AttemptTag(table_.cold(idx).session_id, from);
  ++attempt_count_;
}

bool Tracker::Impl::ExpireAttemptsSlow(uint64_t now, bool bounded) {
  while (attempt_count_ != 0 && attempts_[attempt_head_].deadline <= now) {
    if (bounded && !ContactRoomFor(1)) return false;
    const Attempt a = attempts_[attempt_head_];
    attempt_head_ = attempt_head_ + 1 == cfg_.capacity ? 0 : attempt_head_ + 1;
    --attempt_count_;
    if (AttemptStale(a)) continue;
    Session& s = table_.at(a.idx);
    const uint8_t side = a.tag & 1;
    s.side[side].contact = kContactDecided;
    EmitContact(s, side, ContactOutcome::kSilent, FirstTime(s) + cfg_.attempt_timeout_us);
  }
  return true;
}

void Tracker::Impl::EmitContact(const Session& s, uint8_t client, ContactOutcome outcome,
                                uint64_t decided_us) {
  switch (outcome) {
    case ContactOutcome::kSuccess:
      ++counters_.contacts_success;
      break;
    case ContactOutcome::kReject:
      ++counters_.contacts_reject;
      break;
    case ContactOutcome::kSilent:
      ++counters_.contacts_silent;
      break;
  }
  if (contact_count_ == cfg_.contact_capacity) {
    ++counters_.contacts_dropped;
    return;
  }
  uint32_t at = contact_head_ + contact_count_;
  if (at >= cfg_.contact_capacity) at -= cfg_.contact_capacity;
  ContactEvent& e = contacts_[at];
  ++contact_count_;
  e = ContactEvent{};
  e.session_id = table_.cold(s).session_id;
  e.client_ip = Addr(s, client);
  e.server_ip = Addr(s, 1 - client);
  e.first_time_us = FirstTime(s);
  e.decided_us = decided_us;
  e.client_port = Port(s, client);
  e.server_port = Port(s, 1 - client);
  e.vlan_outer = s.key.vlan_outer;
  e.vlan_inner = s.key.vlan_inner;
  e.worker_id = cfg_.worker_id;
  e.ip_version = s.key.ip_version;
  e.outcome = outcome;
}

size_t Tracker::Impl::DrainContacts(std::span<ContactEvent> out) {
  return DrainQueue(
      out, [this] { return PeekContacts(); }, [this](size_t k) { DropContacts(k); });
}

bool Tracker::Impl::Advance(uint64_t now, size_t max_records) {
  const bool attempts_done = !contacts_on_ || ExpireAttempts(now, /*bounded=*/true);
  advance_budget_ = max_records;
  // Fire() reads the hot entry, then either all of it and its cold part and
  // the index slot (an end: record, Erase()) or the cold part's timer fields
  // (a new deadline). Two stages: every line of the entry two ahead; then,
  // once its hot line is in, the index slot of one that will end.
  const auto prefetch = [this, now](uint32_t next, uint32_t after) {
    if (after != TimerWheel::kNone) table_.PrefetchAll(after);
    if (next == TimerWheel::kNone) return;
    if (Expired(table_.at(next), now)) table_.PrefetchSlotOf(next);
  };
  const bool wheel_done = wheel_.Advance(
      now, [this, now](uint32_t idx) { return Fire(idx, now); }, prefetch);
  return attempts_done && wheel_done;
}

// Eviction ends the session nearest its idle deadline (the last packet plus
// its state's idle timeout: a lone SYN goes before an established session
// idle as long; the active timeout, which does not end a session, is not
// counted). The wheel holds every live session at a deadline no later than
// its own, so the longest-waiting entry of the earliest non-empty tick whose
// own idle deadline falls in that tick is an earliest one (exact to the
// tick): no scan of the table. An entry whose deadline moved on since it was
// scheduled (packets since) is moved to that deadline on the way, as the
// wheel does when its tick fires; after kEvictionLook such entries the
// earliest idle deadline among them is taken, so an eviction stays O(1).
// A session already past its idle deadline (not yet fired) ends as timed out,
// not evicted. With a full table every new session pays one eviction, so the
// misses are pipelined over the following evictions (below).
void Tracker::Impl::EvictEarliest(uint64_t now) {
  const uint64_t tick_us = wheel_.tick_us();
  uint64_t tick = 0;
  uint32_t cur = wheel_.Earliest(&tick);
  uint32_t victim = SessionTable::kNone;
  uint64_t victim_idle = UINT64_MAX;
  for (uint32_t look = 0; look < kEvictionLook && cur != TimerWheel::kNone; ++look) {
    const Session& s = table_.at(cur);
    const uint64_t idle = IdleDeadline(s);
    if (idle < victim_idle) {
      victim = cur;
      victim_idle = idle;
    }
    if (idle / tick_us <= tick) break;
    const uint32_t before = wheel_.ScheduledBefore(cur);
    const uint64_t d = Deadline(s);
    if (d / tick_us > tick) {
      wheel_.Schedule(cur, d);
      table_.cold(cur).scheduled_us = d;
    }  // else its active timeout is due in this tick: it stays for Fire()
    cur = before != TimerWheel::kNone ? before : wheel_.Earliest(&tick);
  }
  if (victim == SessionTable::kNone) return;  // not reached: a full table's sessions are scheduled
  // The pipeline: the next victim is most likely the entry scheduled just
  // before this one (its lines were prefetched one eviction ago, as the one
  // after the next): its index slot now, and all lines of the one after it.
  if (const uint32_t next = wheel_.ScheduledBefore(victim); next != TimerWheel::kNone) {
    table_.PrefetchSlotOf(next);
    if (const uint32_t after = wheel_.ScheduledBefore(next); after != TimerWheel::kNone) {
      table_.PrefetchAll(after);
      wheel_.PrefetchNode(after);
    }
  }
  if (Expired(table_.at(victim), now)) {
    End(victim, ExpiryReason(table_.at(victim)));
    return;
  }
  ++counters_.sessions_evicted;
  End(victim, EndReason::kEvicted);
}

void Tracker::Impl::Emit(const Session& s, EndReason reason, bool continuing) {
  if (OutputFull()) {
    ++counters_.records_dropped;
    return;
  }
  uint32_t at = out_head_ + out_count_;
  if (at >= cfg_.output_capacity) at -= cfg_.output_capacity;
  BuildRecord(s, reason, continuing, out_[at]);
  ++out_count_;
}

void Tracker::Impl::End(uint32_t idx, EndReason reason) {
  Session& s = table_.at(idx);
  // An attempt still waiting when its session ends was never answered.
  for (uint8_t side = 0; side < 2 && contacts_on_; ++side) {
    if (s.side[side].contact == kContactPending) {
      s.side[side].contact = kContactDecided;
      EmitContact(s, side, ContactOutcome::kSilent,
                  std::min(s.last_time_us, FirstTime(s) + cfg_.attempt_timeout_us));
    }
  }
  Emit(s, reason, /*continuing=*/false);
  wheel_.Cancel(idx);
  table_.Erase(idx);
  ++counters_.sessions_ended;
  --counters_.sessions_active;
}

// How many entries ahead FlushSome() prefetches the index slot to erase.
constexpr uint32_t kFlushAhead = 16;

bool Tracker::Impl::FlushSome(EndReason reason, uint64_t now) {
  if (contacts_on_ && !ExpireAttempts(now, /*bounded=*/true)) return false;
  const uint32_t cap = table_.capacity();
  while (table_.size() > 0) {
    if (OutputFull()) return false;
    if (flush_cursor_ >= cap) flush_cursor_ = 0;
    const uint32_t idx = flush_cursor_;
    const Session& s = table_.at(idx);
    // Its silent events (one per side still waiting) need room too.
    if (contacts_on_ && s.live &&
        !ContactRoomFor((s.side[0].contact == kContactPending) +
                        (s.side[1].contact == kContactPending))) {
      return false;
    }
    ++flush_cursor_;
    // The walk is sequential, the index slots each End() erases are not:
    // their lines come in while the entries before are recorded.
    if (idx + kFlushAhead < cap && table_.at(idx + kFlushAhead).live) {
      table_.PrefetchSlotOf(idx + kFlushAhead);
    }
    // Due but not yet fired (the wheel is up to a tick late): its own reason.
    if (s.live) End(idx, Expired(s, now) ? ExpiryReason(s) : reason);
  }
  flush_cursor_ = 0;
  return true;
}

std::span<const SessionRecord> Tracker::Impl::PeekOutput() const {
  return OldestStretch(out_.get(), cfg_.output_capacity, out_head_, out_count_);
}

void Tracker::Impl::DropOutput(size_t n) {
  PopOldest(n, cfg_.output_capacity, &out_head_, &out_count_);
}

size_t Tracker::Impl::Drain(std::span<SessionRecord> out) {
  return DrainQueue(
      out, [this] { return PeekOutput(); }, [this](size_t k) { DropOutput(k); });
}

void Tracker::Impl::BuildRecord(const Session& s, EndReason reason, bool continuing,
                                SessionRecord& r) const {
  const uint8_t c = s.client_side, v = 1 - c;
  const SideState& cs = s.side[c];
  const SideState& ss = s.side[v];
  const SessionCold& cold = table_.cold(s);
  const bool tcp = s.key.protocol == packet::kProtoTcp;
  const bool icmp = IsIcmp(s.key.protocol);
  // Zeroed padding too: records are copied through rings and compared
  // bytewise. In 16-byte stores: memset became a rep stos whose start-up
  // cost a tenth of an eviction (perf, SYN flood).
  static_assert(sizeof(SessionRecord) % 16 == 0);
  char* bytes = reinterpret_cast<char*>(&r);
#pragma GCC unroll 16
  for (size_t i = 0; i < sizeof(r); i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes + i), _mm_setzero_si128());
  }
  r.session_id = cold.session_id;
  r.client_ip = Addr(s, c);
  r.server_ip = Addr(s, v);
  if (icmp) {
    // The client's first message; a reply-only conversation reports the
    // request type its replies answer.
    const bool client_sent = Packets(s, c) != 0;
    r.client_port = client_sent ? cold.icmp_first_type[c] : s.key.lo_port;
    r.server_port = client_sent ? cold.icmp_first_code[c] : cold.icmp_first_code[v];
    r.icmp_id = s.key.hi_port;
  } else {
    r.client_port = Port(s, c);
    r.server_port = Port(s, v);
  }
  r.protocol = s.key.protocol;
  r.ip_version = s.key.ip_version;
  r.confidence = ConfidenceOf(s.role_source);
  r.transient_server = s.transient_side == v;
  r.inbound = cold.inbound;
  r.full_analysis = s.full_analysis;
  r.continuing = continuing;
  r.server_isn_changed = cold.server_isn_changed;
  r.client_first_flags = cold.side[c].first_flags;
  r.server_first_flags = cold.side[v].first_flags;
  r.client_flags = cs.flags;
  r.server_flags = ss.flags;
  r.first_data_sender = SideOf(s.first_data_side, c);
  r.shutdown_initiator = SideOf(s.shutdown_side, c);
  r.shutdown_kind = s.shutdown_kind;
  r.end_reason = reason;

  ConnStateInput in;
  in.protocol = s.key.protocol;
  in.orig = cs.tcp_state();
  in.resp = ss.tcp_state();
  in.orig_bytes = cs.seq.Bytes();
  in.resp_bytes = ss.seq.Bytes();
  in.orig_syn_then_rst =
      (cold.side[c].first_flags & (packet::kTcpSyn | packet::kTcpAck)) == packet::kTcpSyn &&
      !cs.acked_or_fin;
  in.orig_packets = Packets(s, c);
  in.resp_packets = Packets(s, v);
  r.conn_state = ComputeConnState(in);

  r.vlan_count = cold.vlan_count;
  r.vlan_outer = cold.vlan_outer;
  r.vlan_inner = cold.vlan_inner;
  r.input_port = cold.input_port;
  r.worker_id = cfg_.worker_id;
  r.fragments = cold.fragments;
  r.client_payload_bytes = PayloadBytes(s, c);
  r.server_payload_bytes = PayloadBytes(s, v);
  r.client_packets = in.orig_packets;
  r.server_packets = in.resp_packets;
  if (tcp) {
    r.client_first_seq = cold.side[c].first_seq;
    r.server_first_seq = cold.side[v].first_seq;
    r.client_last_seq = cs.last_seq;
    r.server_last_seq = ss.last_seq;
    r.client_bytes = in.orig_bytes;
    r.server_bytes = in.resp_bytes;
  }
  r.first_time_us = cold.first_time_us;
  r.last_time_us = s.last_time_us;
  if (s.full_analysis) {
    r.client_fingerprint = cold.side[c].fingerprint;
    r.server_fingerprint = cold.side[v].fingerprint;
    r.client_simhash = cold.side[c].simhash;
    r.server_simhash = cold.side[v].simhash;
  }
  r.client_first_data_len = cold.side[c].first_data_len;
  r.server_first_data_len = cold.side[v].first_data_len;
}

// ---------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Tracker>> Tracker::Create(const TrackerConfig& config) {
  if (config.worker_id > 255) {
    return absl::InvalidArgumentError(absl::StrCat(
        "worker id ", config.worker_id, " does not fit the 8 bits session ids reserve for it"));
  }
  if (config.capacity == 0 || config.capacity > SessionTable::kMaxCapacity) {
    return absl::InvalidArgumentError(absl::StrCat("table size must be in [1, ",
                                                   SessionTable::kMaxCapacity, "] sessions, got ",
                                                   config.capacity));
  }
  if (config.output_capacity == 0 || config.output_capacity > (1u << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output queue capacity must be in [1, 16777216] records, got ", config.output_capacity));
  }
  const struct {
    const char* name;
    uint64_t value;
  } timeouts[] = {
      {"TCP SYN timeout", config.tcp_syn_timeout_us},
      {"TCP idle timeout", config.tcp_established_timeout_us},
      {"TCP closing timeout", config.tcp_closing_timeout_us},
      {"UDP timeout", config.udp_timeout_us},
      {"ICMP timeout", config.icmp_timeout_us},
      {"other-protocol timeout", config.other_timeout_us},
  };
  constexpr uint64_t kMaxTimeoutUs = uint64_t{1} << 50;  // ~35 years: no overflow
  for (const auto& t : timeouts) {
    if (t.value == 0 || t.value > kMaxTimeoutUs) {
      return absl::InvalidArgumentError(
          absl::StrCat(t.name, " must be positive and below 2^50 us, got ", t.value, " us"));
    }
  }
  if (config.tcp_linger_us > kMaxTimeoutUs || config.active_timeout_us > kMaxTimeoutUs ||
      config.attempt_timeout_us > kMaxTimeoutUs) {
    return absl::InvalidArgumentError(
        "TCP linger, active and attempt timeouts must be below 2^50 us");
  }
  if (config.attempt_timeout_us != 0 &&
      (config.contact_capacity == 0 || config.contact_capacity > (1u << 24))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "contact queue capacity must be in [1, 16777216] events, got ", config.contact_capacity));
  }
  auto impl = std::make_unique<Impl>(config);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Tracker>(new Tracker(std::move(impl)));
}

std::vector<MemoryRegion> Tracker::MappedRegions() const { return impl_->MappedRegions(); }

uint64_t Tracker::MemoryBytes(const TrackerConfig& config) {
  uint64_t contacts = 0;
  if (config.attempt_timeout_us != 0) {
    contacts = uint64_t{config.capacity} * kAttemptBytes +
               uint64_t{config.contact_capacity} * sizeof(ContactEvent);
  }
  return SessionTable::BytesFor(config.capacity) +
         TimerWheel::BytesFor(config.capacity, kWheelSlots) +
         uint64_t{config.output_capacity} * sizeof(SessionRecord) + contacts;
}

Tracker::Tracker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tracker::~Tracker() = default;

void Tracker::Process(const packet::ParsedPacket& pkt, PacketTime t, uint16_t input_port) {
  impl_->Process(pkt, t, input_port);
}
void Tracker::ProcessBurst(std::span<const packet::ParsedPacket> pkts,
                           std::span<const PacketTime> times, uint16_t input_port) {
  impl_->ProcessBurst(pkts, times, input_port);
}
void Tracker::ProcessBurst(std::span<const packet::ParsedPacket> pkts,
                           std::span<const uint64_t> now_us, uint16_t input_port) {
  constexpr size_t kChunk = 64;
  PacketTime times[kChunk];
  const size_t total = std::min(pkts.size(), now_us.size());
  for (size_t base = 0; base < total; base += kChunk) {
    const size_t n = std::min(kChunk, total - base);
    for (size_t i = 0; i < n; ++i) times[i] = PacketTime{now_us[base + i], now_us[base + i]};
    impl_->ProcessBurst(pkts.subspan(base, n), std::span<const PacketTime>(times, n), input_port);
  }
}
void Tracker::ProcessFragment(const packet::ParsedPacket& pkt, PacketTime t) {
  impl_->ProcessFragment(pkt, t);
}
bool Tracker::Advance(uint64_t clock_us, size_t max_records) {
  return impl_->Advance(clock_us, max_records);
}
bool Tracker::FlushSome(EndReason reason, uint64_t now_us) {
  return impl_->FlushSome(reason, now_us);
}
size_t Tracker::Drain(std::span<SessionRecord> out) { return impl_->Drain(out); }
size_t Tracker::PendingOutput() const { return impl_->PendingOutput(); }
std::span<const SessionRecord> Tracker::PeekOutput() const { return impl_->PeekOutput(); }
void Tracker::DropOutput(size_t n) { impl_->DropOutput(n); }
size_t Tracker::DrainContacts(std::span<ContactEvent> out) { return impl_->DrainContacts(out); }
size_t Tracker::PendingContacts() const { return impl_->PendingContacts(); }
std::span<const ContactEvent> Tracker::PeekContacts() const { return impl_->PeekContacts(); }
void Tracker::DropContacts(size_t n) { impl_->DropContacts(n); }
const TrackerCounters& Tracker::counters() const { return impl_->counters(); }

void Tracker::SetProtectedNetworks(const Networks* nets) { impl_->SetProtectedNetworks(nets); }

}  // namespace flowtrail::session
