// Software symmetric dispatch for ports without usable RSS (net_pcap, single
// queue NICs): rx burst → the address pair (DispatchKeyOf; the worker does
// the one full parse) → symmetric CRC32C of the endpoints (flow_hash.h) → one
// SP/SC ring per worker. Both directions of a session land on the same worker.
//
// Live mode: a full worker ring is a counted drop (the mbuf is freed).
// Capture mode: lossless — the dispatcher holds the rest of the burst and
// retries, and reads only while the mbuf pool can take a burst.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dataplane/capture_meta.h"
#include "dataplane/clock.h"
#include "dataplane/control.h"
#include "dataplane/counters.h"
#include "dataplane/rx_queue.h"
#include "dataplane/worker.h"

namespace flowtrail::dataplane {

struct DispatcherSetup {
  std::vector<RxQueueRef> queues;
  std::vector<rte_ring*> worker_rings;
  Watermark* watermarks = nullptr;  // one per worker
  rte_mempool* pool = nullptr;
  bool capture = false;
  RxTimestamp rx_timestamp;
  CaptureMetaField meta;
  DispatcherCounters* counters = nullptr;
  Control* control = nullptr;
};

class Dispatcher {
 public:
  explicit Dispatcher(DispatcherSetup setup);

  // One step: finish a held burst or read one burst per queue. Returns true if
  // it moved packets. Runs on its own lcore (pipeline.cc) or from the main loop.
  bool Poll();
  bool Idle() const { return idle_; }

 private:
  struct Held {
    std::array<rte_mbuf*, kRxBurst> pkts;
    uint16_t count = 0;
    uint16_t sent = 0;
  };
  // Enqueues what is held; false if some packets still wait (capture mode).
  bool SendHeld();
  void PublishWatermarks();
  void PublishCounters();

  DispatcherSetup s_;
  LiveClock clock_;
  std::vector<Held> held_;
  bool holding_ = false;
  bool idle_ = false;
  size_t next_queue_ = 0;
  uint64_t packets_ = 0;
  uint64_t unparsed_ = 0;
  uint64_t ring_drops_ = 0;
  uint64_t backpressure_ = 0;
  uint64_t pool_waits_ = 0;
  uint64_t max_time_us_ = 0;
  uint64_t published_us_ = 0;
};

}  // namespace flowtrail::dataplane
