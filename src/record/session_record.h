// The finished-session record as plain data: what a worker hands to the
// exporter and analytics lcores over rings (copied by value, no protobuf on
// the fast path). Field meanings are those of proto/flowtrail/v1/session.proto.
#pragma once

#include <cstdint>
#include <type_traits>

#include "common/ip_address.h"

namespace flowtrail::record {

// Values equal the proto enums of the same name.
enum class Confidence : uint8_t { kLow = 0, kMedium = 1, kHigh = 2 };
enum class Side : uint8_t { kNone = 0, kClient = 1, kServer = 2 };
enum class ShutdownKind : uint8_t { kNone = 0, kFin = 1, kRst = 2 };
enum class EndReason : uint8_t {
  kUnspecified = 0,
  kClosed = 1,
  kReset = 2,
  kIdleTimeout = 3,
  kActiveTimeout = 4,
  kEvicted = 5,
  kShutdown = 6,
  kEndOfInput = 7,
  kReplaced = 8,
};
enum class ConnState : uint8_t {
  kUnspecified = 0,
  kS0 = 1,
  kS1 = 2,
  kSF = 3,
  kREJ = 4,
  kS2 = 5,
  kS3 = 6,
  kRSTO = 7,
  kRSTR = 8,
  kRSTOS0 = 9,
  kRSTRH = 10,
  kSH = 11,
  kSHR = 12,
  kOTH = 13,
};

struct SessionRecord {
  uint64_t session_id = 0;
  IpAddress client_ip;
  IpAddress server_ip;
  uint16_t client_port = 0;  // ICMP: type
  uint16_t server_port = 0;  // ICMP: code
  uint8_t protocol = 0;
  uint8_t ip_version = 0;
  Confidence confidence = Confidence::kLow;
  bool transient_server = false;
  bool inbound = false;
  bool full_analysis = false;
  bool continuing = false;
  bool server_isn_changed = false;

  uint8_t client_first_flags = 0;
  uint8_t server_first_flags = 0;
  uint8_t client_flags = 0;
  uint8_t server_flags = 0;
  Side first_data_sender = Side::kNone;
  Side shutdown_initiator = Side::kNone;
  ShutdownKind shutdown_kind = ShutdownKind::kNone;
  EndReason end_reason = EndReason::kUnspecified;
  ConnState conn_state = ConnState::kUnspecified;
  uint8_t vlan_count = 0;
  uint16_t vlan_outer = 0;
  uint16_t vlan_inner = 0;
  uint16_t input_port = 0;
  uint16_t icmp_id = 0;
  uint16_t worker_id = 0;
  uint32_t fragments = 0;

  uint64_t client_payload_bytes = 0;
  uint64_t server_payload_bytes = 0;
  uint64_t client_packets = 0;
  uint64_t server_packets = 0;
  uint32_t client_first_seq = 0;
  uint32_t server_first_seq = 0;
  uint32_t client_last_seq = 0;
  uint32_t server_last_seq = 0;
  uint64_t first_time_us = 0;
  uint64_t last_time_us = 0;
  uint64_t client_bytes = 0;  // sequence-derived application bytes
  uint64_t server_bytes = 0;

  uint32_t client_fingerprint = 0;
  uint32_t server_fingerprint = 0;
  uint64_t client_simhash = 0;
  uint64_t server_simhash = 0;
  uint16_t client_first_data_len = 0;
  uint16_t server_first_data_len = 0;
};

// The distance of two SimHash fields (client_simhash, server_simhash): the
// number of differing bits; similarity is 64 minus it.
inline int SimHashDistance(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }

static_assert(std::is_trivially_copyable_v<SessionRecord>);
// rte_ring_create_elem needs a size that is a multiple of 4.
static_assert(sizeof(SessionRecord) % 8 == 0);

}  // namespace flowtrail::record
