#include "tools/stream_runs.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "export/record_encoder.h"

namespace flowtrail::tools {
namespace {

// One input file, as the first pass found it.
struct Segment {
  std::string path;
  size_t index = 0;  // on the command line
  uint64_t first_sequence = 0;
  // Kept open from the first pass for stdin, which cannot be read twice
  // (its first record, if any, is pending).
  std::unique_ptr<exporter::StreamReader> reader;
  const v1::SessionRecord* pending = nullptr;
  absl::Status pending_status;
  bool pending_end = false;
};

struct Run {
  RunSummary summary;
  std::vector<Segment> segments;
};

std::string Name(const std::string& path) { return path == "-" ? "<stdin>" : path; }

std::string RunName(const RunSummary& r) {
  if (r.run_id.empty()) return absl::StrCat("run ", r.sensor_id);
  return absl::StrCat("run ", r.sensor_id, "/", r.run_id.substr(0, 8));
}

}  // namespace

std::string DescribeRun(const RunSummary& r) {
  std::string s =
      absl::StrCat(RunName(r), ": ", r.segments, r.segments == 1 ? " segment" : " segments", ", ",
                   r.records, " records");
  if (r.end_sequence > 1) absl::StrAppend(&s, ", sequences 1..", r.end_sequence - 1);
  for (const auto& [a, b] : r.gaps) {
    absl::StrAppend(&s, ", gap ", a, "..", b, " (", b - a + 1, b == a ? " frame)" : " frames)");
  }
  if (r.duplicate_records != 0)
    absl::StrAppend(&s, ", ", r.duplicate_records, " duplicate records");
  if (r.unfinished_segments != 0) {
    absl::StrAppend(&s, ", ", r.unfinished_segments, " without trailer");
  }
  if (r.bad_segments != 0) absl::StrAppend(&s, ", ", r.bad_segments, " bad");
  return s;
}

bool ForEachRunRecord(std::span<const std::string> files, const exporter::ReaderOptions& options,
                      absl::FunctionRef<bool(const v1::SessionRecord&)> each, const RunHooks& hooks,
                      std::vector<RunSummary>* runs) {
  auto problem = [&](const std::string& m, bool error) {
    if (hooks.problem) hooks.problem(m, error);
  };
  bool ok = true;
  // Pass 1: every file's header (one frame or two: Next() reads up to the
  // first record). Files are reopened in pass 2 so that only one is open
  // at a time.
  std::vector<Run> all;
  std::map<std::pair<std::string, std::string>, size_t> by_key;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i];
    absl::StatusOr<std::unique_ptr<exporter::StreamReader>> reader =
        exporter::StreamReader::OpenFile(path, options);
    if (!reader.ok()) {
      problem(std::string(reader.status().message()), true);
      ok = false;
      continue;
    }
    Segment seg{.path = path, .index = i};
    absl::StatusOr<const v1::SessionRecord*> first = (*reader)->Next();
    const v1::StreamHeader* h = (*reader)->header();
    if (h == nullptr) {
      problem(absl::StrFormat("%s: %s (after 0 good records)", Name(path),
                              std::string(first.status().message())),
              true);
      ok = false;
      continue;
    }
    seg.first_sequence = (*reader)->first_sequence();
    // Old streams have no run id: each is a run of its own.
    std::pair<std::string, std::string> key{h->sensor_id(), h->run_id()};
    if (h->run_id().empty()) key.second = absl::StrCat("\x01", i);
    auto [it, fresh] = by_key.emplace(key, all.size());
    if (fresh) {
      all.emplace_back();
      all.back().summary.sensor_id = h->sensor_id();
      all.back().summary.run_id = h->run_id();
    }
    if (path == "-") {
      if (first.ok()) {
        seg.pending = *first;
        seg.pending_end = *first == nullptr;
      } else {
        seg.pending_status = first.status();
      }
      seg.reader = *std::move(reader);
    }
    all[it->second].segments.push_back(std::move(seg));
  }

  // Pass 2: each run's segments in sequence order.
  bool stopped = false;
  for (Run& run : all) {
    RunSummary& sum = run.summary;
    std::stable_sort(
        run.segments.begin(), run.segments.end(),
        [](const Segment& a, const Segment& b) { return a.first_sequence < b.first_sequence; });
    uint64_t next = 1;  // the first sequence not yet delivered
    for (Segment& seg : run.segments) {
      if (stopped) break;
      const std::string name = Name(seg.path);
      std::unique_ptr<exporter::StreamReader> reader = std::move(seg.reader);
      if (reader == nullptr) {
        absl::StatusOr<std::unique_ptr<exporter::StreamReader>> r =
            exporter::StreamReader::OpenFile(seg.path, options);
        if (!r.ok()) {
          problem(std::string(r.status().message()), true);
          ok = false;
          ++sum.bad_segments;
          continue;
        }
        reader = *std::move(r);
      }
      ++sum.segments;
      if (seg.first_sequence > next) {
        sum.gaps.emplace_back(next, seg.first_sequence - 1);
        problem(absl::StrFormat("%s: sequences %d..%d missing (no segment holds them; next: %s)",
                                RunName(sum), next, seg.first_sequence - 1, name),
                false);
      }
      uint64_t dups = 0, dup_first = 0, dup_last = 0;
      absl::Status status;
      bool use_pending = seg.pending != nullptr || seg.pending_end || !seg.pending_status.ok();
      for (;;) {
        absl::StatusOr<const v1::SessionRecord*> r =
            use_pending ? (seg.pending_status.ok()
                               ? absl::StatusOr<const v1::SessionRecord*>(seg.pending)
                               : absl::StatusOr<const v1::SessionRecord*>(seg.pending_status))
                        : reader->Next();
        use_pending = false;
        if (!r.ok()) {
          status = r.status();
          break;
        }
        if (*r == nullptr) break;
        const uint64_t seq = reader->last_sequence();
        if (seq < next) {
          if (dups == 0) dup_first = seq;
          dup_last = seq;
          ++dups;
          continue;
        }
        next = seq + 1;
        ++sum.records;
        if (!each(**r)) {
          stopped = true;
          break;
        }
      }
      next = std::max(next, reader->next_data_sequence());
      sum.end_sequence = std::max(sum.end_sequence, next);
      if (hooks.segment_done) hooks.segment_done(name, *reader);
      if (dups != 0) {
        sum.duplicate_records += dups;
        problem(absl::StrFormat("%s: %d duplicate records skipped (sequences %d..%d, already read)",
                                name, dups, dup_first, dup_last),
                false);
      }
      if (!status.ok()) {
        ++sum.bad_segments;
        ok = false;
        problem(absl::StrFormat("%s: %s (after %d good records)", name,
                                std::string(status.message()), reader->records_read()),
                true);
      } else if (!stopped && reader->trailer() == nullptr) {
        ++sum.unfinished_segments;
        problem(absl::StrCat(name,
                             ": segment without trailer (still being written, or its "
                             "writer stopped); read up to sequence ",
                             reader->next_data_sequence() - 1),
                false);
      }
    }
    if (runs != nullptr) runs->push_back(sum);
  }
  return ok;
}

bool ForEachRecordOfRuns(
    std::span<const std::string> files, const exporter::ReaderOptions& options,
    absl::FunctionRef<bool(const v1::SessionRecord&, const record::SessionRecord&)> each,
    std::vector<std::string>* errors, std::vector<std::string>* warnings) {
  RunHooks hooks;
  hooks.problem = [&](const std::string& m, bool error) {
    if (error) {
      errors->push_back(m);
    } else if (warnings != nullptr) {
      warnings->push_back(m);
    }
  };
  bool decode_ok = true;
  const bool ok = ForEachRunRecord(
      files, options,
      [&](const v1::SessionRecord& r) {
        absl::StatusOr<record::SessionRecord> rec = exporter::DecodeRecord(r);
        if (!rec.ok()) {  // the reader validated it; cannot happen
          errors->push_back(std::string(rec.status().message()));
          decode_ok = false;
          return false;
        }
        return each(r, *rec);
      },
      hooks, nullptr);
  return ok && decode_ok;
}

}  // namespace flowtrail::tools
