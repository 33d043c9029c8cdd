// CaptureFile::Next cost per frame over large generated captures (a mix of
// 64-, 576- and 1514-byte frames): from memory (the reader's own work) and
// from a file on disk through the mmap (page faults included, page cache
// warm). Each benchmark iteration is one frame; at the end the file is
// reopened. Run: <build>/bench/capture_file_bench
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "capture/capture_file.h"
#include "capture_builder.h"

namespace {

using flowtrail::capture::CaptureFile;
using flowtrail::capture::CaptureFrame;
using flowtrail::capture::ReadStatus;
using flowtrail::capture::test::Bytes;
using flowtrail::capture::test::IdbOptions;
using flowtrail::capture::test::PcapBuilder;
using flowtrail::capture::test::PcapngBuilder;
using flowtrail::capture::test::PcapOptions;

constexpr size_t kLarge = 64 << 20;   // well beyond the caches
constexpr size_t kSmall = 512 << 10;  // in L2: the reader's own work

uint32_t FrameLen(uint32_t i) {
  switch (i % 5) {
    case 0:
    case 1:
    case 2:
      return 64;
    case 3:
      return 576;
    default:
      return 1514;
  }
}

const Bytes& Pcap(bool big_endian, size_t target) {
  static Bytes files[2][2];
  Bytes& b = files[big_endian][target == kLarge];
  if (b.empty()) {
    PcapOptions o;
    o.big_endian = big_endian;
    PcapBuilder p(o);
    const Bytes payload(1514, 0x5a);
    for (uint32_t i = 0; p.bytes().size() < target; ++i) {
      p.Record(1700000000 + i / 1000, i % 1000 * 1000,
               Bytes(payload.begin(), payload.begin() + FrameLen(i)));
    }
    b = p.bytes();
  }
  return b;
}

const Bytes& Pcapng(size_t target) {
  static Bytes files[2];
  Bytes& b = files[target == kLarge];
  if (b.empty()) {
    PcapngBuilder p;
    IdbOptions nano;
    nano.tsresol = 9;
    p.Interface(IdbOptions{}).Interface(nano);
    const Bytes payload(1514, 0x5a);
    for (uint32_t i = 0; p.bytes().size() < target; ++i) {
      p.Epb(i & 1, 1700000000000000ull + i, Bytes(payload.begin(), payload.begin() + FrameLen(i)));
    }
    b = p.bytes();
  }
  return b;
}

// One Next() per iteration; `open` makes a fresh reader at the end.
template <typename OpenFn>
void ReadFrames(benchmark::State& state, OpenFn open, size_t file_bytes) {
  std::unique_ptr<CaptureFile> f = open();
  CaptureFrame frame;
  uint64_t bytes = 0;
  uint64_t passes = 0;
  for (auto _ : state) {
    if (f->Next(&frame) != ReadStatus::kFrame) [[unlikely]] {
      f = open();
      ++passes;
      f->Next(&frame);
    }
    bytes += frame.caplen;
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["passes"] = static_cast<double>(passes);
  state.counters["file_KiB"] = static_cast<double>(file_bytes >> 10);
}

std::unique_ptr<CaptureFile> FromMemory(const Bytes& b) {
  return std::move(*CaptureFile::OpenMemory(std::span<const uint8_t>(b), "bench"));
}

size_t Target(benchmark::State& state) { return state.range(0) != 0 ? kLarge : kSmall; }

void BM_PcapFromMemory(benchmark::State& state) {
  const Bytes& b = Pcap(false, Target(state));
  ReadFrames(
      state, [&] { return FromMemory(b); }, b.size());
}
BENCHMARK(BM_PcapFromMemory)->ArgName("large")->Arg(0)->Arg(1);

void BM_PcapBigEndianFromMemory(benchmark::State& state) {
  const Bytes& b = Pcap(true, Target(state));
  ReadFrames(
      state, [&] { return FromMemory(b); }, b.size());
}
BENCHMARK(BM_PcapBigEndianFromMemory)->ArgName("large")->Arg(0)->Arg(1);

void BM_PcapngFromMemory(benchmark::State& state) {
  const Bytes& b = Pcapng(Target(state));
  ReadFrames(
      state, [&] { return FromMemory(b); }, b.size());
}
BENCHMARK(BM_PcapngFromMemory)->ArgName("large")->Arg(0)->Arg(1);

void BM_PcapFromFile(benchmark::State& state) {
  static flowtrail::capture::test::TempFile file(Pcap(false, kLarge));
  ReadFrames(
      state, [&] { return std::move(*CaptureFile::Open(file.path())); },
      Pcap(false, kLarge).size());
}
BENCHMARK(BM_PcapFromFile);

void BM_PcapngFromFile(benchmark::State& state) {
  static flowtrail::capture::test::TempFile file(Pcapng(kLarge));
  ReadFrames(
      state, [&] { return std::move(*CaptureFile::Open(file.path())); }, Pcapng(kLarge).size());
}
BENCHMARK(BM_PcapngFromFile);

}  // namespace

BENCHMARK_MAIN();
