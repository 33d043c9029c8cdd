// Link types other than Ethernet: the same IP packet in Linux cooked v1/v2,
// raw IP, BSD NULL and LOOP parses to the same fields as its Ethernet
// original; their own headers, when cut, are truncated (or snapped); non-IP
// payloads are counted by class.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frame_builder.h"
#include "packet/parser.h"
#include "parse_helpers.h"

namespace flowtrail::packet::test {
namespace {

using flowtrail::testing::BuildFrame;
using flowtrail::testing::Encapsulate;
using flowtrail::testing::FrameSpec;

const LinkType kAllLinkTypes[] = {LinkType::kNull,     LinkType::kEthernet, LinkType::kRawOpenBsd,
                                  LinkType::kRawBsd,   LinkType::kRaw,      LinkType::kLoop,
                                  LinkType::kLinuxSll, LinkType::kIpv4,     LinkType::kIpv6,
                                  LinkType::kLinuxSll2};

std::vector<uint8_t> Enc(LinkType link, const std::vector<uint8_t>& eth, bool le = true,
                         uint32_t af6 = 30) {
  return Encapsulate(static_cast<uint16_t>(link), eth, le, af6);
}

FrameSpec Tcp(uint8_t version) {
  FrameSpec s;
  s.ip_version = version;
  if (version == 6) {
    s.src = "2001:db8::a";
    s.dst = "2001:db8::b";
  }
  s.flags = kTcpSyn;
  s.seq = 77;
  s.tcp_options = {3, 3, 5, 0};
  s.payload = "abc";
  return s;
}

TEST(ParseLinkTest, EveryLinkTypeInLinkTypeHIsSupported) {
  for (LinkType l : kAllLinkTypes) {
    EXPECT_TRUE(IsSupportedLinkType(static_cast<uint16_t>(l))) << static_cast<int>(l);
    EXPECT_NE(LinkTypeName(static_cast<uint16_t>(l)), "");
  }
}

TEST(ParseLinkTest, SamePacketInEveryLinkTypeParsesToTheSameFields) {
  for (uint8_t version : {4, 6}) {
    const std::vector<uint8_t> eth = BuildFrame(Tcp(version));
    const Parsed want = ParseCopy(eth);
    ASSERT_EQ(want.result, ParseResult::kOk);
    for (LinkType l : kAllLinkTypes) {
      SCOPED_TRACE(static_cast<int>(l));
      const std::vector<uint8_t> f = Enc(l, eth);
      if (f.empty()) {  // IPv4 in DLT 229 or IPv6 in 228
        ASSERT_TRUE((l == LinkType::kIpv4 && version == 6) ||
                    (l == LinkType::kIpv6 && version == 4));
        continue;
      }
      const Parsed p = ParseCopy(l, f);
      ASSERT_EQ(p.result, ParseResult::kOk) << ParseResultName(p.result);
      ExpectConsistent(p);
      ParsedPacket w = want.pkt;
      w.frame_len = static_cast<uint32_t>(f.size());
      ExpectSameFields(p.pkt, w);
      EXPECT_EQ(p.pkt.tcp_window_scale, 5);
      EXPECT_EQ(p.PayloadOffset(), want.PayloadOffset() + static_cast<ptrdiff_t>(f.size()) -
                                       static_cast<ptrdiff_t>(eth.size()));
    }
  }
}

TEST(ParseLinkTest, BsdNullAcceptsEitherByteOrderAndEveryAfInet6) {
  const std::vector<uint8_t> eth6 = BuildFrame(Tcp(6));
  const std::vector<uint8_t> eth4 = BuildFrame(Tcp(4));
  for (bool le : {true, false}) {
    SCOPED_TRACE(le);
    for (uint32_t af6 : {10u, 24u, 28u, 30u}) {
      const Parsed p = ParseCopy(LinkType::kNull, Enc(LinkType::kNull, eth6, le, af6));
      EXPECT_EQ(p.result, ParseResult::kOk) << af6;
      EXPECT_EQ(p.pkt.ip_version, 6);
    }
    const Parsed p = ParseCopy(LinkType::kNull, Enc(LinkType::kNull, eth4, le));
    EXPECT_EQ(p.result, ParseResult::kOk);
    EXPECT_EQ(p.pkt.ip_version, 4);
  }
}

TEST(ParseLinkTest, LoopIsNetworkOrderOnly) {
  std::vector<uint8_t> f = Enc(LinkType::kLoop, BuildFrame(Tcp(4)));
  ASSERT_EQ(f[3], 2);
  EXPECT_EQ(ParseCopy(LinkType::kLoop, f).result, ParseResult::kOk);
  f[0] = 2;
  f[3] = 0;  // little-endian AF_INET
  const Parsed p = ParseCopy(LinkType::kLoop, f);
  EXPECT_EQ(p.result, ParseResult::kOtherAddressFamily);
  EXPECT_EQ(ParseResultClass(p.result), ParseClass::kNonIp);
}

TEST(ParseLinkTest, LoopbackAddressFamilyMismatchingTheVersionIsBad) {
  // AF_INET in front of an IPv6 datagram.
  std::vector<uint8_t> f = Enc(LinkType::kNull, BuildFrame(Tcp(6)), true);
  f[0] = 2;
  EXPECT_EQ(ParseCopy(LinkType::kNull, f).result, ParseResult::kBadIpVersion);
}

TEST(ParseLinkTest, OtherLoopbackAddressFamiliesAreNonIp) {
  for (uint32_t af : {0u, 1u, 7u, 17u, 0x10000u}) {
    SCOPED_TRACE(af);
    std::vector<uint8_t> f = Enc(LinkType::kNull, BuildFrame(Tcp(4)), false);
    f[0] = static_cast<uint8_t>(af >> 24);
    f[1] = static_cast<uint8_t>(af >> 16);
    f[2] = static_cast<uint8_t>(af >> 8);
    f[3] = static_cast<uint8_t>(af);
    const Parsed p = ParseCopy(LinkType::kNull, f);
    EXPECT_EQ(p.result, ParseResult::kOtherAddressFamily) << ParseResultName(p.result);
  }
}

TEST(ParseLinkTest, RawIpVersionNibbleDecides) {
  const std::vector<uint8_t> v4 = Enc(LinkType::kRaw, BuildFrame(Tcp(4)));
  const std::vector<uint8_t> v6 = Enc(LinkType::kRaw, BuildFrame(Tcp(6)));
  for (LinkType l : {LinkType::kRaw, LinkType::kRawBsd, LinkType::kRawOpenBsd}) {
    EXPECT_EQ(ParseCopy(l, v4).pkt.ip_version, 4);
    EXPECT_EQ(ParseCopy(l, v6).pkt.ip_version, 6);
    std::vector<uint8_t> bad = v4;
    bad[0] = 0x55;
    EXPECT_EQ(ParseCopy(l, bad).result, ParseResult::kBadIpVersion);
  }
  // DLT 228 / 229 carry one version only.
  EXPECT_EQ(ParseCopy(LinkType::kIpv4, v6).result, ParseResult::kBadIpVersion);
  EXPECT_EQ(ParseCopy(LinkType::kIpv6, v4).result, ParseResult::kBadIpVersion);
}

TEST(ParseLinkTest, CookedCaptureCarriesVlanTagsAndMpls) {
  FrameSpec s = Tcp(4);
  s.vlans = {33};
  const std::vector<uint8_t> tagged = BuildFrame(s);
  s.vlans.clear();
  s.mpls_labels = {16};
  const std::vector<uint8_t> mpls = BuildFrame(s);
  for (LinkType l : {LinkType::kLinuxSll, LinkType::kLinuxSll2}) {
    SCOPED_TRACE(static_cast<int>(l));
    Parsed p = ParseCopy(l, Enc(l, tagged));
    ASSERT_EQ(p.result, ParseResult::kOk);
    EXPECT_EQ(p.pkt.vlan_count, 1);
    EXPECT_EQ(p.pkt.vlan_outer, 33);
    p = ParseCopy(l, Enc(l, mpls));
    ASSERT_EQ(p.result, ParseResult::kOk);
    EXPECT_EQ(p.pkt.seq, 77u);
  }
}

struct ProtoCase {
  uint16_t protocol;
  ParseResult want;
};

TEST(ParseLinkTest, CookedNonIpProtocolsAreCountedByClass) {
  for (LinkType l : {LinkType::kLinuxSll, LinkType::kLinuxSll2}) {
    for (const ProtoCase& c :
         {ProtoCase{0x0806, ParseResult::kArp}, ProtoCase{0x88cc, ParseResult::kLldp},
          ProtoCase{0x0004, ParseResult::kLlc},  // ETH_P_802_2
          ProtoCase{0x0001, ParseResult::kLlc},  // ETH_P_802_3
          ProtoCase{0x000c, ParseResult::kLlc},  // ETH_P_CAN
          ProtoCase{0x88e5, ParseResult::kOtherEthertype}}) {
      SCOPED_TRACE(c.protocol);
      std::vector<uint8_t> f = Enc(l, BuildFrame(Tcp(4)));
      const size_t at = l == LinkType::kLinuxSll ? 14 : 0;
      f[at] = static_cast<uint8_t>(c.protocol >> 8);
      f[at + 1] = static_cast<uint8_t>(c.protocol);
      const Parsed p = ParseCopy(l, f);
      EXPECT_EQ(p.result, c.want) << ParseResultName(p.result);
      EXPECT_EQ(p.pkt.ethertype, c.protocol);
    }
  }
}

struct HeaderCase {
  LinkType link;
  size_t header_len;
  ParseResult truncated;
};

TEST(ParseLinkTest, LinkHeaderCutShortIsTruncatedOrSnapped) {
  const std::vector<uint8_t> eth = BuildFrame(Tcp(4));
  for (const HeaderCase& c :
       {HeaderCase{LinkType::kEthernet, 14, ParseResult::kTruncatedEthernet},
        HeaderCase{LinkType::kLinuxSll, 16, ParseResult::kTruncatedLinuxSll},
        HeaderCase{LinkType::kLinuxSll2, 20, ParseResult::kTruncatedLinuxSll2},
        HeaderCase{LinkType::kNull, 4, ParseResult::kTruncatedLoopback},
        HeaderCase{LinkType::kLoop, 4, ParseResult::kTruncatedLoopback},
        HeaderCase{LinkType::kRaw, 1, ParseResult::kTruncatedRawIp},
        HeaderCase{LinkType::kIpv4, 20, ParseResult::kTruncatedIpv4}}) {
    SCOPED_TRACE(static_cast<int>(c.link));
    const std::vector<uint8_t> f = Enc(c.link, eth);
    for (size_t n = 0; n < c.header_len; ++n) {
      SCOPED_TRACE(n);
      EXPECT_EQ(ParseCopy(c.link, f, n, static_cast<uint32_t>(n)).result, c.truncated);
      EXPECT_EQ(ParseCopy(c.link, f, n).result, ParseResult::kSnappedHeaders);
    }
  }
}

TEST(ParseLinkTest, UnsupportedLinkTypeIsNotParsedAsEthernet) {
  const std::vector<uint8_t> eth = BuildFrame(Tcp(4));
  EXPECT_FALSE(IsSupportedLinkType(105));
  const Parsed p = ParseCopy(static_cast<LinkType>(105), eth);
  EXPECT_NE(p.result, ParseResult::kOk);
  EXPECT_EQ(ParseResultClass(p.result), ParseClass::kNonIp);
}

}  // namespace
}  // namespace flowtrail::packet::test
