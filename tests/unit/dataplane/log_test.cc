#include "common/log.h"

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace flowtrail {
namespace {

TEST(Log, ParsesTheFiveLevelsAndRefusesOthers) {
  for (const char* n : {"error", "warning", "notice", "info", "debug"}) {
    const std::optional<LogLevel> l = ParseLogLevel(n);
    ASSERT_TRUE(l.has_value()) << n;
    EXPECT_STREQ(LogLevelName(*l), n);
  }
  EXPECT_FALSE(ParseLogLevel("warn").has_value());
  EXPECT_FALSE(ParseLogLevel("INFO").has_value());
  EXPECT_FALSE(ParseLogLevel("").has_value());
}

TEST(Log, ALevelShowsItselfAndTheMoreSevere) {
  const LogLevel was = GetLogLevel();
  SetLogLevel(LogLevel::kWarning);
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  EXPECT_TRUE(LogEnabled(LogLevel::kWarning));
  EXPECT_FALSE(LogEnabled(LogLevel::kNotice));
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  SetLogLevel(LogLevel::kDebug);
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
  SetLogLevel(LogLevel::kError);
  EXPECT_FALSE(LogEnabled(LogLevel::kWarning));
  SetLogLevel(was);
}

TEST(Log, WritesOnlyMessagesAtOrAboveTheLevel) {
  const LogLevel was = GetLogLevel();
  SetLogLevel(LogLevel::kNotice);
  testing::internal::CaptureStderr();
  Log(LogLevel::kInfo, "flowtrail: hidden %d", 1);
  Log(LogLevel::kNotice, "flowtrail: shown %d", 2);
  Log(LogLevel::kError, "flowtrail: %s", "error");
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "flowtrail: shown 2\nflowtrail: error\n");
  SetLogLevel(was);
}

TEST(Log, CutsLongMessagesAndKeepsTheNewline) {
  testing::internal::CaptureStderr();
  Log(LogLevel::kError, "%s", std::string(10000, 'x').c_str());
  const std::string out = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(out.empty());
  EXPECT_LT(out.size(), 4097u);
  EXPECT_EQ(out.back(), '\n');
}

}  // namespace
}  // namespace flowtrail
