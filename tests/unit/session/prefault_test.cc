#include "session/prefault.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "session/session_table.h"
#include "session/tracker.h"

namespace flowtrail::session {
namespace {

// Pages of [p, p + bytes) that are resident.
size_t ResidentPages(const void* p, size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((bytes + page - 1) / page);
  if (mincore(const_cast<void*>(p), bytes, v.data()) != 0) return 0;
  size_t n = 0;
  for (unsigned char c : v) n += c & 1;
  return n;
}

void WaitDone(const Prefaulter& p) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!p.done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(Prefaulter, MakesEveryPageOfEveryRegionResidentWithoutWriting) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  constexpr size_t kA = size_t{24} << 20;
  constexpr size_t kB = (size_t{3} << 20) + 123;  // not a whole number of pages
  MappedArray<uint8_t> a = MapZeroed<uint8_t>(kA);
  MappedArray<uint8_t> b = MapZeroed<uint8_t>(kB);
  ASSERT_TRUE(a && b);
  // The owner's writes before and while the populate runs survive it.
  a[5] = 7;
  b[kB - 1] = 9;
  ASSERT_LT(ResidentPages(a.get(), kA), kA / page);
  Prefaulter p({{a.get(), kA}, {b.get(), kB}});
  a[kA - 1] = 3;
  WaitDone(p);
  ASSERT_TRUE(p.done());
  if (!p.error().empty()) GTEST_SKIP() << p.error();
  EXPECT_EQ(ResidentPages(a.get(), kA), kA / page);
  EXPECT_EQ(ResidentPages(b.get(), kB), (kB + page - 1) / page);
  EXPECT_GE(p.bytes_done(), p.bytes_total());
  EXPECT_EQ(p.bytes_total(), kA + kB);
  EXPECT_EQ(a[5], 7);
  EXPECT_EQ(a[kA - 1], 3);
  EXPECT_EQ(b[kB - 1], 9);
  EXPECT_EQ(a[kA / 2], 0);
}

TEST(Prefaulter, PrefersTheOwnersNumaNodeFirst) {
  constexpr size_t kBytes = size_t{8} << 20;
  MappedArray<uint8_t> a = MapZeroed<uint8_t>(kBytes);
  ASSERT_TRUE(a);
  // Node 0 exists on every Linux machine: placed, then populated.
  Prefaulter p({{a.get(), kBytes}}, 0);
  WaitDone(p);
  ASSERT_TRUE(p.done());
  if (p.error().find("MADV_POPULATE_WRITE") != std::string::npos) GTEST_SKIP() << p.error();
  if (p.error().find("mbind") != std::string::npos) GTEST_SKIP() << p.error();  // no NUMA API
  EXPECT_EQ(p.error(), "");
  EXPECT_EQ(ResidentPages(a.get(), kBytes), kBytes / static_cast<size_t>(sysconf(_SC_PAGESIZE)));
}

TEST(Prefaulter, LeavesThePagesAloneWhenTheNodeCannotBePreferred) {
  constexpr size_t kBytes = size_t{8} << 20;
  MappedArray<uint8_t> a = MapZeroed<uint8_t>(kBytes);
  ASSERT_TRUE(a);
  Prefaulter p({{a.get(), kBytes}}, 1000);  // no such node
  WaitDone(p);
  ASSERT_TRUE(p.done());
  EXPECT_NE(p.error().find("NUMA node 1000"), std::string::npos) << p.error();
  EXPECT_EQ(p.bytes_done(), 0u);
  EXPECT_EQ(ResidentPages(a.get(), kBytes), 0u);
}

TEST(Prefaulter, DestructorStopsEarly) {
  constexpr size_t kBytes = size_t{4} << 30;  // mapped, mostly never touched
  MappedArray<uint8_t> a = MapZeroed<uint8_t>(kBytes);
  ASSERT_TRUE(a);
  uint64_t done = 0;
  {
    Prefaulter p({{a.get(), kBytes}});
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    done = p.bytes_done();
  }
  // Stopped and joined long before 4 GiB were populated.
  EXPECT_LT(done, kBytes);
  EXPECT_LT(ResidentPages(a.get(), kBytes) * static_cast<size_t>(sysconf(_SC_PAGESIZE)),
            kBytes / 2);
}

TEST(Prefaulter, CoversTheTrackersTableAndWheel) {
  TrackerConfig cfg;
  cfg.capacity = 1 << 16;
  absl::StatusOr<std::unique_ptr<Tracker>> t = Tracker::Create(cfg);
  ASSERT_TRUE(t.ok()) << t.status();
  const std::vector<MemoryRegion> regions = (*t)->MappedRegions();
  ASSERT_EQ(regions.size(), 4u);  // index, hot entries, cold entries, wheel
  for (const MemoryRegion& r : regions) {
    EXPECT_NE(r.data, nullptr);
    EXPECT_GT(r.bytes, 0u);
  }
  EXPECT_EQ(regions[0].bytes + regions[1].bytes + regions[2].bytes,
            SessionTable::BytesFor(cfg.capacity));
  Prefaulter p(regions);
  WaitDone(p);
  ASSERT_TRUE(p.done());
  if (!p.error().empty()) GTEST_SKIP() << p.error();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (const MemoryRegion& r : regions) {
    EXPECT_EQ(ResidentPages(r.data, r.bytes), (r.bytes + page - 1) / page);
  }
}

}  // namespace
}  // namespace flowtrail::session
