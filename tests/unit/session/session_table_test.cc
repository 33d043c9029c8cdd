#include "session/session_table.h"

#include <map>
#include <random>

#include "gtest/gtest.h"

namespace flowtrail::session {
namespace {

SessionKey KeyOf(uint32_t n) {
  SessionKey k;
  k.protocol = 17;
  k.ip_version = 4;
  k.lo_addr.bytes[0] = 10;
  k.lo_addr.bytes[1] = static_cast<uint8_t>(n >> 16);
  k.lo_addr.bytes[2] = static_cast<uint8_t>(n >> 8);
  k.lo_addr.bytes[3] = static_cast<uint8_t>(n);
  k.lo_port = static_cast<uint16_t>(n * 7);
  k.hi_port = 53;
  return k;
}

TEST(SessionTable, InitRefusesZeroAndHugeCapacities) {
  SessionTable t;
  EXPECT_FALSE(t.Init(0).ok());
  EXPECT_FALSE(t.Init(SessionTable::kMaxCapacity + 1).ok());
  EXPECT_TRUE(t.Init(1).ok());
}

TEST(SessionTable, InsertFindEraseAndFull) {
  SessionTable t;
  ASSERT_TRUE(t.Init(3).ok());
  const SessionKey a = KeyOf(1), b = KeyOf(2), c = KeyOf(3);
  const uint32_t ia = t.Insert(a, HashSessionKey(a));
  const uint32_t ib = t.Insert(b, HashSessionKey(b));
  EXPECT_FALSE(t.full());
  t.Insert(c, HashSessionKey(c));
  EXPECT_TRUE(t.full());
  EXPECT_EQ(t.Find(a, HashSessionKey(a)), ia);
  EXPECT_EQ(t.Find(b, HashSessionKey(b)), ib);
  EXPECT_TRUE(t.at(ia).live);
  t.Erase(ia);
  EXPECT_FALSE(t.full());
  EXPECT_FALSE(t.at(ia).live);
  EXPECT_EQ(t.Find(a, HashSessionKey(a)), SessionTable::kNone);
  EXPECT_EQ(t.Find(b, HashSessionKey(b)), ib);
  EXPECT_EQ(t.size(), 2u);
}

// Random inserts and erases against a std::map model, with a deliberately
// weak hash (many collisions) so backward-shift deletion is exercised hard.
TEST(SessionTable, MatchesAModelUnderRandomOperationsWithCollidingHashes) {
  SessionTable t;
  constexpr uint32_t kCap = 500;
  ASSERT_TRUE(t.Init(kCap).ok());
  std::map<uint32_t, uint32_t> model;  // key number -> entry index
  std::mt19937 rng(42);
  for (int op = 0; op < 200000; ++op) {
    const uint32_t n = rng() % 1500;
    const SessionKey k = KeyOf(n);
    const uint32_t h = n % 37;  // collisions on purpose
    auto it = model.find(n);
    if (it == model.end()) {
      if (t.full()) continue;
      ASSERT_EQ(t.Find(k, h), SessionTable::kNone);
      model[n] = t.Insert(k, h);
    } else if (rng() & 1) {
      ASSERT_EQ(t.Find(k, h), it->second);
      t.Erase(it->second);
      model.erase(it);
    } else {
      ASSERT_EQ(t.Find(k, h), it->second);
    }
    ASSERT_EQ(t.size(), model.size());
  }
  for (const auto& [n, idx] : model) EXPECT_EQ(t.Find(KeyOf(n), n % 37), idx);
}

}  // namespace
}  // namespace flowtrail::session
