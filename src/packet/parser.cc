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

constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherRarp = 0x8035;
constexpr uint16_t kEtherLldp = 0x88cc;
constexpr uint16_t kEtherMinType = 0x0600;  // below: an 802.3 length / cooked special code

constexpr uint32_t kLinuxSllHeaderLen = 16;
constexpr uint32_t kLinuxSll2HeaderLen = 20;
constexpr uint32_t kLoopbackHeaderLen = 4;

// BSD loopback address families (DLT_NULL / DLT_LOOP).
constexpr uint32_t kAfInet = 2;
constexpr uint32_t kAfInet6Linux = 10;
constexpr uint32_t kAfInet6Bsd = 24;  // NetBSD, OpenBSD
constexpr uint32_t kAfInet6FreeBsd = 28;
constexpr uint32_t kAfInet6Darwin = 30;

constexpr uint8_t kTcpOptEol = 0;
constexpr uint8_t kTcpOptNop = 1;
constexpr uint8_t kTcpOptWindowScale = 3;
constexpr uint8_t kMaxWindowScale = 14;  // RFC 7323 §2.3

// A header of `need` bytes of which fewer were captured: snapped when the
// frame on the wire held it (only a snap length can cut it then), else the
// frame itself is short and `truncated` (malformed).
inline ParseResult Short(ParseResult truncated, uint32_t need, uint32_t wire) {
  return need <= wire ? ParseResult::kSnappedHeaders : truncated;
}

// Marks a snapped result; callers return its value.
inline ParseResult Snapped(ParsedPacket* out, ParseResult r) {
  if (r == ParseResult::kSnappedHeaders) {
    out->snapped = true;
  }
  return r;
}

// The window scale option of a SYN, from the `len` captured option bytes at
// `opt`; kNoWindowScale when absent. Each step advances by at least one byte
// and never reads past `len`; a malformed or cut option ends the walk.
uint8_t SynWindowScale(const uint8_t* opt, uint32_t len) {
  uint32_t pos = 0;
  while (pos < len) {
    const uint8_t kind = opt[pos];
    if (kind == kTcpOptEol) {
      break;
    }
    if (kind == kTcpOptNop) {
      ++pos;
      continue;
    }
    if (len - pos < 2) {
      break;
    }
    const uint8_t olen = opt[pos + 1];
    if (olen < 2 || olen > len - pos) {
      break;
    }
    if (kind == kTcpOptWindowScale && olen == 3) {
      return std::min(opt[pos + 2], kMaxWindowScale);
    }
    pos += olen;
  }
  return kNoWindowScale;
}

// The payload fields of an L4 header of `hdr` bytes (`cap` captured of `len`).
inline void SetPayload(const uint8_t* l4, uint32_t hdr, uint32_t len, uint32_t cap,
                       ParsedPacket* out) {
  out->payload_len = len - hdr;
  const uint32_t cap_hdr = std::min(hdr, cap);  // < hdr only when TCP options are cut
  out->payload = l4 + cap_hdr;
  out->captured_payload_len = cap - cap_hdr;
}

// Any IP protocol but TCP, UDP, ICMP and ICMPv6 (out of line, as a tail call).
[[gnu::noinline]] ParseResult OtherProtocol(const uint8_t* l4, uint32_t len, uint32_t cap,
                                            ParsedPacket* out) {
  SetPayload(l4, 0, len, cap, out);
  return ParseResult::kOk;
}

// The end of a SYN's parse, out of line and as a tail call so the common
// path pays one test for it.
[[gnu::noinline]] ParseResult FinishSyn(const uint8_t* l4, uint32_t hdr, uint32_t len, uint32_t cap,
                                        ParsedPacket* out) {
  SetPayload(l4, hdr, len, cap, out);
  // cap >= the fixed header was checked; options cut by the capture end the walk.
  out->tcp_window_scale =
      SynWindowScale(l4 + kTcpMinHeaderLen, std::min(hdr, cap) - kTcpMinHeaderLen);
  return ParseResult::kOk;
}

// `l4` holds the transport header: `len` bytes per the IP header, of which
// `cap` (<= len) were captured; cap < len only when the capture cut the
// datagram (the wire length covered it), so a header that fits `len` but not
// `cap` is snapped, and one that does not fit `len` is malformed.
inline ParseResult ParseL4(uint8_t protocol, const uint8_t* l4, uint32_t len, uint32_t cap,
                           ParsedPacket* out) {
  uint32_t hdr;
  switch (protocol) {
    case kProtoTcp: {
      // Only the fixed header must be present; options cut by the snap length
      // are never read (tcpdump -s 68 captures keep their SYNs).
      if (cap < kTcpMinHeaderLen) [[unlikely]] {
        return Snapped(out, Short(ParseResult::kTruncatedTcp, kTcpMinHeaderLen, len));
      }
      hdr = static_cast<uint32_t>(l4[12] >> 4) * 4;
      if (hdr < kTcpMinHeaderLen || hdr > len) [[unlikely]] {
        return ParseResult::kBadTcpDataOffset;
      }
      out->src_port = Load16(l4);
      out->dst_port = Load16(l4 + 2);
      out->seq = Load32(l4 + 4);
      out->ack = Load32(l4 + 8);
      const uint8_t flags = l4[13];
      out->tcp_flags = flags;
      out->window = Load16(l4 + 14);
      if (flags & kTcpSyn) [[unlikely]] {
        return FinishSyn(l4, hdr, len, cap, out);
      }
      break;
    }
    case kProtoUdp: {
      if (cap < kUdpHeaderLen) [[unlikely]] {
        return Snapped(out, Short(ParseResult::kTruncatedUdp, kUdpHeaderLen, len));
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
        return Snapped(out, Short(ParseResult::kTruncatedIcmp, kIcmpHeaderLen, len));
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
      // Every other IP protocol is a flow by protocol and address pair: no
      // header is read, the whole IP payload is its payload.
      return OtherProtocol(l4, len, cap, out);
  }
  SetPayload(l4, hdr, len, cap, out);
  return ParseResult::kOk;
}

// `cap` bytes are readable at `ip`; the datagram had `wire` (>= cap) bytes on
// the wire from `ip` to the end of the frame.
// The least length of the IPv4 options whose length RFCs (and tshark, the
// analyst's oracle) fix or bound; 2 for any other.
constexpr uint8_t Ipv4OptionMinLength(uint8_t type) {
  switch (type) {
    case 7:    // record route
    case 130:  // security (RFC 1108)
    case 131:  // loose source route
    case 133:  // extended security
    case 137:  // strict source route
      return 3;
    case 68:   // timestamp
    case 136:  // stream id
    case 148:  // router alert
      return 4;
    case 25:  // quick-start
      return 8;
    case 134:  // commercial security (CIPSO)
      return 6;
    case 82:  // traceroute
      return 12;
    default:
      return 2;
  }
}

// Walks the options of a header with options (`len` bytes after the fixed 20,
// all captured): every option must fit and have a length its type allows.
// Out of line: options are rare, and the common header never gets here.
[[gnu::noinline]] bool Ipv4OptionsValid(const uint8_t* opt, uint32_t len) {
  uint32_t i = 0;
  while (i < len) {
    const uint8_t type = opt[i];
    if (type == 0) {
      return true;  // end of option list: the rest is padding
    }
    if (type == 1) {
      ++i;  // no-operation
      continue;
    }
    if (len - i < 2) {
      return false;
    }
    const uint8_t olen = opt[i + 1];
    if (olen < Ipv4OptionMinLength(type) || olen > len - i) {
      return false;
    }
    i += olen;
  }
  return true;
}

inline ParseResult ParseIpv4(const uint8_t* ip, uint32_t cap, uint32_t wire, ParsedPacket* out) {
  if (cap < kIpv4MinHeaderLen) [[unlikely]] {
    return Snapped(out, Short(ParseResult::kTruncatedIpv4, kIpv4MinHeaderLen, wire));
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
  // wire >= cap, so this is "beyond both the capture and the wire length"; a
  // datagram cut only by the snap length is fine.
  if (total > wire) [[unlikely]] {
    return ParseResult::kIpv4TotalLengthBeyondCapture;
  }
  if (ihl > cap) [[unlikely]] {
    return Snapped(out, ParseResult::kSnappedHeaders);  // total <= wire: options were snapped
  }
  if (ihl > kIpv4MinHeaderLen && !Ipv4OptionsValid(ip + kIpv4MinHeaderLen, ihl - kIpv4MinHeaderLen))
      [[unlikely]] {
    return ParseResult::kBadIpv4Options;
  }

  out->ip_version = 4;
  out->protocol = ip[9];
  // `out` is zeroed: only the 4 address bytes need writing.
  std::memcpy(out->src.bytes.data(), ip + 12, 4);
  std::memcpy(out->dst.bytes.data(), ip + 16, 4);
  out->snapped = cap < total;

  const uint32_t avail = std::min(cap, total);  // drops Ethernet trailer padding
  const uint16_t frag = Load16(ip + 6);
  if (frag & 0x3fff) [[unlikely]] {  // MF set or offset != 0
    out->fragment_id = Load16(ip + 4);
    out->fragment_offset = static_cast<uint16_t>((frag & 0x1fff) * 8);
    out->more_fragments = (frag & 0x2000) != 0;
    if (frag & 0x1fff) {
      out->payload_len = total - ihl;
      out->payload = ip + ihl;
      out->captured_payload_len = avail - ihl;
      return ParseResult::kNonFirstFragment;
    }
    out->first_fragment = true;
  }
  return ParseL4(out->protocol, ip + ihl, total - ihl, avail - ihl, out);
}

inline ParseResult ParseIpv6(const uint8_t* ip, uint32_t cap, uint32_t wire, ParsedPacket* out) {
  if (cap < kIpv6HeaderLen) [[unlikely]] {
    return Snapped(out, Short(ParseResult::kTruncatedIpv6, kIpv6HeaderLen, wire));
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
  out->snapped = cap < total;

  const uint32_t avail = std::min(cap, total);
  uint32_t pos = kIpv6HeaderLen;  // invariant: pos <= avail
  uint8_t next = ip[6];
  out->protocol = next;
  int headers = 0;
  while (IsIpv6Extension(next)) {
    if (headers == kMaxIpv6ExtensionHeaders) {
      return ParseResult::kIpv6ExtensionChainTooLong;
    }
    ++headers;
    // Within the datagram but beyond the capture: snapped (avail < total only
    // when the capture cut the datagram).
    if (avail - pos < kIpv6MinExtensionLen) {
      return Snapped(
          out, Short(ParseResult::kTruncatedIpv6Extension, pos + kIpv6MinExtensionLen, total));
    }
    const uint8_t* h = ip + pos;
    uint32_t len;
    if (next == kIpv6Fragment) {
      len = 8;
      const uint16_t offset_flags = Load16(h + 2);
      const uint32_t id = Load32(h + 4);
      const bool more = (offset_flags & 1) != 0;
      if (offset_flags & 0xfff8) {
        out->fragment_id = id;
        out->fragment_offset = offset_flags & 0xfff8;  // 8-byte units in the top 13 bits
        out->more_fragments = more;
        out->protocol = h[0];
        out->payload_len = total - pos - len;
        out->payload = h + len;
        out->captured_payload_len = avail - pos - len;
        return ParseResult::kNonFirstFragment;
      }
      // Offset 0: a first fragment when M is set, else an atomic fragment
      // (RFC 6946), which is a whole datagram.
      out->first_fragment = more;
      out->more_fragments = more;
      out->fragment_id = more ? id : 0;
    } else if (next == kIpv6Ah) {
      len = (static_cast<uint32_t>(h[1]) + 2) * 4;  // RFC 4302: 4-byte units minus 2
    } else {
      len = (static_cast<uint32_t>(h[1]) + 1) * 8;  // RFC 8200: 8-byte units minus 1
    }
    if (avail - pos < len) {
      return Snapped(out, Short(ParseResult::kTruncatedIpv6Extension, pos + len, total));
    }
    next = h[0];
    out->protocol = next;
    pos += len;
  }
  return ParseL4(next, ip + pos, total - pos, avail - pos, out);
}

// Frames that carry no IP, counted by ethertype class.
[[gnu::noinline]] ParseResult NonIpEthertype(uint16_t type, ParsedPacket* out) {
  out->ethertype = type;
  switch (type) {
    case kEtherArp:
      return ParseResult::kArp;
    case kEtherRarp:
      return ParseResult::kRarp;
    case kEtherLldp:
      return ParseResult::kLldp;
    default:
      return type < kEtherMinType ? ParseResult::kLlc : ParseResult::kOtherEthertype;
  }
}

// From an ethertype (or a cooked capture's protocol) on: `type` was read just
// before `off`, where the VLAN tags, MPLS labels or IP header start.
inline ParseResult ParseEthertype(uint16_t type, const uint8_t* frame, uint32_t off,
                                  uint32_t caplen, uint32_t wire_len, ParsedPacket* out) {
  while (IsVlanEthertype(type)) {
    if (out->vlan_count == kMaxVlanTags) [[unlikely]] {
      return ParseResult::kTooManyVlanTags;
    }
    if (caplen - off < kVlanTagLen) [[unlikely]] {
      return Snapped(out, Short(ParseResult::kTruncatedVlan, off + kVlanTagLen, wire_len));
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
    const uint16_t mpls_type = type;
    for (int labels = 0;; ++labels) {
      if (labels == kMaxMplsLabels) {
        return ParseResult::kTooManyMplsLabels;
      }
      if (caplen - off < kMplsLabelLen) {
        return Snapped(out, Short(ParseResult::kTruncatedMpls, off + kMplsLabelLen, wire_len));
      }
      const bool bottom_of_stack = (frame[off + 2] & 0x01) != 0;
      off += kMplsLabelLen;
      if (bottom_of_stack) {
        break;
      }
    }
    // MPLS does not say what it carries; the IP version nibble is the usual guess
    // (a pseudowire control word starts with 0 and is not IP).
    if (caplen == off) {
      return Snapped(out, Short(ParseResult::kTruncatedMpls, off + 1, wire_len));
    }
    const uint8_t nibble = frame[off] >> 4;
    if (nibble == 4) {
      type = kEtherIpv4;
    } else if (nibble == 6) {
      type = kEtherIpv6;
    } else {
      out->ethertype = mpls_type;
      return ParseResult::kMplsPayloadNotIp;
    }
  }

  if (type == kEtherIpv4) [[likely]] {
    return ParseIpv4(frame + off, caplen - off, wire_len - off, out);
  }
  if (type == kEtherIpv6) {
    return ParseIpv6(frame + off, caplen - off, wire_len - off, out);
  }
  return NonIpEthertype(type, out);
}

// Raw IP: the version nibble decides.
inline ParseResult ParseRawIp(const uint8_t* ip, uint32_t cap, uint32_t wire, ParsedPacket* out) {
  if (cap == 0) {
    return Snapped(out, Short(ParseResult::kTruncatedRawIp, 1, wire));
  }
  const uint8_t version = ip[0] >> 4;
  if (version == 4) {
    return ParseIpv4(ip, cap, wire, out);
  }
  if (version == 6) {
    return ParseIpv6(ip, cap, wire, out);
  }
  return ParseResult::kBadIpVersion;
}

// DLT_NULL / DLT_LOOP: a 4-byte address family, then the datagram.
ParseResult ParseLoopback(bool host_order, const uint8_t* frame, uint32_t caplen, uint32_t wire_len,
                          ParsedPacket* out) {
  if (caplen < kLoopbackHeaderLen) {
    return Snapped(out, Short(ParseResult::kTruncatedLoopback, kLoopbackHeaderLen, wire_len));
  }
  uint32_t af = Load32(frame);
  // NULL is in the capturing host's order: families are small, so a value
  // with high bits set was written little-endian (as tcpdump decides).
  if (host_order && (af & 0xffff0000) != 0) {
    af = __builtin_bswap32(af);
  }
  const uint8_t* ip = frame + kLoopbackHeaderLen;
  const uint32_t cap = caplen - kLoopbackHeaderLen;
  const uint32_t wire = wire_len - kLoopbackHeaderLen;
  switch (af) {
    case kAfInet:
      return ParseIpv4(ip, cap, wire, out);
    case kAfInet6Linux:
    case kAfInet6Bsd:
    case kAfInet6FreeBsd:
    case kAfInet6Darwin:
      return ParseIpv6(ip, cap, wire, out);
    default:
      out->ethertype = af <= 0xffff ? static_cast<uint16_t>(af) : 0;
      return ParseResult::kOtherAddressFamily;
  }
}

// Every link type but Ethernet (kept out of the hot path).
[[gnu::noinline]] ParseResult ParseOtherLink(LinkType link, const uint8_t* frame, uint32_t caplen,
                                             uint32_t wire_len, ParsedPacket* out) {
  switch (link) {
    case LinkType::kLinuxSll:
      // Packet type, ARPHRD type and address are ignored: the protocol field
      // reads like an ethertype.
      if (caplen < kLinuxSllHeaderLen) {
        return Snapped(out, Short(ParseResult::kTruncatedLinuxSll, kLinuxSllHeaderLen, wire_len));
      }
      return ParseEthertype(Load16(frame + 14), frame, kLinuxSllHeaderLen, caplen, wire_len, out);
    case LinkType::kLinuxSll2:
      if (caplen < kLinuxSll2HeaderLen) {
        return Snapped(out, Short(ParseResult::kTruncatedLinuxSll2, kLinuxSll2HeaderLen, wire_len));
      }
      return ParseEthertype(Load16(frame), frame, kLinuxSll2HeaderLen, caplen, wire_len, out);
    case LinkType::kRawOpenBsd:
    case LinkType::kRawBsd:
    case LinkType::kRaw:
      return ParseRawIp(frame, caplen, wire_len, out);
    case LinkType::kIpv4:
      return ParseIpv4(frame, caplen, wire_len, out);
    case LinkType::kIpv6:
      return ParseIpv6(frame, caplen, wire_len, out);
    case LinkType::kNull:
      return ParseLoopback(/*host_order=*/true, frame, caplen, wire_len, out);
    case LinkType::kLoop:
      return ParseLoopback(/*host_order=*/false, frame, caplen, wire_len, out);
    case LinkType::kEthernet:
      break;
  }
  return ParseResult::kOtherEthertype;  // refused at start; never parsed as Ethernet
}

}  // namespace

std::string_view ParseClassName(ParseClass c) {
  static constexpr std::array<std::string_view, kParseClassCount> kNames = {
      "ok", "non_ip", "later_fragment", "snapped", "malformed"};
  const size_t i = static_cast<size_t>(c);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

uint64_t ParseCounters::OfClass(ParseClass c) const {
  uint64_t sum = 0;
  for (size_t i = 0; i < by_result.size(); ++i) {
    if (internal::kParseResultClasses[i] == c) {
      sum += by_result[i];
    }
  }
  return sum;
}

std::array<uint64_t, kParseClassCount> ParseCounters::ByClass() const {
  std::array<uint64_t, kParseClassCount> sums{};
  for (size_t i = 0; i < by_result.size(); ++i) {
    sums[static_cast<size_t>(internal::kParseResultClasses[i])] += by_result[i];
  }
  return sums;
}

ParseResult ParseFrame(LinkType link, const uint8_t* frame, uint32_t caplen, uint32_t wire_len,
                       ParsedPacket* out) {
  // Copying a constant compiles to a few vector moves; `*out = {}` became a
  // `rep stos`, whose start-up cost was a third of the whole parse.
  static constexpr ParsedPacket kEmpty{};
  std::memcpy(static_cast<void*>(out), &kEmpty, sizeof(ParsedPacket));
  if (wire_len < caplen) [[unlikely]] {
    wire_len = caplen;
  }
  out->frame_len = wire_len;
  if (link != LinkType::kEthernet) [[unlikely]] {
    return ParseOtherLink(link, frame, caplen, wire_len, out);
  }
  if (caplen < kEthernetHeaderLen) [[unlikely]] {
    return Snapped(out, Short(ParseResult::kTruncatedEthernet, kEthernetHeaderLen, wire_len));
  }
  return ParseEthertype(Load16(frame + 12), frame, kEthernetHeaderLen, caplen, wire_len, out);
}

}  // namespace flowtrail::packet
