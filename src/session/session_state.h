// The live state of one session, as kept in the table (one entry per session,
// key inside). Per-side fields are stored by endpoint of the canonical key
// (side 0 = the key's lo endpoint, side 1 = hi), and `client_side` says which
// of them is the client: fixing the roles later (a SYN seen after other
// packets) is then a single toggle, and every per-side field follows.
#pragma once

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

struct SideState {
  uint64_t packets = 0;
  uint64_t payload_bytes = 0;
  TcpSequence seq;
  uint64_t simhash = 0;
  uint32_t fp_seq = 0;  // sequence number of the fingerprinted segment
  uint32_t first_seq = 0;
  uint32_t last_seq = 0;
  uint32_t fingerprint = 0;
  uint16_t first_data_len = 0;
  uint8_t first_flags = 0;
  uint8_t flags = 0;
  TcpEndpointState tcp_state = TcpEndpointState::kInactive;
  uint8_t icmp_first_type = 0;
  uint8_t icmp_first_code = 0;
  bool isn_seen = false;      // first_seq is this side's SYN / SYN-ACK ISN
  bool acked_or_fin = false;  // sent a pure ACK or a FIN (RSTOS0 test)
  // Receive window this side advertised, for the plausible-sequence bound of
  // the peer's segments: largest raw window of non-SYN segments (scaled only
  // once both SYNs showed the option), its SYN's window, and its SYN's window
  // scale (packet::kNoWindowScale = none or no SYN seen).
  uint16_t max_window = 0;
  uint16_t syn_window = 0;
  uint8_t wscale = packet::kNoWindowScale;
  // This side's first contact as a client (its SYN): ContactState. Lives in
  // the struct's tail padding, so the session does not grow.
  uint8_t contact = 0;
};

static_assert(sizeof(SideState) == 80);

struct Session {
  SessionKey key;
  uint32_t hash = 0;
  bool live = false;
  uint8_t client_side = 0;  // 0 or 1: which endpoint is the client
  RoleSource role_source = RoleSource::kFirstPacket;
  uint8_t first_data_side = 2;  // 0/1, 2 = none yet
  uint8_t shutdown_side = 2;    // 0/1, 2 = none yet
  ShutdownKind shutdown_kind = ShutdownKind::kNone;
  uint8_t transient_side = 2;  // endpoint announced on an FTP control channel
  bool fin[2] = {false, false};
  bool rst = false;
  bool inbound = false;
  bool full_analysis = false;
  bool server_isn_changed = false;
  uint8_t vlan_count = 0;
  uint16_t vlan_outer = 0;
  uint16_t vlan_inner = 0;
  uint16_t input_port = 0;
  uint32_t fragments = 0;
  uint64_t session_id = 0;
  // Capture times as written (records), and the clock time idle decisions
  // use; the active-timeout period and the wheel deadline are clock times.
  uint64_t first_time_us = 0;
  uint64_t last_time_us = 0;
  uint64_t last_clock_us = 0;
  uint64_t active_start_us = 0;  // start of the current active-timeout period
  uint64_t scheduled_us = 0;     // deadline the timer wheel holds for us
  SideState side[2];

  bool Closed() const { return rst || (fin[0] && fin[1]); }
};
// 8 bytes more than before issue 6 (the clock time); keep it from growing.
static_assert(sizeof(Session) == 280);

}  // namespace flowtrail::session
