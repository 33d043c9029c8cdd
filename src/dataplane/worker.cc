#include "dataplane/worker.h"

#include <algorithm>

#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "dataplane/idle_backoff.h"
#include "dataplane/record_rings.h"

namespace flowtrail::dataplane {
namespace {
constexpr int kPrefetchAhead = 3;
}  // namespace

Worker::Worker(WorkerSetup setup) : s_(std::move(setup)), staging_(kStaging) {}

int Worker::LcoreMain(void* self) { return static_cast<Worker*>(self)->Run(); }

void Worker::ProcessBurst(rte_mbuf** pkts, uint16_t n, uint64_t live_now) {
  for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  }
  // Parsed packets go to the tracker in runs (same input port, in order) so
  // its table lookups overlap; a later fragment or a port change ends a run.
  packet::ParsedPacket parsed[kRxBurst];
  uint64_t times[kRxBurst];
  uint16_t run = 0;
  uint16_t run_port = 0;
  auto flush_run = [&]() {
    if (run == 0) {
      return;
    }
    // Sessions that timed out before the run's first packet leave first; the
    // tracker ends any other timed-out session it meets within the run.
    Advance(times[0]);
    s_.tracker->ProcessBurst(std::span<const packet::ParsedPacket>(parsed, run),
                             std::span<const uint64_t>(times, run), run_port);
    run = 0;
  };
  packet::ParsedPacket pp;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) {
      rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    }
    const rte_mbuf* m = pkts[i];
    uint64_t t = live_now;
    if (s_.capture) {
      t = s_.rx_timestamp.OfOrNow(m, clock_);
      max_time_us_ = std::max(max_time_us_, t);
    }
    // Chained (jumbo) frames: the headers are in the first segment; lengths
    // come from the IP header, so payload accounting stays right.
    packet::ParsedPacket& out = parsed[run];
    const packet::ParseResult r =
        packet::ParseFrame(packet::LinkType::kEthernet, rte_pktmbuf_mtod(m, const uint8_t*),
                           m->data_len, m->pkt_len, &out);
    if (r == packet::ParseResult::kOk) {
      if (run > 0 && m->port != run_port) {
        pp = out;
        flush_run();
        parsed[0] = pp;
      }
      run_port = m->port;
      times[run++] = t;
      continue;
    }
    // Frames that do not parse to L4 are counted by reason. A later IP
    // fragment is also given to the tracker, which adds it to the session of
    // its first fragment (dispatch by address pair brought both here); the
    // run before it goes first so that first fragment is already tracked.
    parse_counters_.Count(r);
    if (r == packet::ParseResult::kNonFirstFragment) {
      pp = out;
      flush_run();
      Advance(t);
      s_.tracker->ProcessFragment(pp, t);
    }
  }
  flush_run();
  rte_pktmbuf_free_bulk(pkts, n);
  packets_ += n;
  Advance(s_.capture ? max_time_us_ : live_now);
}

void Worker::Advance(uint64_t t) {
  if (t <= clock_us_) {
    return;
  }
  clock_us_ = t;
  s_.tracker->Advance(t);
}

bool Worker::PushRecords(bool lossless) {
  for (;;) {
    if (export_pos_ == staged_ && analytics_pos_ == staged_) {
      staged_ = s_.tracker->Drain(staging_);
      export_pos_ = analytics_pos_ = 0;
      if (staged_ == 0) {
        return true;
      }
    }
    if (export_pos_ < staged_) {
      const unsigned k = EnqueueRecords(
          s_.to_exporter,
          std::span<const session::SessionRecord>(&staging_[export_pos_], staged_ - export_pos_));
      export_pos_ += k;
      records_out_ += k;
    }
    if (analytics_pos_ < staged_) {
      analytics_pos_ +=
          EnqueueRecords(s_.to_analytics, std::span<const session::SessionRecord>(
                                              &staging_[analytics_pos_], staged_ - analytics_pos_));
    }
    if (export_pos_ < staged_ || analytics_pos_ < staged_) {
      if (lossless) {
        return false;
      }
      export_drops_ += staged_ - export_pos_;
      analytics_drops_ += staged_ - analytics_pos_;
      export_pos_ = analytics_pos_ = staged_;
    }
  }
}

void Worker::PushAllBlocking() {
  IdleBackoff backoff;
  while (!PushRecords(/*lossless=*/true)) {
    PublishCounters();
    backoff.Idle();
  }
}

void Worker::PublishCounters() {
  WorkerCounters& c = *s_.counters;
  const session::TrackerCounters& t = s_.tracker->counters();
  Set(c.packets, packets_);
  Set(c.bad_packets, parse_counters_.Bad());
  for (size_t i = 0; i < packet::kParseResultCount; ++i) {
    Set(c.bad_by_reason[i], parse_counters_.by_result[i]);
  }
  Set(c.sessions_created, t.sessions_created);
  Set(c.sessions_ended, t.sessions_ended);
  Set(c.sessions_evicted, t.sessions_evicted);
  Set(c.sessions_active, t.sessions_active);
  Set(c.interim_records, t.interim_records);
  Set(c.fragments, t.fragments);
  Set(c.tracker_records_dropped, t.records_dropped);
  Set(c.records_out, records_out_);
  Set(c.export_ring_drops, export_drops_);
  Set(c.analytics_ring_drops, analytics_drops_);
  Set(c.max_time_us, max_time_us_);
  Set(c.clock_us, clock_us_);
}

void Worker::FlushAtEnd() {
  rte_mbuf* pkts[kRxBurst];
  // The dispatcher is idle: whatever is in the ring is the rest of our input.
  if (s_.input != nullptr) {
    for (;;) {
      const unsigned n =
          rte_ring_sc_dequeue_burst(s_.input, reinterpret_cast<void**>(pkts), kRxBurst, nullptr);
      if (n == 0) {
        break;
      }
      ProcessBurst(pkts, static_cast<uint16_t>(n), s_.capture ? 0 : clock_.NowUs());
      PushAllBlocking();
    }
  }
  uint64_t t = s_.control->flush_time_us;
  if (t == 0) {
    t = s_.capture ? clock_us_ : clock_.NowUs();
  }
  t = std::max(t, clock_us_);
  clock_us_ = t;
  // Sessions that would have idled out by the last packet time end as idle,
  // not as end-of-input. Advance() defers expiries when the tracker's output
  // queue is full, so repeat until a call produces nothing.
  for (;;) {
    s_.tracker->Advance(t);
    const size_t produced = s_.tracker->PendingOutput();
    PushAllBlocking();
    if (produced == 0) {
      break;
    }
  }
  for (;;) {
    const bool empty = s_.tracker->FlushSome(s_.control->flush_reason, t);
    PushAllBlocking();
    if (empty) {
      break;
    }
  }
  PublishCounters();
  s_.control->workers_done.fetch_add(1, std::memory_order_release);
}

int Worker::Run() {
  absl::StatusOr<std::unique_ptr<session::Tracker>> tracker =
      session::Tracker::Create(s_.tracker_config);
  if (!tracker.ok()) {
    start_error_ = tracker.status().ToString();
    start_state_.store(StartState::kFailed, std::memory_order_release);
    return -1;
  }
  s_.tracker = *std::move(tracker);
  PublishCounters();
  start_state_.store(StartState::kReady, std::memory_order_release);

  IdleBackoff backoff;
  rte_mbuf* pkts[kRxBurst];
  uint32_t iteration = 0;
  Control& ctl = *s_.control;
  for (;;) {
    if (ctl.flush.load(std::memory_order_acquire)) {
      break;
    }
    bool worked = false;
    // Capture mode: a worker whose output is backed up takes no input, so
    // backpressure reaches the reader instead of dropping records.
    if (!PushRecords(s_.capture)) {
      PublishCounters();
      backoff.Idle();
      continue;
    }
    const uint64_t live_now = s_.capture ? 0 : clock_.NowUs();
    if (!s_.queues.empty()) {
      if (!ctl.stop_input.load(std::memory_order_acquire)) {
        for (const RxQueueRef& q : s_.queues) {
          if (s_.capture && rte_mempool_avail_count(s_.pool) < kCapturePoolMargin) {
            break;
          }
          const uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, kRxBurst);
          if (n == 0) {
            continue;
          }
          ProcessBurst(pkts, n, live_now);
          worked = true;
        }
      } else if (!reader_idle_.load(std::memory_order_relaxed)) {
        PublishCounters();  // max_time_us is final
        reader_idle_.store(true, std::memory_order_release);
      }
    }
    if (s_.input != nullptr) {
      const uint64_t watermark = s_.watermark->us.load(std::memory_order_acquire);
      const unsigned n =
          rte_ring_sc_dequeue_burst(s_.input, reinterpret_cast<void**>(pkts), kRxBurst, nullptr);
      if (n > 0) {
        ProcessBurst(pkts, static_cast<uint16_t>(n), live_now);
        worked = true;
      } else if (s_.capture) {
        // Everything the dispatcher read up to `watermark` for us is done.
        Advance(watermark);
      }
    }
    if (!s_.capture) {
      Advance(live_now);
    }
    // On idle polls also at the same time: Advance() may have deferred
    // expiries while the tracker's output queue was full.
    if (!worked) {
      s_.tracker->Advance(clock_us_);
    }
    PushRecords(s_.capture);
    if (!worked || (++iteration & 63) == 0) {
      PublishCounters();
    }
    backoff.Update(worked);
  }
  FlushAtEnd();
  return 0;
}

}  // namespace flowtrail::dataplane
