#include "tools/cat_command.h"

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "export/stream_reader.h"
#include "tools/output_buffer.h"
#include "tools/record_format.h"
#include "tools/stream_runs.h"

namespace flowtrail::tools {

const char kCatHelp[] =
    R"(usage: flowtrail cat [--format classic|json|csv] [options] [FILE...]

Prints the session records of flowtrail record streams (what flowtrail-sensor
--output writes), one line per record. FILE "-", or no FILE, reads stdin.
Files may be zstd-compressed (recognised by content, not name).

The files may be the segments of one or several runs (--output-dir files,
a collector's files), in any order: they are grouped by run (sensor id and
run id), ordered by first sequence, and each run's records are printed once,
in sequence order, runs in the order their first file is named. Gaps
(sequences no file holds) and duplicates (sequences seen twice: printed once,
the others counted) are reported on stderr as found and in one summary line
per run cut into segments.
Every frame is validated: framing, sequence numbers, the trailer's count, and
every record field within its range (ports and ICMP ids up to 65535, VLAN ids
up to 4095, enums one of the schema's values, ip_version 4 or 6 with 4- or
16-byte addresses ...). A truncated or corrupt stream prints its good
records, then an error naming the file, the byte offset of the bad frame and
the first bad field.

  --format classic   (default) the 25 fields of Heberlein's session record
                     line, two spaces apart: TCP flags as UAPRSF with '_' for
                     unset (SYN-ACK is _A__S_), times as "seconds microseconds"
                     (6-digit microseconds), fingerprints as unsigned numbers
  --format json      one object per line, every field of the schema under its
                     proto name, zero values included; addresses as text, enums
                     by proto value name ("conn_state":"SF",
                     "end_reason":"END_REASON_CLOSED"), integers as numbers
  --format csv       a header row of the proto field names, then one row per
                     record, values as in json
  --show-header      print each stream's header and trailer to stderr
  --allow-unfinished a stream that stops after a whole frame without its
                     trailer (its writer is still running, or was killed) is
                     not an error: its records are printed, with a warning
  -h, --help         this text

Exit status: 0 every stream read cleanly, or the reader of the output went
away (`flowtrail cat FILE | head`: cat stops at once, silently, with 0 unless
a stream read before was bad); 1 a stream could not be opened or is truncated
or corrupt, or the output could not be written (disk full ...); 2 bad usage;
3 every stream read cleanly but a run has gaps (missing sequences).
Duplicates alone do not change the status (delivery is at-least-once).
)";

namespace {

using Output = OutputBuffer;

int Usage(std::FILE* err, const std::string& message) {
  std::fprintf(err, "flowtrail cat: %s\nRun 'flowtrail cat --help' for usage.\n", message.c_str());
  return kExitUsage;
}

}  // namespace

int RunCat(std::span<const std::string> args, std::FILE* out, std::FILE* err) {
  Format format = Format::kClassic;
  bool show_header = false;
  exporter::ReaderOptions options;
  std::vector<std::string> files;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a == "-" || !absl::StartsWith(a, "-")) {
      files.push_back(a);
    } else if (a == "--") {
      options_done = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kCatHelp, out);
      return kExitOk;
    } else if (a == "--format" || a == "-f" || absl::StartsWith(a, "--format=")) {
      std::string value;
      if (absl::StartsWith(a, "--format=")) {
        value = a.substr(9);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Usage(err, a + " needs a value: classic, json or csv");
      }
      absl::StatusOr<Format> f = ParseFormat(value);
      if (!f.ok()) return Usage(err, std::string(f.status().message()));
      format = *f;
    } else if (a == "--show-header") {
      show_header = true;
    } else if (a == "--allow-unfinished") {
      options.require_trailer = false;
    } else {
      return Usage(err, "unknown option '" + a + "'");
    }
  }
  if (files.empty()) files.push_back("-");

  Output output(out);
  if (format == Format::kCsv) AppendCsvHeader(output.buf());
  RunHooks hooks;
  hooks.problem = [&](const std::string& message, bool error) {
    output.Flush();
    std::fprintf(err, "flowtrail cat: %s%s\n", error ? "" : "warning: ", message.c_str());
  };
  if (show_header) {
    hooks.segment_done = [&](const std::string& name, const exporter::StreamReader& r) {
      output.Flush();
      if (r.header() != nullptr) {
        std::fprintf(err, "%s: header: %s\n", name.c_str(), r.header()->ShortDebugString().c_str());
      }
      if (r.trailer() != nullptr) {
        std::fprintf(err, "%s: trailer: %s\n", name.c_str(),
                     r.trailer()->ShortDebugString().c_str());
      }
      // Snapshot frames and frames of unknown types are not records: cat
      // skips them, and says so here.
      if (r.snapshots_read() != 0 || r.frames_skipped() != 0) {
        std::fprintf(err, "%s: %llu snapshot frames, %llu frames of unknown types skipped\n",
                     name.c_str(), static_cast<unsigned long long>(r.snapshots_read()),
                     static_cast<unsigned long long>(r.frames_skipped()));
      }
    };
  }
  std::vector<RunSummary> runs;
  const bool ok = ForEachRunRecord(
      files, options,
      [&](const v1::SessionRecord& record) {
        AppendRecord(format, record, output.buf());
        output.MaybeFlush();
        return !output.closed();  // nobody reads on: stop quietly
      },
      hooks, &runs);
  output.Flush();
  bool gaps = false;
  for (const RunSummary& run : runs) {
    gaps = gaps || !run.gaps.empty();
    // One line per run cut into segments, or with anything to say.
    if (!output.closed() && (run.segments > 1 || !run.gaps.empty() || run.duplicate_records != 0 ||
                             run.unfinished_segments != 0)) {
      std::fprintf(err, "flowtrail cat: %s\n", DescribeRun(run).c_str());
    }
  }
  if (output.failed()) {
    std::fprintf(err, "flowtrail cat: error writing the output: %s\n",
                 std::strerror(output.error()));
    return kExitBadStream;
  }
  if (!ok) return kExitBadStream;
  return gaps && !output.closed() ? kExitGaps : kExitOk;
}

}  // namespace flowtrail::tools
