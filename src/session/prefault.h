// Faults in the pages of freshly mapped, zero-filled memory (the session
// tables) from a background thread, with madvise(MADV_POPULATE_WRITE), so
// that the packet path does not pay the kernel's page zeroing on first touch.
// A 1 M-session table is ~280 MiB: touched by the worker as sessions arrive,
// each new 2 MiB page stalled it while the kernel zeroed the page (perf: 16 %
// of the worker over a 1 M-session capture; a stall of that size at line rate
// overflows the NIC's rx ring). The populate never writes the memory itself,
// so it is safe while the owner already uses it; pages the owner touched
// first are skipped by the kernel.
//
// Regions are populated together, each front to back in proportion to its
// size: the session table hands out entries from the low end, so the part in
// use first becomes resident first. A kernel without MADV_POPULATE_WRITE
// (before 5.14) leaves the pages to first touch, as before; error() says so.
// Control path: one std::thread, stopped and joined by the destructor (before
// the memory is unmapped).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace flowtrail::session {

struct MemoryRegion {
  void* data = nullptr;
  size_t bytes = 0;
};

class Prefaulter {
 public:
  // Starts the thread; it inherits the caller's CPU affinity (give it the
  // control cores, never a worker's) and runs at the lowest priority (nice
  // 19), so it takes the cores' idle time rather than the pollers'.
  // With numa_node >= 0 the regions are first given that node as their
  // preferred one (mbind MPOL_PREFERRED): the populating thread runs on
  // another core, maybe another socket, and pages would otherwise come from
  // its node instead of the owner's. If that fails, nothing is populated.
  explicit Prefaulter(std::vector<MemoryRegion> regions, int numa_node = -1);
  ~Prefaulter();
  Prefaulter(const Prefaulter&) = delete;
  Prefaulter& operator=(const Prefaulter&) = delete;

  // The thread finished (every region populated, stopped, or failed).
  bool done() const { return done_.load(std::memory_order_acquire); }
  // Bytes populated so far.
  uint64_t bytes_done() const { return bytes_done_.load(std::memory_order_relaxed); }
  uint64_t bytes_total() const { return total_; }
  // Seconds the populate took (valid once done()).
  double seconds() const { return seconds_; }
  // Why it stopped early ("" when it completed or was stopped); valid once done().
  const std::string& error() const { return error_; }

 private:
  void Run();
  // Every region, in step, until done, stopped or failed.
  void PopulateAll();
  // madvise(MADV_POPULATE_WRITE) of [p, p + n); false (error_ set) if it failed.
  bool Populate(char* p, size_t n);

  // Gives every region numa_node_ as its preferred node; false (error_ set)
  // if the kernel refused.
  bool Place();

  std::vector<MemoryRegion> regions_;  // widened to whole pages
  int numa_node_ = -1;
  size_t page_ = 4096;
  uint64_t total_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> bytes_done_{0};
  double seconds_ = 0;
  std::string error_;
  std::thread thread_;
};

}  // namespace flowtrail::session
