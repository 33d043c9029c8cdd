// Which session a fragmented datagram belongs to: the first fragment (L4
// header present) is tracked normally and leaves (src, dst, protocol, IP id)
// -> session here, so later fragments, which carry no ports, can be
// attributed to it. Direct-mapped and fixed-size: a collision overwrites, an
// entry expires after `kTtlUs` (a typical reassembly timeout), and the
// session id guards against a reused table entry.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "common/ip_address.h"
#include "packet/parsed_packet.h"

namespace flowtrail::session {

class FragmentMap {
 public:
  static constexpr uint32_t kSlots = 1024;
  static constexpr uint64_t kTtlUs = 30'000'000;

  void Remember(const packet::ParsedPacket& p, uint32_t session_idx, uint64_t session_id,
                uint64_t now_us) {
    Entry& e = entries_[SlotOf(p)];
    e.src = p.src;
    e.dst = p.dst;
    e.fragment_id = p.fragment_id;
    e.protocol = p.protocol;
    e.ip_version = p.ip_version;
    e.session_idx = session_idx;
    e.session_id = session_id;
    e.expires_us = now_us + kTtlUs;
  }

  // Returns true and the session of a later fragment's datagram, if known.
  bool Find(const packet::ParsedPacket& p, uint64_t now_us, uint32_t* session_idx,
            uint64_t* session_id) const {
    const Entry& e = entries_[SlotOf(p)];
    if (e.session_id == 0 || now_us > e.expires_us || e.fragment_id != p.fragment_id ||
        e.protocol != p.protocol || e.ip_version != p.ip_version || !(e.src == p.src) ||
        !(e.dst == p.dst)) {
      return false;
    }
    *session_idx = e.session_idx;
    *session_id = e.session_id;
    return true;
  }

 private:
  struct Entry {
    IpAddress src;
    IpAddress dst;
    uint64_t session_id = 0;  // 0 = empty (real ids count from 1)
    uint64_t expires_us = 0;
    uint32_t fragment_id = 0;
    uint32_t session_idx = 0;
    uint8_t protocol = 0;
    uint8_t ip_version = 0;
  };

  static uint32_t SlotOf(const packet::ParsedPacket& p) {
    uint32_t h = p.fragment_id * 0x9e3779b1u;
    uint32_t a, b;
    std::memcpy(&a, p.src.bytes.data() + 12 * (p.ip_version == 6), 4);
    std::memcpy(&b, p.dst.bytes.data() + 12 * (p.ip_version == 6), 4);
    h ^= (a * 0x85ebca6bu) ^ (b * 0xc2b2ae35u) ^ p.protocol;
    h ^= h >> 15;
    return h % kSlots;
  }

  std::array<Entry, kSlots> entries_{};
};

}  // namespace flowtrail::session
