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
  for (const MemoryRegion& r : regions_) {
    total_ += r.bytes;
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
  const long page_size = sysconf(_SC_PAGESIZE);
  const size_t page = page_size > 0 ? static_cast<size_t>(page_size) : 4096;
  constexpr size_t kBits = 8 * sizeof(unsigned long);
  std::vector<unsigned long> mask(static_cast<size_t>(numa_node_) / kBits + 1, 0);
  mask[static_cast<size_t>(numa_node_) / kBits] = 1UL << (static_cast<size_t>(numa_node_) % kBits);
  for (const MemoryRegion& r : regions_) {
    char* const begin = static_cast<char*>(r.data);
    const size_t skew = reinterpret_cast<uintptr_t>(begin) % page;
    // No glibc wrapper (libnuma has one); maxnode counts the mask's bits.
    if (syscall(SYS_mbind, begin - skew, r.bytes + skew, MPOL_PREFERRED, mask.data(),
                mask.size() * kBits, 0) != 0) {
      const int e = errno;
      error_ = absl::StrCat("cannot prefer NUMA node ", numa_node_,
                            " for the session tables (mbind): ", std::strerror(e));
      return false;
    }
  }
  return true;
}

void Prefaulter::Run() {
  // Per-thread on Linux: only this thread yields to the pollers.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
  const auto start = std::chrono::steady_clock::now();
  if (numa_node_ >= 0 && !Place()) {
    done_.store(true, std::memory_order_release);
    return;
  }
  const long page_size = sysconf(_SC_PAGESIZE);
  const size_t page = page_size > 0 ? static_cast<size_t>(page_size) : 4096;
  for (uint64_t step = 0; step < kSteps && error_.empty(); ++step) {
    for (const MemoryRegion& r : regions_) {
      // This round's [lo, hi) bytes of the region, from its page start
      // (madvise wants an aligned start; a page populated twice is skipped).
      char* const begin = static_cast<char*>(r.data);
      const size_t skew = reinterpret_cast<uintptr_t>(begin) % page;
      char* const base = begin - skew;
      const size_t end = skew + r.bytes;
      size_t lo = (skew + r.bytes * step / kSteps) / page * page;
      const size_t hi = step + 1 == kSteps ? end : skew + r.bytes * (step + 1) / kSteps;
      while (lo < hi && !stop_.load(std::memory_order_relaxed)) {
        const size_t n = std::min(kChunk, hi - lo);
        if (!Populate(base + lo, n)) {
          break;
        }
        lo += n;
      }
      if (!error_.empty() || stop_.load(std::memory_order_relaxed)) {
        break;
      }
    }
    if (stop_.load(std::memory_order_relaxed)) {
      break;
    }
  }
  seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  done_.store(true, std::memory_order_release);
}

}  // namespace flowtrail::session
