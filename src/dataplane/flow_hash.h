// The software dispatcher's symmetric hash: CRC32C over the two IP addresses
// in a canonical order, so both directions of a conversation pick the same
// worker. DPDK-free (SSE4.2 CRC32C), unit-tested for symmetry and spread.
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

#include "common/ip_address.h"

namespace flowtrail::dataplane {

inline uint32_t Crc32c16(uint32_t crc, const uint8_t* p) {
  uint64_t a, b;
  std::memcpy(&a, p, 8);
  std::memcpy(&b, p + 8, 8);
  crc = static_cast<uint32_t>(_mm_crc32_u64(crc, a));
  return static_cast<uint32_t>(_mm_crc32_u64(crc, b));
}

inline uint32_t SymmetricFlowHash(const IpAddress& src, const IpAddress& dst) {
  const bool src_low = std::memcmp(src.bytes.data(), dst.bytes.data(), 16) <= 0;
  uint32_t crc = 0xffffffffu;
  crc = Crc32c16(crc, (src_low ? src : dst).bytes.data());
  crc = Crc32c16(crc, (src_low ? dst : src).bytes.data());
  return ~crc;
}

// Worker index for a hash; multiply-shift avoids a division per packet.
inline uint32_t WorkerForHash(uint32_t hash, uint32_t workers) {
  return static_cast<uint32_t>((uint64_t{hash} * workers) >> 32);
}

}  // namespace flowtrail::dataplane
