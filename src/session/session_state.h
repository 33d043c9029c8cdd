// The live state of one session, as kept in the table (one entry per session,
// key inside). Per-side fields are stored by endpoint of the canonical key
// (side 0 = the key's lo endpoint, side 1 = hi), and `client_side` says which
// of them is the client: fixing the roles later (a SYN seen after other
// packets) is then a single toggle, and every per-side field follows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packet/parsed_packet.h"
#include "session/record_types.h"
#include "session/session_key.h"
#include "session/tcp_sequence.h"

namespace flowtrail::session {

// Zeek's TCP endpoint states (TCP_Endpoint.h), from which conn_state follows.
enum class TcpEndpointState : uint8_t {
  kInactive,
  kSynSent,
  kSynAckSent,
  kPartial,
  kEstablished,
  kClosed,
  kReset,
};

// What decided who the client is; a later, stronger source may fix the roles,
// a weaker one never does.
enum class RoleSource : uint8_t {
  kFirstPacket = 0,  // LOW
  kServicePort = 1,  // MEDIUM
  kReply = 2,        // SYN-ACK (ICMP reply) seen, no SYN: MEDIUM
  kRequest = 3,      // SYN (ICMP request) seen: HIGH
};

inline Confidence ConfidenceOf(RoleSource s) {
  switch (s) {
    case RoleSource::kRequest:
      return Confidence::kHigh;
    case RoleSource::kReply:
    case RoleSource::kServicePort:
      return Confidence::kMedium;
    default:
      return Confidence::kLow;
  }
}

// A side's first contact (tracker.h, contact_event.h): none (no SYN from it),
// waiting for the peer's answer, or its event emitted.
enum ContactState : uint8_t { kContactNone = 0, kContactPending = 1, kContactDecided = 2 };

// The per-packet state of one side (hot: read or written by most packets).
// Packet and payload-byte counts keep their low 32 bits here and the carries
// in ColdSide (at most one per 2^32 packets or bytes; tracker.cc).
struct SideState {
  TcpSequence seq;
  uint32_t packets = 0;        // low word; ColdSide::packets_hi
  uint32_t payload_bytes = 0;  // low word; ColdSide::payload_hi
  uint32_t last_seq = 0;
  // Largest raw receive window this side advertised in non-SYN segments, for
  // the plausible-sequence bound of the peer's segments (scaled by
  // Session::window_shift once both SYNs showed the option).
  uint16_t max_window = 0;
  uint8_t flags = 0;
  uint8_t state : 3 = 0;           // TcpEndpointState: tcp_state()
  uint8_t isn_seen : 1 = 0;        // first_seq is this side's SYN / SYN-ACK ISN
  uint8_t acked_or_fin : 1 = 0;    // sent a pure ACK or a FIN (RSTOS0 test)
  uint8_t contact : 2 = 0;         // this side's first contact as a client: ContactState
  uint8_t has_first_data : 1 = 0;  // ColdSide::first_data_len and fp_seq are set

  TcpEndpointState tcp_state() const { return static_cast<TcpEndpointState>(state); }
  void set_tcp_state(TcpEndpointState s) { state = static_cast<uint8_t>(s); }
};
static_assert(sizeof(SideState) == 28);

// The hot part of a session: everything an established session's packet
// reads or writes (the key for the lookup, times, both sides), in two whole
// cache lines. What only first packets, first data, the timer wheel and
// record building need lives in SessionCold, under the same index.
struct alignas(64) Session {
  SessionKey key;
  bool live = false;
  uint8_t client_side = 0;  // 0 or 1: which endpoint is the client
  RoleSource role_source = RoleSource::kFirstPacket;
  uint8_t first_data_side : 2 = 2;  // 0/1, 2 = none yet
  uint8_t shutdown_side : 2 = 2;    // 0/1, 2 = none yet
  uint8_t transient_side : 2 = 2;   // endpoint announced on an FTP control channel
  // Bit per side: its fingerprinted segment was not taken into the sequence
  // accounting, so any later segment may lie before it (tracker.cc).
  uint8_t fp_untrusted : 2 = 0;
  ShutdownKind shutdown_kind = ShutdownKind::kNone;
  bool fin[2] = {false, false};
  bool rst = false;
  bool full_analysis = false;
  // Per side (4 bits each, side 0 low): the shift of its max_window, its SYN's
  // window scale (at most 14) once both SYNs carried the option, else 0.
  uint8_t window_shift = 0;
  // Per side (4 bits each, side 0 low): where its fingerprinted segment
  // starts above its lowest start, 0..14, while that is known; 15 = unknown,
  // the cold fp_seq decides (tracker.cc EarlierThanFingerprinted()).
  uint8_t fp_gap = 0xff;
  // The clock time idle decisions use (in the first line, with the key and
  // `live`: the lookup's expiry check and eviction's sampling read one line),
  // and the latest capture time as written (records; the first is cold).
  uint64_t last_clock_us = 0;
  uint64_t last_time_us = 0;
  SideState side[2];

  bool Closed() const { return rst || (fin[0] && fin[1]); }
};
// Two cache lines; key, flags and last_clock_us fill the first.
static_assert(sizeof(Session) == 128);
static_assert(offsetof(Session, last_clock_us) == 56 && offsetof(Session, side) == 72);

// The cold side of one endpoint: first packet, first data, counter carries.
struct ColdSide {
  uint64_t simhash = 0;
  uint32_t fingerprint = 0;
  uint32_t first_seq = 0;
  uint32_t fp_seq = 0;  // sequence number of the fingerprinted segment
  // High words of SideState::packets and payload_bytes.
  uint32_t packets_hi = 0;
  uint32_t payload_hi = 0;
  uint16_t first_data_len = 0;
  // Its SYN's window scale (packet::kNoWindowScale = none or no SYN seen).
  uint8_t wscale = packet::kNoWindowScale;
  uint8_t first_flags = 0;
};
static_assert(sizeof(ColdSide) == 32);

// The cold part of a session (SessionTable::cold()): written on the first
// packets, on first data and by the timer wheel, read to build the record.
struct SessionCold {
  // Once erased, the low 32 bits link the table's free list (session_table.h).
  uint64_t session_id = 0;
  // Clock times: the start of the current active-timeout period and the
  // deadline the timer wheel holds (0 = none). The packet path reads them
  // only when the session's idle timeout shrank (tracker.cc).
  uint64_t active_start_us = 0;
  uint64_t scheduled_us = 0;
  // The earliest capture time (a packet reads it only when its capture time
  // lies before the latest one).
  uint64_t first_time_us = 0;
  ColdSide side[2];
  uint32_t fragments = 0;
  uint16_t vlan_outer = 0;
  uint16_t vlan_inner = 0;
  uint16_t input_port = 0;
  uint8_t vlan_count : 4 = 0;  // up to packet::kMaxVlanTags (8)
  uint8_t inbound : 1 = 0;
  uint8_t server_isn_changed : 1 = 0;
  uint8_t icmp_first_type[2] = {0, 0};
  uint8_t icmp_first_code[2] = {0, 0};
};
static_assert(sizeof(SessionCold) == 112);

}  // namespace flowtrail::session
