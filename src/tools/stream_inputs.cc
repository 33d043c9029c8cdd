#include "tools/stream_inputs.h"

#include <map>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "export/record_encoder.h"

namespace flowtrail::tools {
bool ForEachRecord(
    const std::string& path, const exporter::ReaderOptions& options,
    absl::FunctionRef<bool(const v1::SessionRecord&, const record::SessionRecord&)> each,
    std::string* error) {
  const std::string name = path == "-" ? "<stdin>" : path;
  auto reader = exporter::StreamReader::OpenFile(path, options);
  if (!reader.ok()) {
    *error = std::string(reader.status().message());
    return false;
  }
  for (;;) {
    absl::StatusOr<const v1::SessionRecord*> r = (*reader)->Next();
    if (!r.ok()) {
      *error = absl::StrFormat("%s: %s (after %d good records)", name,
                               std::string(r.status().message()), (*reader)->records_read());
      return false;
    }
    if (*r == nullptr) {
      return true;
    }
    absl::StatusOr<record::SessionRecord> rec = exporter::DecodeRecord(**r);
    if (!rec.ok()) {  // the reader validated it; cannot happen
      *error = name + ": " + std::string(rec.status().message());
      return false;
    }
    if (!each(**r, *rec)) {
      return true;
    }
  }
}

bool ReadSnapshots(std::span<const std::string> files, const exporter::ReaderOptions& options,
                   std::optional<analytics::Analytics>* merged, std::vector<std::string>* errors) {
  bool ok = true;
  // A run's snapshots are cumulative: of the segments of one run (rotated
  // files), only the latest one's last snapshot counts, not their sum.
  struct Latest {
    uint64_t first_sequence = 0;
    std::string name;
    bool found = false;
    v1::AnalyticsSnapshot snapshot;
  };
  std::vector<Latest> runs;  // in the order of their first file
  std::map<std::pair<std::string, std::string>, size_t> index;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i];
    const std::string name = path == "-" ? "<stdin>" : path;
    auto reader = exporter::StreamReader::OpenFile(path, options);
    if (!reader.ok()) {
      errors->push_back(std::string(reader.status().message()));
      ok = false;
      continue;
    }
    absl::Status status;
    for (;;) {
      absl::StatusOr<const v1::SessionRecord*> r = (*reader)->Next();
      if (!r.ok()) {
        status = r.status();
        break;
      }
      if (*r == nullptr) {
        break;
      }
    }
    if (!status.ok()) {
      errors->push_back(name + ": " + std::string(status.message()));
      ok = false;
      continue;  // a damaged stream's snapshots are not trusted either
    }
    const bool has_snapshot = (*reader)->last_snapshot() != nullptr;
    const v1::StreamHeader& h = *(*reader)->header();
    std::pair<std::string, std::string> key{h.sensor_id(), h.run_id()};
    if (h.run_id().empty()) key.second = absl::StrCat("\x01", i);  // a run of its own
    auto [it, fresh] = index.emplace(key, runs.size());
    if (fresh) runs.emplace_back();
    Latest& latest = runs[it->second];
    if (latest.name.empty()) latest.name = name;
    // A rotated file without a snapshot is fine if another file of its run
    // has one.
    if (has_snapshot && (!latest.found || (*reader)->first_sequence() > latest.first_sequence)) {
      latest.found = true;
      latest.first_sequence = (*reader)->first_sequence();
      latest.name = name;
      // Moved, not copied: each run holds one snapshot until the merge.
      (*reader)->TakeLastSnapshot(&latest.snapshot);
    }
  }
  for (Latest& latest : runs) {
    if (!latest.found) {
      errors->push_back(latest.name +
                        ": no snapshot frame (make one with flowtrail report snapshot)");
      ok = false;
      continue;
    }
    absl::StatusOr<analytics::Analytics> a = analytics::LoadSnapshot(latest.snapshot);
    // Loaded: its parse is freed before the next run's load (Clear() would
    // keep its rows allocated).
    v1::AnalyticsSnapshot().Swap(&latest.snapshot);
    if (!a.ok()) {
      errors->push_back(latest.name + ": bad snapshot: " + std::string(a.status().message()));
      ok = false;
      continue;
    }
    if (!merged->has_value()) {
      merged->emplace(*std::move(a));
    } else if (absl::Status s = analytics::MergeSnapshot(**merged, *a); !s.ok()) {
      errors->push_back(latest.name + ": " + std::string(s.message()));
      ok = false;
    }
  }
  return ok;
}

}  // namespace flowtrail::tools
