// Hand-built frames through ParseFrame: every field of ParsedPacket for each
// protocol and encapsulation, and every ParseResult.
#include "packet/parser.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "frame_builder.h"
#include "parse_helpers.h"

namespace flowtrail::packet::test {
namespace {

using flowtrail::testing::BuildFrame;
using flowtrail::testing::FrameSpec;
using flowtrail::testing::Ipv6Extension;

constexpr size_t kEth = 14;

FrameSpec TcpV4() {
  FrameSpec s;
  s.src = "192.0.2.1";
  s.dst = "198.51.100.2";
  s.sport = 40000;
  s.dport = 443;
  s.flags = kTcpSyn | kTcpAck;
  s.seq = 0x01020304;
  s.ack = 0xa0b0c0d0;
  s.window = 29200;
  s.tcp_options = {2, 4, 0x05, 0xb4};  // MSS 1460
  s.payload = "hello world";
  return s;
}

FrameSpec TcpV6() {
  FrameSpec s = TcpV4();
  s.ip_version = 6;
  s.src = "2001:db8::1";
  s.dst = "2001:db8:ffff::2";
  return s;
}

// The packet TcpV4() must parse to; tests adjust what their variant changes.
ParsedPacket WantTcpV4(uint32_t frame_len) {
  ParsedPacket w;
  w.src = V4("192.0.2.1");
  w.dst = V4("198.51.100.2");
  w.ip_version = 4;
  w.protocol = kProtoTcp;
  w.src_port = 40000;
  w.dst_port = 443;
  w.tcp_flags = kTcpSyn | kTcpAck;
  w.seq = 0x01020304;
  w.ack = 0xa0b0c0d0;
  w.window = 29200;
  w.payload_len = 11;
  w.captured_payload_len = 11;
  w.frame_len = frame_len;
  return w;
}

ParsedPacket WantTcpV6(uint32_t frame_len) {
  ParsedPacket w = WantTcpV4(frame_len);
  w.src = V6("2001:db8::1");
  w.dst = V6("2001:db8:ffff::2");
  w.ip_version = 6;
  return w;
}

void ExpectPayload(const Parsed& p, size_t offset, const std::string& text) {
  EXPECT_EQ(p.PayloadOffset(), static_cast<ptrdiff_t>(offset));
  ASSERT_EQ(p.pkt.captured_payload_len, text.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.pkt.payload), text.size()), text);
}

// ---------------------------------------------------------------- protocols

TEST(ParseFrameTest, TcpOverIpv4FillsEveryField) {
  const std::vector<uint8_t> f = BuildFrame(TcpV4());
  ASSERT_EQ(f.size(), kEth + 20 + 24 + 11);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV4(f.size()));
  ExpectPayload(p, kEth + 20 + 24, "hello world");
}

TEST(ParseFrameTest, TcpOverIpv6FillsEveryField) {
  const std::vector<uint8_t> f = BuildFrame(TcpV6());
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV6(f.size()));
  ExpectPayload(p, kEth + 40 + 24, "hello world");
}

TEST(ParseFrameTest, TcpFlagByteIsKeptWhole) {
  FrameSpec s = TcpV4();
  s.flags = 0xff;  // CWR, ECE and all six classic flags
  const Parsed p = ParseCopy(BuildFrame(s));
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.tcp_flags, 0xff);
}

TEST(ParseFrameTest, UdpOverIpv4FillsEveryFieldAndIgnoresTrailerPadding) {
  FrameSpec s;
  s.protocol = kProtoUdp;
  s.src = "10.1.1.1";
  s.dst = "10.2.2.2";
  s.sport = 5353;
  s.dport = 53;
  s.payload = "abcd";
  const std::vector<uint8_t> f = BuildFrame(s);
  ASSERT_EQ(f.size(), 60u);  // 46 bytes of frame + 14 bytes of Ethernet padding
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w;
  w.src = V4("10.1.1.1");
  w.dst = V4("10.2.2.2");
  w.ip_version = 4;
  w.protocol = kProtoUdp;
  w.src_port = 5353;
  w.dst_port = 53;
  w.payload_len = 4;
  w.captured_payload_len = 4;
  w.frame_len = 60;
  ExpectSameFields(p.pkt, w);
  ExpectPayload(p, kEth + 20 + 8, "abcd");
}

TEST(ParseFrameTest, UdpOverIpv6FillsEveryField) {
  FrameSpec s;
  s.ip_version = 6;
  s.protocol = kProtoUdp;
  s.src = "fe80::1";
  s.dst = "ff02::fb";
  s.sport = 5353;
  s.dport = 5353;
  s.payload = "mdns query";
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w;
  w.src = V6("fe80::1");
  w.dst = V6("ff02::fb");
  w.ip_version = 6;
  w.protocol = kProtoUdp;
  w.src_port = 5353;
  w.dst_port = 5353;
  w.payload_len = 10;
  w.captured_payload_len = 10;
  w.frame_len = f.size();
  ExpectSameFields(p.pkt, w);
  ExpectPayload(p, kEth + 40 + 8, "mdns query");
}

FrameSpec Icmp(uint8_t version, uint8_t type, uint8_t code, uint16_t id) {
  FrameSpec s;
  s.ip_version = version;
  s.protocol = version == 4 ? kProtoIcmp : kProtoIcmpV6;
  if (version == 6) {
    s.src = "2001:db8::a";
    s.dst = "2001:db8::b";
  }
  s.icmp_type = type;
  s.icmp_code = code;
  s.icmp_id = id;
  s.icmp_seq = 7;
  s.payload = "ping";
  return s;
}

ParsedPacket WantIcmp(uint8_t version, uint8_t type, uint8_t code, uint16_t want_id,
                      uint32_t frame_len) {
  ParsedPacket w;
  w.src = version == 4 ? V4("10.0.0.1") : V6("2001:db8::a");
  w.dst = version == 4 ? V4("10.0.0.2") : V6("2001:db8::b");
  w.ip_version = version;
  w.protocol = version == 4 ? kProtoIcmp : kProtoIcmpV6;
  w.src_port = type;
  w.dst_port = code;
  w.icmp_type = type;
  w.icmp_code = code;
  w.icmp_id = want_id;
  w.payload_len = 4;
  w.captured_payload_len = 4;
  w.frame_len = frame_len;
  return w;
}

TEST(ParseFrameTest, IcmpEchoRequestOverIpv4FillsEveryField) {
  const std::vector<uint8_t> f = BuildFrame(Icmp(4, 8, 0, 0x1234));
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantIcmp(4, 8, 0, 0x1234, f.size()));
  ExpectPayload(p, kEth + 20 + 8, "ping");
}

TEST(ParseFrameTest, IcmpIdentifierIsTakenFromEveryIdCarryingType) {
  // Echo reply/request, timestamp, information and address-mask request/reply.
  for (uint8_t type : {0, 8, 13, 14, 15, 16, 17, 18}) {
    SCOPED_TRACE(static_cast<int>(type));
    const std::vector<uint8_t> f = BuildFrame(Icmp(4, type, 0, 0xbeef));
    const Parsed p = ParseCopy(f);
    ASSERT_EQ(p.result, ParseResult::kOk);
    ExpectSameFields(p.pkt, WantIcmp(4, type, 0, 0xbeef, f.size()));
  }
}

TEST(ParseFrameTest, IcmpErrorsHaveNoIdentifier) {
  // Destination unreachable, redirect, time exceeded, parameter problem: the
  // rest-of-header bytes are not an identifier and must not split sessions.
  for (uint8_t type : {3, 5, 11, 12}) {
    SCOPED_TRACE(static_cast<int>(type));
    const std::vector<uint8_t> f = BuildFrame(Icmp(4, type, 1, 0x5555));
    const Parsed p = ParseCopy(f);
    ASSERT_EQ(p.result, ParseResult::kOk);
    ExpectSameFields(p.pkt, WantIcmp(4, type, 1, 0, f.size()));
  }
}

TEST(ParseFrameTest, Icmpv6EchoFillsEveryField) {
  for (uint8_t type : {128, 129}) {
    SCOPED_TRACE(static_cast<int>(type));
    const std::vector<uint8_t> f = BuildFrame(Icmp(6, type, 0, 0x4321));
    const Parsed p = ParseCopy(f);
    ASSERT_EQ(p.result, ParseResult::kOk);
    ExpectSameFields(p.pkt, WantIcmp(6, type, 0, 0x4321, f.size()));
    ExpectPayload(p, kEth + 40 + 8, "ping");
  }
}

TEST(ParseFrameTest, Icmpv6NonEchoTypesHaveNoIdentifier) {
  // Destination unreachable, packet too big, neighbor solicitation, and 13
  // (an ICMPv4 timestamp, but not an identifier-carrying type in ICMPv6).
  for (uint8_t type : {1, 2, 13, 135}) {
    SCOPED_TRACE(static_cast<int>(type));
    const std::vector<uint8_t> f = BuildFrame(Icmp(6, type, 0, 0x4321));
    const Parsed p = ParseCopy(f);
    ASSERT_EQ(p.result, ParseResult::kOk);
    ExpectSameFields(p.pkt, WantIcmp(6, type, 0, 0, f.size()));
  }
}

// ---------------------------------------------------------------- link layer

TEST(ParseFrameTest, SingleVlanTagGivesOuterIdWithoutPriorityBits) {
  FrameSpec s = TcpV4();
  s.vlans = {100};
  std::vector<uint8_t> f = BuildFrame(s);
  f[kEth] |= 0xb0;  // PCP 5, DEI set: not part of the id
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV4(f.size());
  w.vlan_count = 1;
  w.vlan_outer = 100;
  ExpectSameFields(p.pkt, w);
  ExpectPayload(p, kEth + 4 + 20 + 24, "hello world");
}

TEST(ParseFrameTest, VlanTaggedIpv6Tcp) {
  FrameSpec s = TcpV6();
  s.vlans = {4094};
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV6(f.size());
  w.vlan_count = 1;
  w.vlan_outer = 4094;
  ExpectSameFields(p.pkt, w);
  ExpectPayload(p, kEth + 4 + 40 + 24, "hello world");
}

TEST(ParseFrameTest, QinQ8021adGivesOuterAndInnerIds) {
  FrameSpec s = TcpV4();
  s.vlans = {200, 300};
  s.qinq = true;
  const std::vector<uint8_t> f = BuildFrame(s);
  ASSERT_EQ(Get16(f, 12), 0x88a8);
  ASSERT_EQ(Get16(f, 16), 0x8100);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV4(f.size());
  w.vlan_count = 2;
  w.vlan_outer = 200;
  w.vlan_inner = 300;
  ExpectSameFields(p.pkt, w);
  ExpectPayload(p, kEth + 8 + 20 + 24, "hello world");
}

TEST(ParseFrameTest, PreStandardQinQ9100IsATag) {
  FrameSpec s = TcpV6();
  s.vlans = {7, 8};
  std::vector<uint8_t> f = BuildFrame(s);
  Put16(f, 12, 0x9100);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV6(f.size());
  w.vlan_count = 2;
  w.vlan_outer = 7;
  w.vlan_inner = 8;
  ExpectSameFields(p.pkt, w);
}

TEST(ParseFrameTest, ThreeStackedTagsKeepTheFirstTwoIdsAndCountThree) {
  FrameSpec s = TcpV4();
  s.vlans = {10, 20, 30};
  s.qinq = true;
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV4(f.size());
  w.vlan_count = 3;
  w.vlan_outer = 10;
  w.vlan_inner = 20;
  ExpectSameFields(p.pkt, w);
  ExpectPayload(p, kEth + 12 + 20 + 24, "hello world");
}

TEST(ParseFrameTest, VlanStackIsBoundedByMaxVlanTags) {
  FrameSpec s = TcpV4();
  s.vlans.assign(kMaxVlanTags, 5);
  Parsed p = ParseCopy(BuildFrame(s));
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.vlan_count, kMaxVlanTags);

  s.vlans.push_back(5);
  p = ParseCopy(BuildFrame(s));
  EXPECT_EQ(p.result, ParseResult::kTooManyVlanTags);
}

TEST(ParseFrameTest, MplsSingleLabelCarryingIpv4) {
  FrameSpec s = TcpV4();
  s.mpls_labels = {16};
  const std::vector<uint8_t> f = BuildFrame(s);
  ASSERT_EQ(Get16(f, 12), 0x8847);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV4(f.size()));
  ExpectPayload(p, kEth + 4 + 20 + 24, "hello world");
}

TEST(ParseFrameTest, MplsLabelStackCarryingIpv6) {
  FrameSpec s = TcpV6();
  s.mpls_labels = {100, 200, 300};
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV6(f.size()));
  ExpectPayload(p, kEth + 12 + 40 + 24, "hello world");
}

TEST(ParseFrameTest, MplsMulticastEthertypeIsParsed) {
  FrameSpec s = TcpV4();
  s.mpls_labels = {16, 17};
  std::vector<uint8_t> f = BuildFrame(s);
  Put16(f, 12, 0x8848);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV4(f.size()));
}

TEST(ParseFrameTest, VlanThenMpls) {
  FrameSpec s = TcpV4();
  s.vlans = {42};
  s.mpls_labels = {1000, 2000};
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV4(f.size());
  w.vlan_count = 1;
  w.vlan_outer = 42;
  ExpectSameFields(p.pkt, w);
  ExpectPayload(p, kEth + 4 + 8 + 20 + 24, "hello world");
}

TEST(ParseFrameTest, MplsStackIsBoundedByMaxMplsLabels) {
  FrameSpec s = TcpV4();
  s.mpls_labels.assign(kMaxMplsLabels, 16);
  Parsed p = ParseCopy(BuildFrame(s));
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV4(BuildFrame(s).size()));

  s.mpls_labels.push_back(16);
  p = ParseCopy(BuildFrame(s));
  EXPECT_EQ(p.result, ParseResult::kTooManyMplsLabels);
}

TEST(ParseFrameTest, MplsPayloadThatIsNotIpIsRefused) {
  FrameSpec s = TcpV4();
  s.mpls_labels = {16};
  for (uint8_t first : {0x00, 0x10, 0x50, 0xf0}) {  // control word (0), then junk nibbles
    SCOPED_TRACE(static_cast<int>(first));
    std::vector<uint8_t> f = BuildFrame(s);
    f[kEth + 4] = first;
    EXPECT_EQ(ParseCopy(f).result, ParseResult::kMplsPayloadNotIp);
  }
}

TEST(ParseFrameTest, MplsPayloadIsGuessedFromTheVersionNibble) {
  // An IPv6 packet under MPLS whose nibble is overwritten with 4 becomes an
  // IPv4 header (and is then judged as one): the nibble is the only guide.
  FrameSpec s = TcpV6();
  s.mpls_labels = {16};
  std::vector<uint8_t> f = BuildFrame(s);
  f[kEth + 4] = 0x45;
  const Parsed p = ParseCopy(f);
  EXPECT_NE(p.result, ParseResult::kMplsPayloadNotIp);
  EXPECT_NE(p.result, ParseResult::kOk);
}

TEST(ParseFrameTest, Ipv4AndIpv6EthertypesRequireTheMatchingVersion) {
  std::vector<uint8_t> f4 = BuildFrame(TcpV4());
  f4[kEth] = 0x65;
  EXPECT_EQ(ParseCopy(f4).result, ParseResult::kBadIpVersion);
  std::vector<uint8_t> f6 = BuildFrame(TcpV6());
  f6[kEth] = 0x40;
  EXPECT_EQ(ParseCopy(f6).result, ParseResult::kBadIpVersion);
}

struct NonIpCase {
  uint16_t type;
  ParseResult want;
};

TEST(ParseFrameTest, NonIpFramesAreCountedByEthertypeClass) {
  for (const NonIpCase& c :
       {NonIpCase{0x0806, ParseResult::kArp}, NonIpCase{0x8035, ParseResult::kRarp},
        NonIpCase{0x88cc, ParseResult::kLldp},
        NonIpCase{0x0026, ParseResult::kLlc},  // 802.3 length (STP)
        NonIpCase{0x05ff, ParseResult::kLlc},
        NonIpCase{0x86de, ParseResult::kOtherEthertype},     // near IPv6
        NonIpCase{0x888e, ParseResult::kOtherEthertype},     // EAPOL
        NonIpCase{0x8864, ParseResult::kOtherEthertype}}) {  // PPPoE
    SCOPED_TRACE(c.type);
    for (bool tagged : {false, true}) {
      FrameSpec s = TcpV4();
      if (tagged) s.vlans = {42};
      std::vector<uint8_t> f = BuildFrame(s);
      Put16(f, tagged ? 16 : 12, c.type);
      const Parsed p = ParseCopy(f);
      EXPECT_EQ(p.result, c.want) << ParseResultName(p.result);
      EXPECT_EQ(ParseResultClass(p.result), ParseClass::kNonIp);
      EXPECT_EQ(p.pkt.ethertype, c.type);
      EXPECT_EQ(p.pkt.vlan_outer, tagged ? 42 : 0);
    }
  }
}

// ---------------------------------------------------------------- IPv4

TEST(ParseFrameTest, Ipv4OptionsAreSkipped) {
  FrameSpec s = TcpV4();
  s.ipv4_options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00};  // router alert, NOPs, EOL
  const std::vector<uint8_t> f = BuildFrame(s);
  ASSERT_EQ(f[kEth] & 0x0f, 7);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV4(f.size()));
  ExpectPayload(p, kEth + 28 + 24, "hello world");
}

TEST(ParseFrameTest, MalformedIpv4OptionsAreBad) {
  // Each option list is 4 bytes; the header's own lengths are sound, so only
  // the options' walk can refuse them.
  const std::vector<std::vector<uint8_t>> bad = {
      {0x82, 0x02, 0x00, 0x00},  // security, length 2 < 3 (tshark: malformed)
      {0x94, 0x03, 0x00, 0x00},  // router alert must be 4
      {0x07, 0x08, 0x00, 0x00},  // record route longer than the header's options
      {0x01, 0x01, 0x01, 0x44},  // NOPs then a timestamp without a length byte
      {0x19, 0x01, 0x00, 0x00},  // length 1: no room even for type and length
  };
  for (const auto& opts : bad) {
    FrameSpec s = TcpV4();
    s.ipv4_options = opts;
    EXPECT_EQ(ParseCopy(BuildFrame(s)).result, ParseResult::kBadIpv4Options)
        << int{opts[0]} << "/" << int{opts[1]};
  }
  FrameSpec ok = TcpV4();
  ok.ipv4_options = {0x01, 0x00, 0x82, 0x02};  // anything after EOL is padding
  EXPECT_EQ(ParseCopy(BuildFrame(ok)).result, ParseResult::kOk);
}

TEST(ParseFrameTest, MaximalIpv4Options) {
  FrameSpec s = TcpV4();
  s.ipv4_options.assign(40, 0x01);
  const std::vector<uint8_t> f = BuildFrame(s);
  ASSERT_EQ(f[kEth] & 0x0f, 15);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectPayload(p, kEth + 60 + 24, "hello world");
}

TEST(ParseFrameTest, Ipv4FirstFragmentParsesL4AndIsFlagged) {
  FrameSpec s = TcpV4();
  s.more_fragments = true;
  s.ip_id = 0x4242;
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV4(f.size());
  w.first_fragment = true;
  w.fragment_id = 0x4242;
  w.more_fragments = true;
  ExpectSameFields(p.pkt, w);
}

TEST(ParseFrameTest, Ipv4DontFragmentIsNotAFragment) {
  std::vector<uint8_t> f = BuildFrame(TcpV4());
  f[kEth + 6] = 0x40;  // DF
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_FALSE(p.pkt.first_fragment);
  EXPECT_EQ(p.pkt.fragment_id, 0u);
}

TEST(ParseFrameTest, Ipv4NonFirstFragmentsAreRefusedButAttributable) {
  for (bool more : {true, false}) {  // a middle and a last fragment
    SCOPED_TRACE(more);
    FrameSpec s;
    s.protocol = kProtoUdp;
    s.src = "10.9.8.7";
    s.dst = "10.6.5.4";
    s.more_fragments = more;
    s.fragment_offset = 185;
    s.ip_id = 0x9999;
    s.payload = std::string(100, 'x');  // a UDP header is built but is fragment data here
    const Parsed p = ParseCopy(BuildFrame(s));
    ASSERT_EQ(p.result, ParseResult::kNonFirstFragment);
    EXPECT_EQ(p.pkt.ip_version, 4);
    EXPECT_EQ(p.pkt.src, V4("10.9.8.7"));
    EXPECT_EQ(p.pkt.dst, V4("10.6.5.4"));
    EXPECT_EQ(p.pkt.protocol, kProtoUdp);
    EXPECT_EQ(p.pkt.fragment_id, 0x9999u);
    EXPECT_EQ(p.pkt.payload_len, 108u);
    EXPECT_EQ(p.pkt.fragment_offset, 185u * 8);
    EXPECT_EQ(p.pkt.more_fragments, more);
    EXPECT_EQ(p.pkt.captured_payload_len, 108u);
    EXPECT_EQ(p.PayloadOffset(), static_cast<ptrdiff_t>(kEth + 20));
    EXPECT_FALSE(p.pkt.snapped);
    EXPECT_FALSE(p.pkt.first_fragment);
    EXPECT_EQ(p.pkt.src_port, 0);  // L4 never read
  }
}

TEST(ParseFrameTest, Ipv4HeaderLengthBelowFiveIsBad) {
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    std::vector<uint8_t> f = BuildFrame(TcpV4());
    f[kEth] = 0x40 | ihl;
    EXPECT_EQ(ParseCopy(f).result, ParseResult::kBadIpv4HeaderLength) << int{ihl};
  }
}

TEST(ParseFrameTest, Ipv4HeaderLongerThanTotalLengthIsBadEvenWhenNotCaptured) {
  // As in bad__zeek_ipv4-truncated-broken-header: IHL 15, total length 20, and
  // only 20 header bytes captured. The header contradicts itself.
  std::vector<uint8_t> f = BuildFrame(TcpV4());
  f[kEth] = 0x4f;
  Put16(f, kEth + 2, 20);
  EXPECT_EQ(ParseCopy(f, kEth + 20).result, ParseResult::kBadIpv4HeaderLength);
  EXPECT_EQ(ParseCopy(f).result, ParseResult::kBadIpv4HeaderLength);
}

TEST(ParseFrameTest, Ipv4TotalLengthBelowTwentyIsTooShort) {
  for (uint16_t total : {0, 1, 19}) {
    std::vector<uint8_t> f = BuildFrame(TcpV4());
    Put16(f, kEth + 2, total);
    EXPECT_EQ(ParseCopy(f).result, ParseResult::kIpv4TotalLengthTooShort) << total;
  }
}

TEST(ParseFrameTest, Ipv4HeaderWithOptionsCutByCaptureIsTruncated) {
  FrameSpec s = TcpV4();
  s.ipv4_options.assign(8, 0x01);
  const std::vector<uint8_t> f = BuildFrame(s);
  // The frame really ended there (wire == capture): malformed.
  // (A frame ending inside the options is shorter than the datagram's total
  // length: checked first, since the total length is captured.)
  EXPECT_EQ(ParseCopy(f, kEth + 27, kEth + 27).result, ParseResult::kIpv4TotalLengthBeyondCapture);
  EXPECT_EQ(ParseCopy(f, kEth + 19, kEth + 19).result, ParseResult::kTruncatedIpv4);
  // Cut by the snap length (the wire length covers the header): snapped.
  EXPECT_EQ(ParseCopy(f, kEth + 27).result, ParseResult::kSnappedHeaders);
  EXPECT_EQ(ParseCopy(f, kEth + 19).result, ParseResult::kSnappedHeaders);
}

TEST(ParseFrameTest, Ipv4TotalLengthBeyondCaptureAndWireIsRefused) {
  std::vector<uint8_t> f = BuildFrame(TcpV4());
  Put16(f, kEth + 2, static_cast<uint16_t>(f.size() - kEth + 1));
  EXPECT_EQ(ParseCopy(f).result, ParseResult::kIpv4TotalLengthBeyondCapture);
  // The same header in a snap-length capture whose wire length covers it is fine.
  const Parsed p = ParseCopy(f, SIZE_MAX, f.size() + 1);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.payload_len, 12u);
  EXPECT_EQ(p.pkt.captured_payload_len, 11u);
}

TEST(ParseFrameTest, SnapLengthCaptureTakesPayloadLengthFromHeaders) {
  FrameSpec s = TcpV4();
  s.payload = std::string(1400, 'p');
  const std::vector<uint8_t> f = BuildFrame(s);
  const size_t snap = kEth + 20 + 24 + 10;
  const Parsed p = ParseCopy(f, snap, f.size());
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV4(f.size());
  w.payload_len = 1400;
  w.captured_payload_len = 10;
  w.snapped = true;
  ExpectSameFields(p.pkt, w);
  ExpectPayload(p, kEth + 20 + 24, std::string(10, 'p'));
}

TEST(ParseFrameTest, SnapLengthCuttingTcpOptionsKeepsThePacket) {
  // tcpdump -s 68 on a SYN with 20 bytes of options (bad__zeek_tcp_truncated-header).
  FrameSpec s = TcpV4();
  s.flags = kTcpSyn;
  s.payload.clear();
  s.tcp_options = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  const std::vector<uint8_t> f = BuildFrame(s);
  ASSERT_EQ(f.size(), 74u);
  const Parsed p = ParseCopy(f, 68, 74);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV4(74);
  w.tcp_flags = kTcpSyn;
  w.payload_len = 0;
  w.captured_payload_len = 0;
  w.snapped = true;
  w.tcp_window_scale = kNoWindowScale;  // the option was not captured
  ExpectSameFields(p.pkt, w);
  EXPECT_EQ(p.PayloadOffset(), 68);
  EXPECT_EQ(ParseCopy(f).pkt.tcp_window_scale, 7);  // end of what was captured
}

TEST(ParseFrameTest, EthernetTrailerIsNotPayload) {
  FrameSpec s = TcpV4();
  s.payload.clear();
  std::vector<uint8_t> f = BuildFrame(s);
  f.resize(f.size() + 30, 0xee);  // e.g. a switch or NIC adding bytes after IP
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.payload_len, 0u);
  EXPECT_EQ(p.pkt.captured_payload_len, 0u);
  EXPECT_EQ(p.pkt.frame_len, f.size());
}

TEST(ParseFrameTest, WireLengthBelowCaptureLengthIsTakenAsCaptureLength) {
  const std::vector<uint8_t> f = BuildFrame(TcpV4());
  const Parsed p = ParseCopy(f, SIZE_MAX, 10);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.frame_len, f.size());
}

TEST(ParseFrameTest, EveryOtherIpProtocolIsTrafficWithItsPayloadLength) {
  // IGMP, GRE, ESP, AH (IPv4: not walked), OSPF, SCTP, PIM, an unassigned one.
  for (uint8_t proto : {2, 47, 50, 51, 89, 132, 103, 253}) {
    SCOPED_TRACE(int{proto});
    FrameSpec s;
    s.protocol = proto;
    s.payload = "other payload";  // 13 bytes
    const std::vector<uint8_t> f = BuildFrame(s);
    Parsed p = ParseCopy(f);
    ASSERT_EQ(p.result, ParseResult::kOk);
    ParsedPacket w;
    w.src = V4("10.0.0.1");
    w.dst = V4("10.0.0.2");
    w.ip_version = 4;
    w.protocol = proto;
    w.payload_len = 13;
    w.captured_payload_len = 13;
    w.frame_len = static_cast<uint32_t>(f.size());
    ExpectSameFields(p.pkt, w);
    ExpectPayload(p, kEth + 20, "other payload");
    // Snapped: the length still comes from the header.
    p = ParseCopy(f, kEth + 20 + 3);
    ASSERT_EQ(p.result, ParseResult::kOk);
    w.captured_payload_len = 3;
    w.snapped = true;
    ExpectSameFields(p.pkt, w);
  }
}

TEST(ParseFrameTest, Ipv6ChainEndingInAnotherProtocolIsTraffic) {
  FrameSpec s;
  s.ip_version = 6;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::2";
  s.payload = "0123456789";
  for (uint8_t proto : {47, 50, 59, 132}) {  // GRE, ESP, no next header, SCTP
    SCOPED_TRACE(int{proto});
    s.protocol = proto;
    s.ipv6_extensions = {{0, {}}};
    const Parsed p = ParseCopy(BuildFrame(s));
    ASSERT_EQ(p.result, ParseResult::kOk);
    EXPECT_EQ(p.pkt.protocol, proto);
    EXPECT_EQ(p.pkt.dst, V6("2001:db8::2"));
    EXPECT_EQ(p.pkt.src_port, 0);
    EXPECT_EQ(p.pkt.dst_port, 0);
    EXPECT_EQ(p.pkt.payload_len, 10u);
    ExpectPayload(p, kEth + 40 + 8, "0123456789");
  }
  // AH ending the chain (next header 59): the flow's protocol is 59 after AH.
  s.protocol = 59;
  s.ipv6_extensions = {{51, std::vector<uint8_t>(10, 0)}};
  const Parsed p = ParseCopy(BuildFrame(s));
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.protocol, 59);
  EXPECT_EQ(p.pkt.payload_len, 10u);
}

// ---------------------------------------------------------------- IPv6

TEST(ParseFrameTest, Ipv6ExtensionChainIsWalked) {
  FrameSpec s = TcpV6();
  s.ipv6_extensions = {{0, {1, 4, 0, 0, 0, 0}},             // hop-by-hop, 8 bytes
                       {60, std::vector<uint8_t>(14, 1)},   // dest options, 16 bytes
                       {43, {0, 1, 0, 0, 0, 0}},            // routing, 8 bytes
                       {60, std::vector<uint8_t>(22, 1)}};  // dest options, 24 bytes
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV6(f.size()));
  ExpectPayload(p, kEth + 40 + 8 + 16 + 8 + 24 + 24, "hello world");
}

TEST(ParseFrameTest, Ipv6AuthenticationHeaderLengthIsInFourByteUnits) {
  FrameSpec s;
  s.ip_version = 6;
  s.protocol = kProtoUdp;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::2";
  s.sport = 500;
  s.dport = 4500;
  s.payload = "esp-in-udp?";
  // AH: reserved(2) SPI(4) sequence(4) ICV(12) = 22 body bytes, 24 in all:
  // length field 4, which as 8-byte units would wrongly mean 40 bytes.
  s.ipv6_extensions = {{51, std::vector<uint8_t>(22, 0xa5)}};
  const std::vector<uint8_t> f = BuildFrame(s);
  ASSERT_EQ(f[kEth + 40 + 1], 4);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.protocol, kProtoUdp);
  EXPECT_EQ(p.pkt.src_port, 500);
  EXPECT_EQ(p.pkt.dst_port, 4500);
  ExpectPayload(p, kEth + 40 + 24 + 8, "esp-in-udp?");
}

TEST(ParseFrameTest, Ipv6HopByHopThenAhThenDestinationOptions) {
  FrameSpec s = TcpV6();
  s.ipv6_extensions = {{0, {}}, {51, std::vector<uint8_t>(14, 0)}, {60, {}}};
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV6(f.size()));
  ExpectPayload(p, kEth + 40 + 8 + 16 + 8 + 24, "hello world");
}

std::vector<uint8_t> FragmentBody(uint16_t offset_units, bool more, uint32_t id) {
  const uint16_t v = static_cast<uint16_t>((offset_units << 3) | (more ? 1 : 0));
  return {static_cast<uint8_t>(v >> 8),   static_cast<uint8_t>(v),
          static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
          static_cast<uint8_t>(id >> 8),  static_cast<uint8_t>(id)};
}

TEST(ParseFrameTest, Ipv6FirstFragmentParsesL4AndIsFlagged) {
  FrameSpec s = TcpV6();
  s.ipv6_extensions = {{44, FragmentBody(0, true, 0xdeadbeef)}};
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ParsedPacket w = WantTcpV6(f.size());
  w.first_fragment = true;
  w.fragment_id = 0xdeadbeef;
  w.more_fragments = true;
  ExpectSameFields(p.pkt, w);
  ExpectPayload(p, kEth + 48 + 24, "hello world");
}

TEST(ParseFrameTest, Ipv6AtomicFragmentIsNotAFragment) {
  FrameSpec s = TcpV6();
  s.ipv6_extensions = {{44, FragmentBody(0, false, 77)}};  // RFC 6946
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV6(f.size()));
}

TEST(ParseFrameTest, Ipv6NonFirstFragmentsAreRefusedButAttributable) {
  for (bool more : {true, false}) {
    SCOPED_TRACE(more);
    FrameSpec s = TcpV6();
    s.ipv6_extensions = {{0, {}}, {44, FragmentBody(100, more, 0x01020304)}};
    const Parsed p = ParseCopy(BuildFrame(s));
    ASSERT_EQ(p.result, ParseResult::kNonFirstFragment);
    EXPECT_EQ(p.pkt.ip_version, 6);
    EXPECT_EQ(p.pkt.src, V6("2001:db8::1"));
    EXPECT_EQ(p.pkt.dst, V6("2001:db8:ffff::2"));
    EXPECT_EQ(p.pkt.protocol, kProtoTcp);
    EXPECT_EQ(p.pkt.fragment_id, 0x01020304u);
    EXPECT_EQ(p.pkt.payload_len, 24u + 11u);
    EXPECT_EQ(p.pkt.fragment_offset, 800u);
    EXPECT_EQ(p.pkt.more_fragments, more);
    EXPECT_EQ(p.pkt.captured_payload_len, 24u + 11u);
  }
}

TEST(ParseFrameTest, Ipv6ExtensionChainIsBounded) {
  FrameSpec s = TcpV6();
  s.ipv6_extensions.assign(kMaxIpv6ExtensionHeaders, Ipv6Extension{60, {}});
  Parsed p = ParseCopy(BuildFrame(s));
  ASSERT_EQ(p.result, ParseResult::kOk);
  ExpectPayload(p, kEth + 40 + 8 * kMaxIpv6ExtensionHeaders + 24, "hello world");

  s.ipv6_extensions.push_back(Ipv6Extension{60, {}});
  p = ParseCopy(BuildFrame(s));
  EXPECT_EQ(p.result, ParseResult::kIpv6ExtensionChainTooLong);
}

TEST(ParseFrameTest, Ipv6ExtensionBeyondCaptureOrDatagramIsTruncated) {
  FrameSpec s = TcpV6();
  s.ipv6_extensions = {{0, std::vector<uint8_t>(30, 1)}};  // 32 bytes
  std::vector<uint8_t> f = BuildFrame(s);
  // Cut by the capture (header start captured, its end not), wire covers it:
  // snapped; the same cut with wire == capture is a short datagram.
  EXPECT_EQ(ParseCopy(f, kEth + 40 + 31, f.size()).result, ParseResult::kSnappedHeaders);
  EXPECT_EQ(ParseCopy(f, kEth + 40 + 4, f.size()).result, ParseResult::kSnappedHeaders);
  EXPECT_EQ(ParseCopy(f, kEth + 40 + 31, kEth + 40 + 31).result,
            ParseResult::kIpv6PayloadLengthBeyondCapture);
  // Its length field runs past the end of the datagram.
  f[kEth + 40 + 1] = 200;
  EXPECT_EQ(ParseCopy(f).result, ParseResult::kTruncatedIpv6Extension);
}

TEST(ParseFrameTest, Ipv6PayloadLengthIsTheTruth) {
  std::vector<uint8_t> f = BuildFrame(TcpV6());
  f.resize(f.size() + 8, 0);  // trailer
  Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.payload_len, 11u);
  EXPECT_EQ(p.pkt.captured_payload_len, 11u);

  // Longer than capture and wire: refused; longer than the capture only: a snap capture.
  Put16(f, kEth + 4, static_cast<uint16_t>(Get16(f, kEth + 4) + 9));
  EXPECT_EQ(ParseCopy(f).result, ParseResult::kIpv6PayloadLengthBeyondCapture);
  p = ParseCopy(f, SIZE_MAX, f.size() + 1);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.payload_len, 20u);
  EXPECT_EQ(p.pkt.captured_payload_len, 19u);
}

// ---------------------------------------------------------------- L4

TEST(ParseFrameTest, TcpDataOffsetMustFitTheSegment) {
  for (uint8_t doff : {0, 4}) {
    std::vector<uint8_t> f = BuildFrame(TcpV4());
    f[kEth + 20 + 12] = static_cast<uint8_t>(doff << 4);
    EXPECT_EQ(ParseCopy(f).result, ParseResult::kBadTcpDataOffset) << int{doff};
  }
  FrameSpec s = TcpV4();
  s.payload.clear();
  s.tcp_options.clear();
  std::vector<uint8_t> f = BuildFrame(s);
  f[kEth + 20 + 12] = 0x60;  // 24 bytes of header in a 20-byte segment
  EXPECT_EQ(ParseCopy(f).result, ParseResult::kBadTcpDataOffset);
  f[kEth + 20 + 12] = 0x50;
  EXPECT_EQ(ParseCopy(f).result, ParseResult::kOk);
}

TEST(ParseFrameTest, TcpSegmentShorterThanItsFixedHeaderIsTruncated) {
  std::vector<uint8_t> f = BuildFrame(TcpV4());
  Put16(f, kEth + 2, 20 + 19);  // IP says the segment is 19 bytes
  EXPECT_EQ(ParseCopy(f).result, ParseResult::kTruncatedTcp);
  f = BuildFrame(TcpV4());
  EXPECT_EQ(ParseCopy(f, kEth + 20 + 19, f.size()).result, ParseResult::kSnappedHeaders);
}

TEST(ParseFrameTest, UdpUsesTheShorterOfUdpAndIpLengths) {
  FrameSpec s;
  s.protocol = kProtoUdp;
  s.payload = "0123456789";
  std::vector<uint8_t> f = BuildFrame(s);
  const size_t udp = kEth + 20;
  Put16(f, udp + 4, 8 + 4);  // UDP says 4 bytes of data, IP says 10
  Parsed p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.payload_len, 4u);
  ExpectPayload(p, udp + 8, "0123");

  Put16(f, udp + 4, 8 + 500);  // UDP claims more than the IP datagram holds
  p = ParseCopy(f);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.payload_len, 10u);
  ExpectPayload(p, udp + 8, "0123456789");
}

TEST(ParseFrameTest, UdpLengthBelowHeaderIsBad) {
  for (uint16_t len : {0, 7}) {
    FrameSpec s;
    s.protocol = kProtoUdp;
    std::vector<uint8_t> f = BuildFrame(s);
    Put16(f, kEth + 20 + 4, len);
    EXPECT_EQ(ParseCopy(f).result, ParseResult::kBadUdpLength) << len;
  }
}

TEST(ParseFrameTest, ShortUdpAndIcmpHeadersAreTruncated) {
  FrameSpec s;
  s.protocol = kProtoUdp;
  std::vector<uint8_t> f = BuildFrame(s);
  EXPECT_EQ(ParseCopy(f, kEth + 20 + 7, f.size()).result, ParseResult::kSnappedHeaders);
  Put16(f, kEth + 2, 20 + 4);  // IP datagram too short for a UDP header
  EXPECT_EQ(ParseCopy(f).result, ParseResult::kTruncatedUdp);

  for (uint8_t v : {4, 6}) {
    f = BuildFrame(Icmp(v, 8, 0, 1));
    const size_t icmp = kEth + (v == 4 ? 20 : 40);
    EXPECT_EQ(ParseCopy(f, icmp + 7, f.size()).result, ParseResult::kSnappedHeaders);
    Put16(f, kEth + (v == 4 ? 2 : 4), static_cast<uint16_t>(v == 4 ? 20 + 7 : 7));
    EXPECT_EQ(ParseCopy(f).result, ParseResult::kTruncatedIcmp);  // datagram too short
  }
}

// ---------------------------------------------------------------- snap length

TEST(ParseFrameTest, PacketCutInsideTheDatagramIsFlaggedSnapped) {
  FrameSpec s = TcpV4();
  const std::vector<uint8_t> f = BuildFrame(s);
  // Cut inside the payload: kOk, snapped, lengths from the headers.
  Parsed p = ParseCopy(f, f.size() - 1);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_TRUE(p.pkt.snapped);
  EXPECT_EQ(p.pkt.payload_len, 11u);
  EXPECT_EQ(p.pkt.captured_payload_len, 10u);
  // Whole frame captured: not snapped.
  EXPECT_FALSE(ParseCopy(f).pkt.snapped);
  // Only the Ethernet trailer was cut: the datagram is whole, not snapped.
  std::vector<uint8_t> padded = f;
  padded.resize(f.size() + 6, 0);
  p = ParseCopy(padded, f.size(), static_cast<uint32_t>(padded.size()));
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_FALSE(p.pkt.snapped);
}

TEST(ParseFrameTest, HeadersCutBySnapLengthAreSnappedNotMalformed) {
  // tcpdump -s 64 of IPv6 + TCP: 74 bytes needed for the fixed TCP header.
  const std::vector<uint8_t> f6 = BuildFrame(TcpV6());
  Parsed p = ParseCopy(f6, 64);
  ASSERT_EQ(p.result, ParseResult::kSnappedHeaders);
  EXPECT_TRUE(p.pkt.snapped);
  EXPECT_EQ(p.pkt.ip_version, 6);  // the IP header was captured
  EXPECT_EQ(p.pkt.src, V6("2001:db8::1"));
  EXPECT_EQ(p.pkt.protocol, kProtoTcp);
  // The same 64 bytes as the whole frame: malformed.
  EXPECT_EQ(ParseCopy(f6, 64, 64).result, ParseResult::kIpv6PayloadLengthBeyondCapture);

  // Every cut before the end of the fixed TCP header is snapped.
  const std::vector<uint8_t> f4 = BuildFrame(TcpV4());
  for (size_t n = 0; n < kEth + 20 + 20; ++n) {
    SCOPED_TRACE(n);
    p = ParseCopy(f4, n);
    EXPECT_EQ(p.result, ParseResult::kSnappedHeaders) << ParseResultName(p.result);
    EXPECT_EQ(p.pkt.ip_version, n >= kEth + 20 ? 4 : 0);
  }
  // A wire length that does not cover the header either is not a snap.
  EXPECT_EQ(ParseCopy(f4, 10, 12).result, ParseResult::kTruncatedEthernet);
}

TEST(ParseFrameTest, SnappedPayloadLengthAndSequenceComeFromHeaders) {
  for (uint8_t v : {4, 6}) {
    SCOPED_TRACE(int{v});
    FrameSpec s = v == 4 ? TcpV4() : TcpV6();
    s.payload = std::string(1000, 'z');
    const std::vector<uint8_t> f = BuildFrame(s);
    const size_t l4 = kEth + (v == 4 ? 20 : 40);
    for (size_t snap : {l4 + 20, l4 + 22, l4 + 24, l4 + 100}) {
      SCOPED_TRACE(snap);
      const Parsed p = ParseCopy(f, snap);
      ASSERT_EQ(p.result, ParseResult::kOk);
      EXPECT_TRUE(p.pkt.snapped);
      EXPECT_EQ(p.pkt.payload_len, 1000u);
      EXPECT_EQ(p.pkt.seq, 0x01020304u);
      EXPECT_EQ(p.pkt.ack, 0xa0b0c0d0u);
      EXPECT_EQ(p.pkt.captured_payload_len, snap > l4 + 24 ? snap - l4 - 24 : 0u);
    }
  }
}

TEST(ParseFrameTest, SnappedLaterFragmentKeepsItsHeaderLength) {
  FrameSpec s;
  s.protocol = kProtoUdp;
  s.fragment_offset = 10;
  s.payload = std::string(200, 'x');
  const std::vector<uint8_t> f = BuildFrame(s);
  const Parsed p = ParseCopy(f, 64);
  ASSERT_EQ(p.result, ParseResult::kNonFirstFragment);
  EXPECT_TRUE(p.pkt.snapped);
  EXPECT_EQ(p.pkt.payload_len, 208u);
  EXPECT_EQ(p.pkt.captured_payload_len, 64u - kEth - 20);
  EXPECT_EQ(p.pkt.fragment_offset, 80u);
  EXPECT_FALSE(p.pkt.more_fragments);
}

TEST(ParseFrameTest, LaterFragmentKeepsVlanFields) {
  FrameSpec s;
  s.protocol = kProtoUdp;
  s.vlans = {100, 200};
  s.qinq = true;
  s.fragment_offset = 3;
  s.more_fragments = true;
  const Parsed p = ParseCopy(BuildFrame(s));
  ASSERT_EQ(p.result, ParseResult::kNonFirstFragment);
  EXPECT_EQ(p.pkt.vlan_count, 2);
  EXPECT_EQ(p.pkt.vlan_outer, 100);
  EXPECT_EQ(p.pkt.vlan_inner, 200);
  EXPECT_EQ(p.pkt.fragment_offset, 24u);
  EXPECT_TRUE(p.pkt.more_fragments);
}

// ---------------------------------------------------------------- window scale

Parsed ParseSynWithOptions(std::vector<uint8_t> options, uint8_t flags = kTcpSyn,
                           size_t caplen = SIZE_MAX) {
  FrameSpec s = TcpV4();
  s.flags = flags;
  s.tcp_options = std::move(options);
  return ParseCopy(BuildFrame(s), caplen);
}

TEST(ParseFrameTest, SynWindowScaleOptionIsRead) {
  // MSS, SACK permitted, timestamps, NOP, window scale 7 (as Linux sends).
  const std::vector<uint8_t> linux_syn = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0,
                                          0, 1, 0, 0,    0, 0, 1, 3,  3, 7};
  Parsed p = ParseSynWithOptions(linux_syn);
  ASSERT_EQ(p.result, ParseResult::kOk);
  EXPECT_EQ(p.pkt.tcp_window_scale, 7);
  p = ParseSynWithOptions(linux_syn, kTcpSyn | kTcpAck);
  EXPECT_EQ(p.pkt.tcp_window_scale, 7);
  p = ParseSynWithOptions({3, 3, 0, 1});  // scale 0 is a real scale
  EXPECT_EQ(p.pkt.tcp_window_scale, 0);
}

TEST(ParseFrameTest, WindowScaleAboveFourteenIsClamped) {
  EXPECT_EQ(ParseSynWithOptions({1, 3, 3, 15}).pkt.tcp_window_scale, 14);
  EXPECT_EQ(ParseSynWithOptions({1, 3, 3, 255}).pkt.tcp_window_scale, 14);
}

TEST(ParseFrameTest, WindowScaleIsOnlyReadOnSyn) {
  EXPECT_EQ(ParseSynWithOptions({1, 3, 3, 7}, kTcpAck).pkt.tcp_window_scale, kNoWindowScale);
  EXPECT_EQ(ParseSynWithOptions({2, 4, 5, 0xb4}).pkt.tcp_window_scale, kNoWindowScale);
  EXPECT_EQ(ParseSynWithOptions({}).pkt.tcp_window_scale, kNoWindowScale);
}

TEST(ParseFrameTest, MalformedOrCutOptionsEndTheWalk) {
  // EOL before the option.
  EXPECT_EQ(ParseSynWithOptions({0, 3, 3, 7}).pkt.tcp_window_scale, kNoWindowScale);
  // Length 0 and 1 would loop or overlap: stop.
  EXPECT_EQ(ParseSynWithOptions({8, 0, 3, 3, 7, 0, 0, 0}).pkt.tcp_window_scale, kNoWindowScale);
  EXPECT_EQ(ParseSynWithOptions({8, 1, 3, 3, 7, 0, 0, 0}).pkt.tcp_window_scale, kNoWindowScale);
  // An option running past the data offset.
  EXPECT_EQ(ParseSynWithOptions({1, 1, 2, 9}).pkt.tcp_window_scale, kNoWindowScale);
  // Window scale with a wrong length is ignored, the walk goes on.
  EXPECT_EQ(ParseSynWithOptions({3, 4, 9, 9, 1, 3, 3, 2}).pkt.tcp_window_scale, 2);
  // Cut by the snap length inside the option: unread; after it: read.
  const size_t opts = kEth + 20 + 20;
  for (size_t cut = opts; cut < opts + 4; ++cut) {
    const Parsed p = ParseSynWithOptions({1, 3, 3, 7}, kTcpSyn, cut);
    ASSERT_EQ(p.result, ParseResult::kOk);
    EXPECT_EQ(p.pkt.tcp_window_scale, kNoWindowScale) << cut;
  }
  EXPECT_EQ(ParseSynWithOptions({1, 3, 3, 7}, kTcpSyn, opts + 4).pkt.tcp_window_scale, 7);
  // 40 bytes of NOPs then nothing: the walk ends at the data offset.
  EXPECT_EQ(ParseSynWithOptions(std::vector<uint8_t>(40, 1)).pkt.tcp_window_scale, kNoWindowScale);
}

// ---------------------------------------------------------------- every result

struct ResultCase {
  ParseResult want;
  std::vector<uint8_t> frame;
  size_t caplen = SIZE_MAX;
  uint32_t wire_len = kWholeFrame;
  LinkType link = LinkType::kEthernet;
};

std::vector<ResultCase> OneFramePerResult() {
  std::vector<ResultCase> cases;
  auto add = [&](ParseResult r, std::vector<uint8_t> f, size_t caplen = SIZE_MAX,
                 uint32_t wire = kWholeFrame) {
    cases.push_back({r, std::move(f), caplen, wire, LinkType::kEthernet});
  };
  auto add_link = [&](LinkType link, ParseResult r, std::vector<uint8_t> f) {
    cases.push_back({r, std::move(f), SIZE_MAX, kWholeFrame, link});
  };
  const std::vector<uint8_t> tcp4 = BuildFrame(TcpV4());
  const std::vector<uint8_t> tcp6 = BuildFrame(TcpV6());
  const uint32_t full4 = static_cast<uint32_t>(tcp4.size());
  const uint32_t full6 = static_cast<uint32_t>(tcp6.size());
  std::vector<uint8_t> f;

  add(ParseResult::kOk, tcp4);
  add(ParseResult::kTruncatedEthernet, tcp4, 13, 13);
  add(ParseResult::kTruncatedEthernet, {});
  add(ParseResult::kSnappedHeaders, tcp4, 13, full4);
  add(ParseResult::kSnappedHeaders, tcp6, kEth + 40 + 10, full6);  // 64-byte snap of IPv6+TCP

  FrameSpec s = TcpV4();
  s.vlans = {1, 2};
  f = BuildFrame(s);
  add(ParseResult::kTruncatedVlan, f, kEth + 4 + 3, kEth + 4 + 3);
  s.vlans.assign(kMaxVlanTags + 1, 3);
  add(ParseResult::kTooManyVlanTags, BuildFrame(s));

  s = TcpV4();
  s.mpls_labels = {16, 17};
  f = BuildFrame(s);
  add(ParseResult::kTruncatedMpls, f, kEth + 6, kEth + 6);
  add(ParseResult::kTruncatedMpls, f, kEth + 8, kEth + 8);  // nothing after
  f[kEth + 8] = 0x00;
  add(ParseResult::kMplsPayloadNotIp, f);
  s.mpls_labels.assign(kMaxMplsLabels + 1, 16);
  add(ParseResult::kTooManyMplsLabels, BuildFrame(s));

  f = tcp4;
  Put16(f, 12, 0x0806);
  add(ParseResult::kArp, f);
  Put16(f, 12, 0x8035);
  add(ParseResult::kRarp, f);
  Put16(f, 12, 0x88cc);
  add(ParseResult::kLldp, f);
  Put16(f, 12, 0x0026);
  add(ParseResult::kLlc, f);
  Put16(f, 12, 0x9000);  // loopback test
  add(ParseResult::kOtherEthertype, f);
  add_link(LinkType::kNull, ParseResult::kOtherAddressFamily, {7, 0, 0, 0, 0x45});
  add_link(LinkType::kLinuxSll, ParseResult::kTruncatedLinuxSll, std::vector<uint8_t>(15, 0));
  add_link(LinkType::kLinuxSll2, ParseResult::kTruncatedLinuxSll2, std::vector<uint8_t>(19, 0));
  add_link(LinkType::kLoop, ParseResult::kTruncatedLoopback, {0, 0, 0});
  add_link(LinkType::kRaw, ParseResult::kTruncatedRawIp, {});

  add(ParseResult::kTruncatedIpv4, tcp4, kEth + 19, kEth + 19);
  f = tcp4;
  f[kEth] = 0x60;
  add(ParseResult::kBadIpVersion, f);
  f = tcp4;
  f[kEth] = 0x44;
  add(ParseResult::kBadIpv4HeaderLength, f);
  {
    FrameSpec s = TcpV4();
    s.ipv4_options = {0x82, 0x02, 0x00, 0x00};  // security option of length 2 (< 3)
    add(ParseResult::kBadIpv4Options, BuildFrame(s));
  }
  f = tcp4;
  Put16(f, kEth + 2, 19);
  add(ParseResult::kIpv4TotalLengthTooShort, f);
  f = tcp4;
  Put16(f, kEth + 2, 1500);
  add(ParseResult::kIpv4TotalLengthBeyondCapture, f);
  f = tcp4;
  Put16(f, kEth + 6, 0x0001);
  add(ParseResult::kNonFirstFragment, f);

  add(ParseResult::kTruncatedIpv6, tcp6, kEth + 39, kEth + 39);
  f = tcp6;
  Put16(f, kEth + 4, 1500);
  add(ParseResult::kIpv6PayloadLengthBeyondCapture, f);
  s = TcpV6();
  s.ipv6_extensions.assign(kMaxIpv6ExtensionHeaders + 1, Ipv6Extension{0, {}});
  add(ParseResult::kIpv6ExtensionChainTooLong, BuildFrame(s));
  s.ipv6_extensions = {{60, {}}};
  f = BuildFrame(s);
  Put16(f, kEth + 4, 7);  // the datagram ends inside the extension header
  add(ParseResult::kTruncatedIpv6Extension, f);

  f = tcp4;
  Put16(f, kEth + 2, 20 + 19);  // the datagram ends inside the TCP header
  add(ParseResult::kTruncatedTcp, f);
  f = tcp4;
  f[kEth + 20 + 12] = 0x40;
  add(ParseResult::kBadTcpDataOffset, f);

  s = FrameSpec();
  s.protocol = kProtoUdp;
  f = BuildFrame(s);
  Put16(f, kEth + 2, 20 + 7);  // the datagram ends inside the UDP header
  add(ParseResult::kTruncatedUdp, f);
  f = BuildFrame(s);
  Put16(f, kEth + 20 + 4, 7);
  add(ParseResult::kBadUdpLength, f);
  f = BuildFrame(Icmp(6, 128, 0, 1));
  Put16(f, kEth + 4, 4);  // the datagram ends inside the ICMPv6 header
  add(ParseResult::kTruncatedIcmp, f);
  return cases;
}

TEST(ParseFrameTest, EveryParseResultIsReachable) {
  std::set<ParseResult> seen;
  for (const ResultCase& c : OneFramePerResult()) {
    SCOPED_TRACE(std::string(ParseResultName(c.want)));
    const Parsed p = ParseCopy(c.link, c.frame, c.caplen, c.wire_len);
    EXPECT_EQ(p.result, c.want) << "got " << ParseResultName(p.result);
    seen.insert(p.result);
  }
  for (size_t i = 0; i < kParseResultCount; ++i) {
    EXPECT_TRUE(seen.count(static_cast<ParseResult>(i)))
        << "no frame yields " << ParseResultName(static_cast<ParseResult>(i));
  }
}

TEST(ParseResultNameTest, NamesAreStableSnakeCase) {
  const std::vector<std::string> want = {
      "ok",
      "arp",
      "rarp",
      "lldp",
      "llc",
      "other_ethertype",
      "mpls_payload_not_ip",
      "other_address_family",
      "non_first_fragment",
      "snapped_headers",
      "truncated_ethernet",
      "truncated_linux_sll",
      "truncated_linux_sll2",
      "truncated_loopback",
      "truncated_raw_ip",
      "truncated_vlan",
      "too_many_vlan_tags",
      "truncated_mpls",
      "too_many_mpls_labels",
      "truncated_ipv4",
      "bad_ip_version",
      "bad_ipv4_header_length",
      "bad_ipv4_options",
      "ipv4_total_length_too_short",
      "ipv4_total_length_beyond_capture",
      "truncated_ipv6",
      "ipv6_payload_length_beyond_capture",
      "ipv6_extension_chain_too_long",
      "truncated_ipv6_extension",
      "truncated_tcp",
      "bad_tcp_data_offset",
      "truncated_udp",
      "bad_udp_length",
      "truncated_icmp",
  };
  ASSERT_EQ(want.size(), kParseResultCount);
  std::set<std::string> unique;
  for (size_t i = 0; i < kParseResultCount; ++i) {
    const std::string name(ParseResultName(static_cast<ParseResult>(i)));
    EXPECT_EQ(name, want[i]);
    for (char c : name) EXPECT_TRUE(std::islower(c) || std::isdigit(c) || c == '_') << name;
    unique.insert(name);
  }
  EXPECT_EQ(unique.size(), kParseResultCount);
  EXPECT_EQ(ParseResultName(ParseResult::kCount), "unknown");
}

TEST(ParseResultClassTest, EveryResultHasTheClassItsMeaningCallsFor) {
  EXPECT_EQ(ParseResultClass(ParseResult::kOk), ParseClass::kOk);
  for (ParseResult r : {ParseResult::kArp, ParseResult::kRarp, ParseResult::kLldp,
                        ParseResult::kLlc, ParseResult::kOtherEthertype,
                        ParseResult::kMplsPayloadNotIp, ParseResult::kOtherAddressFamily}) {
    EXPECT_EQ(ParseResultClass(r), ParseClass::kNonIp) << ParseResultName(r);
  }
  EXPECT_EQ(ParseResultClass(ParseResult::kNonFirstFragment), ParseClass::kLaterFragment);
  EXPECT_EQ(ParseResultClass(ParseResult::kSnappedHeaders), ParseClass::kSnapped);
  // Everything else is malformed, and every malformed result names a bad
  // header or length.
  for (size_t i = static_cast<size_t>(ParseResult::kTruncatedEthernet); i < kParseResultCount;
       ++i) {
    const auto r = static_cast<ParseResult>(i);
    EXPECT_EQ(ParseResultClass(r), ParseClass::kMalformed) << ParseResultName(r);
  }
  EXPECT_EQ(ParseResultClass(ParseResult::kCount), ParseClass::kMalformed);
  EXPECT_EQ(ParseClassName(ParseClass::kOk), "ok");
  EXPECT_EQ(ParseClassName(ParseClass::kNonIp), "non_ip");
  EXPECT_EQ(ParseClassName(ParseClass::kLaterFragment), "later_fragment");
  EXPECT_EQ(ParseClassName(ParseClass::kSnapped), "snapped");
  EXPECT_EQ(ParseClassName(ParseClass::kMalformed), "malformed");
  EXPECT_EQ(ParseClassName(ParseClass::kCount), "unknown");
}

TEST(ParseCountersTest, BadSumsOnlyMalformedResults) {
  ParseCounters c;
  EXPECT_EQ(c.Bad(), 0u);
  c.Count(ParseResult::kOk);
  c.Count(ParseResult::kOk);
  c.Count(ParseResult::kArp);
  c.Count(ParseResult::kLlc);
  c.Count(ParseResult::kOtherAddressFamily);
  c.Count(ParseResult::kNonFirstFragment);
  c.Count(ParseResult::kNonFirstFragment);
  c.Count(ParseResult::kSnappedHeaders);
  EXPECT_EQ(c.Bad(), 0u);
  c.Count(ParseResult::kTruncatedEthernet);
  c.Count(ParseResult::kTruncatedIcmp);  // the last reason
  EXPECT_EQ(c.Bad(), 2u);
  EXPECT_EQ(c.NonIp(), 3u);
  EXPECT_EQ(c.LaterFragments(), 2u);
  EXPECT_EQ(c.Snapped(), 1u);
  EXPECT_EQ(c.OfClass(ParseClass::kOk), 2u);
  const auto by_class = c.ByClass();
  EXPECT_EQ(by_class, (std::array<uint64_t, kParseClassCount>{2, 3, 2, 1, 2}));
  EXPECT_EQ(c.by_result[static_cast<size_t>(ParseResult::kNonFirstFragment)], 2u);
}

// The worker reuses one ParsedPacket array across bursts (worker.h parsed_):
// a parse must leave nothing of the previous packet in its output.
TEST(ParseFrameTest, ReusedOutputKeepsNothingOfThePreviousPacket) {
  const std::vector<uint8_t> v6 = BuildFrame(TcpV6());
  Parsed p = ParseCopy(v6);
  ASSERT_EQ(p.result, ParseResult::kOk);
  const std::vector<uint8_t> v4 = BuildFrame(TcpV4());
  ASSERT_EQ(ParseFrame(LinkType::kEthernet, v4.data(), v4.size(), v4.size(), &p.pkt),
            ParseResult::kOk);
  ExpectSameFields(p.pkt, WantTcpV4(v4.size()));
}

}  // namespace
}  // namespace flowtrail::packet::test
