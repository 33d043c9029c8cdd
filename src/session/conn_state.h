// Zeek's connection-state vocabulary (scripts/base/protocols/conn/main.zeek,
// `conn_state()`), computed from per-endpoint TCP states that follow Zeek's
// endpoint state machine in simplified form.
#pragma once

#include <cstdint>

#include "session/record_types.h"
#include "session/session_state.h"

namespace flowtrail::session {

// Moves endpoint `self` (sender of a packet with `flags` and `payload_len`)
// and, when the handshake completes, its peer.
void UpdateTcpEndpointStates(uint8_t flags, uint32_t payload_len, TcpEndpointState* self,
                             TcpEndpointState* peer);

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
