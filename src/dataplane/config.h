// What the sensor was asked to do: the application options after EAL's `--`,
// validated (src/app/options.cc). Plain data, no DPDK, so option parsing and
// lcore planning are unit-tested without an EAL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/pcap_devargs.h"
#include "session/tracker.h"

namespace flowtrail::dataplane {

struct SensorConfig {
  std::string output;     // record stream file, "-" = stdout
  std::string sensor_id;  // default: hostname
  uint32_t workers = 1;
  // Capture mode: lossless input, times from the capture, stop at its end.
  // Unset = automatic (on when every port is a net_pcap vdev reading files).
  std::optional<bool> capture;
  // Tracker settings shared by every worker (worker_id is set per worker).
  session::TrackerConfig tracker;
  double status_interval_s = 10;  // 0 = no periodic status line
  std::string stats_json;         // final counters as JSON ("" = none)
  double duration_s = 0;          // stop after this long (0 = never), for benchmarks
  uint32_t mbufs = 0;             // mbuf pool size (0 = derived from rings and queues)
  uint32_t record_ring_size = 4096;  // per worker and consumer, a power of two
  // Capture mode's clock: a packet more than this far ahead of the clock moves
  // it only when the next packet confirms the jump (session/capture_clock.h).
  uint64_t clock_jump_us = 10'000'000;
  // Capture files flowtrail reads itself (taken from the EAL's --vdev
  // arguments before rte_eal_init; see file_input.h).
  std::vector<FileVdev> file_inputs;
};

}  // namespace flowtrail::dataplane
