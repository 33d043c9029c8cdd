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

}  // namespace
}  // namespace flowtrail::session
