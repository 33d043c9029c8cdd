// The Prometheus endpoint (--metrics ADDR:PORT): GET /metrics answers the
// text exposition format of the last published snapshot. cpp-httplib runs on
// a DPDK control thread (rte_ctrl_thread_create: the control cores, never
// an lcore) with a one-thread pool; it reads only what telemetry.cc
// publishes, under the telemetry mutex that no fast path takes.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace flowtrail::dataplane {

class MetricsServer {
 public:
  // Binds ADDR:PORT (metrics_listen.h) and starts serving; an error names
  // the address when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen);
  ~MetricsServer();  // stops the server and joins its thread

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowtrail::dataplane
