// Records of one scan outcome each, for the scan-table and report tests.
#pragma once

#include <cstdint>

#include "analytics/scan_table.h"
#include "record/session_record.h"

namespace flowtrail::analytics::testing {

inline constexpr uint64_t kS = 1'000'000;
inline constexpr uint64_t kBase = 1'700'000'000 * kS;

// A TCP record from `client` to `server`:`port` with outcome `o`, starting
// `t_s` seconds after kBase; a kData session's client sent `data_bytes`.
inline record::SessionRecord ScanRecord(uint32_t client, uint32_t server, uint16_t port, Outcome o,
                                        uint64_t t_s, uint64_t data_bytes) {
  record::SessionRecord r;
  r.protocol = 6;
  r.ip_version = 4;
  r.client_ip = IpAddress::FromV4(client);
  r.server_ip = IpAddress::FromV4(server);
  r.client_port = 40000;
  r.server_port = port;
  r.client_flags = 0x02;
  r.first_time_us = kBase + t_s * kS;
  r.last_time_us = r.first_time_us + 1000;
  switch (o) {
    case Outcome::kReject:
      r.server_flags = 0x14;
      r.conn_state = record::ConnState::kREJ;
      break;
    case Outcome::kSilent:
      r.conn_state = record::ConnState::kS0;
      break;
    case Outcome::kSuccess:
    case Outcome::kData:
      r.client_flags = 0x1b;
      r.server_flags = 0x12;
      r.conn_state = record::ConnState::kSF;
      r.client_bytes = o == Outcome::kData ? data_bytes : 0;
      break;
    case Outcome::kNone:
      break;
  }
  return r;
}

}  // namespace flowtrail::analytics::testing
