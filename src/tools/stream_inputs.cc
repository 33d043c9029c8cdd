#include "tools/stream_inputs.h"

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
  for (const std::string& path : files) {
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
    const v1::AnalyticsSnapshot* snap = (*reader)->last_snapshot();
    if (snap == nullptr) {
      errors->push_back(name + ": no snapshot frame (make one with flowtrail report snapshot)");
      ok = false;
      continue;
    }
    absl::StatusOr<analytics::Analytics> a = analytics::LoadSnapshot(*snap);
    if (!a.ok()) {
      errors->push_back(name + ": bad snapshot: " + std::string(a.status().message()));
      ok = false;
      continue;
    }
    if (!merged->has_value()) {
      merged->emplace(*std::move(a));
    } else if (absl::Status s = analytics::MergeSnapshot(**merged, *a); !s.ok()) {
      errors->push_back(name + ": " + std::string(s.message()));
      ok = false;
    }
  }
  return ok;
}

}  // namespace flowtrail::tools
