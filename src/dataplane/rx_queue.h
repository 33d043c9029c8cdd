// Shared fast-path constants and the (port, queue) pair an lcore polls.
#pragma once

#include <cstdint>

namespace flowtrail::dataplane {

inline constexpr uint16_t kRxBurst = 32;
// Capture mode reads only while the mbuf pool can take a whole burst of the
// largest frames: net_pcap reads a packet *before* allocating its mbuf and
// loses it when the pool is empty; a 64 KiB frame takes 33 chained mbufs.
inline constexpr unsigned kCapturePoolMargin = kRxBurst * 34;
// The smallest mbuf pool capture mode works with: the margin plus a burst in
// flight on each side of it. --mbufs refuses less (app/options.cc).
inline constexpr unsigned kMinCaptureMbufs = kCapturePoolMargin + 2 * kRxBurst;

struct RxQueueRef {
  uint16_t port = 0;
  uint16_t queue = 0;
  bool needs_pool_margin = false;  // capture mode: poll only with kCapturePoolMargin free
};

}  // namespace flowtrail::dataplane
