// A bounded single-producer/single-consumer ring of trivially copyable
// values: two atomics, no lock, no wait on either side. The exporter lcore
// and an I/O thread (a collector link, AsyncSegmentSink) hand blocks over it.
#pragma once

#include <atomic>
#include <cstddef>
#include <type_traits>

namespace flowtrail::exporter {

template <typename T, size_t kSlots>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>);
  static_assert((kSlots & (kSlots - 1)) == 0, "a power of two, so the index wraps cheaply");

 public:
  // False when full.
  bool Push(const T& v) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) == kSlots) return false;
    slots_[head % kSlots] = v;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }
  // False when empty.
  bool Pop(T* out) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return false;
    *out = slots_[tail % kSlots];
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

 private:
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
  T slots_[kSlots] = {};
};

}  // namespace flowtrail::exporter
