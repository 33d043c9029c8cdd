#include "dataplane/lcore_plan.h"

#include <gtest/gtest.h>

namespace flowtrail::dataplane {
namespace {

TEST(LcorePlan, OneWorkerTwoLcoresSharesExporterAndAnalyticsWithMain) {
  auto p = PlanLcores(0, {1}, 1, false);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->workers, std::vector<unsigned>{1});
  EXPECT_FALSE(p->has_dispatcher);
  EXPECT_TRUE(p->ExporterOnMain());
  EXPECT_TRUE(p->AnalyticsOnMain());
}

TEST(LcorePlan, RolesInOrderWorkersDispatcherExporterAnalytics) {
  auto p = PlanLcores(0, {1, 2, 3, 4, 5, 6}, 3, true);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->workers, (std::vector<unsigned>{1, 2, 3}));
  EXPECT_EQ(p->dispatcher, 4u);
  EXPECT_EQ(p->exporter, 5u);
  EXPECT_EQ(p->analytics, 6u);
  EXPECT_FALSE(p->DispatcherOnMain());
}

TEST(LcorePlan, ThreeWorkersOnFiveLcoresGetADispatcherAndShareTheRest) {
  auto p = PlanLcores(0, {1, 2, 3, 4}, 3, true);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->dispatcher, 4u);
  EXPECT_TRUE(p->ExporterOnMain());
  EXPECT_TRUE(p->AnalyticsOnMain());
}

TEST(LcorePlan, DispatcherFallsBackToMainWhenOnlyWorkersFit) {
  auto p = PlanLcores(2, {5, 7}, 2, true);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->main_lcore, 2u);
  EXPECT_TRUE(p->DispatcherOnMain());
}

TEST(LcorePlan, NoDispatcherWhenPortsHaveAQueuePerWorker) {
  auto p = PlanLcores(0, {1, 2, 3}, 2, false);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->has_dispatcher);
  EXPECT_EQ(p->exporter, 3u);
  EXPECT_TRUE(p->AnalyticsOnMain());
}

TEST(LcorePlan, TooFewLcoresForWorkersIsAClearError) {
  auto p = PlanLcores(0, {1, 2}, 3, true);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("--workers 3"), absl::string_view::npos);
  EXPECT_NE(p.status().message().find("--lcores"), absl::string_view::npos);
  EXPECT_FALSE(PlanLcores(0, {}, 1, false).ok());
}

}  // namespace
}  // namespace flowtrail::dataplane
