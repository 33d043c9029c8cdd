#include "dataplane/analytics_lcore.h"

#include "dataplane/idle_backoff.h"
#include "dataplane/record_rings.h"

namespace flowtrail::dataplane {

AnalyticsLcore::AnalyticsLcore(AnalyticsSetup setup) : s_(std::move(setup)), batch_(256) {}

int AnalyticsLcore::LcoreMain(void* self) { return static_cast<AnalyticsLcore*>(self)->Run(); }

int AnalyticsLcore::Run() {
  IdleBackoff backoff;
  while (!done_) {
    backoff.Update(Poll());
  }
  return 0;
}

bool AnalyticsLcore::Poll() {
  if (done_) {
    return false;
  }
  const bool workers_done =
      s_.control->workers_done.load(std::memory_order_acquire) == s_.rings.size();
  const size_t moved = DequeueFromEachRing(
      s_.rings, batch_,
      [&](std::span<const session::SessionRecord> recs) { counts_.Consume(recs); });
  Set(s_.counters->records, counts_.records());
  if (moved == 0 && workers_done) {
    done_ = true;
    s_.control->analytics_done.store(true, std::memory_order_release);
  }
  return moved > 0;
}

}  // namespace flowtrail::dataplane
