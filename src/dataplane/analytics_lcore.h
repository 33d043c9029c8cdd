// The analytics lcore: drains every worker's analytics ring and feeds the
// records to the analytics consumers (today analytics::RecordCounts; the scan
// table and client-port distributions of SPEC §5 slot in beside it).
#pragma once

#include <vector>

#include <rte_ring.h>

#include "analytics/record_counts.h"
#include "dataplane/control.h"
#include "dataplane/counters.h"

namespace flowtrail::dataplane {

struct AnalyticsSetup {
  std::vector<rte_ring*> rings;  // one per worker
  AnalyticsCounters* counters = nullptr;
  Control* control = nullptr;
};

class AnalyticsLcore {
 public:
  explicit AnalyticsLcore(AnalyticsSetup setup);

  bool Poll();
  bool Done() const { return done_; }
  // Read only after Done() (owned by the analytics lcore until then).
  const analytics::RecordCounts& counts() const { return counts_; }

  static int LcoreMain(void* self);
  int Run();

 private:
  AnalyticsSetup s_;
  std::vector<session::SessionRecord> batch_;
  analytics::RecordCounts counts_;
  bool done_ = false;
};

}  // namespace flowtrail::dataplane
