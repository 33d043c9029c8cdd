// The tracker's clock over a capture's timestamps. Capture times are what the
// file says and go into records unchanged; the clock is what decides idle
// expiry, and it must survive what real captures do: merged files whose
// timestamps step backwards, and single frames stamped far ahead of their
// neighbours (a glitching capture host, a bad merge). Without it one frame an
// hour ahead expires every live session, and the rest of each session comes
// back as a second one.
//
// Rule, per packet in input order, with one packet of lookahead (Observe()
// takes the packet's time and the next packet's, and returns the clock value
// to use for that packet):
//   - The first packet sets the clock.
//   - The clock never goes back: a packet at or behind it gets the current
//     clock. One more than 1 s behind is counted in `backwards`.
//   - A packet at most J (the jump tolerance, default 10 s) ahead moves the
//     clock to its time.
//   - A packet more than J ahead is a real jump (a capture gap) when the next
//     packet is more than J ahead of the clock too: the clock moves to the
//     earlier of the two times and `jumps` counts it. Otherwise (the next
//     packet is back near the clock, or there is none: the last packet of the
//     input) it is a lone outlier, counted in `outliers`: it gets the current
//     clock and the clock never sees it.
// So a lone outlier costs nothing and a real gap is taken at its first
// packet. The reader that knows the input order (file_input.h) reads one
// frame ahead for it.
// DPDK-free, no allocation: one instance per input stream, in input order (for
// identical results with any worker count, run it where the whole input is
// seen in order and pass the clock along with each packet).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

namespace flowtrail::session {

struct CaptureClockCounters {
  uint64_t outliers = 0;   // lone packets more than J ahead, ignored by the clock
  uint64_t backwards = 0;  // packets more than 1 s behind the clock
  uint64_t jumps = 0;      // confirmed forward jumps beyond J (capture gaps)
};

class CaptureClock {
 public:
  static constexpr uint64_t kDefaultJumpToleranceUs = 10'000'000;
  static constexpr uint64_t kBackwardsSlackUs = 1'000'000;

  explicit CaptureClock(uint64_t jump_tolerance_us = kDefaultJumpToleranceUs)
      : tolerance_(jump_tolerance_us) {}

  // `next_capture_us`: the next packet's capture time, none at the end.
  uint64_t Observe(uint64_t capture_us, std::optional<uint64_t> next_capture_us) {
    if (!started_) {
      started_ = true;
      clock_ = capture_us;
      return clock_;
    }
    if (capture_us <= clock_) {
      if (clock_ - capture_us > kBackwardsSlackUs) {
        ++counters_.backwards;
      }
      return clock_;
    }
    if (capture_us - clock_ <= tolerance_) {
      clock_ = capture_us;
      return clock_;
    }
    if (next_capture_us && *next_capture_us > clock_ && *next_capture_us - clock_ > tolerance_) {
      ++counters_.jumps;
      clock_ = std::min(capture_us, *next_capture_us);
      return clock_;
    }
    ++counters_.outliers;
    return clock_;
  }

  // The clock after the last Observe() (0 before the first).
  uint64_t now() const { return clock_; }
  bool started() const { return started_; }
  uint64_t jump_tolerance_us() const { return tolerance_; }
  const CaptureClockCounters& counters() const { return counters_; }

 private:
  uint64_t tolerance_;
  uint64_t clock_ = 0;
  bool started_ = false;
  CaptureClockCounters counters_;
};

}  // namespace flowtrail::session
