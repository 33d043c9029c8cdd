#include "common/log.h"

#include <cstdarg>
#include <cstdio>

namespace flowtrail {
namespace {

constexpr const char* kNames[] = {"error", "warning", "notice", "info", "debug"};

}  // namespace

namespace log_internal {
std::atomic<int> level{static_cast<int>(LogLevel::kInfo)};
}  // namespace log_internal

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(LogLevel::kDebug); ++i) {
    if (name == kNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

const char* LogLevelName(LogLevel level) {
  const int i = static_cast<int>(level);
  return i >= 0 && i <= static_cast<int>(LogLevel::kDebug) ? kNames[i] : "?";
}

void Log(LogLevel level, const char* format, ...) {
  if (!LogEnabled(level)) return;
  char buf[4096];
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(buf, sizeof(buf) - 1, format, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = static_cast<size_t>(n) < sizeof(buf) - 1 ? static_cast<size_t>(n) : sizeof(buf) - 2;
  buf[len++] = '\n';
  fwrite(buf, 1, len, stderr);
}

}  // namespace flowtrail
