// `flowtrail collect`'s ingest rate in records/s, on one stream of typical
// records: the frame decoder alone (validation: varint, protobuf parse,
// ValidateRecord), the decoder plus the segment files written to /dev/shm,
// and the whole collector over loopback TCP (plaintext: TLS is the same
// loop plus OpenSSL's record layer), from connect to the final ack.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "collect/collector.h"
#include "collect/frame_decoder.h"
#include "export/rotating_file_sink.h"
#include "export/record_encoder.h"
#include "google/protobuf/io/coded_stream.h"
#include "record_gen.h"

namespace {

using namespace flowtrail;

constexpr uint64_t kRecords = 200'000;

void AppendFrame(const v1::Frame& f, std::string* out) {
  const std::string body = f.SerializeAsString();
  uint8_t buf[10];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(body.size(), buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
  out->append(body);
}

const std::string& Stream() {
  static const std::string s = [] {
    std::string out;
    std::mt19937_64 rng(1);
    v1::Frame f;
    f.mutable_header()->set_schema_version(v1::SCHEMA_VERSION_1);
    f.mutable_header()->set_schema_revision(3);
    f.mutable_header()->set_sensor_id("bench");
    f.mutable_header()->set_run_id("0123456789abcdef0123456789abcdef");
    f.mutable_header()->set_first_sequence(1);
    AppendFrame(f, &out);
    for (uint64_t i = 1; i <= kRecords; ++i) {
      record::SessionRecord r = testing::FullRecord(rng() % 8 == 0 ? 6 : 4);
      r.session_id = rng() % 1'000'000'000;
      r.client_port = static_cast<uint16_t>(1024 + rng() % 60000);
      r.client_packets = 1 + rng() % 20;
      r.first_time_us = 1'763'000'000'000'000 + rng() % 1'000'000'000;
      r.last_time_us = r.first_time_us + rng() % 10'000'000;
      f.Clear();
      f.set_sequence(i);
      exporter::EncodeRecord(r, f.mutable_record());
      f.mutable_record()->set_sensor_id("bench");
      AppendFrame(f, &out);
    }
    f.Clear();
    f.set_sequence(kRecords + 1);
    f.mutable_trailer()->set_records(kRecords);
    AppendFrame(f, &out);
    return out;
  }();
  return s;
}

std::unique_ptr<exporter::SegmentSink> FileSink(const std::string& dir) {
  exporter::RotatingFileOptions o;
  o.dir = dir;
  return *exporter::RotatingFileSink::Create(std::move(o));
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Socket-sized chunks, as recv() hands them over.
constexpr size_t kChunk = 64 * 1024;

void BM_Decode(benchmark::State& state) {
  const auto bytes = Bytes(Stream());
  for (auto _ : state) {
    collect::FrameDecoder d;
    uint64_t n = 0;
    for (size_t i = 0; i < bytes.size(); i += kChunk) {
      const absl::Status s = d.Feed(bytes.subspan(i, std::min(kChunk, bytes.size() - i)),
                                    [&](const collect::DecodedFrame& f) {
                                      n += f.body == v1::Frame::kRecord;
                                      return absl::OkStatus();
                                    });
      if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRecords));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

std::string ShmDir(const char* name) {
  const std::string dir = std::string("/dev/shm/flowtrail-collect-bench-") + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Decoder plus the storage of the collector's OnFrame: contiguous frames in
// 64 KiB blocks written to a segment file.
void BM_DecodeAndStore(benchmark::State& state) {
  const auto bytes = Bytes(Stream());
  const std::string dir = ShmDir("store");
  for (auto _ : state) {
    auto sink = FileSink(dir);
    collect::FrameDecoder d;
    std::string block;
    exporter::BlockInfo info;
    auto flush = [&] {
      if (block.empty()) return;
      (void)sink->Write(Bytes(block), info);
      block.clear();
    };
    for (size_t i = 0; i < bytes.size(); i += kChunk) {
      (void)d.Feed(bytes.subspan(i, std::min(kChunk, bytes.size() - i)),
                   [&](const collect::DecodedFrame& f) {
                     if (f.body == v1::Frame::kHeader) {
                       v1::StreamHeader h = f.frame->header();
                       h.clear_first_sequence();
                       return sink->Begin(h);
                     }
                     if (f.body != v1::Frame::kRecord) return absl::OkStatus();
                     if (block.empty()) info = {f.sequence, 0, 0};
                     block.append(reinterpret_cast<const char*>(f.wire.data()), f.wire.size());
                     ++info.frames;
                     ++info.records;
                     if (block.size() >= kChunk) flush();
                     return absl::OkStatus();
                   });
      flush();
    }
    (void)sink->Sync();
    (void)sink->End({kRecords + 1, 0, 0});
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRecords));
}
BENCHMARK(BM_DecodeAndStore)->Unit(benchmark::kMillisecond);

// The whole collector: a client thread sends the stream over loopback and
// reads acks until the one for the last frame.
void BM_CollectorLoopback(benchmark::State& state) {
  const std::string& stream = Stream();
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = ShmDir("loopback");
    collect::CollectorOptions o;
    o.dir = dir;
    o.log = nullptr;
    o.sink_factory = [](const std::string& d, const v1::StreamHeader&)
        -> absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> {
      return FileSink(d);
    };
    auto c = collect::Collector::Create(o);
    if (!c.ok()) {
      state.SkipWithError(std::string(c.status().message()).c_str());
      break;
    }
    std::thread server([&] { (void)(*c)->Run(); });
    state.ResumeTiming();
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons((*c)->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      state.SkipWithError("connect");
    }
    size_t sent = 0;
    while (sent < stream.size()) {
      const ssize_t n = ::send(fd, stream.data() + sent, stream.size() - sent, 0);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    // Acks until the collector closes (after the trailer's final ack).
    char buf[4096];
    while (::recv(fd, buf, sizeof buf, 0) > 0) {
    }
    ::close(fd);
    state.PauseTiming();
    (*c)->RequestStop();
    server.join();
    if ((*c)->stats().frames_stored != kRecords) state.SkipWithError("records lost");
    c->reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRecords));
}
BENCHMARK(BM_CollectorLoopback)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
