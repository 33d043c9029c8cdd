#include "dataplane/lcore_plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace flowtrail::dataplane {

std::string LcorePlan::Describe() const {
  auto where = [&](unsigned lcore) {
    return lcore == main_lcore ? absl::StrCat(lcore, " (main)") : absl::StrCat(lcore);
  };
  std::string s = absl::StrFormat("main=%u workers=[%s]", main_lcore, absl::StrJoin(workers, ","));
  if (has_dispatcher) {
    absl::StrAppend(&s, " dispatcher=", where(dispatcher));
  }
  absl::StrAppend(&s, " exporter=", where(exporter), " analytics=", where(analytics));
  return s;
}

absl::StatusOr<LcorePlan> PlanLcores(unsigned main_lcore, const std::vector<unsigned>& other_lcores,
                                     uint32_t workers, bool need_dispatcher) {
  if (workers == 0) {
    return absl::InvalidArgumentError("at least one worker is needed");
  }
  if (other_lcores.size() < workers) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "--workers %u needs %u lcores besides the main lcore %u, but the EAL has only %u (%s); "
        "give more with -l/--lcores (e.g. --lcores=0@0,1@1,2@0,... oversubscribes CPUs)",
        workers, workers, main_lcore, other_lcores.size(),
        other_lcores.empty() ? "none" : absl::StrJoin(other_lcores, ",")));
  }
  LcorePlan plan;
  plan.main_lcore = main_lcore;
  size_t next = 0;
  for (uint32_t i = 0; i < workers; ++i) {
    plan.workers.push_back(other_lcores[next++]);
  }
  auto take = [&]() { return next < other_lcores.size() ? other_lcores[next++] : main_lcore; };
  plan.has_dispatcher = need_dispatcher;
  plan.dispatcher = need_dispatcher ? take() : main_lcore;
  plan.exporter = take();
  plan.analytics = take();
  return plan;
}

}  // namespace flowtrail::dataplane
