// A TCP session's first contact, decided: the tracker emits one per session
// whose client SYN it saw, as soon as the server answers (SYN-ACK: success;
// RST: reject) or `attempt_timeout_us` of clock passes without an answer
// (silent), long before the session's record leaves on its idle timeout.
// Plain data, copied through rings by value like SessionRecord. Live
// analytics (analytics/live_verdicts.h) run a TRW over these.
#pragma once

#include <cstdint>
#include <type_traits>

#include "common/ip_address.h"

namespace flowtrail::record {

enum class ContactOutcome : uint8_t { kSuccess = 1, kReject = 2, kSilent = 3 };

struct ContactEvent {
  uint64_t session_id = 0;
  IpAddress client_ip;  // the SYN's sender
  IpAddress server_ip;
  // Capture (record) times: the session's first packet (its client SYN when
  // that opened it, the usual case), and the deciding packet's time; for a
  // silent attempt first_time_us + attempt_timeout_us, or the session's last
  // packet time when it ended earlier (client RST/FIN, eviction, flush).
  uint64_t first_time_us = 0;
  uint64_t decided_us = 0;
  uint16_t client_port = 0;
  uint16_t server_port = 0;
  // VLAN ids as the session key kept them (0 when not part of the key).
  uint16_t vlan_outer = 0;
  uint16_t vlan_inner = 0;
  uint16_t worker_id = 0;
  uint8_t ip_version = 0;
  ContactOutcome outcome = ContactOutcome::kSilent;
  uint32_t reserved = 0;
};

static_assert(std::is_trivially_copyable_v<ContactEvent>);
// rte_ring_create_elem needs a size that is a multiple of 4.
static_assert(sizeof(ContactEvent) % 8 == 0);

}  // namespace flowtrail::record
