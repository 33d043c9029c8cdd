// --metrics ADDR:PORT: where the Prometheus endpoint listens. DPDK-free
// (options.cc checks the value at parse time, the pipeline binds it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace flowtrail::dataplane {

struct ListenAddress {
  std::string host;  // numeric address or name; "127.0.0.1" for a bare port
  uint16_t port = 0;
};

// "PORT" (loopback), "ADDR:PORT" or "[IPV6]:PORT"; PORT 1..65535.
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view v);

}  // namespace flowtrail::dataplane
