// libFuzzer target over ParseFrame. The first input byte picks the link type;
// the rest is the frame (caplen = its size), whose first bytes also choose the
// wire length: equal to the capture, longer (a snap-length capture) or shorter
// (a bogus record the parser must take as caplen). Checks the ParsedPacket
// invariants on every result, and that cutting an accepted frame shorter (same
// wire length) only ever gives the same packet or snapped headers.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>

#include "fuzz_check.h"
#include "packet/parser.h"

namespace {

using flowtrail::packet::kMaxVlanTags;
using flowtrail::packet::kNoWindowScale;
using flowtrail::packet::kParseResultCount;
using flowtrail::packet::kProtoIcmp;
using flowtrail::packet::kProtoIcmpV6;
using flowtrail::packet::kProtoTcp;
using flowtrail::packet::kProtoUdp;
using flowtrail::packet::kTcpSyn;
using flowtrail::packet::LinkType;
using flowtrail::packet::ParseClass;
using flowtrail::packet::ParsedPacket;
using flowtrail::packet::ParseFrame;
using flowtrail::packet::ParseResult;
using flowtrail::packet::ParseResultClass;
using flowtrail::packet::ParseResultName;

constexpr LinkType kLinkTypes[] = {LinkType::kEthernet, LinkType::kNull, LinkType::kRawOpenBsd,
                                   LinkType::kRawBsd,   LinkType::kRaw,  LinkType::kLoop,
                                   LinkType::kLinuxSll, LinkType::kIpv4, LinkType::kIpv6,
                                   LinkType::kLinuxSll2};

uint32_t WireLength(const uint8_t* data, uint32_t size) {
  if (size < 3) {
    return size;
  }
  switch (data[0] & 3) {
    case 0:
      return size;
    case 1:
      return size + data[1];
    case 2:
      return size + ((uint32_t{data[1]} << 8) | data[2]);
    default:
      return data[1] % (size + 1);  // below caplen
  }
}

// What every result satisfies.
void CheckResult(ParseResult r, const ParsedPacket& p, const uint8_t* frame, uint32_t caplen,
                 uint32_t wire) {
  FUZZ_CHECK(static_cast<size_t>(r) < kParseResultCount);
  FUZZ_CHECK(ParseResultName(r) != "unknown");
  FUZZ_CHECK(p.frame_len == (wire < caplen ? caplen : wire));
  // Only a capture shorter than the wire is snapped.
  if (ParseResultClass(r) == ParseClass::kSnapped || p.snapped) {
    FUZZ_CHECK(p.frame_len > caplen);
  }
  if (r == ParseResult::kSnappedHeaders) {
    FUZZ_CHECK(p.snapped);
  }
  if (r == ParseResult::kNonFirstFragment) {
    FUZZ_CHECK(p.ip_version == 4 || p.ip_version == 6);
    FUZZ_CHECK(p.fragment_offset > 0);
    FUZZ_CHECK(p.payload >= frame && p.payload <= frame + caplen);
    FUZZ_CHECK(p.captured_payload_len <= static_cast<uint32_t>(frame + caplen - p.payload));
    FUZZ_CHECK(p.captured_payload_len <= p.payload_len);
  }
}

// What every accepted packet satisfies, for `caplen` bytes at `frame`.
void CheckPacket(const ParsedPacket& p, const uint8_t* frame, uint32_t caplen, uint32_t wire) {
  FUZZ_CHECK(p.ip_version == 4 || p.ip_version == 6);
  FUZZ_CHECK(p.payload != nullptr);
  FUZZ_CHECK(p.payload >= frame);
  FUZZ_CHECK(p.payload <= frame + caplen);
  FUZZ_CHECK(p.captured_payload_len <= static_cast<uint32_t>(frame + caplen - p.payload));
  FUZZ_CHECK(p.captured_payload_len <= p.payload_len);
  FUZZ_CHECK(p.payload_len <= 65535);
  FUZZ_CHECK(p.frame_len == (wire < caplen ? caplen : wire));
  FUZZ_CHECK(p.vlan_count <= kMaxVlanTags);
  if (p.vlan_count < 2) {
    FUZZ_CHECK(p.vlan_inner == 0);
  }
  if (p.vlan_count == 0) {
    FUZZ_CHECK(p.vlan_outer == 0);
  }
  FUZZ_CHECK(p.vlan_outer < 4096 && p.vlan_inner < 4096);
  if (!p.first_fragment) {
    FUZZ_CHECK(p.fragment_id == 0);
  }
  FUZZ_CHECK(p.fragment_offset == 0 && p.more_fragments == p.first_fragment);
  if (p.tcp_window_scale != kNoWindowScale) {
    FUZZ_CHECK(p.protocol == kProtoTcp && (p.tcp_flags & kTcpSyn) != 0);
    FUZZ_CHECK(p.tcp_window_scale <= 14);
  }
  FUZZ_CHECK(p.ethertype == 0);
  if (p.protocol == kProtoIcmp || p.protocol == kProtoIcmpV6) {
    FUZZ_CHECK(p.src_port == p.icmp_type && p.dst_port == p.icmp_code);
    FUZZ_CHECK(p.tcp_flags == 0 && p.seq == 0 && p.ack == 0 && p.window == 0);
  } else {
    FUZZ_CHECK(p.icmp_type == 0 && p.icmp_code == 0 && p.icmp_id == 0);
  }
  if (p.protocol != kProtoTcp) {
    FUZZ_CHECK(p.tcp_flags == 0 && p.seq == 0 && p.ack == 0 && p.window == 0);
  }
  if (p.protocol != kProtoTcp && p.protocol != kProtoUdp && p.protocol != kProtoIcmp &&
      p.protocol != kProtoIcmpV6) {
    FUZZ_CHECK(p.src_port == 0 && p.dst_port == 0);  // any other protocol: no ports
  }
  if (p.ip_version == 4) {
    for (int i = 4; i < 16; ++i) {
      FUZZ_CHECK(p.src.bytes[i] == 0 && p.dst.bytes[i] == 0);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 65535 + 64) {
    return 0;
  }
  const LinkType link = kLinkTypes[data[0] % std::size(kLinkTypes)];
  ++data;
  --size;
  const auto caplen = static_cast<uint32_t>(size);
  const uint32_t wire = WireLength(data, caplen);

  ParsedPacket p;
  const ParseResult r = ParseFrame(link, data, caplen, wire, &p);
  CheckResult(r, p, data, caplen, wire);
  if (r != ParseResult::kOk) {
    return 0;
  }
  CheckPacket(p, data, caplen, wire);

  // Cut the accepted frame (same wire length) into an exactly-sized copy, so
  // ASan sees any read past the cut: the result is kOk with the same headers,
  // or snapped headers (never malformed: the wire length covers every header).
  const uint32_t cut = size > 0 ? data[size - 1] % caplen : 0;
  std::unique_ptr<uint8_t[]> prefix(new uint8_t[cut]);
  if (cut > 0) {
    std::memcpy(prefix.get(), data, cut);
  }
  ParsedPacket q;
  const uint32_t qwire = wire < caplen ? caplen : wire;
  const ParseResult rq = ParseFrame(link, prefix.get(), cut, qwire, &q);
  CheckResult(rq, q, prefix.get(), cut, qwire);
  if (rq == ParseResult::kOk) {
    CheckPacket(q, prefix.get(), cut, qwire);
    FUZZ_CHECK(q.src == p.src && q.dst == p.dst && q.protocol == p.protocol);
    FUZZ_CHECK(q.src_port == p.src_port && q.dst_port == p.dst_port);
    FUZZ_CHECK(q.seq == p.seq && q.ack == p.ack && q.tcp_flags == p.tcp_flags);
    FUZZ_CHECK(q.icmp_id == p.icmp_id && q.vlan_count == p.vlan_count);
    FUZZ_CHECK(q.payload_len == p.payload_len);
    FUZZ_CHECK(q.captured_payload_len <= p.captured_payload_len);
    FUZZ_CHECK(q.first_fragment == p.first_fragment && q.fragment_id == p.fragment_id);
    FUZZ_CHECK(q.snapped || !p.snapped);
  } else {
    FUZZ_CHECK(rq == ParseResult::kSnappedHeaders);
  }
  return 0;
}
