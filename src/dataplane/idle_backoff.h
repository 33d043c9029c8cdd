// Idle back-off for poll loops. On dedicated (isolated) cores an lcore that
// finds nothing to do spins with rte_pause(); after many empty polls it yields
// and finally sleeps briefly, so that lcores oversubscribed on few CPUs (CI,
// `--lcores=0@0,1@1,2@0,...`) do not starve the lcore that has work. Only
// latency depends on it, never correctness: every loop re-polls until its
// input is empty.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <cstdint>

#include <rte_pause.h>

namespace flowtrail::dataplane {

class IdleBackoff {
 public:
  static constexpr uint32_t kSpinPolls = 128;    // rte_pause() below this
  static constexpr uint32_t kYieldPolls = 2048;  // sched_yield() below this, then usleep
  static constexpr unsigned kSleepUs = 100;

  void Reset() { empty_polls_ = 0; }
  void Idle() {
    ++empty_polls_;
    if (empty_polls_ < kSpinPolls) {
      rte_pause();
    } else if (empty_polls_ < kYieldPolls) {
      sched_yield();
    } else {
      usleep(kSleepUs);
    }
  }
  // Work done → reset; nothing done → back off.
  void Update(bool worked) {
    if (worked) {
      Reset();
    } else {
      Idle();
    }
  }

 private:
  uint32_t empty_polls_ = 0;
};

}  // namespace flowtrail::dataplane
