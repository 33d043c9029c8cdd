// The software dispatcher's symmetric hash: CRC32C over the two IP addresses
// in a canonical order, so both directions of a conversation pick the same
// worker. DPDK-free (SSE4.2 CRC32C), unit-tested for symmetry and spread.
// DispatchKeyOf() gets it from a frame without a full parse (the worker parses
// each frame once, for real).
//
// Addresses only, no ports (as RTE_ETH_RSS_IP on NICs, port.cc): sessions
// that belong together share a worker — an FTP control connection and the
// data connections it announces (the transient-server flag is decided by the
// worker that saw the announcement), IP fragments after the first (which carry
// no ports), ICMP errors about a session. The cost is coarser balance when a
// few host pairs carry most sessions.
#pragma once

#include <nmmintrin.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "common/ip_address.h"
#include "packet/parser.h"

namespace flowtrail::dataplane {

namespace internal {

// CRC32C of the two 16-byte addresses a and b, the lower (memcmp order) first.
inline uint32_t SymmetricHash16(const uint8_t* a, const uint8_t* b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a, 8);
  std::memcpy(&a1, a + 8, 8);
  std::memcpy(&b0, b, 8);
  std::memcpy(&b1, b + 8, 8);
  // memcmp order is the order of the big-endian halves.
  const uint64_t ha = __builtin_bswap64(a0), hb = __builtin_bswap64(b0);
  if (ha > hb || (ha == hb && __builtin_bswap64(a1) > __builtin_bswap64(b1))) {
    std::swap(a0, b0);
    std::swap(a1, b1);
  }
  uint64_t crc = 0xffffffffu;
  crc = _mm_crc32_u64(crc, a0);
  crc = _mm_crc32_u64(crc, a1);
  crc = _mm_crc32_u64(crc, b0);
  crc = _mm_crc32_u64(crc, b1);
  return ~static_cast<uint32_t>(crc);
}

}  // namespace internal

inline uint32_t SymmetricFlowHash(const IpAddress& src, const IpAddress& dst) {
  return internal::SymmetricHash16(src.bytes.data(), dst.bytes.data());
}

// Worker index for a hash; multiply-shift avoids a division per packet.
inline uint32_t WorkerForHash(uint32_t hash, uint32_t workers) {
  return static_cast<uint32_t>((uint64_t{hash} * workers) >> 32);
}

// What the dispatcher needs of a frame: the hash of its address pair when
// ParseFrame() would give it one (packet::HasAddresses), and whether it would
// be kOk (the dispatcher counts the others as unparsed).
struct DispatchKey {
  uint32_t hash = 0;
  bool has_addresses = false;
  bool ok = false;
};

namespace internal {

inline uint16_t Be16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}

// SymmetricFlowHash of two IPv4 addresses (IpAddress keeps them in bytes 0-3,
// the rest zero), from registers: no 16-byte copies (whose 4-byte stores
// followed by 8-byte loads would stall store forwarding).
inline uint32_t SymmetricHash4(const uint8_t* a, const uint8_t* b) {
  uint32_t x, y;
  std::memcpy(&x, a, 4);
  std::memcpy(&y, b, 4);
  // memcmp order is the order of the big-endian values.
  if (__builtin_bswap32(x) > __builtin_bswap32(y)) {
    std::swap(x, y);
  }
  uint64_t crc = 0xffffffffu;
  crc = _mm_crc32_u64(crc, x);
  crc = _mm_crc32_u64(crc, 0);
  crc = _mm_crc32_u64(crc, y);
  crc = _mm_crc32_u64(crc, 0);
  return ~static_cast<uint32_t>(crc);
}

// True when ParseFrame would accept the L4 header of `protocol` at `l4` (`len`
// bytes per the IP header, `cap` <= len captured) as kOk; false means "not
// sure" (the caller falls back to the full parse), never "malformed".
inline bool L4Ok(uint8_t protocol, const uint8_t* l4, uint32_t len, uint32_t cap) {
  switch (protocol) {
    case packet::kProtoTcp: {
      if (cap < 20) {
        return false;
      }
      const uint32_t hdr = static_cast<uint32_t>(l4[12] >> 4) * 4;
      return hdr >= 20 && hdr <= len;
    }
    case packet::kProtoUdp:
      return cap >= 8 && Be16(l4 + 4) >= 8;
    case packet::kProtoIcmp:
    case packet::kProtoIcmpV6:
      return cap >= 8;
    default:
      return true;  // any other protocol is kOk with no header read
  }
}

// The full parse, for every frame the fast path is not sure of.
inline DispatchKey SlowDispatchKey(packet::LinkType link, const uint8_t* frame, uint32_t caplen,
                                   uint32_t wire_len) {
  packet::ParsedPacket pp;
  const packet::ParseResult r = packet::ParseFrame(link, frame, caplen, wire_len, &pp);
  DispatchKey k;
  k.ok = r == packet::ParseResult::kOk;
  k.has_addresses = packet::HasAddresses(r);
  if (k.has_addresses) {
    k.hash = SymmetricFlowHash(pp.src, pp.dst);
  }
  return k;
}

}  // namespace internal

// DispatchKeyOf(...) == what ParseFrame + HasAddresses + SymmetricFlowHash give,
// for every frame (flow_hash_test compares them over hand-built, mutated and
// real captures). The fast path reads the address pair of the common shapes
// (Ethernet, up to two VLAN tags, IPv4 without options or fragmentation,
// IPv6 without extension headers) and checks just what ParseFrame checks for
// them; anything else (other link types, MPLS, options, fragments, extension
// chains, short or odd headers) takes the full parse.
inline DispatchKey DispatchKeyOf(packet::LinkType link, const uint8_t* frame, uint32_t caplen,
                                 uint32_t wire_len) {
  using internal::Be16;
  if (link != packet::LinkType::kEthernet || caplen < 14) [[unlikely]] {
    return internal::SlowDispatchKey(link, frame, caplen, wire_len);
  }
  wire_len = wire_len < caplen ? caplen : wire_len;
  uint32_t off = 14;
  uint16_t type = Be16(frame + 12);
  for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; ++tags) {
    if (tags == 2 || caplen - off < 4) [[unlikely]] {
      return internal::SlowDispatchKey(link, frame, caplen, wire_len);
    }
    type = Be16(frame + off + 2);
    off += 4;
  }
  const uint8_t* ip = frame + off;
  const uint32_t cap = caplen - off;
  const uint32_t wire = wire_len - off;
  DispatchKey k;
  if (type == 0x0800) [[likely]] {
    if (cap < 20 || ip[0] != 0x45) [[unlikely]] {  // version 4, no options
      return internal::SlowDispatchKey(link, frame, caplen, wire_len);
    }
    const uint32_t total = Be16(ip + 2);
    if (total < 20 || total > wire || (Be16(ip + 6) & 0x3fff) != 0 ||
        !internal::L4Ok(ip[9], ip + 20, total - 20, (cap < total ? cap : total) - 20))
        [[unlikely]] {
      return internal::SlowDispatchKey(link, frame, caplen, wire_len);
    }
    k.hash = internal::SymmetricHash4(ip + 12, ip + 16);
  } else if (type == 0x86dd) {
    if (cap < 40 || (ip[0] >> 4) != 6) [[unlikely]] {
      return internal::SlowDispatchKey(link, frame, caplen, wire_len);
    }
    const uint32_t total = 40 + Be16(ip + 4);
    const uint8_t next = ip[6];
    // Only upper layers the fast path knows are not extension headers.
    const bool upper = next == packet::kProtoTcp || next == packet::kProtoUdp ||
                       next == packet::kProtoIcmpV6 || next == packet::kProtoIcmp;
    if (!upper || total > wire ||
        !internal::L4Ok(next, ip + 40, total - 40, (cap < total ? cap : total) - 40)) [[unlikely]] {
      return internal::SlowDispatchKey(link, frame, caplen, wire_len);
    }
    k.hash = internal::SymmetricHash16(ip + 8, ip + 24);
  } else if (type == 0x8847 || type == 0x8848) [[unlikely]] {
    return internal::SlowDispatchKey(link, frame, caplen, wire_len);
  } else {
    return k;  // a non-IP ethertype: no addresses, not kOk
  }
  k.has_addresses = true;
  k.ok = true;
  return k;
}

}  // namespace flowtrail::dataplane
