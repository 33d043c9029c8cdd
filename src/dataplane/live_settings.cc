#include "dataplane/live_settings.h"

#include <algorithm>

namespace flowtrail::dataplane {

std::atomic<int> LiveSettings::reload_requested{0};

LiveValues LiveValuesOf(const SensorConfig& c) {
  LiveValues v;
  v.protected_networks = c.tracker.protected_networks;
  v.trw = c.analytics.scan.trw;
  v.port_analysis = c.analytics.port_analysis;
  return v;
}

LiveSettings::LiveSettings(LiveValues initial) {
  initial.generation = 0;
  current_.store(new LiveValues(std::move(initial)), std::memory_order_release);
}

LiveSettings::~LiveSettings() { delete current_.load(std::memory_order_acquire); }

int LiveSettings::AddReader() {
  const int r = readers_.load(std::memory_order_relaxed);
  if (r >= kMaxReaders) return -1;
  // A reader starts on the current values.
  slots_[r].generation.store(current()->generation, std::memory_order_relaxed);
  readers_.store(r + 1, std::memory_order_release);
  return r;
}

void LiveSettings::Publish(LiveValues v) {
  v.generation = next_generation_++;
  const LiveValues* old =
      current_.exchange(new LiveValues(std::move(v)), std::memory_order_acq_rel);
  retired_.emplace_back(const_cast<LiveValues*>(old));
}

size_t LiveSettings::Reclaim() {
  if (retired_.empty()) return 0;
  // Every reader that acknowledged generation g no longer uses any older one.
  uint64_t oldest_in_use = current()->generation;
  const int n = readers_.load(std::memory_order_acquire);
  for (int r = 0; r < n; ++r) {
    oldest_in_use = std::min(oldest_in_use, slots_[r].generation.load(std::memory_order_acquire));
  }
  std::erase_if(retired_, [&](const std::unique_ptr<LiveValues>& v) {
    return v->generation < oldest_in_use;
  });
  return retired_.size();
}

void LiveSettings::ControlTick() {
  if (reload_requested.exchange(0, std::memory_order_acq_rel) != 0 && on_reload) {
    on_reload(*this);
  }
  const bool pending = !retired_.empty();
  if (Reclaim() == 0 && pending && on_settled) on_settled();
}

}  // namespace flowtrail::dataplane
