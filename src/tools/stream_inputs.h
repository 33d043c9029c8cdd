// How the reports read their input streams: record by record (every report
// over records), or the last snapshot frame of each stream (`--from
// snapshots`: the most complete one a sensor wrote, loaded as untrusted input
// and merged, analytics/snapshot.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"

#include "analytics/snapshot.h"
#include "export/stream_reader.h"
#include "flowtrail/v1/session.pb.h"
#include "record/session_record.h"
#include "tools/stream_runs.h"

namespace flowtrail::tools {

// Calls `each` with every record of the stream at `path` ("-" = stdin), as
// read and decoded, until it returns false. Returns false with *error set
// ("FILE: why (after N good records)") when the file cannot be opened or the
// stream is bad; the records before the problem were delivered.
bool ForEachRecord(
    const std::string& path, const exporter::ReaderOptions& options,
    absl::FunctionRef<bool(const v1::SessionRecord&, const record::SessionRecord&)> each,
    std::string* error);

// Merges the last snapshot frame of every file into *merged. Returns false
// if some file was bad or held no snapshot; each problem is appended to
// *errors ("FILE: why") and the merge covers the good files.
bool ReadSnapshots(std::span<const std::string> files, const exporter::ReaderOptions& options,
                   std::optional<analytics::Analytics>* merged, std::vector<std::string>* errors);

}  // namespace flowtrail::tools
