// The inputs of `flowtrail report ... --from snapshots`: the last snapshot
// frame of every stream (the most complete one a sensor wrote), loaded as
// untrusted input and merged (analytics/snapshot.h), for the scans, servers
// and ports reports alike.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analytics/snapshot.h"
#include "export/stream_reader.h"

namespace flowtrail::tools {

// Merges the last snapshot frame of every file into *merged. Returns false
// if some file was bad or held no snapshot; each problem is appended to
// *errors ("FILE: why") and the merge covers the good files.
bool ReadSnapshots(std::span<const std::string> files, const exporter::ReaderOptions& options,
                   std::optional<analytics::Analytics>* merged, std::vector<std::string>* errors);

}  // namespace flowtrail::tools
