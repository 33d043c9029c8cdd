// The settings that change while the sensor runs (SIGHUP): an immutable
// LiveValues published through an atomic pointer. Lcores pick the current one
// up between bursts (one relaxed-cost load, no lock); the control thread
// publishes a new one and frees an old one once every reader has moved past
// it (each reader acknowledges the generation it uses in its own cache line).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "analytics/port_distribution.h"
#include "analytics/scan_table.h"
#include "dataplane/config.h"
#include "session/networks.h"

namespace flowtrail::dataplane {

struct LiveValues {
  uint64_t generation = 0;               // set by Publish()
  session::Networks protected_networks;  // the workers' trackers
  // The analytics lcore's thresholds (analytics_lcore.h says what a change
  // does to the state already held).
  analytics::TrwOptions trw;
  analytics::PortAnalysisOptions port_analysis;
};

// The live values of a configuration (at start, and after each reload).
LiveValues LiveValuesOf(const SensorConfig& c);

class LiveSettings {
 public:
  static constexpr int kMaxReaders = 128;

  explicit LiveSettings(LiveValues initial);
  ~LiveSettings();
  LiveSettings(const LiveSettings&) = delete;
  LiveSettings& operator=(const LiveSettings&) = delete;

  // Control thread, before the lcores start: a reader slot (-1 when full:
  // that reader then keeps the values it started with).
  int AddReader();

  // Reader (an lcore, between bursts): the current values. Returns `cached`
  // unchanged (no store) unless a newer generation was published; once a
  // reader has taken the new one it never touches the old one again.
  const LiveValues* Acquire(int reader, const LiveValues* cached) {
    const LiveValues* v = current_.load(std::memory_order_acquire);
    if (v != cached && reader >= 0) {
      slots_[reader].generation.store(v->generation, std::memory_order_release);
    }
    return v;
  }
  const LiveValues* current() const { return current_.load(std::memory_order_acquire); }

  // Control thread: make `v` current (its generation is set here); the
  // previous values are retired until every reader has acknowledged.
  void Publish(LiveValues v);
  // Control thread: frees the retired values no reader can still be using.
  // Returns how many are still held.
  size_t Reclaim();

  // Set by the SIGHUP handler (async-signal-safe), taken by the control loop.
  static std::atomic<int> reload_requested;
  // What the control loop calls on a reload: re-reads the settings and
  // publishes the live ones (sensor_main.cc).
  std::function<void(LiveSettings&)> on_reload;
  // Called once every reader runs the newest values (after a Publish()).
  std::function<void()> on_settled;
  // The control loop's hook (pipeline.cc, every millisecond): a pending
  // reload, then reclamation.
  void ControlTick();

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> generation{0};
  };
  std::atomic<const LiveValues*> current_;
  std::array<Slot, kMaxReaders> slots_;
  std::atomic<int> readers_{0};
  uint64_t next_generation_ = 1;
  std::vector<std::unique_ptr<LiveValues>> retired_;
};

}  // namespace flowtrail::dataplane
