// The sensor's own messages (not the record stream, not --help): one level
// filter and one write per message. The level is a process-wide atomic, so a
// reload (SIGHUP) changes it while the lcores run; a message below the level
// costs one relaxed load. Control path only: Log() formats on the stack and
// writes the whole line with one fwrite(), so lines of two threads do not
// interleave.
#pragma once

#include <atomic>
#include <optional>
#include <string_view>

namespace flowtrail {

// syslog's order, most severe first (a level shows itself and those above).
enum class LogLevel : int { kError = 0, kWarning, kNotice, kInfo, kDebug };

// "error", "warning", "notice", "info", "debug"; nullopt otherwise.
std::optional<LogLevel> ParseLogLevel(std::string_view name);
const char* LogLevelName(LogLevel level);

namespace log_internal {
extern std::atomic<int> level;
}  // namespace log_internal

inline void SetLogLevel(LogLevel l) {
  log_internal::level.store(static_cast<int>(l), std::memory_order_relaxed);
}
inline LogLevel GetLogLevel() {
  return static_cast<LogLevel>(log_internal::level.load(std::memory_order_relaxed));
}
inline bool LogEnabled(LogLevel l) {
  return static_cast<int>(l) <= log_internal::level.load(std::memory_order_relaxed);
}

// printf-style; the caller writes its own prefix ("flowtrail: ") and no
// newline (one is added). Messages longer than 4 KiB are cut.
void Log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace flowtrail
