// Zeek's connection-state vocabulary (scripts/base/protocols/conn/main.zeek,
// `conn_state()`), computed from per-endpoint TCP states that follow Zeek's
// endpoint state machine in simplified form.
#pragma once

#include <cstdint>

#include "packet/parsed_packet.h"
#include "session/record_types.h"
#include "session/session_state.h"

namespace flowtrail::session {

// Moves endpoint `self` (sender of a packet with `flags` and `payload_len`)
// and, when the handshake completes, its peer. Inline: every TCP packet runs it.
inline void UpdateTcpEndpointStates(uint8_t flags, uint32_t payload_len, TcpEndpointState* self,
                                    TcpEndpointState* peer) {
  using S = TcpEndpointState;
  const bool syn = flags & packet::kTcpSyn;
  const bool ack = flags & packet::kTcpAck;
  const bool fin = flags & packet::kTcpFin;
  if (flags & packet::kTcpRst) {
    *self = S::kReset;
    return;
  }
  if (*self == S::kReset) {
    return;
  }
  if (syn) {
    if (*self == S::kInactive) {
      *self = ack ? S::kSynAckSent : S::kSynSent;
    }
  } else if (ack || payload_len > 0 || fin) {
    const bool self_hs = *self == S::kSynSent || *self == S::kSynAckSent;
    const bool peer_hs = *peer == S::kSynSent || *peer == S::kSynAckSent;
    if (self_hs && (peer_hs || *peer == S::kEstablished)) {
      // The ACK that completes the three-way handshake.
      *self = S::kEstablished;
      if (peer_hs) {
        *peer = S::kEstablished;
      }
    } else if (*self == S::kInactive) {
      *self = S::kPartial;
    }
  }
  if (fin && *self != S::kReset) {
    *self = S::kClosed;
  }
}

struct ConnStateInput {
  uint8_t protocol = 0;
  // TCP: endpoint states of the originator (client) and responder (server).
  TcpEndpointState orig = TcpEndpointState::kInactive;
  TcpEndpointState resp = TcpEndpointState::kInactive;
  uint64_t orig_bytes = 0;  // sequence-derived
  uint64_t resp_bytes = 0;
  // The originator's history matches ^S[^HAFGIQ]*R: SYN first, then a RST,
  // with no ACK-only packet or FIN from it in between.
  bool orig_syn_then_rst = false;
  // UDP (and other non-TCP): did each side send anything.
  uint64_t orig_packets = 0;
  uint64_t resp_packets = 0;
};

ConnState ComputeConnState(const ConnStateInput& in);

}  // namespace flowtrail::session
