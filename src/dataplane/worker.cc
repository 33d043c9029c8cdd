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

Worker::Worker(WorkerSetup setup) : s_(std::move(setup)) {}

int Worker::LcoreMain(void* self) { return static_cast<Worker*>(self)->Run(); }

void Worker::ProcessBurst(rte_mbuf** pkts, uint16_t n, uint64_t live_now) {
  for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  }
  // Parsed packets go to the tracker in runs (same input port, in order) so
  // its table lookups overlap; a later fragment or a port change ends a run.
  packet::ParsedPacket* const parsed = parsed_;
  session::PacketTime* const times = times_;
  uint16_t run = 0;
  uint16_t run_port = 0;
  auto flush_run = [&]() {
    if (run == 0) {
      return;
    }
    // Sessions that timed out before the run's first packet leave first; the
    // tracker ends any other timed-out session it meets within the run.
    Advance(times[0].clock_us);
    s_.tracker->ProcessBurst(std::span<const packet::ParsedPacket>(parsed, run),
                             std::span<const session::PacketTime>(times, run), run_port);
    run = 0;
  };
  packet::ParsedPacket pp;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) {
      rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    }
    const rte_mbuf* m = pkts[i];
    session::PacketTime t{live_now, live_now};
    if (s_.capture) {
      // Records carry the capture's time as written; timeouts follow the
      // capture clock the reader stamped (capture_meta.h).
      t.capture_us = s_.rx_timestamp.OfOrNow(m, clock_);
      t.clock_us = s_.meta.ClockOf(m, t.capture_us);
      max_time_us_ = std::max(max_time_us_, t.clock_us);
    }
    // Chained (jumbo) frames: the headers are in the first segment; lengths
    // come from the IP header, so payload accounting stays right.
    const FrameRef f = s_.meta.FrameOf(m);
    if (m->pkt_len < f.wire_len) {
      ++snapped_;  // cut by the capture's snap length: counted, still parsed
    }
    packet::ParsedPacket& out = parsed[run];
    const packet::ParseResult r = packet::ParseFrame(f.link, f.data, f.caplen, f.wire_len, &out);
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
    // Everything else is counted by class and reason (parser.h: only
    // malformed frames are "bad"). A later IP fragment is also given to the
    // tracker, which adds it to the session of its first fragment (dispatch
    // by address pair brought both here); the run before it goes first so
    // that first fragment is already tracked.
    parse_counters_.Count(r);
    if (r == packet::ParseResult::kNonFirstFragment) {
      pp = out;
      flush_run();
      Advance(t.clock_us);
      s_.tracker->ProcessFragment(pp, t);
    }
  }
  flush_run();
  rte_pktmbuf_free_bulk(pkts, n);
  packets_ += n;
  Advance(s_.capture ? max_time_us_ : live_now);
}

size_t Worker::RecordBudget() const {
  // Records already on their way, in the tracker's queue.
  const size_t waiting = s_.tracker->PendingOutput();
  const size_t room =
      std::min(rte_ring_free_count(s_.to_exporter), rte_ring_free_count(s_.to_analytics));
  return room > waiting ? room - waiting : 0;
}

void Worker::Advance(uint64_t t) {
  if (t > clock_us_) {
    clock_us_ = t;
  } else if (!expiry_pending_) {
    return;
  }
  // Expiry in batches the rings can take: what does not fit stays in the
  // table, due, and leaves on a later call (no record is dropped for it).
  expiry_pending_ = !s_.tracker->Advance(clock_us_, RecordBudget());
}

bool Worker::PushRecords() {
  for (;;) {
    const std::span<const record::SessionRecord> pending = s_.tracker->PeekOutput();
    if (pending.empty()) {
      return true;
    }
    // As many as both rings have room for, streamed from the tracker's
    // queue into both, so the two never disagree.
    const auto want = static_cast<unsigned>(std::min<size_t>(pending.size(), kPushBurst));
    const auto to_exporter = ReserveSlots<record::SessionRecord>(s_.to_exporter, want);
    const auto to_analytics = ReserveSlots<record::SessionRecord>(s_.to_analytics, to_exporter.n);
    const unsigned k = to_analytics.n;
    StreamAndCommit(s_.to_exporter, to_exporter, pending, k);
    StreamAndCommit(s_.to_analytics, to_analytics, pending, k);
    s_.tracker->DropOutput(k);
    records_out_ += k;
    if (k < want) {
      // A full ring: the records wait in the tracker's queue. The worker
      // goes on with its packets (live mode); should that queue fill, the
      // tracker counts what it cannot keep (records_dropped).
      return false;
    }
  }
}

void Worker::PushContacts() {
  if (s_.contacts_to_analytics == nullptr) {
    return;
  }
  for (;;) {
    const std::span<const record::ContactEvent> pending = s_.tracker->PeekContacts();
    if (pending.empty()) {
      return;
    }
    const auto want = static_cast<unsigned>(std::min<size_t>(pending.size(), kPushBurst));
    const auto slots = ReserveSlots<record::ContactEvent>(s_.contacts_to_analytics, want);
    StreamAndCommit(s_.contacts_to_analytics, slots, pending, slots.n);
    s_.tracker->DropContacts(slots.n);
    contacts_out_ += slots.n;
    if (slots.n < want) {
      return;  // full: the rest wait in the tracker's queue
    }
  }
}

bool Worker::ContactsBackedUp() const {
  return s_.contacts_to_analytics != nullptr &&
         s_.tracker->PendingContacts() > s_.tracker_config.contact_capacity / 2;
}

void Worker::PushAllBlocking() {
  IdleBackoff backoff;
  PushContacts();
  while (!PushRecords()) {
    PushContacts();
    PublishCounters();
    backoff.Idle();
  }
}

void Worker::PublishCounters() {
  WorkerCounters& c = *s_.counters;
  const session::TrackerCounters& t = s_.tracker->counters();
  Set(c.packets, packets_);
  for (size_t i = 0; i < packet::kParseResultCount; ++i) {
    Set(c.by_result[i], parse_counters_.by_result[i]);
  }
  Set(c.sessions_created, t.sessions_created);
  Set(c.sessions_ended, t.sessions_ended);
  Set(c.sessions_evicted, t.sessions_evicted);
  Set(c.sessions_active, t.sessions_active);
  Set(c.interim_records, t.interim_records);
  Set(c.fragments, t.fragments);
  Set(c.later_fragments_unattributed, t.later_fragments_unattributed);
  Set(c.fragment_overlap_bytes, t.fragment_overlap_bytes);
  Set(c.implausible_sequence, t.implausible_sequence);
  Set(c.ftp_announcements_ignored, t.ftp_announcements_ignored);
  Set(c.tracker_records_dropped, t.records_dropped);
  Set(c.records_out, records_out_);
  Set(c.contacts, t.contacts_success + t.contacts_reject + t.contacts_silent);
  Set(c.contacts_dropped, t.contacts_dropped + t.contacts_untracked);
  Set(c.contacts_out, contacts_out_);
  Set(c.snapped, snapped_);
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
  // not as end-of-input, in batches the rings can take.
  for (;;) {
    const bool complete = s_.tracker->Advance(t, RecordBudget());
    PushAllBlocking();
    if (complete) {
      break;
    }
  }
  expiry_pending_ = false;
  for (;;) {
    const bool empty = s_.tracker->FlushSome(s_.control->flush_reason, t);
    PushAllBlocking();
    if (empty) {
      break;
    }
  }
  // The last events wait for room: the analytics lcore drains until every
  // worker is done.
  IdleBackoff backoff;
  while (s_.contacts_to_analytics != nullptr && s_.tracker->PendingContacts() > 0) {
    PushContacts();
    backoff.Idle();
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
  const LiveValues* live = nullptr;
  for (;;) {
    if (ctl.flush.load(std::memory_order_acquire)) {
      break;
    }
    // Between bursts: a reload's protected networks (dataplane/live_settings.h).
    if (s_.live != nullptr) {
      if (const LiveValues* v = s_.live->Acquire(s_.live_reader, live); v != live) {
        live = v;
        s_.tracker->SetProtectedNetworks(&v->protected_networks);
      }
    }
    bool worked = false;
    // Capture mode: a worker whose output is backed up takes no input, so
    // backpressure reaches the reader instead of dropping records. Contact
    // events too (half the tracker's queue as the mark): a replay then gives
    // the same events however fast the analytics lcore is. Live mode never
    // waits for them.
    const bool records_waiting = !PushRecords();
    PushContacts();
    if (s_.capture && (records_waiting || ContactsBackedUp())) {
      PublishCounters();
      backoff.Idle();
      continue;
    }
    const uint64_t live_now = s_.capture ? 0 : clock_.NowUs();
    if (!s_.queues.empty()) {
      if (!ctl.stop_input.load(std::memory_order_acquire)) {
        for (const RxQueueRef& q : s_.queues) {
          if (s_.capture && q.needs_pool_margin &&
              rte_mempool_avail_count(s_.pool) < kCapturePoolMargin) {
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
    // Expiries deferred for want of ring space go on at the same time.
    if (expiry_pending_) {
      PushRecords();
      Advance(clock_us_);
    }
    PushRecords();
    PushContacts();
    if (!worked || (++iteration & 63) == 0) {
      PublishCounters();
    }
    backoff.Update(worked);
  }
  FlushAtEnd();
  return 0;
}

}  // namespace flowtrail::dataplane
