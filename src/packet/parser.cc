#include "packet/parser.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace flowtrail::packet {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;     // 802.1Q
constexpr uint16_t kEtherQinq = 0x88a8;     // 802.1ad
constexpr uint16_t kEtherQinqOld = 0x9100;  // pre-standard Q-in-Q
constexpr uint16_t kEtherMplsUnicast = 0x8847;
constexpr uint16_t kEtherMplsMulticast = 0x8848;

constexpr uint32_t kEthernetHeaderLen = 14;
constexpr uint32_t kVlanTagLen = 4;
constexpr uint32_t kMplsLabelLen = 4;
constexpr uint32_t kIpv4MinHeaderLen = 20;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kIpv6MinExtensionLen = 8;
constexpr uint32_t kTcpMinHeaderLen = 20;
constexpr uint32_t kUdpHeaderLen = 8;
constexpr uint32_t kIcmpHeaderLen = 8;  // type, code, checksum, 4 bytes rest-of-header

constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6Ah = 51;
constexpr uint8_t kIpv6DestOptions = 60;

static_assert(std::endian::native == std::endian::little ||
              std::endian::native == std::endian::big);

// Unaligned big-endian loads: memcpy compiles to one mov, bswap to one instruction.
inline uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap16(v);
  }
  return v;
}
inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap32(v);
  }
  return v;
}

inline bool IsVlanEthertype(uint16_t t) {
  return t == kEtherVlan || t == kEtherQinq || t == kEtherQinqOld;
}

// The extension headers the parser walks; every other next-header value ends
// the chain (an upper-layer protocol, ESP, "no next header", ...).
inline bool IsIpv6Extension(uint8_t next) {
  constexpr uint64_t kMask = (uint64_t{1} << kIpv6HopByHop) | (uint64_t{1} << kIpv6Routing) |
                             (uint64_t{1} << kIpv6Fragment) | (uint64_t{1} << kIpv6Ah) |
                             (uint64_t{1} << kIpv6DestOptions);
  return next < 64 && ((kMask >> next) & 1) != 0;
}

// ICMP types whose rest-of-header starts with an identifier: echo reply/request,
// timestamp, information and address-mask request/reply (RFC 792, RFC 950).
inline bool IcmpHasId(uint8_t protocol, uint8_t type) {
  if (protocol == kProtoIcmpV6) {
    return type == 128 || type == 129;  // echo request/reply
  }
  constexpr uint32_t kMask = (1u << 0) | (1u << 8) | (1u << 13) | (1u << 14) | (1u << 15) |
                             (1u << 16) | (1u << 17) | (1u << 18);
  return type < 32 && ((kMask >> type) & 1) != 0;
}

// `l4` holds the transport header: `len` bytes per the IP header, of which
// `cap` (<= len) were captured.
inline ParseResult ParseL4(uint8_t protocol, const uint8_t* l4, uint32_t len, uint32_t cap,
                           ParsedPacket* out) {
  uint32_t hdr;
  switch (protocol) {
    case kProtoTcp: {
      // Only the fixed header must be present; options cut by the snap length
      // are never read (tcpdump -s 68 captures keep their SYNs).
      if (cap < kTcpMinHeaderLen) [[unlikely]] {
        return ParseResult::kTruncatedTcp;
      }
      hdr = static_cast<uint32_t>(l4[12] >> 4) * 4;
      if (hdr < kTcpMinHeaderLen || hdr > len) [[unlikely]] {
        return ParseResult::kBadTcpDataOffset;
      }
      out->src_port = Load16(l4);
      out->dst_port = Load16(l4 + 2);
      out->seq = Load32(l4 + 4);
      out->ack = Load32(l4 + 8);
      out->tcp_flags = l4[13];
      out->window = Load16(l4 + 14);
      break;
    }
    case kProtoUdp: {
      if (cap < kUdpHeaderLen) [[unlikely]] {
        return ParseResult::kTruncatedUdp;
      }
      const uint32_t udp_len = Load16(l4 + 4);
      if (udp_len < kUdpHeaderLen) [[unlikely]] {
        return ParseResult::kBadUdpLength;
      }
      out->src_port = Load16(l4);
      out->dst_port = Load16(l4 + 2);
      // The shorter of the UDP and IP lengths bounds the datagram.
      len = std::min(len, udp_len);
      cap = std::min(cap, udp_len);
      hdr = kUdpHeaderLen;
      break;
    }
    case kProtoIcmp:
    case kProtoIcmpV6: {
      if (cap < kIcmpHeaderLen) [[unlikely]] {
        return ParseResult::kTruncatedIcmp;
      }
      const uint8_t type = l4[0];
      const uint8_t code = l4[1];
      out->icmp_type = type;
      out->icmp_code = code;
      out->src_port = type;
      out->dst_port = code;
      if (IcmpHasId(protocol, type)) {
        out->icmp_id = Load16(l4 + 4);
      }
      hdr = kIcmpHeaderLen;
      break;
    }
    default:
      return ParseResult::kUnsupportedIpProtocol;
  }
  out->payload_len = len - hdr;
  const uint32_t cap_hdr = std::min(hdr, cap);  // < hdr only when TCP options are cut
  out->payload = l4 + cap_hdr;
  out->captured_payload_len = cap - cap_hdr;
  return ParseResult::kOk;
}

// `cap` bytes are readable at `ip`; the datagram had `wire` (>= cap) bytes on
// the wire from `ip` to the end of the frame.
inline ParseResult ParseIpv4(const uint8_t* ip, uint32_t cap, uint32_t wire, ParsedPacket* out) {
  if (cap < kIpv4MinHeaderLen) [[unlikely]] {
    return ParseResult::kTruncatedIpv4;
  }
  const uint8_t version_ihl = ip[0];
  if ((version_ihl >> 4) != 4) [[unlikely]] {
    return ParseResult::kBadIpVersion;
  }
  const uint32_t ihl = static_cast<uint32_t>(version_ihl & 0x0f) * 4;
  const uint32_t total = Load16(ip + 2);
  if (ihl < kIpv4MinHeaderLen) [[unlikely]] {
    return ParseResult::kBadIpv4HeaderLength;
  }
  if (total < kIpv4MinHeaderLen) [[unlikely]] {
    return ParseResult::kIpv4TotalLengthTooShort;
  }
  // Checked before the capture: a header longer than its own datagram is
  // malformed whatever the snap length.
  if (ihl > total) [[unlikely]] {
    return ParseResult::kBadIpv4HeaderLength;
  }
  if (ihl > cap) [[unlikely]] {
    return ParseResult::kTruncatedIpv4;
  }
  // wire >= cap, so this is "beyond both the capture and the wire length"; a
  // datagram cut only by the snap length is fine.
  if (total > wire) [[unlikely]] {
    return ParseResult::kIpv4TotalLengthBeyondCapture;
  }

  out->ip_version = 4;
  out->protocol = ip[9];
  // `out` is zeroed: only the 4 address bytes need writing.
  std::memcpy(out->src.bytes.data(), ip + 12, 4);
  std::memcpy(out->dst.bytes.data(), ip + 16, 4);

  const uint16_t frag = Load16(ip + 6);
  if (frag & 0x3fff) [[unlikely]] {  // MF set or offset != 0
    out->fragment_id = Load16(ip + 4);
    if (frag & 0x1fff) {
      out->payload_len = total - ihl;
      return ParseResult::kNonFirstFragment;
    }
    out->first_fragment = true;
  }
  const uint32_t avail = std::min(cap, total);  // drops Ethernet trailer padding
  return ParseL4(out->protocol, ip + ihl, total - ihl, avail - ihl, out);
}

inline ParseResult ParseIpv6(const uint8_t* ip, uint32_t cap, uint32_t wire, ParsedPacket* out) {
  if (cap < kIpv6HeaderLen) [[unlikely]] {
    return ParseResult::kTruncatedIpv6;
  }
  if ((ip[0] >> 4) != 6) [[unlikely]] {
    return ParseResult::kBadIpVersion;
  }
  const uint32_t total = kIpv6HeaderLen + Load16(ip + 4);
  if (total > wire) [[unlikely]] {
    return ParseResult::kIpv6PayloadLengthBeyondCapture;
  }
  out->ip_version = 6;
  out->src = IpAddress::FromV6(ip + 8);
  out->dst = IpAddress::FromV6(ip + 24);

  const uint32_t avail = std::min(cap, total);
  uint32_t pos = kIpv6HeaderLen;  // invariant: pos <= avail
  uint8_t next = ip[6];
  int headers = 0;
  while (IsIpv6Extension(next)) {
    if (headers == kMaxIpv6ExtensionHeaders) {
      out->protocol = next;
      return ParseResult::kIpv6ExtensionChainTooLong;
    }
    ++headers;
    if (avail - pos < kIpv6MinExtensionLen) {
      return ParseResult::kTruncatedIpv6Extension;
    }
    const uint8_t* h = ip + pos;
    uint32_t len;
    if (next == kIpv6Fragment) {
      len = 8;
      const uint16_t offset_flags = Load16(h + 2);
      const uint32_t id = Load32(h + 4);
      if (offset_flags & 0xfff8) {
        out->fragment_id = id;
        out->protocol = h[0];
        out->payload_len = total - pos - len;
        return ParseResult::kNonFirstFragment;
      }
      // Offset 0: a first fragment when M is set, else an atomic fragment
      // (RFC 6946), which is a whole datagram.
      const bool more = (offset_flags & 1) != 0;
      out->first_fragment = more;
      out->fragment_id = more ? id : 0;
    } else if (next == kIpv6Ah) {
      len = (static_cast<uint32_t>(h[1]) + 2) * 4;  // RFC 4302: 4-byte units minus 2
    } else {
      len = (static_cast<uint32_t>(h[1]) + 1) * 8;  // RFC 8200: 8-byte units minus 1
    }
    if (avail - pos < len) {
      return ParseResult::kTruncatedIpv6Extension;
    }
    next = h[0];
    pos += len;
  }
  out->protocol = next;
  return ParseL4(next, ip + pos, total - pos, avail - pos, out);
}

constexpr std::array<std::string_view, kParseResultCount> kResultNames = {
    "ok",
    "truncated_ethernet",
    "truncated_vlan",
    "too_many_vlan_tags",
    "truncated_mpls",
    "too_many_mpls_labels",
    "mpls_payload_not_ip",
    "unsupported_ethertype",
    "truncated_ipv4",
    "bad_ip_version",
    "bad_ipv4_header_length",
    "ipv4_total_length_too_short",
    "ipv4_total_length_beyond_capture",
    "non_first_fragment",
    "truncated_ipv6",
    "ipv6_payload_length_beyond_capture",
    "ipv6_extension_chain_too_long",
    "truncated_ipv6_extension",
    "unsupported_ip_protocol",
    "truncated_tcp",
    "bad_tcp_data_offset",
    "truncated_udp",
    "bad_udp_length",
    "truncated_icmp",
};
static_assert(kResultNames.back() == "truncated_icmp", "one name per ParseResult, in order");

}  // namespace

std::string_view ParseResultName(ParseResult r) {
  const size_t i = static_cast<size_t>(r);
  return i < kResultNames.size() ? kResultNames[i] : std::string_view("unknown");
}

uint64_t ParseCounters::Bad() const {
  uint64_t sum = 0;
  for (size_t i = 1; i < by_result.size(); ++i) {
    sum += by_result[i];
  }
  return sum;
}

ParseResult ParseFrame(const uint8_t* frame, uint32_t caplen, uint32_t wire_len,
                       ParsedPacket* out) {
  // Copying a constant compiles to a few vector moves; `*out = {}` became a
  // `rep stos`, whose start-up cost was a third of the whole parse.
  static constexpr ParsedPacket kEmpty{};
  std::memcpy(static_cast<void*>(out), &kEmpty, sizeof(ParsedPacket));
  if (wire_len < caplen) [[unlikely]] {
    wire_len = caplen;
  }
  out->frame_len = wire_len;
  if (caplen < kEthernetHeaderLen) [[unlikely]] {
    return ParseResult::kTruncatedEthernet;
  }
  uint32_t off = kEthernetHeaderLen;
  uint16_t type = Load16(frame + 12);

  while (IsVlanEthertype(type)) {
    if (out->vlan_count == kMaxVlanTags) [[unlikely]] {
      return ParseResult::kTooManyVlanTags;
    }
    if (caplen - off < kVlanTagLen) [[unlikely]] {
      return ParseResult::kTruncatedVlan;
    }
    const uint16_t vid = Load16(frame + off) & 0x0fff;
    if (out->vlan_count == 0) {
      out->vlan_outer = vid;
    } else if (out->vlan_count == 1) {
      out->vlan_inner = vid;
    }
    ++out->vlan_count;
    type = Load16(frame + off + 2);
    off += kVlanTagLen;
  }

  if (type == kEtherMplsUnicast || type == kEtherMplsMulticast) [[unlikely]] {
    for (int labels = 0;; ++labels) {
      if (labels == kMaxMplsLabels) {
        return ParseResult::kTooManyMplsLabels;
      }
      if (caplen - off < kMplsLabelLen) {
        return ParseResult::kTruncatedMpls;
      }
      const bool bottom_of_stack = (frame[off + 2] & 0x01) != 0;
      off += kMplsLabelLen;
      if (bottom_of_stack) {
        break;
      }
    }
    // MPLS does not say what it carries; the IP version nibble is the usual guess
    // (a pseudowire control word starts with 0 and is refused).
    if (caplen == off) {
      return ParseResult::kTruncatedMpls;
    }
    const uint8_t nibble = frame[off] >> 4;
    if (nibble == 4) {
      type = kEtherIpv4;
    } else if (nibble == 6) {
      type = kEtherIpv6;
    } else {
      return ParseResult::kMplsPayloadNotIp;
    }
  }

  if (type == kEtherIpv4) [[likely]] {
    return ParseIpv4(frame + off, caplen - off, wire_len - off, out);
  }
  if (type == kEtherIpv6) {
    return ParseIpv6(frame + off, caplen - off, wire_len - off, out);
  }
  return ParseResult::kUnsupportedEthertype;
}

}  // namespace flowtrail::packet
