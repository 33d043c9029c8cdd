// The analytics lcore's first consumer: counts finished records by protocol
// and by Zeek conn_state. The real analytics (scan table, client-port
// distributions, SPEC §5) will be further consumers fed the same batches by
// the same lcore, and the offline tools can run them on record files.
// DPDK-free; owned by one thread (the analytics lcore).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "record/session_record.h"

namespace flowtrail::analytics {

class RecordCounts {
 public:
  void Consume(std::span<const record::SessionRecord> records);

  uint64_t records() const { return records_; }
  uint64_t by_protocol(uint8_t protocol) const { return by_protocol_[protocol]; }
  uint64_t by_conn_state(record::ConnState s) const {
    return by_conn_state_[static_cast<uint8_t>(s) % kConnStates];
  }
  // {"records":N,"by_protocol":{"tcp":N,...},"by_conn_state":{"SF":N,...}};
  // only non-zero entries are listed.
  std::string ToJson() const;

  static constexpr size_t kConnStates = 14;

 private:
  uint64_t records_ = 0;
  std::array<uint64_t, 256> by_protocol_{};
  std::array<uint64_t, kConnStates> by_conn_state_{};
};

// "tcp", "udp", "icmp", "icmpv6", or the number.
std::string ProtocolName(uint8_t protocol);

}  // namespace flowtrail::analytics
