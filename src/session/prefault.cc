#include "session/prefault.h"

#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace flowtrail::session {
namespace {

// One madvise per transparent huge page: small enough that a stop request
// is seen within a few milliseconds, large enough to cost nothing.
constexpr size_t kChunk = size_t{2} << 20;
// Each region advances by 1/kSteps of its size per round.
constexpr uint64_t kSteps = 256;

}  // namespace

Prefaulter::Prefaulter(std::vector<MemoryRegion> regions, int numa_node)
    : regions_(std::move(regions)), numa_node_(numa_node) {
  // From each region's page start: madvise and mbind want aligned addresses
  // (a page populated twice is skipped by the kernel).
  const long page_size = sysconf(_SC_PAGESIZE);
  page_ = page_size > 0 ? static_cast<size_t>(page_size) : 4096;
  for (MemoryRegion& r : regions_) {
    total_ += r.bytes;
    const size_t skew = reinterpret_cast<uintptr_t>(r.data) % page_;
    r.data = static_cast<char*>(r.data) - skew;
    r.bytes += skew;
  }
  thread_ = std::thread([this] { Run(); });
}

Prefaulter::~Prefaulter() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool Prefaulter::Populate(char* p, size_t n) {
  if (madvise(p, n, MADV_POPULATE_WRITE) == 0) {
    bytes_done_.fetch_add(n, std::memory_order_relaxed);
    return true;
  }
  const int e = errno;
  error_ = e == EINVAL ? "the kernel has no MADV_POPULATE_WRITE (before Linux 5.14)"
                       : absl::StrCat("madvise(MADV_POPULATE_WRITE): ", std::strerror(e));
  return false;
}

bool Prefaulter::Place() {
  constexpr size_t kBits = 8 * sizeof(unsigned long);
  std::vector<unsigned long> mask(static_cast<size_t>(numa_node_) / kBits + 1, 0);
  mask[static_cast<size_t>(numa_node_) / kBits] = 1UL << (static_cast<size_t>(numa_node_) % kBits);
  for (const MemoryRegion& r : regions_) {
    // No glibc wrapper (libnuma has one); maxnode counts the mask's bits.
    if (syscall(SYS_mbind, r.data, r.bytes, MPOL_PREFERRED, mask.data(), mask.size() * kBits, 0) !=
        0) {
      const int e = errno;
      error_ = absl::StrCat("cannot prefer NUMA node ", numa_node_,
                            " for the session tables (mbind): ", std::strerror(e));
      return false;
    }
  }
  return true;
}

void Prefaulter::PopulateAll() {
  for (uint64_t step = 0; step < kSteps; ++step) {
    for (const MemoryRegion& r : regions_) {
      char* const base = static_cast<char*>(r.data);
      // This round's [lo, hi) of the region, lo on a page boundary.
      const size_t hi = r.bytes * (step + 1) / kSteps;
      for (size_t lo = r.bytes * step / kSteps / page_ * page_, n = 0; lo < hi; lo += n) {
        if (stop_.load(std::memory_order_relaxed)) {
          return;
        }
        n = std::min(kChunk, hi - lo);
        if (!Populate(base + lo, n)) {
          return;
        }
      }
    }
  }
}

void Prefaulter::Run() {
  // Per-thread on Linux: only this thread yields to the pollers.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
  const auto start = std::chrono::steady_clock::now();
  if (numa_node_ < 0 || Place()) {
    PopulateAll();
  }
  seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  done_.store(true, std::memory_order_release);
}

}  // namespace flowtrail::session
