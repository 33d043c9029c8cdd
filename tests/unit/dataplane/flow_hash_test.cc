#include "dataplane/flow_hash.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace flowtrail::dataplane {
namespace {

packet::ParsedPacket Random(std::mt19937_64& rng, uint8_t version, uint8_t proto) {
  packet::ParsedPacket p;
  p.ip_version = version;
  p.protocol = proto;
  const int n = version == 4 ? 4 : 16;
  for (int i = 0; i < n; ++i) {
    p.src.bytes[i] = static_cast<uint8_t>(rng());
    p.dst.bytes[i] = static_cast<uint8_t>(rng());
  }
  p.src_port = static_cast<uint16_t>(rng());
  p.dst_port = static_cast<uint16_t>(rng());
  p.icmp_id = static_cast<uint16_t>(rng());
  return p;
}

packet::ParsedPacket Reverse(packet::ParsedPacket p) {
  std::swap(p.src, p.dst);
  std::swap(p.src_port, p.dst_port);
  return p;
}

TEST(SymmetricFlowHash, BothDirectionsOfEveryFlowHashAlike) {
  std::mt19937_64 rng(7);
  for (uint8_t proto : {packet::kProtoTcp, packet::kProtoUdp}) {
    for (uint8_t v : {4, 6}) {
      for (int i = 0; i < 20000; ++i) {
        packet::ParsedPacket p = Random(rng, v, proto);
        ASSERT_EQ(SymmetricFlowHash(p), SymmetricFlowHash(Reverse(p)));
      }
    }
  }
}

TEST(SymmetricFlowHash, SameAddressesDifferentPortOrderStaysSymmetric) {
  std::mt19937_64 rng(3);
  packet::ParsedPacket p = Random(rng, 4, packet::kProtoTcp);
  p.dst = p.src;  // hairpin: only the ports differ
  EXPECT_EQ(SymmetricFlowHash(p), SymmetricFlowHash(Reverse(p)));
}

TEST(SymmetricFlowHash, IcmpRequestAndReplyHashAlikeDespiteTypes) {
  std::mt19937_64 rng(5);
  packet::ParsedPacket req = Random(rng, 4, packet::kProtoIcmp);
  req.src_port = 8;  // echo request type
  req.dst_port = 0;
  packet::ParsedPacket rep = Reverse(req);
  rep.src_port = 0;  // echo reply type
  rep.dst_port = 0;
  EXPECT_EQ(SymmetricFlowHash(req), SymmetricFlowHash(rep));
}

TEST(SymmetricFlowHash, SpreadsFlowsEvenlyOverWorkers) {
  std::mt19937_64 rng(11);
  constexpr uint32_t kWorkers = 3;
  constexpr int kFlows = 30000;
  std::vector<int> per(kWorkers);
  for (int i = 0; i < kFlows; ++i) {
    ++per[WorkerForHash(SymmetricFlowHash(Random(rng, 4, packet::kProtoTcp)), kWorkers)];
  }
  for (int n : per) {
    EXPECT_GT(n, kFlows / kWorkers * 9 / 10);
    EXPECT_LT(n, kFlows / kWorkers * 11 / 10);
  }
}

TEST(WorkerForHash, AlwaysInRange) {
  for (uint32_t w = 1; w <= 16; ++w) {
    EXPECT_EQ(WorkerForHash(0, w), 0u);
    EXPECT_EQ(WorkerForHash(0xffffffffu, w), w - 1);
  }
}

}  // namespace
}  // namespace flowtrail::dataplane
