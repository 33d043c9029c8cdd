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
    // The prefetch stage walks the same long runs (and must end on them).
    t.PrefetchProbe(h);
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

// The prefetch stage walks a probe run within its line: it must end on an
// empty slot, a match, or the end of the line, also in an index smaller
// than one line (capacity 1: two slots) and on a run that wraps the index.
TEST(SessionTable, PrefetchProbeEndsOnTinyAndWrappingIndexes) {
  for (uint32_t cap : {1u, 2u, 3u, 4u, 8u}) {
    SessionTable t;
    ASSERT_TRUE(t.Init(cap).ok());
    for (uint32_t hash : {0u, 1u, 7u, 8u, UINT32_MAX}) t.PrefetchProbe(hash);
    // Every key on the last home slot: the run wraps to slot 0.
    for (uint32_t i = 0; i < cap; ++i) t.Insert(KeyOf(i), UINT32_MAX);
    for (uint32_t hash : {0u, 1u, 7u, 8u, UINT32_MAX, UINT32_MAX - 1}) t.PrefetchProbe(hash);
    for (uint32_t i = 0; i < cap; ++i) EXPECT_NE(t.Find(KeyOf(i), UINT32_MAX), SessionTable::kNone);
  }
}

// Fresh entries come from a high-water mark in index order; an erased entry
// is reused first (most recent first), as the old explicit free list did:
// eviction and flush walk indices, so the order is part of the behaviour.
TEST(SessionTable, FreshEntriesInOrderThenErasedOnesMostRecentFirst) {
  SessionTable t;
  ASSERT_TRUE(t.Init(8).ok());
  uint32_t idx[5];
  for (uint32_t i = 0; i < 5; ++i) {
    idx[i] = t.Insert(KeyOf(i), HashSessionKey(KeyOf(i)));
    EXPECT_EQ(idx[i], i);
  }
  t.Erase(idx[1]);
  t.Erase(idx[3]);
  EXPECT_EQ(t.Insert(KeyOf(10), HashSessionKey(KeyOf(10))), 3u);
  EXPECT_EQ(t.Insert(KeyOf(11), HashSessionKey(KeyOf(11))), 1u);
  EXPECT_EQ(t.Insert(KeyOf(12), HashSessionKey(KeyOf(12))), 5u);
  EXPECT_EQ(t.Find(KeyOf(11), HashSessionKey(KeyOf(11))), 1u);
  EXPECT_EQ(t.Find(KeyOf(1), HashSessionKey(KeyOf(1))), SessionTable::kNone);
}

// A reused entry starts from defaults in both parts, whatever the previous
// session left there.
TEST(SessionTable, InsertResetsTheHotAndColdParts) {
  SessionTable t;
  ASSERT_TRUE(t.Init(2).ok());
  const SessionKey a = KeyOf(1), b = KeyOf(2);
  const uint32_t ia = t.Insert(a, 1234);
  Session& s = t.at(ia);
  EXPECT_EQ(&t.cold(s), &t.cold(ia));
  EXPECT_EQ(t.index_of(s), ia);
  s.first_data_side = 0;
  s.side[1].packets = 99;
  s.side[0].has_first_data = 1;
  s.side[0].seq.OnSegment(5, 10, true, true);
  t.cold(ia).session_id = 77;
  t.cold(ia).side[0].simhash = 5;
  t.cold(ia).side[1].wscale = 3;
  t.cold(ia).side[1].packets_hi = 4;
  t.Erase(ia);
  const uint32_t ib = t.Insert(b, 99);
  ASSERT_EQ(ib, ia);
  const Session& f = t.at(ib);
  EXPECT_TRUE(f.live);
  EXPECT_TRUE(f.key == b);
  EXPECT_EQ(f.first_data_side, 2);
  EXPECT_EQ(t.cold(ib).side[1].wscale, packet::kNoWindowScale);
  EXPECT_EQ(f.side[1].packets, 0u);
  EXPECT_EQ(f.side[0].has_first_data, 0);
  EXPECT_EQ(t.cold(ib).side[1].packets_hi, 0u);
  EXPECT_FALSE(f.side[0].seq.anchored());
  EXPECT_EQ(t.cold(ib).session_id, 0u);
  EXPECT_EQ(t.cold(ib).side[0].simhash, 0u);
  EXPECT_EQ(t.Find(b, 99), ib);
}

// Init writes nothing: a large table reads as empty from untouched pages.
TEST(SessionTable, ALargeFreshTableIsEmptyEverywhere) {
  SessionTable t;
  constexpr uint32_t kCap = 1 << 16;
  ASSERT_TRUE(t.Init(kCap).ok());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.full());
  for (uint32_t i = 0; i < kCap; i += 97) {
    EXPECT_FALSE(t.at(i).live);
    EXPECT_EQ(t.Find(KeyOf(i), HashSessionKey(KeyOf(i))), SessionTable::kNone);
  }
  for (uint32_t i = 0; i < kCap; ++i) ASSERT_EQ(t.Insert(KeyOf(i), HashSessionKey(KeyOf(i))), i);
  EXPECT_TRUE(t.full());
  for (uint32_t i = 0; i < kCap; i += 97) EXPECT_EQ(t.Find(KeyOf(i), HashSessionKey(KeyOf(i))), i);
}

TEST(SessionTable, AllocateHugeMapsZeroedWritableMemory) {
  for (size_t bytes : {size_t{1}, size_t{4096}, size_t{3} << 20}) {
    size_t mapped = 0;
    PageKind kind;
    auto* p = static_cast<unsigned char*>(AllocateHuge(bytes, &mapped, &kind));
    ASSERT_NE(p, nullptr);
    EXPECT_GE(mapped, bytes);
    EXPECT_EQ(p[0], 0);
    EXPECT_EQ(p[bytes - 1], 0);
    p[bytes - 1] = 1;
    UnmapDeleter{mapped}(p);
  }
}

TEST(SessionTable, BytesPerSessionCountsHotColdAndIndex) {
  EXPECT_EQ(
      SessionTable::BytesFor(1 << 20),
      (uint64_t{1} << 20) * (sizeof(Session) + sizeof(SessionCold)) + (uint64_t{2} << 20) * 8);
}

}  // namespace
}  // namespace flowtrail::session
