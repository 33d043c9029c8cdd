// Frame parser: Ethernet II, 802.1Q/802.1ad (stacked), MPLS, IPv4 (options,
// fragments), IPv6 (bounded extension chain), TCP, UDP, ICMP, ICMPv6.
// Never reads past `caplen`. A frame that cannot be used yields a DropReason,
// which the caller counts.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "packet/parsed_packet.h"

namespace flowtrail::packet {

enum class ParseResult : uint8_t {
  kOk = 0,
  kTruncatedEthernet,
  kTruncatedVlan,
  kTooManyVlanTags,
  kTruncatedMpls,
  kTooManyMplsLabels,
  kMplsPayloadNotIp,
  kUnsupportedEthertype,
  kTruncatedIpv4,
  kBadIpVersion,
  kBadIpv4HeaderLength,
  kIpv4TotalLengthTooShort,
  kIpv4TotalLengthBeyondCapture,  // total length > bytes captured and > wire length
  kNonFirstFragment,
  kTruncatedIpv6,
  kIpv6PayloadLengthBeyondCapture,
  kIpv6ExtensionChainTooLong,
  kTruncatedIpv6Extension,
  kUnsupportedIpProtocol,
  kTruncatedTcp,
  kBadTcpDataOffset,
  kTruncatedUdp,
  kBadUdpLength,
  kTruncatedIcmp,
  kCount,
};

inline constexpr size_t kParseResultCount = static_cast<size_t>(ParseResult::kCount);

// Stable snake_case name of each result, for counters and logs.
std::string_view ParseResultName(ParseResult r);

// Per-worker counters of unusable frames by reason (index = ParseResult).
struct ParseCounters {
  std::array<uint64_t, kParseResultCount> by_result{};
  void Count(ParseResult r) { ++by_result[static_cast<size_t>(r)]; }
  uint64_t Bad() const;  // sum of every result but kOk
};

// Parses one frame. `caplen` bytes are readable at `frame`; `wire_len` is the
// original length on the wire (>= caplen for snap-length captures).
ParseResult ParseFrame(const uint8_t* frame, uint32_t caplen, uint32_t wire_len, ParsedPacket* out);

}  // namespace flowtrail::packet
