#include "session/fragment_map.h"

#include <cstdint>

#include "gtest/gtest.h"
#include "packet/parsed_packet.h"

namespace flowtrail::session {
namespace {

packet::ParsedPacket Fragment(uint32_t src, uint32_t id, bool first) {
  packet::ParsedPacket p;
  p.ip_version = 4;
  p.protocol = packet::kProtoUdp;
  p.src.bytes[12] = 198;
  p.src.bytes[13] = 51;
  p.src.bytes[14] = static_cast<uint8_t>(src >> 8);
  p.src.bytes[15] = static_cast<uint8_t>(src);
  p.dst.bytes[12] = 10;
  p.dst.bytes[15] = 7;
  p.fragment_id = id;
  p.first_fragment = first;
  p.more_fragments = first;
  p.payload_len = first ? 1472 : 500;
  p.fragment_offset = first ? 0 : 1480;
  return p;
}

// Placement follows the key: with another key nearly every datagram sits
// in another slot, so a sender who does not know it cannot aim a first
// fragment at a given datagram's entry (with the fixed hash, one did).
TEST(FragmentMap, SlotsFollowTheKey) {
  const FragmentMap a(1, 2), b(3, 4), a2(1, 2);
  int differ = 0;
  for (uint32_t i = 0; i < 1000; ++i) {
    const packet::ParsedPacket p = Fragment(i % 7, 1000 + i, true);
    EXPECT_EQ(a.SlotOf(p), a2.SlotOf(p));
    differ += a.SlotOf(p) != b.SlotOf(p);
  }
  EXPECT_GT(differ, 950);  // 1 in 1024 agree by chance
}

// A later fragment finds its first fragment's session (and counts only its
// own bytes), with the default (OS-drawn) key.
TEST(FragmentMap, LaterFragmentsFindTheFirst) {
  FragmentMap m;
  EXPECT_EQ(m.RememberFirst(Fragment(1, 77, true), 0, 0, 5, 42, 1000), 1472u);
  uint32_t idx = 0, bytes = 0;
  uint64_t id = 0;
  ASSERT_TRUE(m.FindLater(Fragment(1, 77, false), 0, 0, 1001, &idx, &id, &bytes));
  EXPECT_EQ(idx, 5u);
  EXPECT_EQ(id, 42u);
  EXPECT_EQ(bytes, 500u);
  EXPECT_FALSE(m.FindLater(Fragment(2, 77, false), 0, 0, 1001, &idx, &id, &bytes));
}

}  // namespace
}  // namespace flowtrail::session
