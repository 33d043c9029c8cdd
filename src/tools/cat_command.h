// `flowtrail cat`: prints record streams in one of the formats of
// record_format.h. Separate from main() so tests can run it in-process.
#pragma once

#include <cstdio>
#include <span>
#include <string>

namespace flowtrail::tools {

// Exit codes scripts can use.
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadStream = 1;  // unreadable, truncated or corrupt input
inline constexpr int kExitUsage = 2;
inline constexpr int kExitGaps = 3;  // clean streams, but a run misses sequences

// `args` are the arguments after "cat". Records go to `out`, errors and the
// optional header/trailer lines to `err`.
int RunCat(std::span<const std::string> args, std::FILE* out, std::FILE* err);

extern const char kCatHelp[];

}  // namespace flowtrail::tools
