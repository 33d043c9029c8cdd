// The exporter lcore's whole per-record path, from a finished record on its
// ring to bytes in a file: Exporter::Poll (dequeue, encode, frame, block
// write) into a FileSink on /dev/shm, over a realistic record mix. And the
// record hand-off worker → ring → consumer per burst size. And the collector
// link path (export/collector_link.h): the exporter's side (encode + copy
// into the link's ring) and the link thread to a loopback collector. Needs
// the EAL (rings, TSC): started in main with --no-huge.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <random>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_ring.h>

#include "dataplane/control.h"
#include "dataplane/counters.h"
#include "dataplane/exporter.h"
#include "dataplane/record_rings.h"
#include "export/async_sink.h"
#include "export/byte_sinks.h"
#include "export/collector_link.h"
#include "export/fanout_sink.h"
#include "export/rotating_file_sink.h"
#include "export/stream_reader.h"
#include "export/stream_writer.h"

namespace {

using namespace flowtrail;

constexpr unsigned kRingSize = 4096;
constexpr unsigned kBurst = 256;  // records a worker enqueues at once

// The mix a sensor on an edge link writes: 80 % IPv4; 70 % TCP, 25 % UDP,
// 5 % ICMP; fingerprints and simhashes on the sessions with data; counters
// from a handful of packets to long transfers; current timestamps.
record::SessionRecord MixRecord(std::mt19937_64& rng, uint64_t id) {
  auto u = [&rng](uint64_t max) { return std::uniform_int_distribution<uint64_t>(0, max)(rng); };
  record::SessionRecord r;
  r.session_id = (uint64_t{1} << 56) | id;
  r.worker_id = 1;
  r.ip_version = u(4) == 0 ? 6 : 4;
  const size_t ip_len = r.ip_version == 6 ? 16 : 4;
  for (size_t i = 0; i < ip_len; ++i) {
    r.client_ip.bytes[i] = static_cast<uint8_t>(u(255));
    r.server_ip.bytes[i] = static_cast<uint8_t>(u(255));
  }
  const uint64_t kind = u(19);
  r.protocol = kind < 14 ? 6 : kind < 19 ? 17 : (r.ip_version == 6 ? 58 : 1);
  r.first_time_us = 1'764'600'000'000'000 + u(3'600'000'000);
  if (r.protocol == 1 || r.protocol == 58) {
    r.client_port = 8;  // echo request / code 0
    r.icmp_id = static_cast<uint16_t>(u(65535));
    r.client_packets = 1 + u(4);
    r.server_packets = r.client_packets;
    r.client_payload_bytes = r.client_packets * 56;
    r.server_payload_bytes = r.client_payload_bytes;
    r.last_time_us = r.first_time_us + u(5'000'000);
    r.end_reason = record::EndReason::kIdleTimeout;
    r.conn_state = record::ConnState::kOTH;
    return r;
  }
  r.client_port = static_cast<uint16_t>(32768 + u(28000));
  static constexpr uint16_t kPorts[] = {443, 443, 443, 80, 53, 22, 8080, 123};
  r.server_port = kPorts[u(7)];
  r.confidence = static_cast<record::Confidence>(u(2));
  r.inbound = u(3) == 0;
  const bool big = u(9) == 0;
  r.client_packets = big ? 100 + u(100'000) : 1 + u(20);
  r.server_packets = big ? 100 + u(200'000) : u(30);
  r.client_payload_bytes = big ? u(50'000'000) : u(2'000);
  r.server_payload_bytes = big ? u(2'000'000'000) : u(40'000);
  r.last_time_us = r.first_time_us + (big ? u(600'000'000) : u(30'000'000));
  if (r.protocol == 6) {
    r.client_first_flags = 0x02;
    r.server_first_flags = 0x12;
    r.client_flags = 0x1b;
    r.server_flags = 0x1b;
    r.client_first_seq = static_cast<uint32_t>(rng());
    r.server_first_seq = static_cast<uint32_t>(rng());
    r.client_bytes = r.client_payload_bytes;
    r.server_bytes = r.server_payload_bytes;
    r.client_last_seq = r.client_first_seq + static_cast<uint32_t>(r.client_bytes);
    r.server_last_seq = r.server_first_seq + static_cast<uint32_t>(r.server_bytes);
    r.shutdown_initiator = u(1) ? record::Side::kClient : record::Side::kServer;
    r.shutdown_kind = u(4) == 0 ? record::ShutdownKind::kRst : record::ShutdownKind::kFin;
    r.end_reason = u(4) == 0 ? record::EndReason::kReset : record::EndReason::kClosed;
    r.conn_state = u(4) == 0 ? record::ConnState::kRSTO : record::ConnState::kSF;
  } else {
    r.end_reason = record::EndReason::kIdleTimeout;
    r.conn_state = record::ConnState::kOTH;
  }
  if (r.client_payload_bytes != 0 || r.server_payload_bytes != 0) {
    r.full_analysis = true;
    r.first_data_sender = record::Side::kClient;
    r.client_fingerprint = static_cast<uint32_t>(rng());
    r.server_fingerprint = static_cast<uint32_t>(rng());
    r.client_simhash = rng();
    r.server_simhash = rng();
    r.client_first_data_len = static_cast<uint16_t>(1 + u(1459));
    r.server_first_data_len = static_cast<uint16_t>(1 + u(1459));
  }
  if (u(9) == 0) {
    r.vlan_count = 1;
    r.vlan_outer = static_cast<uint16_t>(1 + u(4094));
  }
  return r;
}

const std::vector<record::SessionRecord>& Mix() {
  static const std::vector<record::SessionRecord> v = [] {
    std::mt19937_64 rng(5);
    std::vector<record::SessionRecord> out(64 * kBurst);
    for (size_t i = 0; i < out.size(); ++i) out[i] = MixRecord(rng, i);
    return out;
  }();
  return v;
}

rte_ring* MustRing(const char* prefix, unsigned index, unsigned size) {
  absl::StatusOr<rte_ring*> r = dataplane::CreateRecordRing(prefix, index, size, SOCKET_ID_ANY);
  if (!r.ok()) {
    fprintf(stderr, "%s\n", r.status().ToString().c_str());
    abort();
  }
  return *r;
}

// The exporter lcore as the sensor wires it, over one worker's ring. Run()
// puts a worker's burst of kBurst records onto the ring (its cost included:
// the figure is conservative) and polls the exporter once per iteration;
// Finish() ends the stream as the sensor's stop does.
class BenchExporter {
 public:
  BenchExporter(rte_ring* ring, std::unique_ptr<exporter::SegmentSink> sink)
      : ring_(ring), exp_([&] {
          auto writer = *exporter::StreamWriter::Create(std::move(sink),
                                                        {.sensor_id = "sensor-1", .inputs = {"0"}});
          writer_ = writer.get();
          return dataplane::ExporterSetup{.rings = {ring},
                                          .writer = std::move(writer),
                                          .worker_counters = worker_counters_,
                                          .counters = &counters_,
                                          .control = &control_};
        }()) {}

  const exporter::StreamWriter& writer() const { return *writer_; }

  // `after_poll` runs after each Poll(), inside the timed loop.
  template <typename AfterPoll>
  void Run(benchmark::State& state, AfterPoll after_poll) {
    const auto& mix = Mix();
    size_t at = 0;
    for (auto _ : state) {
      dataplane::EnqueueRecords(ring_,
                                std::span<const record::SessionRecord>(mix.data() + at, kBurst));
      at = (at + kBurst) % mix.size();
      exp_.Poll();
      after_poll();
    }
    const uint64_t records = state.iterations() * kBurst;
    state.SetItemsProcessed(static_cast<int64_t>(records));
    state.counters["ns/record"] = benchmark::Counter(
        static_cast<double>(records), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  }

  // Polls until the ring is empty (the exporter lcore's loop while records
  // wait for it), then hands the writer's last block to the sink and flushes
  // it, as the exporter's periodic flush would.
  void Drain() {
    while (rte_ring_count(ring_) > 0) exp_.Poll();
    (void)writer_->Flush();
  }

  void Finish() {
    control_.workers_done.store(1);
    while (!exp_.Done()) exp_.Poll();
  }

 private:
  rte_ring* ring_;
  dataplane::Control control_;
  dataplane::ExporterCounters counters_;
  std::vector<dataplane::WorkerCounters> worker_counters_ =
      std::vector<dataplane::WorkerCounters>(1);
  exporter::StreamWriter* writer_ = nullptr;
  dataplane::Exporter exp_;
};

// Runs `make` (which starts the sink's I/O thread) with this thread's CPU
// set widened to the other cores: a new thread inherits its creator's set,
// and the EAL pins the main thread (the exporter here) to one core, where
// the I/O thread would then compete with the exporter. In the sensor it
// inherits the main lcore's, not the exporter lcore's.
template <typename Make>
auto OnOtherCores(Make make) {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  pthread_getaffinity_np(pthread_self(), sizeof(mine), &mine);
  cpu_set_t others;
  CPU_ZERO(&others);
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  for (long c = 0; c < cpus && c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &mine)) CPU_SET(c, &others);
  }
  if (CPU_COUNT(&others) > 0) pthread_setaffinity_np(pthread_self(), sizeof(others), &others);
  auto made = make();
  pthread_setaffinity_np(pthread_self(), sizeof(mine), &mine);
  return made;
}

// Arg 0: /dev/shm file as the sensor writes it (OpenRunOutput: the FileSink
// behind an AsyncSegmentSink, its write(2) on the sink's thread, started on
// the other cores); 1: null sink (encode only); 2: the same FileSink written
// on the exporter's thread (the sensor before the I/O thread). CPU time is
// the exporter thread's own, the worker's enqueue included; BM_ExporterWall
// (below) gives the exporter lcore's own work in wall time.
void BM_ExporterPath(benchmark::State& state) {
  static unsigned instance = 0;
  rte_ring* ring = MustRing("bench_exp", instance++, kRingSize);
  const std::string path = "/dev/shm/flowtrail_export_path_bench_" + std::to_string(getpid());
  std::unique_ptr<exporter::SegmentSink> sink;
  const int64_t kind = state.range(0);
  if (kind == 0) {
    sink = *exporter::OpenRunOutput({.file = path});
  } else if (kind == 1) {
    sink = exporter::SingleSegment(std::make_unique<exporter::NullSink>());
  } else {
    sink = exporter::SingleSegment(*exporter::OpenFileSink(path));
  }
  const std::unique_ptr<BenchExporter> exp =
      OnOtherCores([&] { return std::make_unique<BenchExporter>(ring, std::move(sink)); });
  uint64_t polls = 0;
  exp->Run(state, [&] {
    // Keep /dev/shm bounded: the writer's offset goes on, the file's pages
    // before it are dropped (a sparse file), off the timed path's average.
    if (kind != 1 && ++polls % 2048 == 0) (void)truncate(path.c_str(), 0);
  });
  const uint64_t records = state.iterations() * kBurst;
  const uint64_t bytes = exp->writer().bytes_written();
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["bytes/record"] =
      static_cast<double>(bytes) / static_cast<double>(std::max<uint64_t>(1, records));
  exp->Finish();
  rte_ring_free(ring);
  unlink(path.c_str());
}
BENCHMARK(BM_ExporterPath)->ArgName("null_sink")->Arg(0)->Arg(1)->Arg(2);

// The exporter lcore's sustained rate to a file, in wall time: each
// iteration fills a ring of kWallRing records (untimed: the workers' work)
// and times the exporter draining it and flushing, until the I/O thread has
// written every block (in_flight() empty). No timer pause per burst, so the
// time the exporter waits for a free block, or is descheduled, counts. Arg
// 0: /dev/shm file as the sensor writes it (OpenRunOutput); 1: null sink.
// Per second of timed wall time: io_thread_cpu, the process's CPU time
// outside the exporter thread (the sink's I/O thread; EAL's threads idle);
// runq_wait, the exporter runnable but not running (other load on its core,
// /proc schedstat); blocked, neither running nor runnable (asleep for a
// free block or the last writes). unloaded_rate: records per second of wall
// time less runq_wait, the rate on a core of its own.
void BM_ExporterWall(benchmark::State& state) {
  // 48 MiB of records, ~750 blocks: the I/O thread's backlog at the end of
  // an iteration (at most the set, 32 blocks) weighs little.
  constexpr unsigned kWallRing = 1 << 18;
  static unsigned instance = 0;
  rte_ring* ring = MustRing("bench_wall", instance++, kWallRing);
  const std::string path = "/dev/shm/flowtrail_export_wall_bench_" + std::to_string(getpid());
  const bool file = state.range(0) == 0;
  std::unique_ptr<exporter::SegmentSink> sink =
      file ? *exporter::OpenRunOutput({.file = path})
           : exporter::SingleSegment(std::make_unique<exporter::NullSink>());
  const exporter::SegmentSink* raw = sink.get();
  const auto* async = dynamic_cast<const exporter::AsyncSegmentSink*>(raw);
  const std::unique_ptr<BenchExporter> exp =
      OnOtherCores([&] { return std::make_unique<BenchExporter>(ring, std::move(sink)); });
  const auto& mix = Mix();
  size_t at = 0;
  uint64_t records = 0;
  // Seconds: wall, this thread on CPU and waiting on the run queue, the
  // other threads' CPU.
  struct Times {
    double wall = 0, run = 0, runq = 0, others = 0;
  };
  auto now = [] {
    auto cpu = [](int who) {
      rusage u{};
      getrusage(who, &u);
      return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
             static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
    };
    Times t;
    t.wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    unsigned long long run_ns = 0, runq_ns = 0;
    if (FILE* f = fopen("/proc/thread-self/schedstat", "r")) {
      if (fscanf(f, "%llu %llu", &run_ns, &runq_ns) != 2) run_ns = runq_ns = 0;
      fclose(f);
    }
    t.run = static_cast<double>(run_ns) * 1e-9;
    t.runq = static_cast<double>(runq_ns) * 1e-9;
    t.others = cpu(RUSAGE_SELF) - cpu(RUSAGE_THREAD);
    return t;
  };
  Times timed;
  for (auto _ : state) {
    state.PauseTiming();
    // Keep /dev/shm bounded: the writer's offset goes on, the pages before
    // it are dropped (a sparse file).
    if (file) (void)truncate(path.c_str(), 0);
    for (;;) {
      const size_t want = std::min<size_t>(kBurst, mix.size() - at);
      const unsigned n = dataplane::EnqueueRecords(
          ring, std::span<const record::SessionRecord>(mix.data() + at, want));
      records += n;
      at = (at + n) % mix.size();
      if (n < want) break;
    }
    state.ResumeTiming();
    const Times start = now();
    exp->Drain();
    while (raw->in_flight().records != 0) std::this_thread::yield();
    const Times end = now();
    timed.wall += end.wall - start.wall;
    timed.run += end.run - start.run;
    timed.runq += end.runq - start.runq;
    timed.others += end.others - start.others;
  }
  state.counters["io_thread_cpu"] = timed.others / timed.wall;
  state.counters["runq_wait"] = timed.runq / timed.wall;
  state.counters["blocked"] = std::max(0.0, timed.wall - timed.run - timed.runq) / timed.wall;
  state.counters["unloaded_rate"] = static_cast<double>(records) / (timed.wall - timed.runq);
  state.counters["full_waits"] = async != nullptr ? static_cast<double>(async->full_waits()) : 0;
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.counters["ns/record"] = benchmark::Counter(
      static_cast<double>(records), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  exp->Finish();
  rte_ring_free(ring);
  unlink(path.c_str());
}
BENCHMARK(BM_ExporterWall)->ArgName("null_sink")->Arg(0)->Arg(1)->UseRealTime();

// A loopback collector for the link benchmarks: one connection at a time,
// reads the frames' sequence numbers (field 1, first in every frame) and
// acknowledges the last one every 256 KiB read (no disk, no fsync: the
// figure is the link's, not a collector's).
class BenchCollector {
 public:
  BenchCollector() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 4);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~BenchCollector() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  static bool Varint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
    uint64_t out = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
      const uint8_t b = *p++;
      out |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) {
        *v = out;
        return true;
      }
    }
    return false;
  }
  void Ack(int c, const std::string& run_id, uint64_t seq) {
    flowtrail::v1::CollectorAck ack;
    ack.set_run_id(run_id);
    ack.set_durable_sequence(seq);
    const std::string body = ack.SerializeAsString();
    std::string out(1, static_cast<char>(body.size()));
    out += body;
    (void)send(c, out.data(), out.size(), MSG_NOSIGNAL);
  }
  void Serve() {
    std::vector<uint8_t> buf(1 << 20);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;
      const int c = accept(fd_, nullptr, nullptr);
      size_t have = 0;
      size_t since_ack = 0;
      uint64_t last = 0;
      std::string run_id;
      while (!stop_) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 10) <= 0) continue;
        const ssize_t r = recv(c, buf.data() + have, buf.size() - have, 0);
        if (r <= 0) break;
        have += static_cast<size_t>(r);
        since_ack += static_cast<size_t>(r);
        const uint8_t* p0 = buf.data();
        const uint8_t* end = buf.data() + have;
        for (;;) {
          const uint8_t* f = p0;
          uint64_t len = 0;
          if (!Varint(f, end, &len) || static_cast<uint64_t>(end - f) < len) break;
          if (run_id.empty()) {
            flowtrail::v1::Frame h;  // the header: run id and first sequence
            h.ParseFromArray(f, static_cast<int>(len));
            run_id = h.header().run_id();
            last = h.header().first_sequence() - 1;
          } else {
            // Data frames are consecutive: count them (not the trailer,
            // field 4 after the sequence).
            const uint8_t* q2 = f + 1;
            uint64_t seq = 0;
            if (len > 1 && Varint(q2, f + len, &seq) && q2 < f + len && *q2 != 0x22) ++last;
          }
          p0 = f + len;
        }
        have = static_cast<size_t>(end - p0);
        memmove(buf.data(), p0, have);
        if (since_ack >= (256 << 10) && last != 0) {
          Ack(c, run_id, last);
          since_ack = 0;
        }
        if (have == 0 && last != 0 && since_ack > 0) {
          Ack(c, run_id, last);  // caught up: ack what is in
          since_ack = 0;
        }
      }
      close(c);
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::unique_ptr<exporter::CollectorLink> BenchLink(uint16_t port) {
  exporter::CollectorLinkOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.queue_bytes = uint64_t{256} << 20;
  return *exporter::CollectorLink::Create(o);
}

// The exporter lcore with a collector link as its sink: Exporter::Poll
// encodes each burst and the link's Write() copies the block into its ring
// (no I/O on the lcore); the link thread sends to a loopback collector on
// the other core. records_dropped > 0 would mean the link fell behind (the
// ring holds 128 MiB).
void BM_ExporterPathCollector(benchmark::State& state) {
  static unsigned instance = 0;
  rte_ring* ring = MustRing("bench_col", instance++, kRingSize);
  BenchCollector collector;
  std::unique_ptr<exporter::CollectorLink> link = BenchLink(collector.port());
  const exporter::CollectorLinkCounters& k = link->counters();
  BenchExporter exp(ring, std::move(link));
  exp.Run(state, [] {});
  exp.Finish();  // the close drains the link
  state.counters["dropped"] = static_cast<double>(k.records_dropped.load());
  state.counters["acked"] = static_cast<double>(k.records_acked.load());
  rte_ring_free(ring);
}
BENCHMARK(BM_ExporterPathCollector)->UseRealTime();

// The link thread alone: pre-encoded 64 KiB blocks written into the link
// as fast as it takes them, timed until the loopback collector has
// acknowledged every record (wall time: the thread is the work). Arg: the
// in-memory queue in MiB.
void BM_CollectorLinkDelivery(benchmark::State& state) {
  // ~350 records per block, as the writer cuts them.
  std::string block;
  exporter::BlockInfo info{};
  {
    auto w = *exporter::StreamWriter::Create(std::make_unique<exporter::MemorySink>(&block),
                                             {.sensor_id = "sensor-1", .inputs = {"0"}});
    (void)w->Append(std::span<const record::SessionRecord>(Mix().data(), 350));
    (void)w->Close(0, 0);
  }
  // Drop the header and trailer: keep the 350 record frames.
  auto reader = exporter::StreamReader::FromBytes(
      {reinterpret_cast<const uint8_t*>(block.data()), block.size()});
  std::string frames;
  for (uint64_t i = 0; i < 350; ++i) {
    flowtrail::v1::Frame f;
    f.set_sequence(i + 1);
    *f.mutable_record() = **reader->Next();
    const std::string body = f.SerializeAsString();
    std::string len;
    for (uint64_t v = body.size();; v >>= 7) {
      if (v < 0x80) {
        len += static_cast<char>(v);
        break;
      }
      len += static_cast<char>((v & 0x7f) | 0x80);
    }
    frames += len + body;
  }
  (void)info;
  constexpr int kBlocks = 2000;  // 700 k records per iteration
  // Each block gets its own sequences: re-encode the sequence field per
  // block would cost more than the link; the collector only reads the
  // sequence, and the link checks BlockInfo, so one set of bytes is reused
  // with consecutive BlockInfos (the bytes' own sequences are not read).
  uint64_t records = 0;
  for (auto _ : state) {
    BenchCollector collector;
    std::unique_ptr<exporter::CollectorLink> link = BenchLink(collector.port());
    flowtrail::v1::StreamHeader h;
    h.set_run_id(exporter::NewRunId());
    h.set_sensor_id("sensor-1");
    (void)link->Begin(h);
    uint64_t seq = 1;
    for (int b = 0; b < kBlocks; ++b) {
      const exporter::BlockInfo bi{.first_sequence = seq, .frames = 350, .records = 350};
      while (link->counters().queued_bytes.load() > (uint64_t{96} << 20)) std::this_thread::yield();
      (void)link->Write({reinterpret_cast<const uint8_t*>(frames.data()), frames.size()}, bi);
      seq += 350;
    }
    (void)link->End({.next_sequence = seq, .records_dropped = 0, .end_time_us = 0});
    if (link->counters().records_dropped.load() != 0) state.SkipWithError("records dropped");
    records += static_cast<uint64_t>(kBlocks) * 350;
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kBlocks *
                          static_cast<int64_t>(frames.size()));
}
BENCHMARK(BM_CollectorLinkDelivery)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

// Hand-off worker → ring → consumer on one core: a burst of N records in,
// the same N out (copied out as the analytics lcore does, arg zero_copy 0, or
// read in place as the exporter does, 1). Both sides' cost per record.
void BM_RecordHandoff(benchmark::State& state) {
  static unsigned instance = 0;
  rte_ring* ring = MustRing("bench_ho", instance++, kRingSize);
  const unsigned burst = static_cast<unsigned>(state.range(0));
  const bool zero_copy = state.range(1) != 0;
  const auto& mix = Mix();
  std::vector<record::SessionRecord> batch(burst);
  rte_ring* rings[] = {ring};
  size_t at = 0;
  uint64_t sum = 0;
  for (auto _ : state) {
    dataplane::EnqueueRecords(ring, std::span<const record::SessionRecord>(mix.data() + at, burst));
    at = (at + burst) % (mix.size() - burst);
    // The consumer reads a field of each record, as any would.
    auto consume = [&sum](std::span<const record::SessionRecord> recs) {
      for (const record::SessionRecord& r : recs) sum += r.client_packets;
    };
    if (zero_copy) {
#ifndef FLOWTRAIL_BENCH_BASELINE
      dataplane::ConsumeFromEachRing(rings, burst, consume);
#endif
    } else {
      dataplane::DequeueFromEachRing(rings, batch, consume);
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * burst));
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * burst * sizeof(record::SessionRecord)));
  state.counters["ns/record"] =
      benchmark::Counter(static_cast<double>(state.iterations() * burst),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  rte_ring_free(ring);
}
BENCHMARK(BM_RecordHandoff)
    ->ArgNames({"burst", "zero_copy"})
    ->ArgsProduct({{1, 8, 32, 64, 256}, {0, 1}});

// The worker's side of the hand-off alone: a burst of N records into the ring
// by rte_ring's own copy (reserve 0: EnqueueRecords, 4 bytes at a time for
// elements this large) or streamed into reserved slots (reserve 1:
// ReserveSlots/StreamAndCommit, non-temporal stores, as Worker::PushRecords
// does); the consumer empties the ring in place without reading the records.
// One core: what this cannot show is the plain stores' wait for lines the
// consumer's core holds, which the streaming stores avoid.
void BM_RecordEnqueue(benchmark::State& state) {
  static unsigned instance = 0;
  rte_ring* ring = MustRing("bench_enq", instance++, kRingSize);
  const unsigned burst = static_cast<unsigned>(state.range(0));
  const bool reserve = state.range(1) != 0;
  const auto& mix = Mix();
  rte_ring* rings[] = {ring};
  size_t at = 0;
  uint64_t sum = 0;
  for (auto _ : state) {
    const std::span<const record::SessionRecord> in(mix.data() + at, burst);
    at = (at + burst) % (mix.size() - burst);
    if (reserve) {
#ifndef FLOWTRAIL_BENCH_BASELINE
      const auto slots = dataplane::ReserveSlots<record::SessionRecord>(ring, burst);
      dataplane::StreamAndCommit(ring, slots, in, slots.n);
#endif
    } else {
      dataplane::EnqueueRecords(ring, in);
    }
    dataplane::ConsumeFromEachRing(
        rings, burst, [&sum](std::span<const record::SessionRecord> r) { sum += r.size(); });
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * burst));
  state.counters["ns/record"] =
      benchmark::Counter(static_cast<double>(state.iterations() * burst),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  rte_ring_free(ring);
}
BENCHMARK(BM_RecordEnqueue)->ArgNames({"burst", "reserve"})->ArgsProduct({{8, 64}, {0, 1}});

}  // namespace

int main(int argc, char** argv) {
  std::string prefix = "--file-prefix=ft_bench_" + std::to_string(getpid());
  const char* eal[] = {"export_path_bench", "--no-huge",   "-m",           "256",
                       "--no-pci",          "--no-shconf", prefix.c_str(), "--log-level=*:error"};
  if (rte_eal_init(static_cast<int>(std::size(eal)), const_cast<char**>(eal)) < 0) {
    fprintf(stderr, "rte_eal_init failed\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
