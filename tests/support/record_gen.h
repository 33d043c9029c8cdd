// Random plain session records with every field set (fixed-seed generators in
// property tests and benchmarks). Header-only; users link session/common.
#pragma once

#include <cstdint>
#include <random>

#include "record/session_record.h"

namespace flowtrail::testing {

inline record::SessionRecord RandomRecord(std::mt19937_64& rng) {
  auto u = [&rng](uint64_t max) { return std::uniform_int_distribution<uint64_t>(0, max)(rng); };
  auto any64 = [&rng] { return static_cast<uint64_t>(rng()); };
  auto big = [&](void) -> uint64_t {
    // Mostly realistic counters, sometimes the extremes of the type.
    switch (u(3)) {
      case 0:
        return u(100);
      case 1:
        return u(1'000'000);
      case 2:
        return any64();
      default:
        return UINT64_MAX;
    }
  };
  record::SessionRecord r;
  r.session_id = any64();
  r.ip_version = u(1) ? 6 : 4;
  for (size_t i = 0; i < (r.ip_version == 6 ? 16u : 4u); ++i) {
    r.client_ip.bytes[i] = static_cast<uint8_t>(u(255));
    r.server_ip.bytes[i] = static_cast<uint8_t>(u(255));
  }
  r.client_port = static_cast<uint16_t>(u(65535));
  r.server_port = static_cast<uint16_t>(u(65535));
  r.protocol = static_cast<uint8_t>(u(255));
  r.confidence = static_cast<record::Confidence>(u(2));
  r.transient_server = u(1);
  r.inbound = u(1);
  r.full_analysis = u(1);
  r.continuing = u(1);
  r.server_isn_changed = u(1);
  r.client_first_flags = static_cast<uint8_t>(u(255));
  r.server_first_flags = static_cast<uint8_t>(u(255));
  r.client_flags = static_cast<uint8_t>(u(255));
  r.server_flags = static_cast<uint8_t>(u(255));
  r.first_data_sender = static_cast<record::Side>(u(2));
  r.shutdown_initiator = static_cast<record::Side>(u(2));
  r.shutdown_kind = static_cast<record::ShutdownKind>(u(2));
  r.end_reason = static_cast<record::EndReason>(u(8));
  r.conn_state = static_cast<record::ConnState>(u(13));
  r.vlan_count = static_cast<uint8_t>(u(3));
  r.vlan_outer = static_cast<uint16_t>(u(4095));
  r.vlan_inner = static_cast<uint16_t>(u(4095));
  r.input_port = static_cast<uint16_t>(u(65535));
  r.icmp_id = static_cast<uint16_t>(u(65535));
  r.worker_id = static_cast<uint16_t>(u(65535));
  r.fragments = static_cast<uint32_t>(u(UINT32_MAX));
  r.client_payload_bytes = big();
  r.server_payload_bytes = big();
  r.client_packets = big();
  r.server_packets = big();
  r.client_first_seq = static_cast<uint32_t>(any64());
  r.server_first_seq = static_cast<uint32_t>(any64());
  r.client_last_seq = static_cast<uint32_t>(any64());
  r.server_last_seq = static_cast<uint32_t>(any64());
  r.first_time_us = big();
  r.last_time_us = big();
  r.client_bytes = big();
  r.server_bytes = big();
  r.client_fingerprint = static_cast<uint32_t>(any64());
  r.server_fingerprint = static_cast<uint32_t>(any64());
  r.client_simhash = any64();
  r.server_simhash = any64();
  r.client_first_data_len = static_cast<uint16_t>(u(65535));
  r.server_first_data_len = static_cast<uint16_t>(u(65535));
  return r;
}

// A record with every field non-zero (so an encoder that forgets one is seen).
inline record::SessionRecord FullRecord(uint8_t ip_version) {
  record::SessionRecord r;
  r.session_id = 0x0100000000000007;
  r.ip_version = ip_version;
  for (size_t i = 0; i < 16; ++i) {
    r.client_ip.bytes[i] = static_cast<uint8_t>(0x20 + i);
    r.server_ip.bytes[i] = static_cast<uint8_t>(0x40 + i);
  }
  if (ip_version == 4) {
    for (size_t i = 4; i < 16; ++i) r.client_ip.bytes[i] = r.server_ip.bytes[i] = 0;
  }
  r.client_port = 40000;
  r.server_port = 443;
  r.protocol = 6;
  r.confidence = record::Confidence::kHigh;
  r.transient_server = r.inbound = r.full_analysis = r.continuing = r.server_isn_changed = true;
  r.client_first_flags = 0x02;
  r.server_first_flags = 0x12;
  r.client_flags = 0x1b;
  r.server_flags = 0x1f;
  r.first_data_sender = record::Side::kClient;
  r.shutdown_initiator = record::Side::kServer;
  r.shutdown_kind = record::ShutdownKind::kRst;
  r.end_reason = record::EndReason::kReplaced;
  r.conn_state = record::ConnState::kOTH;
  r.vlan_count = 2;
  r.vlan_outer = 100;
  r.vlan_inner = 200;
  r.input_port = 3;
  r.icmp_id = 7;
  r.worker_id = 1;
  r.fragments = 9;
  r.client_payload_bytes = 5'000'000'000;
  r.server_payload_bytes = 6'000'000'000;
  r.client_packets = 11;
  r.server_packets = 12;
  r.client_first_seq = 0xfffffff0;
  r.server_first_seq = 1;
  r.client_last_seq = 2;
  r.server_last_seq = 3;
  r.first_time_us = 1'700'000'000'000'001;
  r.last_time_us = 1'700'000'123'456'789;
  r.client_bytes = 5'000'000'001;
  r.server_bytes = 6'000'000'001;
  r.client_fingerprint = 0xdeadbeef;
  r.server_fingerprint = 8253;
  r.client_simhash = 0x8000000000000001;
  r.server_simhash = 0xffffffffffffffff;
  r.client_first_data_len = 1460;
  r.server_first_data_len = 17;
  return r;
}

}  // namespace flowtrail::testing
