// The exporter lcore's cost per record: encoding one record, encoding into
// the stream (null sink, so no I/O), reading it back, and the text formats of
// `flowtrail cat`. export_path_bench runs the whole lcore path into a file.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "export/byte_sinks.h"
#include "export/record_encoder.h"
#include "export/stream_reader.h"
#include "export/stream_writer.h"
#include "record_gen.h"
#include "tools/record_format.h"

namespace {

using namespace flowtrail;

constexpr size_t kBatch = 256;  // records per ring dequeue on the exporter

// Typical sessions: mostly IPv4 TCP, counters of a few packets and bytes,
// current timestamps.
record::SessionRecord TypicalRecord(std::mt19937_64& rng) {
  record::SessionRecord r = testing::FullRecord(rng() % 8 == 0 ? 6 : 4);
  r.session_id = rng() % 1'000'000'000;
  r.client_port = static_cast<uint16_t>(1024 + rng() % 60000);
  r.client_payload_bytes = rng() % 2000;
  r.server_payload_bytes = rng() % 20000;
  r.client_packets = 1 + rng() % 20;
  r.server_packets = rng() % 30;
  r.client_bytes = r.client_payload_bytes;
  r.server_bytes = r.server_payload_bytes;
  r.first_time_us = 1'763'000'000'000'000 + rng() % 1'000'000'000;
  r.last_time_us = r.first_time_us + rng() % 10'000'000;
  r.client_first_seq = static_cast<uint32_t>(rng());
  r.server_first_seq = static_cast<uint32_t>(rng());
  r.client_last_seq = r.client_first_seq + static_cast<uint32_t>(r.client_bytes);
  r.server_last_seq = r.server_first_seq + static_cast<uint32_t>(r.server_bytes);
  r.vlan_count = 0;
  r.vlan_outer = r.vlan_inner = 0;
  r.transient_server = r.continuing = r.server_isn_changed = false;
  r.fragments = 0;
  r.icmp_id = 0;
  return r;
}

// Arg 0: random records with every field set and 64-bit extremes (worst
// case); arg 1: typical records.
const std::vector<record::SessionRecord>& Records(int64_t kind) {
  static const std::vector<record::SessionRecord> records[2] = {
      [] {
        std::mt19937_64 rng(1);
        std::vector<record::SessionRecord> v(16 * kBatch);
        for (auto& r : v) r = testing::RandomRecord(rng);
        return v;
      }(),
      [] {
        std::mt19937_64 rng(2);
        std::vector<record::SessionRecord> v(16 * kBatch);
        for (auto& r : v) r = TypicalRecord(rng);
        return v;
      }()};
  return records[kind];
}

const std::vector<v1::SessionRecord>& ProtoRecords(int64_t kind) {
  static const std::vector<v1::SessionRecord> records[2] = {
      [] {
        std::vector<v1::SessionRecord> v;
        for (const auto& r : Records(0)) {
          v.emplace_back();
          exporter::EncodeRecord(r, &v.back());
          v.back().set_sensor_id("sensor-1");
        }
        return v;
      }(),
      [] {
        std::vector<v1::SessionRecord> v;
        for (const auto& r : Records(1)) {
          v.emplace_back();
          exporter::EncodeRecord(r, &v.back());
          v.back().set_sensor_id("sensor-1");
        }
        return v;
      }()};
  return records[kind];
}

void BM_StreamWriterAppend(benchmark::State& state) {
  auto sink = std::make_unique<exporter::NullSink>();
  exporter::NullSink* null = sink.get();
  auto writer = *exporter::StreamWriter::Create(std::move(sink), {.sensor_id = "sensor-1"});
  const auto& recs = Records(state.range(0));
  size_t i = 0;
  for (auto _ : state) {
    auto batch = std::span<const record::SessionRecord>(recs).subspan(i, kBatch);
    if (!writer->Append(batch).ok()) state.SkipWithError("append failed");
    i = (i + kBatch) % recs.size();
  }
  (void)writer->Flush();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["bytes/record"] =
      static_cast<double>(null->bytes()) / static_cast<double>(writer->records_written());
  state.counters["ns/record"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBatch),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_StreamWriterAppend)->Arg(0)->Arg(1);

// One record's encoding alone, over the typical records: arg 0 the
// exporter's EncodeRecordWire, 1 the protobuf message path it replaced
// (EncodeRecord into a reused message, ByteSizeLong, serialise).
void BM_EncodeRecord(benchmark::State& state) {
  const auto& recs = Records(1);
  const std::string sensor = exporter::EncodeSensorIdField("sensor-1");
  const std::span<const uint8_t> field(reinterpret_cast<const uint8_t*>(sensor.data()),
                                       sensor.size());
  std::vector<uint8_t> out(exporter::kMaxRecordWireBytes + sensor.size());
  v1::SessionRecord msg;
  msg.set_sensor_id("sensor-1");
  size_t i = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    const record::SessionRecord& r = recs[i];
    i = (i + 1) % recs.size();
    uint8_t* end;
    if (state.range(0) == 0) {
      end = exporter::EncodeRecordWire(r, field, out.data());
    } else {
      exporter::EncodeRecord(r, &msg);
      (void)msg.ByteSizeLong();
      end = msg.SerializeWithCachedSizesToArray(out.data());
    }
    bytes += static_cast<uint64_t>(end - out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["ns/record"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_EncodeRecord)->ArgName("protobuf")->Arg(0)->Arg(1);

void BM_StreamReaderNext(benchmark::State& state) {
  std::string bytes;
  {
    auto writer = *exporter::StreamWriter::Create(std::make_unique<exporter::MemorySink>(&bytes),
                                                  {.sensor_id = "sensor-1"});
    (void)writer->Append(Records(state.range(0)));
    (void)writer->Close(0, 0);
  }
  int64_t n = 0;
  for (auto _ : state) {
    exporter::StreamReader reader(
        exporter::MemorySource({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
    for (;;) {
      auto r = reader.Next();
      if (!r.ok() || *r == nullptr) break;
      benchmark::DoNotOptimize(*r);
      ++n;
    }
  }
  state.SetItemsProcessed(n);
  state.counters["ns/record"] = benchmark::Counter(
      static_cast<double>(n), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_StreamReaderNext)->Arg(0)->Arg(1);

void BM_Format(benchmark::State& state, tools::Format format) {
  const auto& recs = ProtoRecords(state.range(0));
  std::string out;
  out.reserve(1 << 20);
  size_t i = 0;
  for (auto _ : state) {
    out.clear();
    for (size_t k = 0; k < kBatch; ++k)
      tools::AppendRecord(format, recs[(i + k) % recs.size()], &out);
    benchmark::DoNotOptimize(out.data());
    i = (i + kBatch) % recs.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["ns/record"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBatch),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK_CAPTURE(BM_Format, classic, tools::Format::kClassic)->Arg(0)->Arg(1);
BENCHMARK_CAPTURE(BM_Format, json, tools::Format::kJson)->Arg(0)->Arg(1);
BENCHMARK_CAPTURE(BM_Format, csv, tools::Format::kCsv)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
