// Frame parser: Ethernet II, 802.1Q/802.1ad (stacked), MPLS, Linux cooked
// capture v1/v2, raw IP, BSD loopback; IPv4 (options, fragments), IPv6
// (bounded extension chain); TCP, UDP, ICMP, ICMPv6 and every other IP protocol.
// Never reads past `caplen`. Every frame yields a ParseResult, and every result
// has one class (ok, non-IP, later fragment, snapped, malformed) that the caller
// counts.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "packet/link_type.h"
#include "packet/parsed_packet.h"

namespace flowtrail::packet {

// What a result means for the counters (SPEC §3): only kMalformed is "bad".
enum class ParseClass : uint8_t {
  kOk = 0,         // an IP packet with its session key: track it
  kNonIp,          // a well-formed frame that carries no IP (ARP, LLDP, STP...)
  kLaterFragment,  // an IP fragment after the first: attributable, not bad
  kSnapped,        // the capture's snap length cut a header the session key needs
  kMalformed,      // malformed within what was captured: the only "bad" class
  kCount,
};
inline constexpr size_t kParseClassCount = static_cast<size_t>(ParseClass::kCount);

// The one table of results: enumerator, stable snake_case name (counters,
// logs, stats JSON), class. X(enumerator, "name", class).
#define FLOWTRAIL_PARSE_RESULTS(X)                                                        \
  X(kOk, "ok", kOk)                                                                       \
  /* Non-IP frames by ethertype (or cooked protocol) class; out->ethertype says which. */ \
  X(kArp, "arp", kNonIp)                                                                  \
  X(kRarp, "rarp", kNonIp)                                                                \
  X(kLldp, "lldp", kNonIp)                                                                \
  /* Type field < 0x0600: an IEEE 802.3 length (LLC/SNAP: STP, CDP, IPX...), or one of */ \
  /* Linux cooked capture's special protocol codes (802.2, 802.3, CAN...). */             \
  X(kLlc, "llc", kNonIp)                                                                  \
  X(kOtherEthertype, "other_ethertype", kNonIp)                                           \
  /* MPLS whose payload does not start with an IP version nibble (pseudowires). */        \
  X(kMplsPayloadNotIp, "mpls_payload_not_ip", kNonIp)                                     \
  /* BSD loopback address family other than IPv4/IPv6 (out->ethertype = the family). */   \
  X(kOtherAddressFamily, "other_address_family", kNonIp)                                  \
  /* IPv4/IPv6 fragment with a non-zero offset: the L4 header is in the first one. */     \
  X(kNonFirstFragment, "non_first_fragment", kLaterFragment)                              \
  /* caplen < wire_len and the captured bytes end inside a header the session key */      \
  /* needs, which the wire length would have covered. */                                  \
  X(kSnappedHeaders, "snapped_headers", kSnapped)                                         \
  /* Malformed: a header longer than the frame on the wire, or a bad field. */            \
  X(kTruncatedEthernet, "truncated_ethernet", kMalformed)                                 \
  X(kTruncatedLinuxSll, "truncated_linux_sll", kMalformed)                                \
  X(kTruncatedLinuxSll2, "truncated_linux_sll2", kMalformed)                              \
  X(kTruncatedLoopback, "truncated_loopback", kMalformed)                                 \
  X(kTruncatedRawIp, "truncated_raw_ip", kMalformed)                                      \
  X(kTruncatedVlan, "truncated_vlan", kMalformed)                                         \
  X(kTooManyVlanTags, "too_many_vlan_tags", kMalformed)                                   \
  X(kTruncatedMpls, "truncated_mpls", kMalformed)                                         \
  X(kTooManyMplsLabels, "too_many_mpls_labels", kMalformed)                               \
  X(kTruncatedIpv4, "truncated_ipv4", kMalformed)                                         \
  X(kBadIpVersion, "bad_ip_version", kMalformed)                                          \
  X(kBadIpv4HeaderLength, "bad_ipv4_header_length", kMalformed)                           \
  /* An IPv4 option whose length is impossible for its type or runs past the header. */   \
  X(kBadIpv4Options, "bad_ipv4_options", kMalformed)                                      \
  X(kIpv4TotalLengthTooShort, "ipv4_total_length_too_short", kMalformed)                  \
  /* Total length beyond the captured bytes and the wire length. */                       \
  X(kIpv4TotalLengthBeyondCapture, "ipv4_total_length_beyond_capture", kMalformed)        \
  X(kTruncatedIpv6, "truncated_ipv6", kMalformed)                                         \
  X(kIpv6PayloadLengthBeyondCapture, "ipv6_payload_length_beyond_capture", kMalformed)    \
  X(kIpv6ExtensionChainTooLong, "ipv6_extension_chain_too_long", kMalformed)              \
  X(kTruncatedIpv6Extension, "truncated_ipv6_extension", kMalformed)                      \
  X(kTruncatedTcp, "truncated_tcp", kMalformed)                                           \
  X(kBadTcpDataOffset, "bad_tcp_data_offset", kMalformed)                                 \
  X(kTruncatedUdp, "truncated_udp", kMalformed)                                           \
  X(kBadUdpLength, "bad_udp_length", kMalformed)                                          \
  X(kTruncatedIcmp, "truncated_icmp", kMalformed)

enum class ParseResult : uint8_t {
#define FLOWTRAIL_PARSE_RESULT_ENUM(e, name, cls) e,
  FLOWTRAIL_PARSE_RESULTS(FLOWTRAIL_PARSE_RESULT_ENUM)
#undef FLOWTRAIL_PARSE_RESULT_ENUM
      kCount,
};

inline constexpr size_t kParseResultCount = static_cast<size_t>(ParseResult::kCount);

namespace internal {
inline constexpr std::array<std::string_view, kParseResultCount> kParseResultNames = {
#define FLOWTRAIL_PARSE_RESULT_NAME(e, name, cls) name,
    FLOWTRAIL_PARSE_RESULTS(FLOWTRAIL_PARSE_RESULT_NAME)
#undef FLOWTRAIL_PARSE_RESULT_NAME
};
inline constexpr std::array<ParseClass, kParseResultCount> kParseResultClasses = {
#define FLOWTRAIL_PARSE_RESULT_CLASS(e, name, cls) ParseClass::cls,
    FLOWTRAIL_PARSE_RESULTS(FLOWTRAIL_PARSE_RESULT_CLASS)
#undef FLOWTRAIL_PARSE_RESULT_CLASS
};
}  // namespace internal

// Stable snake_case name of each result, for counters and logs; "unknown" out
// of range.
constexpr std::string_view ParseResultName(ParseResult r) {
  const size_t i = static_cast<size_t>(r);
  return i < kParseResultCount ? internal::kParseResultNames[i] : std::string_view("unknown");
}

// The class of a result (kMalformed out of range).
constexpr ParseClass ParseResultClass(ParseResult r) {
  const size_t i = static_cast<size_t>(r);
  return i < kParseResultCount ? internal::kParseResultClasses[i] : ParseClass::kMalformed;
}

// Results after which src and dst are set: the frame belongs to the flow of
// its address pair (dispatch hashes it there).
constexpr bool HasAddresses(ParseResult r) {
  return r == ParseResult::kOk || r == ParseResult::kNonFirstFragment;
}

// "ok", "non_ip", "later_fragment", "snapped", "malformed"; "unknown" out of range.
std::string_view ParseClassName(ParseClass c);

// Per-worker counters of frames by result (index = ParseResult). Count() is
// one increment; the per-class sums are for the (slow) reporting path.
struct ParseCounters {
  std::array<uint64_t, kParseResultCount> by_result{};
  void Count(ParseResult r) { ++by_result[static_cast<size_t>(r)]; }
  uint64_t OfClass(ParseClass c) const;  // sum over the results of class `c`
  std::array<uint64_t, kParseClassCount> ByClass() const;
  uint64_t Bad() const { return OfClass(ParseClass::kMalformed); }  // malformed only
  uint64_t NonIp() const { return OfClass(ParseClass::kNonIp); }
  // Frames refused because the snap length cut a needed header. Packets the
  // snap length cut after their headers are kOk with ParsedPacket::snapped.
  uint64_t Snapped() const { return OfClass(ParseClass::kSnapped); }
  uint64_t LaterFragments() const { return OfClass(ParseClass::kLaterFragment); }
};

// Bounds on the link-layer and IPv6 chains: a frame with more than this many
// VLAN tags, MPLS labels or IPv6 extension headers is refused (kTooManyVlanTags,
// kTooManyMplsLabels, kIpv6ExtensionChainTooLong), so parsing time is bounded.
inline constexpr int kMaxVlanTags = 8;
inline constexpr int kMaxMplsLabels = 8;
inline constexpr int kMaxIpv6ExtensionHeaders = 8;

// Parses one frame of link type `link` (any type IsSupportedLinkType() accepts;
// another value yields kOtherEthertype). `caplen` bytes are readable at
// `frame`; `wire_len` is the original length on the wire (>= caplen for
// snap-length captures; a smaller value is taken as caplen).
//
// Link layers: Ethernet (802.1Q/802.1ad tags, MPLS labels inside); Linux
// cooked v1 (16-byte header, protocol at offset 14) and v2 (20 bytes, protocol
// at offset 0), whose protocol is read like an ethertype (0x8100: a VLAN tag
// follows; < 0x0600: a special code, kLlc); raw IP (12, 14, 101: the version
// nibble decides; 228 IPv4 and 229 IPv6 only); BSD NULL (address family in
// either byte order) and LOOP (network order): AF_INET 2, AF_INET6 10 (Linux),
// 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
//
// On kOk every field of `out` is set (fields that do not apply are zero,
// tcp_window_scale kNoWindowScale). Every IP protocol is kOk: TCP and UDP set
// ports, ICMP/ICMPv6 type, code (as ports) and id; any other protocol (IGMP,
// GRE, ESP, SCTP, OSPF, PIM, IPv4 AH (not walked), IPv6 no-next-header 59...)
// sets `protocol`, ports 0, payload_len = the IP payload after the headers
// walked, and payload/captured_payload_len what was captured of it.
//
// Other results set what was parsed before they were decided, so the caller
// can count or attribute the frame: the VLAN fields always; on non-IP results
// `ethertype` (the type field, cooked protocol or loopback address family);
// on kNonFirstFragment src, dst, ip_version, protocol, fragment_id,
// fragment_offset, more_fragments, payload_len (the fragment's data, from the
// header), payload/captured_payload_len and snapped; on kSnappedHeaders
// `snapped`, plus src, dst, ip_version and protocol when the IP header was
// captured (ip_version 0 otherwise). Elsewhere `out` holds no meaning.
//
// Lengths: the IP header's length is the truth (Ethernet trailer padding is not
// payload). A datagram longer than the captured bytes is accepted when the wire
// length covers it (snap-length capture): payload_len and sequence numbers then
// come from the headers, captured_payload_len says what is present, and
// `snapped` is set. A header the session key needs (link, IP, IPv6 extensions,
// the fixed TCP header, the UDP header, the first 8 ICMP bytes) cut by the
// capture is kSnappedHeaders when the wire length covered it (caplen <
// wire_len), and a malformed kTruncated* result when it did not (the frame
// itself was short). TCP options cut by the snap length are skipped unread.
//
// Fragments (first and later, IPv4 and IPv6): fragment_id, fragment_offset (in
// bytes) and more_fragments are set; first_fragment marks the first one.
//
// SYN segments: the captured TCP options are walked (bounded; a malformed or
// cut option ends the walk) for the window scale (kind 3), clamped to 14 per
// RFC 7323; kNoWindowScale when absent. Other segments' options are not read.
ParseResult ParseFrame(LinkType link, const uint8_t* frame, uint32_t caplen, uint32_t wire_len,
                       ParsedPacket* out);

}  // namespace flowtrail::packet
