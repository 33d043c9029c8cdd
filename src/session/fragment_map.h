// Which session a fragmented datagram belongs to, and which of its bytes were
// already counted. The first fragment (L4 header present) is tracked normally
// and leaves (src, dst, protocol, IP id, VLAN ids) -> session here, so later
// fragments, which carry no ports, can be attributed to it. Direct-mapped and
// fixed-size: a collision overwrites, an entry expires after `kTtlUs` of clock
// (a typical reassembly timeout), and the session id guards against a reused
// table entry.
//
// Coverage: each entry keeps the datagram's IP-payload byte ranges seen so far
// (up to kRanges disjoint ranges), and a fragment counts only the bytes it
// newly covers, so duplicate and overlapping fragments are counted once. The
// first fragment covers [0, its L4 header + payload_len); its header length is
// not in ParsedPacket, so the protocol's minimum header (TCP 20, UDP and ICMP
// 8) rounded up to the 8-byte fragment unit stands in: never more than the
// true extent, so a later fragment's own bytes are never taken for a repeat.
// When a new range does not fit, it is merged with its nearest neighbour,
// marking the gap between them covered without counting it: bytes may then go
// uncounted, never counted twice.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>

#include "common/hash_mix.h"
#include "common/ip_address.h"
#include "packet/parsed_packet.h"

namespace flowtrail::session {

class FragmentMap {
 public:
  static constexpr uint32_t kSlots = 1024;
  static constexpr uint64_t kTtlUs = 30'000'000;
  static constexpr int kRanges = 4;

  // The slot hash is keyed (by default from the OS): the addresses and IP id
  // come off the wire, and with a fixed hash one forged first fragment
  // aimed at a datagram's slot (its IP id guessed) took its entry, leaving
  // its later fragments unattributed.
  FragmentMap() : FragmentMap(RandomKey(), RandomKey()) {}
  FragmentMap(uint64_t key0, uint64_t key1) : key_{key0, key1} {}

  // Where the datagram of `p` is kept.
  uint32_t SlotOf(const packet::ParsedPacket& p) const {
    uint64_t w[4];
    std::memcpy(w, p.src.bytes.data(), 16);
    std::memcpy(w + 2, p.dst.bytes.data(), 16);
    uint64_t h = key_[0];
    for (uint64_t x : w) {
      h = Fmix64(h ^ x);
    }
    h = Fmix64(h ^ (uint64_t{p.fragment_id} << 8 | p.protocol) ^ key_[1]);
    return static_cast<uint32_t>(h % kSlots);
  }

  // The first fragment of a datagram (again, if duplicated). `vlan_outer/inner`
  // are the key's VLAN ids. Returns the payload bytes (L4 payload, as
  // payload_len counts them) this fragment adds: all of them for a new
  // datagram, only the newly covered ones for a repeat.
  uint32_t RememberFirst(const packet::ParsedPacket& p, uint16_t vlan_outer, uint16_t vlan_inner,
                         uint32_t session_idx, uint64_t session_id, uint64_t now_us) {
    Entry& e = entries_[SlotOf(p)];
    const uint32_t hdr = MinL4Header(p.protocol);
    uint32_t end = hdr + p.payload_len;
    if (p.more_fragments) end = std::max(hdr, (end + 7) & ~uint32_t{7});
    if (Matches(e, p, vlan_outer, vlan_inner, now_us) && e.session_id == session_id) {
      // Only the L4 payload part counts: [0, hdr) is the header.
      return std::min(e.Add(hdr, std::max(hdr, end)), p.payload_len);
    }
    e.src = p.src;
    e.dst = p.dst;
    e.fragment_id = p.fragment_id;
    e.protocol = p.protocol;
    e.ip_version = p.ip_version;
    e.vlan_outer = vlan_outer;
    e.vlan_inner = vlan_inner;
    e.session_idx = session_idx;
    e.session_id = session_id;
    e.expires_us = now_us + kTtlUs;
    e.count = 0;
    e.Add(0, end);
    return p.payload_len;
  }

  // A later fragment: if its datagram is known, returns true with its session
  // and the bytes of [fragment_offset, + payload_len) not covered before.
  bool FindLater(const packet::ParsedPacket& p, uint16_t vlan_outer, uint16_t vlan_inner,
                 uint64_t now_us, uint32_t* session_idx, uint64_t* session_id,
                 uint32_t* new_bytes) {
    Entry& e = entries_[SlotOf(p)];
    if (!Matches(e, p, vlan_outer, vlan_inner, now_us)) return false;
    *session_idx = e.session_idx;
    *session_id = e.session_id;
    *new_bytes = e.Add(p.fragment_offset, uint32_t{p.fragment_offset} + p.payload_len);
    return true;
  }

  static uint32_t MinL4Header(uint8_t protocol) {
    switch (protocol) {
      case packet::kProtoTcp:
        return 20;
      case packet::kProtoUdp:
      case packet::kProtoIcmp:
      case packet::kProtoIcmpV6:
        return 8;
      default:
        return 0;  // other protocols: payload_len is the whole IP payload
    }
  }

 private:
  struct Range {
    uint32_t begin;
    uint32_t end;
  };
  struct Entry {
    IpAddress src;
    IpAddress dst;
    uint64_t session_id = 0;  // 0 = empty (real ids count from 1)
    uint64_t expires_us = 0;
    uint32_t fragment_id = 0;
    uint32_t session_idx = 0;
    uint8_t protocol = 0;
    uint8_t ip_version = 0;
    uint8_t count = 0;  // ranges in use, sorted and disjoint (not touching)
    uint16_t vlan_outer = 0;
    uint16_t vlan_inner = 0;
    std::array<Range, kRanges> ranges{};

    // Covers [b, e); returns how many of its bytes were not covered before.
    uint32_t Add(uint32_t b, uint32_t e) {
      if (b >= e) return 0;
      uint32_t covered = 0;
      for (int i = 0; i < count; ++i) {
        const uint32_t lo = std::max(b, ranges[i].begin), hi = std::min(e, ranges[i].end);
        if (lo < hi) covered += hi - lo;
      }
      // Merge every range that overlaps or touches [b, e) into it.
      int out = 0;
      Range merged{b, e};
      std::array<Range, kRanges + 1> next{};
      bool placed = false;
      for (int i = 0; i < count; ++i) {
        const Range r = ranges[i];
        if (r.end < merged.begin) {
          next[out++] = r;
        } else if (r.begin > merged.end) {
          if (!placed) next[out++] = merged, placed = true;
          next[out++] = r;
        } else {
          merged.begin = std::min(merged.begin, r.begin);
          merged.end = std::max(merged.end, r.end);
        }
      }
      if (!placed) next[out++] = merged;
      if (out > kRanges) {
        // No room: join the two ranges with the smallest gap between them
        // (the gap becomes "covered" without being counted).
        int best = 0;
        for (int i = 1; i + 1 < out; ++i) {
          if (next[i + 1].begin - next[i].end < next[best + 1].begin - next[best].end) best = i;
        }
        next[best].end = next[best + 1].end;
        for (int i = best + 1; i + 1 < out; ++i) next[i] = next[i + 1];
        --out;
      }
      for (int i = 0; i < out; ++i) ranges[i] = next[i];
      count = static_cast<uint8_t>(out);
      return (e - b) - covered;
    }
  };

  static bool Matches(const Entry& e, const packet::ParsedPacket& p, uint16_t vlan_outer,
                      uint16_t vlan_inner, uint64_t now_us) {
    return e.session_id != 0 && now_us <= e.expires_us && e.fragment_id == p.fragment_id &&
           e.protocol == p.protocol && e.ip_version == p.ip_version && e.src == p.src &&
           e.dst == p.dst && e.vlan_outer == vlan_outer && e.vlan_inner == vlan_inner;
  }

  static uint64_t RandomKey() {
    std::random_device rd;
    return uint64_t{rd()} << 32 | rd();
  }

  std::array<Entry, kSlots> entries_{};
  uint64_t key_[2];
};

}  // namespace flowtrail::session
