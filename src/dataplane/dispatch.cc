#include "dataplane/dispatch.h"

#include <algorithm>

#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "dataplane/flow_hash.h"

namespace flowtrail::dataplane {

Dispatcher::Dispatcher(DispatcherSetup setup)
    : s_(std::move(setup)), held_(s_.worker_rings.size()) {}

bool Dispatcher::SendHeld() {
  bool all_sent = true;
  for (size_t w = 0; w < held_.size(); ++w) {
    Held& h = held_[w];
    if (h.sent == h.count) {
      continue;
    }
    h.sent += static_cast<uint16_t>(rte_ring_sp_enqueue_burst(
        s_.worker_rings[w], reinterpret_cast<void* const*>(&h.pkts[h.sent]), h.count - h.sent,
        nullptr));
    if (h.sent < h.count) {
      if (s_.capture) {
        all_sent = false;
        continue;
      }
      rte_pktmbuf_free_bulk(&h.pkts[h.sent], h.count - h.sent);
      ring_drops_ += h.count - h.sent;
    }
    h.count = h.sent = 0;
  }
  holding_ = !all_sent;
  return all_sent;
}

void Dispatcher::PublishWatermarks() {
  if (max_time_us_ == published_us_) {
    return;
  }
  // Every packet read so far has been enqueued: each worker has all its
  // packets up to max_time_us_.
  for (size_t w = 0; w < held_.size(); ++w) {
    s_.watermarks[w].us.store(max_time_us_, std::memory_order_release);
  }
  published_us_ = max_time_us_;
}

void Dispatcher::PublishCounters() {
  DispatcherCounters& c = *s_.counters;
  Set(c.packets, packets_);
  Set(c.unparsed, unparsed_);
  Set(c.ring_drops, ring_drops_);
  Set(c.backpressure, backpressure_);
  Set(c.pool_waits, pool_waits_);
  Set(c.max_time_us, max_time_us_);
}

bool Dispatcher::Poll() {
  if (idle_) {
    return false;
  }
  if (holding_ && !SendHeld()) {
    ++backpressure_;
    PublishCounters();
    return false;
  }
  if (s_.control->stop_input.load(std::memory_order_acquire)) {
    PublishWatermarks();
    PublishCounters();
    idle_ = true;
    s_.control->dispatcher_idle.store(true, std::memory_order_release);
    return false;
  }
  const uint32_t workers = static_cast<uint32_t>(held_.size());
  bool worked = false;
  rte_mbuf* pkts[kRxBurst];
  for (size_t k = 0; k < s_.queues.size(); ++k) {
    const RxQueueRef& q = s_.queues[next_queue_];
    next_queue_ = (next_queue_ + 1) % s_.queues.size();
    if (s_.capture && q.needs_pool_margin &&
        rte_mempool_avail_count(s_.pool) < kCapturePoolMargin) {
      ++pool_waits_;
      break;
    }
    const uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, kRxBurst);
    if (n == 0) {
      continue;
    }
    worked = true;
    packets_ += n;
    for (uint16_t i = 0; i < n && i < 3; ++i) {
      rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    }
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 3 < n) {
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 3], void*));
      }
      rte_mbuf* m = pkts[i];
      if (s_.capture) {
        // The capture clock (not the raw timestamp) is what the workers'
        // timeouts follow: an outlier timestamp must not leak in here.
        max_time_us_ =
            std::max(max_time_us_, s_.meta.ClockOf(m, s_.rx_timestamp.OfOrNow(m, clock_)));
      }
      // Frames without usable addresses go to worker 0, which counts them by
      // class and reason; later fragments follow their addresses like the
      // first one.
      // The worker parses the frame; here only its address pair is read.
      uint32_t w = 0;
      const FrameRef f = s_.meta.FrameOf(m);
      const DispatchKey key = DispatchKeyOf(f.link, f.data, f.caplen, f.wire_len);
      if (key.has_addresses) {
        w = WorkerForHash(key.hash, workers);
      }
      unparsed_ += !key.ok;
      Held& h = held_[w];
      h.pkts[h.count++] = m;
    }
    if (!SendHeld()) {
      ++backpressure_;
      break;
    }
  }
  if (!holding_) {
    PublishWatermarks();
  }
  PublishCounters();
  return worked;
}

}  // namespace flowtrail::dataplane
