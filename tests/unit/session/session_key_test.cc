#include "session/session_key.h"

#include <cstring>
#include <random>

#include "gtest/gtest.h"
#include "packet_helpers.h"

namespace flowtrail::session {
namespace {

using testing::PacketMaker;

packet::ParsedPacket Reverse(packet::ParsedPacket p) {
  std::swap(p.src, p.dst);
  std::swap(p.src_port, p.dst_port);
  return p;
}

// The inline compare orders like memcmp (unsigned bytes, first difference
// decides), wherever in either 8-byte half the first difference lies.
TEST(SessionKey, CompareAddressesHasTheSignOfMemcmp) {
  std::mt19937 rng(5);
  const auto sign = [](int c) { return (c > 0) - (c < 0); };
  for (int round = 0; round < 20000; ++round) {
    IpAddress a, b;
    for (auto& x : a.bytes) x = static_cast<uint8_t>(rng());
    b = a;
    const size_t at = rng() % 16;
    // Differ at `at` (often by the top bit), maybe again after it.
    b.bytes[at] = static_cast<uint8_t>(round % 3 == 0 ? a.bytes[at] ^ 0x80 : rng());
    if (round % 2 == 0 && at < 15) b.bytes[at + 1 + rng() % (15 - at)] ^= 0xff;
    if (round % 5 == 0) b = a;
    EXPECT_EQ(CompareAddresses(a, b), sign(std::memcmp(a.bytes.data(), b.bytes.data(), 16)));
    EXPECT_EQ(CompareAddresses(b, a), sign(std::memcmp(b.bytes.data(), a.bytes.data(), 16)));
  }
}

TEST(SessionKey, BothDirectionsGiveTheSameKeyAndHash) {
  PacketMaker m;
  const packet::ParsedPacket a = m.Tcp("10.0.0.1", 40000, "192.0.2.1", 80, testing::kS, 1);
  SessionKey ka, kb;
  const bool a_lo = MakeSessionKey(a, &ka);
  const bool b_lo = MakeSessionKey(Reverse(a), &kb);
  EXPECT_EQ(ka, kb);
  EXPECT_EQ(HashSessionKey(ka), HashSessionKey(kb));
  EXPECT_NE(a_lo, b_lo);  // exactly one direction is the lo endpoint
}

TEST(SessionKey, DirectionSymmetryHoldsForRandomEndpoints) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    packet::ParsedPacket p;
    p.ip_version = (i & 1) ? 6 : 4;
    p.protocol = (i & 2) ? packet::kProtoTcp : packet::kProtoUdp;
    for (int b = 0; b < (p.ip_version == 4 ? 4 : 16); ++b) {
      p.src.bytes[b] = rng() & 3;  // small alphabet: many shared prefixes and ties
      p.dst.bytes[b] = rng() & 3;
    }
    p.src_port = rng() & 7;
    p.dst_port = rng() & 7;
    SessionKey ka, kb;
    const bool a_lo = MakeSessionKey(p, &ka);
    const bool b_lo = MakeSessionKey(Reverse(p), &kb);
    ASSERT_EQ(ka, kb);
    if (!(p.src == p.dst && p.src_port == p.dst_port)) {
      ASSERT_NE(a_lo, b_lo);
    }
  }
}

TEST(SessionKey, DifferentPortsProtocolsOrVersionsGiveDifferentKeys) {
  PacketMaker m;
  SessionKey a, b, c;
  MakeSessionKey(m.Tcp("10.0.0.1", 40000, "192.0.2.1", 80, 0, 1), &a);
  MakeSessionKey(m.Tcp("10.0.0.1", 40001, "192.0.2.1", 80, 0, 1), &b);
  MakeSessionKey(m.Udp("10.0.0.1", 40000, "192.0.2.1", 80), &c);
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(a == c);
  EXPECT_NE(HashSessionKey(a), HashSessionKey(b));
}

TEST(SessionKey, IcmpEchoRequestAndReplyShareAKeyButNotAcrossIdentifiers) {
  PacketMaker m;
  SessionKey req, rep, other, v6req, v6rep;
  MakeSessionKey(m.Icmp("10.0.0.1", "192.0.2.1", 8, 0, 5), &req);
  MakeSessionKey(m.Icmp("192.0.2.1", "10.0.0.1", 0, 0, 5), &rep);
  MakeSessionKey(m.Icmp("10.0.0.1", "192.0.2.1", 8, 0, 6), &other);
  MakeSessionKey(m.Icmp("2001:db8::1", "2001:db8::2", 128, 0, 5), &v6req);
  MakeSessionKey(m.Icmp("2001:db8::2", "2001:db8::1", 129, 0, 5), &v6rep);
  EXPECT_EQ(req, rep);
  EXPECT_FALSE(req == other);
  EXPECT_EQ(v6req, v6rep);
}

TEST(SessionKey, IcmpErrorsAreSeparatedByCode) {
  PacketMaker m;
  SessionKey port_unreach, host_unreach;
  MakeSessionKey(m.Icmp("192.0.2.1", "10.0.0.1", 3, 3, 0), &port_unreach);
  MakeSessionKey(m.Icmp("192.0.2.1", "10.0.0.1", 3, 1, 0), &host_unreach);
  EXPECT_FALSE(port_unreach == host_unreach);
}

// The key as the fields say, written one by one: what MakeSessionKeyWords()
// builds in registers must be this, byte for byte.
SessionKey ReferenceKey(const packet::ParsedPacket& p, VlanKey mode, bool* src_is_lo) {
  SessionKey k;
  std::memset(static_cast<void*>(&k), 0, sizeof(k));
  k.protocol = p.protocol;
  k.ip_version = p.ip_version;
  KeyVlans(p, mode, &k.vlan_outer, &k.vlan_inner);
  const int c = std::memcmp(p.src.bytes.data(), p.dst.bytes.data(), 16);
  if (IsIcmp(p.protocol)) {
    *src_is_lo = c <= 0;
    k.lo_port = IcmpTypeClass(p.protocol, p.icmp_type);
    k.hi_port = p.icmp_id;
    k.icmp_code = IcmpRequestDirection(p.protocol, p.icmp_type) != 0 ? 0 : p.icmp_code;
  } else {
    *src_is_lo = c < 0 || (c == 0 && p.src_port <= p.dst_port);
    k.lo_port = *src_is_lo ? p.src_port : p.dst_port;
    k.hi_port = *src_is_lo ? p.dst_port : p.src_port;
  }
  k.lo_addr = *src_is_lo ? p.src : p.dst;
  k.hi_addr = *src_is_lo ? p.dst : p.src;
  return k;
}

TEST(SessionKey, WordBuiltKeyIsTheFieldByFieldKeyAndItsHash) {
  std::mt19937 rng(11);
  const uint8_t protocols[] = {packet::kProtoTcp, packet::kProtoUdp, packet::kProtoIcmp,
                               packet::kProtoIcmpV6, 47};
  const VlanKey modes[] = {VlanKey::kNone, VlanKey::kOuter, VlanKey::kBoth};
  for (int round = 0; round < 50000; ++round) {
    packet::ParsedPacket p;
    p.ip_version = (round & 1) ? 6 : 4;
    p.protocol = protocols[rng() % std::size(protocols)];
    for (int b = 0; b < (p.ip_version == 4 ? 4 : 16); ++b) {
      // Small alphabet: shared prefixes, ties in either half, equal addresses.
      p.src.bytes[b] = rng() & 3;
      p.dst.bytes[b] = rng() & 3;
    }
    p.src_port = static_cast<uint16_t>(rng() & 7);
    p.dst_port = static_cast<uint16_t>(rng() & 7);
    p.icmp_type = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : (rng() & 1) * 8);
    p.icmp_code = static_cast<uint8_t>(rng());
    p.icmp_id = static_cast<uint16_t>(rng());
    p.vlan_count = static_cast<uint8_t>(rng() % 3);
    p.vlan_outer = static_cast<uint16_t>(rng() & 0xfff);
    p.vlan_inner = static_cast<uint16_t>(rng() & 0xfff);
    const VlanKey mode = modes[rng() % std::size(modes)];
    bool want_lo;
    const SessionKey want = ReferenceKey(p, mode, &want_lo);
    SessionKeyWords w;
    const bool got_lo = MakeSessionKeyWords(p, &w, mode);
    SessionKey got;
    StoreSessionKey(w, &got);
    ASSERT_EQ(std::memcmp(&got, &want, sizeof(got)), 0) << "round " << round;
    ASSERT_EQ(got_lo, want_lo) << "round " << round;
    ASSERT_EQ(HashKeyWords(w), HashSessionKey(want));
    SessionKey via_make;
    ASSERT_EQ(MakeSessionKey(p, &via_make, mode), want_lo);
    ASSERT_EQ(via_make, want);
  }
}

}  // namespace
}  // namespace flowtrail::session
