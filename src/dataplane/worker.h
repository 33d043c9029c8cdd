// A worker lcore: burst RX (its own NIC queues, or its ring from the
// dispatcher) → prefetch → ParseFrame → Tracker::Process → free the burst →
// Advance the tracker clock → Drain finished records into its exporter and
// analytics rings. It owns its tracker; nothing on this path locks, allocates
// or makes a system call.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dataplane/capture_meta.h"
#include "dataplane/clock.h"
#include "dataplane/control.h"
#include "dataplane/counters.h"
#include "dataplane/live_settings.h"
#include "dataplane/rx_queue.h"
#include "packet/parser.h"
#include "session/tracker.h"

namespace flowtrail::dataplane {

// Capture time up to which the dispatcher has handed this worker every
// packet: stored (release) after the enqueue, loaded (acquire) before the
// dequeue. With an empty ring the worker may advance its clock to it, so
// timeouts do not depend on how packets are spread over workers.
struct alignas(64) Watermark {
  std::atomic<uint64_t> us{0};
};

struct WorkerSetup {
  uint16_t index = 0;
  // The tracker is created by the worker on its own lcore (in parallel with
  // the other workers, memory first touched on the worker's NUMA node).
  session::TrackerConfig tracker_config;
  std::unique_ptr<session::Tracker> tracker;
  std::vector<RxQueueRef> queues;  // polled directly (RSS or single-worker ports)
  rte_ring* input = nullptr;       // from the dispatcher, or null
  const Watermark* watermark = nullptr;
  rte_ring* to_exporter = nullptr;
  rte_ring* to_analytics = nullptr;
  // First-contact events to the analytics lcore; null = not sent.
  rte_ring* contacts_to_analytics = nullptr;
  rte_mempool* pool = nullptr;
  bool capture = false;
  RxTimestamp rx_timestamp;
  CaptureMetaField meta;
  WorkerCounters* counters = nullptr;
  Control* control = nullptr;
  LiveSettings* live = nullptr;  // SIGHUP's protected networks; null = fixed
  int live_reader = -1;
};

class Worker {
 public:
  explicit Worker(WorkerSetup setup);

  // The lcore entry point (rte_eal_remote_launch with `this`).
  static int LcoreMain(void* self);
  int Run();

  // Set once this worker (as a reader of its own queues) has processed all it
  // read after stop_input.
  bool ReaderIdle() const { return reader_idle_.load(std::memory_order_acquire); }
  bool IsReader() const { return !s_.queues.empty(); }
  // The tracker's mapped arrays (valid once start_state() is kReady).
  std::vector<session::MemoryRegion> MappedRegions() const { return s_.tracker->MappedRegions(); }

  enum class StartState : int { kStarting, kReady, kFailed };
  StartState start_state() const { return start_state_.load(std::memory_order_acquire); }
  // Why the tracker could not be created (valid once kFailed).
  const std::string& start_error() const { return start_error_; }

 private:
  // Records or events per ring reservation (PushRecords, PushContacts).
  static constexpr size_t kPushBurst = 64;

  void ProcessBurst(rte_mbuf** pkts, uint16_t n, uint64_t live_now);
  // Moves the tracker clock forward to `t` (never back) and expires as many
  // sessions as the rings have room for.
  void Advance(uint64_t t);
  // Records the rings can take now beyond those already waiting.
  size_t RecordBudget() const;
  // Moves finished records to the rings. Returns false if some are still
  // waiting for room (they stay in the tracker's queue; nothing is dropped
  // here).
  bool PushRecords();
  // Moves first-contact events to their ring, as many as it has room for; the
  // rest wait in the tracker's queue (which counts what it cannot keep).
  // Never waits.
  void PushContacts();
  // More events wait in the tracker than half its queue (capture mode pauses
  // input then).
  bool ContactsBackedUp() const;
  void PushAllBlocking();
  void FlushAtEnd();
  void PublishCounters();

  WorkerSetup s_;
  LiveClock clock_;
  packet::ParseCounters parse_counters_;
  uint64_t packets_ = 0;
  uint64_t clock_us_ = 0;     // tracker clock (µs)
  uint64_t max_time_us_ = 0;  // latest capture time read directly
  // ProcessBurst's runs for the tracker. Members, not locals: ParsedPacket's
  // member initialisers made a local array a ~3 KiB memset per burst (2.8 %
  // of the worker at 1 M sessions), and ParseFrame resets each entry anyway.
  packet::ParsedPacket parsed_[kRxBurst];
  session::PacketTime times_[kRxBurst];
  uint64_t records_out_ = 0;
  uint64_t contacts_out_ = 0;
  uint64_t snapped_ = 0;
  bool expiry_pending_ = false;  // due sessions left in the table for want of ring room
  std::atomic<bool> reader_idle_{false};
  std::atomic<StartState> start_state_{StartState::kStarting};
  std::string start_error_;
};

}  // namespace flowtrail::dataplane
