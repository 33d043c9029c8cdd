// Reading the segments of runs as runs: the join `flowtrail cat` and the
// reports (stream_inputs.h) share, so that a sequence read twice is counted
// once everywhere.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "export/stream_reader.h"
#include "flowtrail/v1/session.pb.h"
#include "record/session_record.h"

namespace flowtrail::tools {

// The segments of runs (proto/flowtrail/v1/session.proto: rotated files,
// a collector's files, whole streams), joined: files are grouped by
// (sensor_id, run_id), ordered by their header's first_sequence, and each
// data sequence is delivered once. A stream without a run id (before
// schema revision 3) is a run of its own. Runs come in the order their
// first file appears in `files`.
//
// Within a run, a sequence already read (a resent range, the same file
// twice) is a duplicate: skipped and counted. Sequences that no file holds
// between the first (1) and the end of the last segment read are gaps;
// nothing can tell a run whose last segment is missing.
struct RunSummary {
  std::string sensor_id;
  std::string run_id;
  size_t segments = 0;
  size_t unfinished_segments = 0;  // no trailer (allowed by the options)
  size_t bad_segments = 0;         // ended by an error
  uint64_t records = 0;            // delivered, once each
  uint64_t duplicate_records = 0;  // skipped
  uint64_t end_sequence = 0;       // one past the last data frame read
  // Missing data sequences, [first, last] inclusive, ascending.
  std::vector<std::pair<uint64_t, uint64_t>> gaps;
  uint64_t missing() const {
    uint64_t n = 0;
    for (const auto& [a, b] : gaps) n += b - a + 1;
    return n;
  }
};

struct RunHooks {
  // A problem as it is found: a bad file ("FILE: why (after N good
  // records)"), a gap, duplicates, an unfinished segment. `error` is false
  // for the ones that are not errors of the input (gaps, duplicates, a
  // segment without trailer when allowed).
  std::function<void(const std::string& message, bool error)> problem;
  // After each segment is read (for --show-header).
  std::function<void(const std::string& name, const exporter::StreamReader&)> segment_done;
};

// Calls `each` with every record of the runs in `files` ("-" = stdin, once),
// in sequence order per run, until it returns false. Returns false if any
// file could not be opened or held a bad stream (reported through
// hooks.problem; the records before the problem were delivered, and the
// other files are still read). *runs gets a summary per run.
bool ForEachRunRecord(std::span<const std::string> files, const exporter::ReaderOptions& options,
                      absl::FunctionRef<bool(const v1::SessionRecord&)> each, const RunHooks& hooks,
                      std::vector<RunSummary>* runs);

// The same for the reports: decoded records, each sequence of a run once;
// problems that are errors are appended to *errors, and warnings (gaps,
// duplicates) to *warnings when it is not null.
bool ForEachRecordOfRuns(
    std::span<const std::string> files, const exporter::ReaderOptions& options,
    absl::FunctionRef<bool(const v1::SessionRecord&, const record::SessionRecord&)> each,
    std::vector<std::string>* errors, std::vector<std::string>* warnings = nullptr);

// "run SENSOR/RUNID: 3 segments, 120 records, sequences 1..130, gap 50..59
// (10 frames), 4 duplicate records" (the run id shortened to 8 digits).
std::string DescribeRun(const RunSummary& run);

}  // namespace flowtrail::tools
