#include "dataplane/pipeline.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "dataplane/analytics_lcore.h"
#include "dataplane/capture_meta.h"
#include "dataplane/dispatch.h"
#include "dataplane/exporter.h"
#include "dataplane/file_input.h"
#include "dataplane/idle_backoff.h"
#include "dataplane/lcore_plan.h"
#include "dataplane/live_settings.h"
#include "dataplane/metrics_listen.h"
#include "dataplane/metrics_server.h"
#include "dataplane/port.h"
#include "dataplane/record_rings.h"
#include "dataplane/stats_report.h"
#include "dataplane/telemetry.h"
#include "dataplane/watchdog.h"
#include "dataplane/worker.h"
#include "export/rotating_file_sink.h"
#include "export/stream_writer.h"

namespace flowtrail::dataplane {

std::atomic<int> Pipeline::stop_signal{0};

namespace {

// While alive, the calling (main) thread runs on the EAL's control CPU set,
// so the threads the output and the collector links start (disk and network
// I/O, zstd) inherit it: EAL pins the main thread to the main lcore's core,
// and those threads then shared it with whatever polls there (the exporter,
// on small machines), which halved the exporter's wall rate. The control
// set is rte_ctrl_thread_create's: the cores no lcore uses, else the main
// lcore's (so never a worker's core).
class OnControlCores {
 public:
  OnControlCores() {
    if (pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_) != 0) {
      return;
    }
    pthread_t probe;
    cpu_set_t control;
    CPU_ZERO(&control);
    if (rte_ctrl_thread_create(&probe, "ft-cpuset", nullptr, &ReadAffinity, &control) != 0) {
      return;
    }
    pthread_join(probe, nullptr);
    restore_ = CPU_COUNT(&control) > 0 &&
               pthread_setaffinity_np(pthread_self(), sizeof(control), &control) == 0;
  }
  ~OnControlCores() {
    if (restore_) {
      pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_);
    }
  }
  OnControlCores(const OnControlCores&) = delete;
  OnControlCores& operator=(const OnControlCores&) = delete;

 private:
  static void* ReadAffinity(void* out) {
    pthread_getaffinity_np(pthread_self(), sizeof(cpu_set_t), static_cast<cpu_set_t*>(out));
    return nullptr;
  }
  cpu_set_t saved_;
  bool restore_ = false;
};

uint32_t PoolSize(uint64_t wanted) {
  // Not rounded up to 2^k - 1: with infinite_rx a whole file sits in the
  // pool, and doubling it would not fit in memory.
  return static_cast<uint32_t>(std::clamp<uint64_t>(wanted, 8191, (1u << 26) - 1));
}

// A remote lcore's loop, as its own Run(), counting its iterations (one
// relaxed store per poll, on its own cache line): the watchdog's heartbeat.
template <class L>
struct alignas(64) BeatingLoop {
  L* lcore = nullptr;
  Counter beats{0};
  static bool Finished(const Dispatcher& d) { return d.Idle(); }
  static bool Finished(const Exporter& e) { return e.Done(); }
  static bool Finished(const AnalyticsLcore& a) { return a.Done(); }
  static int Main(void* self) {
    BeatingLoop& b = *static_cast<BeatingLoop*>(self);
    IdleBackoff backoff;
    while (!Finished(*b.lcore)) {
      backoff.Update(b.lcore->Poll());
      Bump(b.beats);
    }
    return 0;
  }
};

}  // namespace

struct Pipeline::State {
  SensorConfig config;
  bool capture = false;
  // Destroyed after ~State() has stopped the ports (their rings outlive them).
  std::vector<std::unique_ptr<FileInputPort>> file_ports;
  std::vector<Port> ports;
  LcorePlan plan;
  rte_mempool* pool = nullptr;
  RxTimestamp rx_timestamp;
  CaptureMetaField meta;
  Control control;
  std::vector<WorkerCounters> worker_counters;  // cache-aligned, one per worker
  DispatcherCounters dispatcher_counters;
  ExporterCounters exporter_counters;
  std::vector<CollectorLinkView> links;  // --collector: counters of each link
  AnalyticsCounters analytics_counters;
  std::unique_ptr<Watermark[]> watermarks;
  std::vector<rte_ring*> packet_rings;
  std::vector<rte_ring*> export_rings;
  std::vector<rte_ring*> analytics_rings;
  std::vector<rte_ring*> contact_rings;  // empty when first-contact events are off
  rte_ring* snapshot_ring = nullptr;     // analytics -> exporter; null with --no-snapshots
  std::vector<std::unique_ptr<Worker>> workers;
  // Fault in the workers' session tables off their cores (session/prefault.h);
  // declared after `workers`, so stopped before the tables are unmapped.
  std::vector<std::unique_ptr<session::Prefaulter>> prefaulters;
  bool prefault_logged = false;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<Exporter> exporter;
  std::unique_ptr<AnalyticsLcore> analytics;
  // Loop counts of the remote dispatcher, exporter and analytics lcores: the
  // watchdog's heartbeats (their own counters stand still when idle).
  BeatingLoop<Dispatcher> dispatcher_loop;
  BeatingLoop<Exporter> exporter_loop;
  BeatingLoop<AnalyticsLcore> analytics_loop;
  // The loops launched on their own lcores, with their names ("the exporter
  // (lcore 3)"); lcores the main loop polls need no heartbeat: the pings stop
  // with it.
  std::vector<std::pair<const Counter*, std::string>> remote_loops;
  bool ports_started = false;
  uint64_t start_tsc = 0;
  Pipeline::StartTimes start_times;
  // Seconds from process start to the first packet a port delivered; < 0
  // until then (the main loop looks once per control period, 1 ms).
  double first_packet_s = -1;
  std::chrono::steady_clock::time_point running;  // workers ready, input starts

  ~State() {
    if (ports_started) {
      for (const Port& p : ports) {
        StopPort(p);
      }
    }
    for (rte_ring* r : packet_rings) {
      rte_ring_free(r);
    }
    for (rte_ring* r : export_rings) {
      rte_ring_free(r);
    }
    for (rte_ring* r : analytics_rings) {
      rte_ring_free(r);
    }
    for (rte_ring* r : contact_rings) {
      rte_ring_free(r);
    }
    if (snapshot_ring != nullptr) {
      // Snapshots the exporter never took (it stopped early) are still owned.
      void* p = nullptr;
      while (rte_ring_sc_dequeue(snapshot_ring, &p) == 0) {
        delete static_cast<SnapshotHandoff*>(p);
      }
      rte_ring_free(snapshot_ring);
    }
    rte_mempool_free(pool);
  }

  Snapshot TakeSnapshot(const char* end) const;
  // Every remote lcore's heartbeat (workers: packets + tracker clock), and
  // their names, in the same order.
  void Heartbeats(std::vector<uint64_t>* beats, std::vector<std::string>* names) const;
  void RunMainLoop();
  bool ReadersIdle() const;
  uint64_t LastCaptureTime() const;
  bool PollFiles();
  // Notes (and logs) when the ports delivered their first packet.
  void CheckFirstPacket();
  // Logs once when every session table is resident.
  void CheckPrefault();
  // Every file ended and the ports have handed on every frame read from them.
  bool FilesConsumed() const;
  std::vector<FileInputStatus> FileStatuses() const;
};

Pipeline::Pipeline(std::unique_ptr<State> state) : s_(std::move(state)) {}

Pipeline::~Pipeline() = default;

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(const SensorConfig& config,
                                                           StartTimes start) {
  auto s = std::make_unique<State>();
  s->config = config;
  s->start_times = start;
  const uint32_t nw = config.workers;

  // Capture files flowtrail reads itself become ring ports (file_input.h),
  // listed with the EAL's own ports.
  if (absl::Status st = s->meta.Register(); !st.ok()) {
    return st;
  }
  std::vector<uint16_t> file_port_ids;
  for (const FileVdev& v : config.file_inputs) {
    absl::StatusOr<std::unique_ptr<FileInputPort>> fp =
        FileInputPort::Create(v, config.clock_jump_us, static_cast<int>(rte_socket_id()));
    if (!fp.ok()) {
      return fp.status();
    }
    file_port_ids.push_back((*fp)->port_id());
    s->file_ports.push_back(*std::move(fp));
  }
  absl::StatusOr<std::vector<Port>> ports = DiscoverPorts(nw, file_port_ids);
  if (!ports.ok()) {
    return ports.status();
  }
  s->ports = *std::move(ports);
  for (Port& p : s->ports) {
    for (const auto& fp : s->file_ports) {
      if (fp->port_id() == p.id) {
        p.name = fp->name();
        p.driver = "flowtrail_file";
        for (const FileInputStatus& st : fp->Statuses()) {
          p.files.push_back(st.path);
        }
      }
    }
  }

  // Capture mode: forced by --capture/--no-capture, else automatic when every
  // port reads capture files.
  bool all_files = true;
  for (const Port& p : s->ports) {
    all_files = all_files && p.is_file;
  }
  s->capture = config.capture.value_or(all_files);

  // infinite_rx (net_pcap) holds its whole file in mbufs. When every port
  // replays files so, no other frame can arrive: mbufs are sized for the
  // longest frame in them (60-byte frames then take ~450 bytes each, not
  // ~2.4 KiB, so a 4 M-frame replay fits in 2 GiB).
  uint64_t infinite_packets = 0;
  uint32_t infinite_max_frame = 0;
  bool all_infinite = !s->ports.empty();
  for (Port& p : s->ports) {
    if (!p.is_pcap || !p.pcap.infinite_rx) {
      all_infinite = false;
      continue;
    }
    for (const std::string& f : p.pcap.rx_files) {
      absl::StatusOr<PcapShape> shape = ReadPcapShape(f);
      if (!shape.ok()) {
        return shape.status();
      }
      p.capture_packets += shape->packets;
      infinite_max_frame = std::max(infinite_max_frame, shape->max_caplen);
    }
    infinite_packets += p.capture_packets;
  }
  uint32_t data_room = RTE_MBUF_DEFAULT_BUF_SIZE;
  if (all_infinite && infinite_max_frame > 0) {
    data_room = std::min<uint32_t>(
        data_room, RTE_PKTMBUF_HEADROOM + RTE_ALIGN_CEIL(infinite_max_frame, RTE_CACHE_LINE_SIZE));
  }

  bool need_dispatcher = false;
  for (const Port& p : s->ports) {
    need_dispatcher = need_dispatcher || p.mode == PortMode::kDispatch;
  }
  std::vector<unsigned> others;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) { others.push_back(lcore); }
  absl::StatusOr<LcorePlan> plan = PlanLcores(rte_get_main_lcore(), others, nw, need_dispatcher);
  if (!plan.ok()) {
    return plan.status();
  }
  s->plan = *plan;

  // The pool: queue descriptors + rings in flight + per-lcore bursts and
  // caches (+ whole files for infinite_rx). Capture mode uses no per-lcore
  // cache so rte_mempool_avail_count() is what the reader can allocate.
  const unsigned cache = s->capture ? 0 : 256;
  uint64_t wanted = 4096 + infinite_packets;
  for (const Port& p : s->ports) {
    wanted += uint64_t{p.nb_rxq} * (p.is_file ? kFileRingSize + kRxBurst : p.is_pcap ? 64 : 4096);
  }
  if (need_dispatcher) {
    wanted += uint64_t{nw} * kPacketRingSize;
  }
  wanted += uint64_t{rte_lcore_count()} * (2 * kRxBurst + cache);
  if (s->capture) {
    wanted += uint64_t{2} * kCapturePoolMargin;
  }
  const uint32_t pool_size = config.mbufs != 0 ? config.mbufs : PoolSize(wanted);
  if (s->capture && pool_size < kMinCaptureMbufs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--mbufs ", pool_size, " is too small for capture mode (at least ", kMinCaptureMbufs, ")"));
  }
  s->pool =
      rte_pktmbuf_pool_create("ft_mbufs", pool_size, cache, 0, static_cast<uint16_t>(data_room),
                              static_cast<int>(rte_socket_id()));
  if (s->pool == nullptr) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "cannot create a pool of %u mbufs (%s): give the EAL more memory (-m) or fewer --mbufs",
        pool_size, rte_strerror(rte_errno)));
  }
  if (rte_mbuf_dyn_rx_timestamp_register(&s->rx_timestamp.offset, &s->rx_timestamp.flag) != 0) {
    s->rx_timestamp.offset = -1;  // live clock only
    if (s->capture) {
      return absl::InternalError("cannot register the mbuf Rx timestamp field for capture mode");
    }
  }

  for (Port& p : s->ports) {
    if (absl::Status st = StartPort(p, s->pool, nw); !st.ok()) {
      for (const Port& q : s->ports) {
        if (q.id == p.id) {
          break;
        }
        StopPort(q);
      }
      return st;
    }
  }
  s->ports_started = true;

  // Rings and per-lcore blocks.
  s->worker_counters = std::vector<WorkerCounters>(nw);
  s->watermarks = std::make_unique<Watermark[]>(nw);
  const int socket = static_cast<int>(rte_socket_id());
  for (uint32_t w = 0; w < nw; ++w) {
    auto er = CreateRecordRing("ft_exp", w, config.record_ring_size, socket);
    if (!er.ok()) {
      return er.status();
    }
    s->export_rings.push_back(*er);
    auto ar = CreateRecordRing("ft_ana", w, config.record_ring_size, socket);
    if (!ar.ok()) {
      return ar.status();
    }
    s->analytics_rings.push_back(*ar);
    if (config.tracker.attempt_timeout_us != 0) {
      // As many events as records: a burst of decided SYNs fits.
      auto cr = CreateContactRing("ft_con", w, config.record_ring_size, socket);
      if (!cr.ok()) {
        return cr.status();
      }
      s->contact_rings.push_back(*cr);
    }
    if (need_dispatcher) {
      auto pr = CreatePacketRing("ft_pkt", w, kPacketRingSize, socket);
      if (!pr.ok()) {
        return pr.status();
      }
      s->packet_rings.push_back(*pr);
    }
  }

  // Workers: their trackers and the queues they poll themselves.
  std::vector<RxQueueRef> dispatch_queues;
  for (uint32_t w = 0; w < nw; ++w) {
    WorkerSetup ws;
    ws.index = static_cast<uint16_t>(w);
    ws.tracker_config = config.tracker;
    ws.tracker_config.worker_id = static_cast<uint16_t>(w);
    ws.live = config.live;
    ws.live_reader = config.live != nullptr ? config.live->AddReader() : -1;
    for (const Port& p : s->ports) {
      if (p.mode == PortMode::kRss) {
        ws.queues.push_back({p.id, static_cast<uint16_t>(w), NeedsPoolMargin(p)});
      }
      if (p.mode == PortMode::kDirect) {
        for (uint16_t q = 0; q < p.nb_rxq; ++q) {
          ws.queues.push_back({p.id, q, NeedsPoolMargin(p)});
        }
      }
    }
    if (need_dispatcher) {
      ws.input = s->packet_rings[w];
      ws.watermark = &s->watermarks[w];
    }
    ws.to_exporter = s->export_rings[w];
    ws.to_analytics = s->analytics_rings[w];
    if (!s->contact_rings.empty()) {
      ws.contacts_to_analytics = s->contact_rings[w];
    }
    ws.pool = s->pool;
    ws.capture = s->capture;
    ws.rx_timestamp = s->rx_timestamp;
    ws.meta = s->meta;
    ws.counters = &s->worker_counters[w];
    ws.control = &s->control;
    s->workers.push_back(std::make_unique<Worker>(std::move(ws)));
  }
  if (need_dispatcher) {
    DispatcherSetup ds;
    for (const Port& p : s->ports) {
      if (p.mode != PortMode::kDispatch) {
        continue;
      }
      for (uint16_t q = 0; q < p.nb_rxq; ++q) {
        ds.queues.push_back({p.id, q, NeedsPoolMargin(p)});
      }
    }
    ds.worker_rings = s->packet_rings;
    ds.watermarks = s->watermarks.get();
    ds.pool = s->pool;
    ds.capture = s->capture;
    ds.rx_timestamp = s->rx_timestamp;
    ds.meta = s->meta;
    ds.counters = &s->dispatcher_counters;
    ds.control = &s->control;
    s->dispatcher = std::make_unique<Dispatcher>(std::move(ds));
  }

  // The stream. Its sinks' threads start on the control cores.
  std::optional<OnControlCores> on_control_cores(std::in_place);
  // The primary output (a file, or rotating files in a directory); none when
  // the stream goes only to collectors.
  const bool primary = !config.output.empty() || !config.output_dir.empty();
  absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> sink =
      !primary ? std::unique_ptr<exporter::SegmentSink>()
               : exporter::OpenRunOutput({.file = config.output,
                                          .dir = config.output_dir,
                                          .rotate_bytes = config.rotate_bytes,
                                          .rotate_seconds = config.rotate_seconds,
                                          .compress_zstd = config.compress_zstd});
  if (!sink.ok()) {
    return sink.status();
  }
  exporter::StreamInfo info;
  info.sensor_id = config.sensor_id;
  info.snapshots = config.analytics.snapshots;
  if (config.analytics.snapshots) {
    // A few intervals of slack; the analytics lcore skips (and counts) an
    // interval's snapshot rather than wait for a slow exporter.
    s->snapshot_ring = rte_ring_create("ft_snap", 8, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (s->snapshot_ring == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot create the snapshot ring: ", rte_strerror(rte_errno)));
    }
  }
  info.start_time_us = LiveClock().NowUs();
  for (const Port& p : s->ports) {
    const std::vector<std::string>& files = p.is_file ? p.files : p.pcap.rx_files;
    if (files.empty()) {
      info.inputs.push_back(p.name);
    } else {
      for (const std::string& f : files) {
        info.inputs.push_back(f);
      }
    }
  }
  absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> out =
      WithCollectorLinks(*std::move(sink), config.collectors, &s->links);
  if (!out.ok()) {
    return out.status();
  }
  absl::StatusOr<std::unique_ptr<exporter::StreamWriter>> writer =
      exporter::StreamWriter::Create(*std::move(out), info);
  on_control_cores.reset();  // every sink thread has started
  if (!writer.ok()) {
    return writer.status();
  }
  ExporterSetup es;
  es.rings = s->export_rings;
  es.writer = *std::move(writer);
  es.snapshot_ring = s->snapshot_ring;
  es.worker_counters = std::span<WorkerCounters>(s->worker_counters);
  es.counters = &s->exporter_counters;
  es.control = &s->control;
  s->exporter = std::make_unique<Exporter>(std::move(es));
  AnalyticsSetup as;
  as.rings = s->analytics_rings;
  as.contact_rings = s->contact_rings;
  as.config = config.analytics;
  as.attempt_timeout_us = config.tracker.attempt_timeout_us;
  as.live_clock = !s->capture;
  as.worker_counters = std::span<const WorkerCounters>(s->worker_counters);
  as.counters = &s->analytics_counters;
  as.control = &s->control;
  as.snapshot_ring = s->snapshot_ring;
  as.live = config.live;
  as.live_reader = config.live != nullptr ? config.live->AddReader() : -1;
  s->analytics = std::make_unique<AnalyticsLcore>(std::move(as));

  return std::unique_ptr<Pipeline>(new Pipeline(std::move(s)));
}

bool Pipeline::State::ReadersIdle() const {
  if (dispatcher && !control.dispatcher_idle.load(std::memory_order_acquire)) {
    return false;
  }
  for (const auto& w : workers) {
    if (w->IsReader() && !w->ReaderIdle()) {
      return false;
    }
  }
  return true;
}

void Pipeline::State::CheckFirstPacket() {
  if (first_packet_s >= 0) {
    return;
  }
  for (const Port& p : ports) {
    rte_eth_stats st{};
    if (rte_eth_stats_get(p.id, &st) == 0 && st.ipackets > 0) {
      using Seconds = std::chrono::duration<double>;
      const auto now = std::chrono::steady_clock::now();
      first_packet_s = Seconds(now - start_times.process).count();
      Log(LogLevel::kInfo,
          "flowtrail: first packet %.3f s after start (EAL %.3f s, set-up and session "
          "tables %.3f s, then %.3f s to the first packet)",
          first_packet_s, Seconds(start_times.eal_ready - start_times.process).count(),
          Seconds(running - start_times.eal_ready).count(), Seconds(now - running).count());
      return;
    }
  }
}

void Pipeline::State::CheckPrefault() {
  if (prefault_logged || prefaulters.empty()) {
    return;
  }
  uint64_t bytes = 0;
  double seconds = 0;
  for (const auto& p : prefaulters) {
    if (!p->done()) {
      return;
    }
    if (!p->error().empty()) {
      Log(LogLevel::kWarning, "flowtrail: session tables left to first touch: %s",
          p->error().c_str());
      prefault_logged = true;
      return;
    }
    bytes += p->bytes_done();
    seconds = std::max(seconds, p->seconds());
  }
  Log(LogLevel::kInfo, "flowtrail: session tables resident (%.1f MiB faulted in, %.3f s)",
      static_cast<double>(bytes) / (1 << 20), seconds);
  prefault_logged = true;
}

bool Pipeline::State::PollFiles() {
  bool worked = false;
  for (auto& fp : file_ports) {
    worked |= fp->Poll(pool, rx_timestamp, meta);
  }
  return worked;
}

bool Pipeline::State::FilesConsumed() const {
  for (const auto& fp : file_ports) {
    if (!fp->Done()) {
      return false;
    }
    rte_eth_stats st{};
    if (rte_eth_stats_get(fp->port_id(), &st) != 0 || st.ipackets < fp->Delivered()) {
      return false;
    }
  }
  return true;
}

std::vector<FileInputStatus> Pipeline::State::FileStatuses() const {
  std::vector<FileInputStatus> out;
  for (const auto& fp : file_ports) {
    for (FileInputStatus& st : fp->Statuses()) {
      out.push_back(std::move(st));
    }
  }
  return out;
}

uint64_t Pipeline::State::LastCaptureTime() const {
  uint64_t t = Get(dispatcher_counters.max_time_us);
  for (const WorkerCounters& c : worker_counters) {
    t = std::max(t, Get(c.max_time_us));
  }
  return t;
}

Snapshot Pipeline::State::TakeSnapshot(const char* end) const {
  Snapshot snap;
  snap.sensor_id = config.sensor_id;
  snap.output = config.output_dir.empty() ? config.output : config.output_dir;
  snap.capture = capture;
  snap.lcore_plan = plan.Describe();
  snap.end = end;
  snap.elapsed_s = static_cast<double>(rte_rdtsc() - start_tsc) / rte_get_tsc_hz();
  snap.first_packet_s = first_packet_s;
  for (const FileInputStatus& st : FileStatuses()) {
    snap.capture_packets_expected += st.frames;
    snap.inputs.push_back(st);
  }
  for (const Port& p : ports) {
    PortSnapshot ps;
    ps.id = p.id;
    ps.name = p.name;
    ps.driver = p.driver;
    ps.mode = PortModeName(p.mode);
    rte_eth_stats st{};
    if (rte_eth_stats_get(p.id, &st) == 0) {
      ps.rx = st.ipackets;
      ps.imissed = st.imissed;
      ps.nombuf = st.rx_nombuf;
      ps.ierrors = st.ierrors;
      for (uint16_t q = 0; q < p.nb_rxq && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; ++q) {
        ps.queue_rx.push_back(st.q_ipackets[q]);
      }
    }
    snap.ports.push_back(std::move(ps));
  }
  for (size_t i = 0; i < worker_counters.size(); ++i) {
    const WorkerCounters& c = worker_counters[i];
    WorkerSnapshot w;
    w.lcore = plan.workers[i];
    CopyCounters(c, &w);
    snap.workers.push_back(w);
  }
  if (dispatcher) {
    DispatcherSnapshot d;
    d.lcore = plan.dispatcher;
    d.on_main = plan.DispatcherOnMain();
    CopyCounters(dispatcher_counters, &d);
    snap.dispatcher = d;
  }
  snap.records_written = Get(exporter_counters.records_written);
  snap.bytes_written = Get(exporter_counters.bytes_written);
  snap.write_errors = Get(exporter_counters.write_errors);
  snap.collectors = LinkSnapshots(links, snap.records_written);
  snap.analytics_records = Get(analytics_counters.records);
  snap.analytics_contacts = Get(analytics_counters.contacts);
  snap.analytics_snapshots = Get(analytics_counters.snapshots);
  snap.analytics_snapshot_errors = Get(analytics_counters.snapshot_errors);
  snap.snapshots_written = Get(exporter_counters.snapshots_written);
  snap.snapshots_dropped =
      Get(analytics_counters.snapshots_dropped) + Get(exporter_counters.snapshots_too_large);
  if (control.analytics_done.load(std::memory_order_acquire)) {
    snap.analytics_json = analytics->SummaryJson();
  }
  return snap;
}

int Pipeline::Run() {
  State& s = *s_;
  const LcorePlan& plan = s.plan;
  // Bound before any lcore starts, so a busy port fails the start cleanly.
  std::unique_ptr<MetricsServer> metrics;
  if (!s.config.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> m =
        MetricsServer::Start(s.config.metrics_listen);
    if (!m.ok()) {
      Log(LogLevel::kError, "flowtrail: %s", std::string(m.status().message()).c_str());
      return 1;
    }
    metrics = *std::move(m);
    const ListenAddress a = *ParseListenAddress(s.config.metrics_listen);
    Log(LogLevel::kInfo, "flowtrail: metrics at http://%s:%u/metrics", a.host.c_str(), a.port);
  }
  Log(LogLevel::kInfo, "flowtrail: %s mode, %zu port(s), lcores %s", s.capture ? "capture" : "live",
      s.ports.size(), plan.Describe().c_str());
  for (size_t w = 0; w < s.workers.size(); ++w) {
    if (int rc = rte_eal_remote_launch(&Worker::LcoreMain, s.workers[w].get(), plan.workers[w]);
        rc != 0) {
      Log(LogLevel::kError, "flowtrail: cannot launch worker %zu on lcore %u", w, plan.workers[w]);
      return 1;
    }
  }
  // Workers build their session tables on their own lcores; wait for them
  // before any packet is read.
  std::string start_error;
  for (const auto& w : s.workers) {
    while (w->start_state() == Worker::StartState::kStarting) {
      usleep(1000);
    }
    if (w->start_state() == Worker::StartState::kFailed && start_error.empty()) {
      start_error = w->start_error();
    }
  }
  if (!start_error.empty()) {
    s.control.stop_input.store(true, std::memory_order_release);
    s.control.flush.store(true, std::memory_order_release);
    rte_eal_mp_wait_lcore();
    Log(LogLevel::kError, "flowtrail: cannot create a session table: %s", start_error.c_str());
    return 1;
  }
  {
    // Started from the control cores, so the threads run there, never on a
    // worker's core; they inherit that CPU set. The pages still come from
    // each worker's own NUMA node.
    OnControlCores on_control_cores;
    for (size_t w = 0; w < s.workers.size(); ++w) {
      const unsigned socket = rte_lcore_to_socket_id(s.plan.workers[w]);
      s.prefaulters.push_back(std::make_unique<session::Prefaulter>(
          s.workers[w]->MappedRegions(),
          socket == static_cast<unsigned>(SOCKET_ID_ANY) ? -1 : static_cast<int>(socket)));
    }
  }
  s.start_tsc = rte_rdtsc();
  s.running = std::chrono::steady_clock::now();
  // The table sizing, for memory per session (bench/linerate.sh reads it).
  const uint64_t table_bytes = session::Tracker::MemoryBytes(s.config.tracker);
  Log(LogLevel::kInfo,
      "flowtrail: session tables: %zu x %u sessions, %.1f MiB each (%.0f bytes per "
      "session)",
      s.workers.size(), s.config.tracker.capacity, static_cast<double>(table_bytes) / (1 << 20),
      static_cast<double>(table_bytes) / std::max(1u, s.config.tracker.capacity));
  auto launch = [&s](auto& loop, auto* lcore, unsigned id, const char* what) {
    loop.lcore = lcore;
    rte_eal_remote_launch(&std::remove_reference_t<decltype(loop)>::Main, &loop, id);
    s.remote_loops.emplace_back(&loop.beats, absl::StrCat(what, " (lcore ", id, ")"));
  };
  if (s.dispatcher && !plan.DispatcherOnMain()) {
    launch(s.dispatcher_loop, s.dispatcher.get(), plan.dispatcher, "the dispatcher");
  }
  if (!plan.ExporterOnMain()) {
    launch(s.exporter_loop, s.exporter.get(), plan.exporter, "the exporter");
  }
  if (!plan.AnalyticsOnMain()) {
    launch(s.analytics_loop, s.analytics.get(), plan.analytics, "the analytics lcore");
  }
  s.RunMainLoop();
  rte_eal_mp_wait_lcore();

  const bool end_of_input = s.control.flush_reason == record::EndReason::kEndOfInput;
  const Snapshot snap = s.TakeSnapshot(end_of_input ? "end_of_input" : "shutdown");
  fputs(SummaryText(snap).c_str(), stderr);
  int rc = 0;
  for (const FileInputStatus& in : snap.inputs) {
    if (in.end == capture::ReadStatus::kCorrupt) {
      rc = 3;  // the records are complete up to the invalid record; the rest was not read
    }
  }
  if (!s.config.stats_json.empty()) {
    std::ofstream out(s.config.stats_json, std::ios::trunc);
    out << StatsJson(snap);
    if (!out.good()) {
      Log(LogLevel::kError, "flowtrail: cannot write %s", s.config.stats_json.c_str());
      rc = 1;
    }
  }
  if (snap.write_errors > 0) {
    Log(LogLevel::kError, "flowtrail: the record stream %s is incomplete (write errors)",
        snap.output.c_str());
    rc = 1;
  }
  return rc;
}

void Pipeline::State::Heartbeats(std::vector<uint64_t>* beats,
                                 std::vector<std::string>* names) const {
  beats->clear();
  for (const WorkerCounters& c : worker_counters) {
    beats->push_back(Get(c.packets) + Get(c.clock_us));
  }
  for (const auto& [loop_beats, name] : remote_loops) beats->push_back(Get(*loop_beats));
  if (names == nullptr) return;
  names->clear();
  for (size_t w = 0; w < worker_counters.size(); ++w) {
    names->push_back(absl::StrCat("worker ", w, " (lcore ", plan.workers[w], ")"));
  }
  for (const auto& [loop_beats, name] : remote_loops) names->push_back(name);
}

void Pipeline::State::RunMainLoop() {
  enum class Phase { kRunning, kStopping, kFlushing };
  Phase phase = Phase::kRunning;
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t control_period = hz / 1000;  // 1 ms
  uint64_t next_control = start_tsc;
  const uint64_t status_period =
      config.status_interval_s > 0 ? static_cast<uint64_t>(config.status_interval_s * hz) : 0;
  uint64_t next_status = start_tsc + status_period;
  const uint64_t duration_tsc =
      config.duration_s > 0 ? static_cast<uint64_t>(config.duration_s * hz) : 0;
  Snapshot last_status = TakeSnapshot("running");
  RegisterTelemetry();
  const uint64_t telemetry_period = hz / 4;
  uint64_t next_telemetry = start_tsc;
  IdleBackoff backoff;
  // systemd (Type=notify): every lcore runs now.
  ServiceWatchdog watchdog(SystemdNotify::FromEnvironment());
  std::vector<uint64_t> beats;
  uint64_t telemetry_ticks = 0;
  if (watchdog.enabled()) {
    std::vector<std::string> names;
    Heartbeats(&beats, &names);
    watchdog.Ready(std::move(names), absl::StrCat(capture ? "capture" : "live", " mode, ",
                                                  workers.size(), " worker(s), running"));
  }

  for (;;) {
    bool worked = false;
    if (phase == Phase::kRunning) {
      worked |= PollFiles();
    }
    if (dispatcher && plan.DispatcherOnMain()) {
      worked |= dispatcher->Poll();
    }
    if (plan.ExporterOnMain()) {
      worked |= exporter->Poll();
    }
    if (plan.AnalyticsOnMain()) {
      worked |= analytics->Poll();
    }
    const uint64_t now = rte_rdtsc();
    if (now >= next_control) {
      next_control = now + control_period;
      CheckFirstPacket();
      CheckPrefault();
      if (config.live != nullptr) config.live->ControlTick();  // SIGHUP
      if (watchdog.enabled() && phase == Phase::kRunning) {
        Heartbeats(&beats, nullptr);
        watchdog.Tick(static_cast<uint64_t>(static_cast<double>(now - start_tsc) * 1e6 /
                                            static_cast<double>(hz)),
                      beats);
      }
      if (phase == Phase::kRunning) {
        const int sig = stop_signal.load(std::memory_order_relaxed);
        bool stop = sig != 0 || (duration_tsc != 0 && now - start_tsc >= duration_tsc);
        // The end of a capture: every file ended (at its end, or where it
        // stopped being valid) and the ports handed on all it delivered.
        const bool eof = !stop && capture && !file_ports.empty() && FilesConsumed();
        if (stop || eof) {
          control.flush_reason =
              eof ? record::EndReason::kEndOfInput : record::EndReason::kShutdown;
          control.stop_input.store(true, std::memory_order_release);
          phase = Phase::kStopping;
          watchdog.Stopping();
        }
      }
      if (phase == Phase::kStopping && ReadersIdle()) {
        // Capture mode: every worker first expires what would have idled out
        // by the last packet, then flushes at that time.
        control.flush_time_us = capture ? LastCaptureTime() : 0;
        control.flush.store(true, std::memory_order_release);
        phase = Phase::kFlushing;
      }
      if (phase == Phase::kFlushing &&
          control.workers_done.load(std::memory_order_acquire) == workers.size() &&
          control.exporter_done.load(std::memory_order_acquire) &&
          control.analytics_done.load(std::memory_order_acquire)) {
        return;
      }
      if (now >= next_telemetry) {
        next_telemetry = now + telemetry_period;
        const Snapshot snap = TakeSnapshot("running");
        PublishTelemetry(snap);
        if (watchdog.enabled() && ++telemetry_ticks % 4 == 0) {
          // "flowtrail: 12.0s rx=... " without the prefix, once a second.
          const std::string line = StatusLine(snap, last_status);
          watchdog.Status(std::string_view(line).substr(line.find(' ') + 1));
        }
      }
      if (status_period != 0 && now >= next_status) {
        next_status = now + status_period;
        Snapshot snap = TakeSnapshot("running");
        Log(LogLevel::kInfo, "%s", StatusLine(snap, last_status).c_str());
        last_status = std::move(snap);
      }
    }
    backoff.Update(worked);
  }
}

}  // namespace flowtrail::dataplane
