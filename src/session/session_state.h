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
struct SideState {
  uint64_t packets = 0;
  uint64_t payload_bytes = 0;
  TcpSequence seq;
  uint32_t fp_seq = 0;  // sequence number of the fingerprinted segment
  uint32_t last_seq = 0;
  uint16_t first_data_len = 0;
  // Receive window this side advertised, for the plausible-sequence bound of
  // the peer's segments: largest raw window of non-SYN segments (scaled only
  // once both SYNs showed the option), its SYN's window, and its SYN's window
  // scale (packet::kNoWindowScale = none or no SYN seen).
  uint16_t max_window = 0;
  uint16_t syn_window = 0;
  uint8_t flags = 0;
  TcpEndpointState tcp_state = TcpEndpointState::kInactive;
  uint8_t wscale = packet::kNoWindowScale;
  bool isn_seen = false;      // first_seq is this side's SYN / SYN-ACK ISN
  bool acked_or_fin = false;  // sent a pure ACK or a FIN (RSTOS0 test)
  // This side's first contact as a client (its SYN): ContactState.
  uint8_t contact = 0;
};
static_assert(sizeof(SideState) == 56);

// The hot part of a session: everything an established session's packet
// reads or writes (the key for the lookup, times, both sides), in three
// whole cache lines. What only first packets, first data, the timer wheel and
// record building need lives in SessionCold, under the same index.
struct alignas(64) Session {
  SessionKey key;
  bool live = false;
  uint8_t client_side = 0;  // 0 or 1: which endpoint is the client
  RoleSource role_source = RoleSource::kFirstPacket;
  uint8_t first_data_side = 2;  // 0/1, 2 = none yet
  uint8_t shutdown_side = 2;    // 0/1, 2 = none yet
  ShutdownKind shutdown_kind = ShutdownKind::kNone;
  uint8_t transient_side = 2;  // endpoint announced on an FTP control channel
  bool fin[2] = {false, false};
  bool rst = false;
  bool full_analysis = false;
  // The clock time idle decisions use (in the first line, with the key and
  // `live`: the lookup's expiry check and eviction's sampling read one line),
  // and the capture times as written (records).
  uint64_t last_clock_us = 0;
  uint64_t first_time_us = 0;
  uint64_t last_time_us = 0;
  SideState side[2];

  bool Closed() const { return rst || (fin[0] && fin[1]); }
};
// Three cache lines; key, flags and last_clock_us fill the first.
static_assert(sizeof(Session) == 192);
static_assert(offsetof(Session, last_clock_us) == 56 && offsetof(Session, first_time_us) == 64);

// The cold side of one endpoint: first packet and first data only.
struct ColdSide {
  uint64_t simhash = 0;
  uint32_t fingerprint = 0;
  uint32_t first_seq = 0;
};

// The cold part of a session (SessionTable::cold()): written on the first
// packets, on first data and by the timer wheel, read to build the record.
struct SessionCold {
  uint64_t session_id = 0;
  // Clock times: the start of the current active-timeout period and the
  // deadline the timer wheel holds (0 = none). The packet path reads them
  // only when the session's idle timeout shrank (tracker.cc).
  uint64_t active_start_us = 0;
  uint64_t scheduled_us = 0;
  ColdSide side[2];
  uint32_t hash = 0;  // the index's hash, for Erase(); once erased, the next free entry
  uint32_t fragments = 0;
  uint16_t vlan_outer = 0;
  uint16_t vlan_inner = 0;
  uint16_t input_port = 0;
  uint8_t vlan_count = 0;
  bool inbound = false;
  bool server_isn_changed = false;
  uint8_t first_flags[2] = {0, 0};
  uint8_t icmp_first_type[2] = {0, 0};
  uint8_t icmp_first_code[2] = {0, 0};
};
static_assert(sizeof(SessionCold) == 80);

}  // namespace flowtrail::session
