// Canonical session key: both directions of a conversation build the same key,
// so one table lookup finds the session whatever the packet's direction.
// Hashed with CRC32C (SSE4.2) over all of its 44 bytes.
#pragma once

#include <nmmintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/ip_address.h"
#include "packet/parsed_packet.h"

namespace flowtrail::session {

// Which VLAN ids are part of the session key: overlapping address spaces on a
// trunk are separate sessions unless told otherwise.
enum class VlanKey : uint8_t { kNone, kOuter, kBoth };

// 44 bytes, no padding holes: memcmp/CRC over the whole struct is well defined.
struct SessionKey {
  IpAddress lo_addr;  // the smaller (address, port) endpoint
  IpAddress hi_addr;
  // TCP/UDP: ports of the lo and hi endpoints. ICMP: lo_port = type class,
  // hi_port = identifier (query messages) or 0.
  uint16_t lo_port = 0;
  uint16_t hi_port = 0;
  uint8_t protocol = 0;
  uint8_t ip_version = 0;
  uint8_t icmp_code = 0;  // ICMP only; 0 otherwise
  uint8_t reserved = 0;
  // VLAN ids as the key's VlanKey mode keeps them (0 when not part of it).
  uint16_t vlan_outer = 0;
  uint16_t vlan_inner = 0;

  // Word-wise (44 bytes is not a size compilers inline memcmp for).
  friend bool operator==(const SessionKey& a, const SessionKey& b) {
    uint64_t x[5], y[5];
    uint32_t xt, yt;
    std::memcpy(x, &a, sizeof(x));
    std::memcpy(y, &b, sizeof(y));
    std::memcpy(&xt, reinterpret_cast<const char*>(&a) + sizeof(x), sizeof(xt));
    std::memcpy(&yt, reinterpret_cast<const char*>(&b) + sizeof(y), sizeof(yt));
    uint64_t d = xt ^ yt;
    for (int i = 0; i < 5; ++i) {
      d |= x[i] ^ y[i];
    }
    return d == 0;
  }
};
static_assert(sizeof(SessionKey) == 44);
static_assert(alignof(SessionKey) <= 4);

inline bool IsIcmp(uint8_t protocol) {
  return protocol == packet::kProtoIcmp || protocol == packet::kProtoIcmpV6;
}

// Request/reply pairs share a class (the request's type) so that echo request
// and reply of one identifier are one session.
inline uint8_t IcmpTypeClass(uint8_t protocol, uint8_t type) {
  if (protocol == packet::kProtoIcmp) {
    switch (type) {
      case 0:
        return 8;  // echo reply -> echo
      case 14:
        return 13;  // timestamp reply
      case 16:
        return 15;  // information reply
      case 18:
        return 17;  // address mask reply
      case 10:
        return 9;  // router solicitation <-> advertisement
      default:
        return type;
    }
  }
  switch (type) {
    case 129:
      return 128;  // echo reply -> echo request
    case 140:
      return 139;  // node information reply -> query
    case 134:
      return 133;  // router advertisement -> solicitation
    case 136:
      return 135;  // neighbour advertisement -> solicitation
    default:
      return type;
  }
}

// +1: a request (its sender is the client); -1: a reply (its receiver is the
// client); 0: neither (errors, unsolicited messages).
inline int IcmpRequestDirection(uint8_t protocol, uint8_t type) {
  if (protocol == packet::kProtoIcmp) {
    if (type == 8 || type == 13 || type == 15 || type == 17 || type == 10) {
      return 1;
    }
    if (type == 0 || type == 14 || type == 16 || type == 18 || type == 9) {
      return -1;
    }
    return 0;
  }
  if (type == 128 || type == 139 || type == 133 || type == 135) {
    return 1;
  }
  if (type == 129 || type == 140 || type == 134 || type == 136) {
    return -1;
  }
  return 0;
}

// The (outer, inner) VLAN ids of `p` that `mode` makes part of its identity.
inline void KeyVlans(const packet::ParsedPacket& p, VlanKey mode, uint16_t* outer,
                     uint16_t* inner) {
  *outer = mode != VlanKey::kNone && p.vlan_count >= 1 ? p.vlan_outer : 0;
  *inner = mode == VlanKey::kBoth && p.vlan_count >= 2 ? p.vlan_inner : 0;
}

// The sign of memcmp(a, b, 16) for two addresses, inline: as big-endian
// words (GCC calls libc for a 16-byte memcmp whose sign is used: 1.6 % of a
// lookup's profile).
inline int CompareAddresses(const IpAddress& a, const IpAddress& b) {
  for (size_t half = 0; half < 16; half += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.bytes.data() + half, 8);
    std::memcpy(&y, b.bytes.data() + half, 8);
    x = __builtin_bswap64(x);
    y = __builtin_bswap64(y);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

// A SessionKey as the words HashSessionKey() reads: the two addresses, then
// ports, protocol, version and ICMP code, then the VLAN ids.
struct SessionKeyWords {
  uint64_t w[5];
  uint32_t tail;
};
static_assert(offsetof(SessionKey, lo_port) == 32 && offsetof(SessionKey, reserved) == 39 &&
              offsetof(SessionKey, vlan_outer) == 40);

inline uint32_t HashKeyWords(const SessionKeyWords& k) {
  uint64_t h = 0x9e3779b9u;
  for (uint64_t x : k.w) {
    h = _mm_crc32_u64(h, x);
  }
  return _mm_crc32_u32(static_cast<uint32_t>(h), k.tail);
}

// The canonical key of `p`, built in registers. Returns true when the
// packet's source is the key's lo endpoint (side 0); ICMP orders by address
// only. (Field by field into memory and then hashed as words, each word's
// load waited for the narrow stores before it: ~10 % of a lookup.)
inline bool MakeSessionKeyWords(const packet::ParsedPacket& p, SessionKeyWords* k,
                                VlanKey vlan_mode = VlanKey::kNone) {
  const int c = CompareAddresses(p.src, p.dst);
  uint16_t lo_port, hi_port;
  uint8_t code = 0;
  bool src_is_lo;
  if (IsIcmp(p.protocol)) {
    src_is_lo = c <= 0;
    lo_port = IcmpTypeClass(p.protocol, p.icmp_type);
    hi_port = p.icmp_id;
    // Query/reply messages are matched by identifier; error codes distinguish
    // e.g. port from host unreachable.
    code = IcmpRequestDirection(p.protocol, p.icmp_type) != 0 ? 0 : p.icmp_code;
  } else {
    src_is_lo = c < 0 || (c == 0 && p.src_port <= p.dst_port);
    lo_port = src_is_lo ? p.src_port : p.dst_port;
    hi_port = src_is_lo ? p.dst_port : p.src_port;
  }
  std::memcpy(&k->w[0], (src_is_lo ? p.src : p.dst).bytes.data(), 16);
  std::memcpy(&k->w[2], (src_is_lo ? p.dst : p.src).bytes.data(), 16);
  k->w[4] = uint64_t{lo_port} | uint64_t{hi_port} << 16 | uint64_t{p.protocol} << 32 |
            uint64_t{p.ip_version} << 40 | uint64_t{code} << 48;
  uint16_t outer, inner;
  KeyVlans(p, vlan_mode, &outer, &inner);
  k->tail = uint32_t{outer} | uint32_t{inner} << 16;
  return src_is_lo;
}

inline void StoreSessionKey(const SessionKeyWords& w, SessionKey* k) {
  std::memcpy(static_cast<void*>(k), w.w, sizeof(w.w));
  std::memcpy(reinterpret_cast<char*>(k) + sizeof(w.w), &w.tail, sizeof(w.tail));
}

// Builds the canonical key of `p` (see MakeSessionKeyWords()) and, with
// `hash`, its HashSessionKey() from the words in registers.
inline bool MakeSessionKey(const packet::ParsedPacket& p, SessionKey* k,
                           VlanKey vlan_mode = VlanKey::kNone, uint32_t* hash = nullptr) {
  SessionKeyWords w;
  const bool src_is_lo = MakeSessionKeyWords(p, &w, vlan_mode);
  StoreSessionKey(w, k);
  if (hash != nullptr) {
    *hash = HashKeyWords(w);
  }
  return src_is_lo;
}

inline uint32_t HashSessionKey(const SessionKey& k) {
  SessionKeyWords w;
  static_assert(sizeof(w.w) + sizeof(w.tail) == sizeof(SessionKey));
  std::memcpy(w.w, &k, sizeof(w.w));
  std::memcpy(&w.tail, reinterpret_cast<const char*>(&k) + sizeof(w.w), sizeof(w.tail));
  return HashKeyWords(w);
}

}  // namespace flowtrail::session
