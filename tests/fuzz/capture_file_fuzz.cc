// libFuzzer target over the capture-file reader: the input is the file (read
// in place, so ASan sees any read past its end). Every frame lies inside the
// input with caplen <= wire_len and caplen <= 262144; offsets only grow; the
// stop is sticky and explained; a second reading is identical; and reading a
// prefix cut at a data-chosen byte before the stop gives exactly the frames
// that end within it, then a clean end or a truncation.
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "capture/capture_file.h"
#include "fuzz_check.h"

namespace {

using flowtrail::capture::CaptureFile;
using flowtrail::capture::CaptureFrame;
using flowtrail::capture::kMaxCaplen;
using flowtrail::capture::ReadStatus;

struct Seen {
  uint64_t end_offset;
  uint64_t ts_us;
  uint32_t caplen;
  uint32_t wire_len;
  uint32_t data_offset;
  bool operator==(const Seen&) const = default;
};

struct Run {
  std::vector<Seen> frames;
  ReadStatus status;
  uint64_t offset;
  std::string error;
};

Run ReadChecked(CaptureFile& f, const uint8_t* data, size_t size) {
  Run run;
  CaptureFrame cf;
  uint64_t last = f.offset();
  FUZZ_CHECK(last <= size);
  uint32_t sum = 0;
  while ((run.status = f.Next(&cf)) == ReadStatus::kFrame) {
    FUZZ_CHECK(cf.caplen <= kMaxCaplen);
    FUZZ_CHECK(cf.caplen <= cf.wire_len);
    FUZZ_CHECK(cf.data >= data && cf.data + cf.caplen <= data + size);
    for (uint32_t i = 0; i < cf.caplen; ++i) sum += cf.data[i];  // ASan checks each byte
    FUZZ_CHECK(f.offset() > last);                               // progress: always terminates
    FUZZ_CHECK(f.offset() <= size);
    FUZZ_CHECK(cf.data + cf.caplen <= data + f.offset());
    last = f.offset();
    run.frames.push_back(
        {last, cf.ts_us, cf.caplen, cf.wire_len, static_cast<uint32_t>(cf.data - data)});
  }
  (void)sum;
  FUZZ_CHECK(f.frames() == run.frames.size());
  run.offset = f.offset();
  run.error = f.error();
  if (run.status == ReadStatus::kEnd) {
    FUZZ_CHECK(run.offset == size);
    FUZZ_CHECK(run.error.empty());
  } else {
    FUZZ_CHECK(run.status == ReadStatus::kTruncated || run.status == ReadStatus::kCorrupt);
    FUZZ_CHECK(run.offset < size);
    const std::string prefix = "byte " + std::to_string(run.offset) + ": ";
    FUZZ_CHECK(run.error.size() > prefix.size() && run.error.rfind(prefix, 0) == 0);
  }
  for (int i = 0; i < 2; ++i) {  // sticky
    FUZZ_CHECK(f.Next(&cf) == run.status);
    FUZZ_CHECK(f.offset() == run.offset && f.error() == run.error);
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto opened = CaptureFile::OpenMemory(std::span<const uint8_t>(data, size), "fuzz");
  if (!opened.ok()) {
    FUZZ_CHECK(!opened.status().message().empty());
    return 0;
  }
  CaptureFile& f = **opened;
  FUZZ_CHECK(f.format() == "pcap" || f.format() == "pcap (nanosecond)" || f.format() == "pcapng");
  FUZZ_CHECK(f.format() != "pcapng" || f.link_types().size() <= size / 20);
  const uint64_t start = f.offset();
  const Run run = ReadChecked(f, data, size);

  // The same bytes read again: the same frames and stop.
  auto again = CaptureFile::OpenMemory(std::span<const uint8_t>(data, size), "fuzz");
  FUZZ_CHECK(again.ok());
  const Run run2 = ReadChecked(**again, data, size);
  FUZZ_CHECK(run2.status == run.status && run2.offset == run.offset &&
             run2.frames.size() == run.frames.size());
  for (size_t i = 0; i < run.frames.size(); ++i) FUZZ_CHECK(run.frames[i] == run2.frames[i]);

  // A prefix cut before the stop (a capture still being written): the frames
  // that end within it, then kEnd on a record boundary or kTruncated.
  if (run.offset <= start || size < 2) return 0;
  const uint64_t cut =
      start + (data[size - 1] | (uint64_t{data[size - 2]} << 8)) % (run.offset - start + 1);
  std::unique_ptr<uint8_t[]> copy(new uint8_t[cut]);  // exactly sized, for ASan
  std::memcpy(copy.get(), data, cut);
  auto part = CaptureFile::OpenMemory(std::span<const uint8_t>(copy.get(), cut), "fuzz");
  FUZZ_CHECK(part.ok());  // the cut lies past what Open() looked at
  const Run prun = ReadChecked(**part, copy.get(), cut);
  size_t within = 0;
  while (within < run.frames.size() && run.frames[within].end_offset <= cut) ++within;
  FUZZ_CHECK(prun.frames.size() == within);
  for (size_t i = 0; i < within; ++i) FUZZ_CHECK(prun.frames[i] == run.frames[i]);
  FUZZ_CHECK(prun.status == ReadStatus::kEnd || prun.status == ReadStatus::kTruncated);
  return 0;
}
