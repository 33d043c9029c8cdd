// Which lcore does what. DPDK-free: the caller passes the EAL's lcore ids
// (main first, then the others in EAL order) and gets the roles back.
//
// Order of assignment: N workers, then a dispatcher (only when some port has
// fewer RX queues than workers), then the exporter, then analytics. Roles that
// find no lcore left (dispatcher, exporter, analytics) run on the main lcore:
// the same Poll() code called from the main loop. Only workers need their own
// lcores; too few is an error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace flowtrail::dataplane {

struct LcorePlan {
  unsigned main_lcore = 0;
  std::vector<unsigned> workers;  // worker i runs on workers[i]
  bool has_dispatcher = false;
  // For each optional role: its own lcore, or main_lcore when shared.
  unsigned dispatcher = 0;
  unsigned exporter = 0;
  unsigned analytics = 0;

  bool DispatcherOnMain() const { return has_dispatcher && dispatcher == main_lcore; }
  bool ExporterOnMain() const { return exporter == main_lcore; }
  bool AnalyticsOnMain() const { return analytics == main_lcore; }
  std::string Describe() const;
};

// `other_lcores`: the EAL's lcores except the main one, in EAL order.
absl::StatusOr<LcorePlan> PlanLcores(unsigned main_lcore, const std::vector<unsigned>& other_lcores,
                                     uint32_t workers, bool need_dispatcher);

}  // namespace flowtrail::dataplane
