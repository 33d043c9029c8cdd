// Properties, for every link type that can carry each sample: a valid frame
// cut by the capture at every byte offset (wire length kept) is snapped, never
// malformed, and parses to the same packet with less captured payload once the
// session key's headers are in; a frame that really is that short (wire ==
// capture) is malformed; and the parser never reads past the cut (each prefix
// lives in a heap buffer of exactly its size, so ASan reports any overread).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frame_builder.h"
#include "packet/parser.h"
#include "parse_helpers.h"

namespace flowtrail::packet::test {
namespace {

using flowtrail::testing::BuildFrame;
using flowtrail::testing::FrameSpec;

struct Sample {
  std::string name;
  FrameSpec spec;
  size_t l4_offset;      // where the transport header starts
  size_t l4_min_header;  // bytes of it that must be captured (TCP fixed header, UDP, ICMP)
  size_t ip_offset;
  size_t ws_end = 0;  // SYN samples: end of the window scale option (0: none)
};

std::vector<Sample> Samples() {
  std::vector<Sample> out;
  FrameSpec s;
  s.flags = kTcpSyn;
  s.tcp_options = {2, 4, 5, 0xb4, 1, 3, 3, 7};
  s.payload = "GET / HTTP/1.1\r\n";
  out.push_back({"tcp4_options", s, 14 + 20, 20, 14, 14 + 20 + 20 + 8});

  FrameSpec v6 = s;
  v6.ip_version = 6;
  v6.src = "2001:db8::1";
  v6.dst = "2001:db8::2";
  v6.vlans = {10};
  v6.ipv6_extensions = {{0, {}}, {60, std::vector<uint8_t>(14, 1)}};
  out.push_back({"vlan_tcp6_ext", v6, 18 + 40 + 8 + 16, 20, 18, 18 + 40 + 8 + 16 + 28});

  FrameSpec u;
  u.protocol = kProtoUdp;
  u.vlans = {100, 200};
  u.qinq = true;
  u.payload = std::string(40, 'd');
  out.push_back({"qinq_udp4", u, 22 + 20, 8, 22});

  FrameSpec ic;
  ic.ip_version = 6;
  ic.src = "fe80::1";
  ic.dst = "fe80::2";
  ic.protocol = kProtoIcmpV6;
  ic.icmp_type = 128;
  ic.icmp_id = 99;
  ic.mpls_labels = {16, 17};
  ic.payload = "0123456789abcdef";
  out.push_back({"mpls_icmp6", ic, 22 + 40, 8, 22});

  FrameSpec fr;
  fr.protocol = kProtoUdp;
  fr.ipv4_options = {0x94, 4, 0, 0};
  fr.more_fragments = true;
  fr.payload = std::string(30, 'f');
  out.push_back({"ipv4_options_first_fragment_udp", fr, 14 + 24, 8, 14});

  FrameSpec ah = u;
  ah.ip_version = 6;
  ah.src = "2001:db8::5";
  ah.dst = "2001:db8::6";
  ah.vlans.clear();
  ah.ipv6_extensions = {{51, std::vector<uint8_t>(22, 0)},
                        {44, {0, 1, 0, 0, 0, 9}}};  // AH, then a first fragment
  out.push_back({"ah_fragment_udp6", ah, 14 + 40 + 24 + 8, 8, 14});

  FrameSpec icmp4;
  icmp4.protocol = kProtoIcmp;
  icmp4.icmp_type = 13;
  icmp4.icmp_id = 5;
  icmp4.vlans = {1, 2, 3};
  out.push_back({"three_tags_icmp4", icmp4, 26 + 20, 8, 26});
  return out;
}

const LinkType kLinkTypes[] = {LinkType::kEthernet, LinkType::kLinuxSll, LinkType::kLinuxSll2,
                               LinkType::kRaw,      LinkType::kRawBsd,   LinkType::kIpv4,
                               LinkType::kIpv6,     LinkType::kNull,     LinkType::kLoop};

// A sample re-encapsulated in one link type, offsets moved with it.
struct LinkSample {
  LinkType link;
  std::vector<uint8_t> frame;
  size_t l4_offset, ip_offset, ws_end;
};

// Every link type that can carry the sample (raw and loopback types cannot
// carry VLAN tags or MPLS labels).
std::vector<LinkSample> InEveryLinkType(const Sample& sample) {
  const std::vector<uint8_t> eth = BuildFrame(sample.spec);
  std::vector<LinkSample> out;
  for (LinkType l : kLinkTypes) {
    std::vector<uint8_t> f =
        flowtrail::testing::Encapsulate(static_cast<uint16_t>(l), eth, /*null_le=*/true, 28);
    if (f.empty()) continue;
    const size_t shift = f.size() - eth.size();  // wraps for shorter headers; sums are right
    out.push_back({l, std::move(f), sample.l4_offset + shift, sample.ip_offset + shift,
                   sample.ws_end ? sample.ws_end + shift : 0});
  }
  return out;
}

std::string LinkName(LinkType l) {
  return std::string(LinkTypeName(static_cast<uint16_t>(l))) + "/" +
         std::to_string(static_cast<int>(l));
}

TEST(ParserTruncationTest, SnapLengthCutsAtEveryOffsetAreSnappedOrConsistent) {
  size_t combinations = 0;
  for (const Sample& sample : Samples()) {
    SCOPED_TRACE(sample.name);
    for (const LinkSample& ls : InEveryLinkType(sample)) {
      SCOPED_TRACE(LinkName(ls.link));
      ++combinations;
      const std::vector<uint8_t>& frame = ls.frame;
      const uint32_t wire = static_cast<uint32_t>(frame.size());
      const Parsed full = ParseCopy(ls.link, frame);
      ASSERT_EQ(full.result, ParseResult::kOk) << ParseResultName(full.result);
      ExpectConsistent(full);
      EXPECT_FALSE(full.pkt.snapped);
      const size_t payload_off = static_cast<size_t>(full.PayloadOffset());
      ASSERT_GE(payload_off, ls.l4_offset + sample.l4_min_header);
      const size_t datagram_end = payload_off + full.pkt.captured_payload_len;
      if (ls.ws_end) {
        EXPECT_NE(full.pkt.tcp_window_scale, kNoWindowScale);
      }

      for (size_t n = 0; n <= frame.size(); ++n) {
        SCOPED_TRACE(n);
        // The wire length is the whole frame: only the capture was cut, so the
        // frame is never malformed: snapped headers, or a snapped packet.
        const Parsed p = ParseCopy(ls.link, frame, n, wire);
        if (n < ls.l4_offset + sample.l4_min_header) {
          EXPECT_EQ(p.result, ParseResult::kSnappedHeaders) << ParseResultName(p.result);
          EXPECT_TRUE(p.pkt.snapped);
          continue;
        }
        ASSERT_EQ(p.result, ParseResult::kOk) << ParseResultName(p.result);
        ExpectConsistent(p);
        ParsedPacket want = full.pkt;
        want.captured_payload_len =
            n > payload_off ? std::min<uint32_t>(n - payload_off, full.pkt.captured_payload_len)
                            : 0;
        want.snapped = n < datagram_end;
        if (ls.ws_end && n < ls.ws_end) want.tcp_window_scale = kNoWindowScale;
        ExpectSameFields(p.pkt, want);
        EXPECT_EQ(p.PayloadOffset(), static_cast<ptrdiff_t>(std::min(payload_off, n)));
      }
    }
  }
  EXPECT_GE(combinations, 30u);
}

TEST(ParserTruncationTest, ShortFramesAtEveryLengthAreMalformedOrConsistent) {
  for (const Sample& sample : Samples()) {
    SCOPED_TRACE(sample.name);
    for (const LinkSample& ls : InEveryLinkType(sample)) {
      SCOPED_TRACE(LinkName(ls.link));
      const std::vector<uint8_t>& frame = ls.frame;
      const Parsed full = ParseCopy(ls.link, frame);
      ASSERT_EQ(full.result, ParseResult::kOk);
      // End of the IP datagram per its header: bytes after it are trailer.
      const size_t ip = ls.ip_offset;
      const size_t datagram_end =
          ip + (sample.spec.ip_version == 4 ? ((frame[ip + 2] << 8) | frame[ip + 3])
                                            : 40 + ((frame[ip + 4] << 8) | frame[ip + 5]));
      ASSERT_LE(datagram_end, frame.size());

      for (size_t n = 0; n <= frame.size(); ++n) {
        SCOPED_TRACE(n);
        // The frame really was this short: wire length == capture length.
        const Parsed p = ParseCopy(ls.link, frame, n, static_cast<uint32_t>(n));
        if (n < datagram_end) {
          EXPECT_EQ(ParseResultClass(p.result), ParseClass::kMalformed)
              << ParseResultName(p.result);
          continue;
        }
        ASSERT_EQ(p.result, ParseResult::kOk);
        ExpectConsistent(p);
        ParsedPacket want = full.pkt;
        want.frame_len = static_cast<uint32_t>(n);
        ExpectSameFields(p.pkt, want);
        EXPECT_EQ(p.PayloadOffset(), full.PayloadOffset());
      }
    }
  }
}

TEST(ParserTruncationTest, CorruptingAnySingleByteNeverBreaksTheInvariants) {
  // Not a fuzzer, but cheap and deterministic: every byte of every sample set
  // to a few interesting values, then parsed from an exact-size buffer.
  for (const Sample& sample : Samples()) {
    SCOPED_TRACE(sample.name);
    for (const LinkSample& ls : InEveryLinkType(sample)) {
      SCOPED_TRACE(LinkName(ls.link));
      const std::vector<uint8_t>& frame = ls.frame;
      for (size_t i = 0; i < frame.size(); ++i) {
        for (uint8_t v : {0x00, 0x01, 0x0f, 0x45, 0x60, 0x7f, 0x80, 0xff}) {
          std::vector<uint8_t> f = frame;
          f[i] = v;
          for (uint32_t wire : {static_cast<uint32_t>(f.size()), 65535u}) {
            const Parsed p = ParseCopy(ls.link, f, SIZE_MAX, wire);
            if (p.result == ParseResult::kOk) ExpectConsistent(p);
            ASSERT_LT(static_cast<size_t>(p.result), kParseResultCount);
            // Only a capture shorter than the wire can be snapped.
            if (wire == f.size()) {
              EXPECT_NE(ParseResultClass(p.result), ParseClass::kSnapped);
              EXPECT_FALSE(p.pkt.snapped);
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace flowtrail::packet::test
