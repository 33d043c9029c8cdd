// Wires the appliance together after rte_eal_init: ports and the mbuf pool,
// the lcore plan, one tracker per worker, the rings, the stream writer; then
// launches the lcores and runs the control loop on the main lcore (signals,
// status line, end-of-input detection, orderly stop; see control.h).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "dataplane/config.h"

namespace flowtrail::dataplane {

class Pipeline {
 public:
  // Setting this (from a signal handler) stops the sensor cleanly: every live
  // session is flushed with end reason SHUTDOWN.
  static std::atomic<int> stop_signal;

  // When the process started and when rte_eal_init returned (steady clock),
  // for the start-up report: time to the first packet, and where it went.
  struct StartTimes {
    std::chrono::steady_clock::time_point process;
    std::chrono::steady_clock::time_point eal_ready;
  };

  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(const SensorConfig& config,
                                                          StartTimes start = {});
  ~Pipeline();

  // Runs until the capture ends, a signal or --duration; returns the exit code.
  int Run();

 private:
  struct State;
  explicit Pipeline(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace flowtrail::dataplane
