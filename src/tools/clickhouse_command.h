// `flowtrail clickhouse-load`: loads record streams into ClickHouse
// (deploy/clickhouse/) with the loader of src/clickhouse/loader.h. Separate
// from main() so tests can run it in-process.
#pragma once

#include <cstdio>
#include <span>
#include <string>

namespace flowtrail::tools {

// `args` are the arguments after "clickhouse-load"; the summary and errors
// go to `err`.
int RunClickHouseLoad(std::span<const std::string> args, std::FILE* out, std::FILE* err);

extern const char kClickHouseLoadHelp[];

}  // namespace flowtrail::tools
