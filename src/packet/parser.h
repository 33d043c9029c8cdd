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

// Bounds on the link-layer and IPv6 chains: a frame with more than this many
// VLAN tags, MPLS labels or IPv6 extension headers is refused (kTooManyVlanTags,
// kTooManyMplsLabels, kIpv6ExtensionChainTooLong), so parsing time is bounded.
inline constexpr int kMaxVlanTags = 8;
inline constexpr int kMaxMplsLabels = 8;
inline constexpr int kMaxIpv6ExtensionHeaders = 8;

// Parses one frame. `caplen` bytes are readable at `frame`; `wire_len` is the
// original length on the wire (>= caplen for snap-length captures; a smaller
// value is taken as caplen).
//
// On kOk every field of `out` is set (fields that do not apply are zero). On
// kNonFirstFragment, src, dst, ip_version, protocol, fragment_id, payload_len
// (the fragment's data) and the VLAN fields are set so the caller can attribute
// the fragment; on kUnsupportedIpProtocol the IP and VLAN fields. Otherwise
// `out` holds no meaning.
//
// Lengths: the IP header's length is the truth (Ethernet trailer padding is not
// payload). A datagram longer than the captured bytes is accepted when the wire
// length covers it (snap-length capture): payload_len then comes from the
// headers and captured_payload_len says what is present. Only the fixed TCP
// header must be captured; options cut by a snap length are skipped unread.
ParseResult ParseFrame(const uint8_t* frame, uint32_t caplen, uint32_t wire_len, ParsedPacket* out);

}  // namespace flowtrail::packet
