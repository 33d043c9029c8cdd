// `flowtrail collect`'s server: accepts sensor connections (TLS with mutual
// certificates, each naming the sensor id its streams may carry, or
// plaintext on loopback / with --insecure), validates every
// frame (FrameDecoder), stores each connection's segment through a
// SegmentSink (one per connection, rotating files under DIR/SENSOR/), fsyncs
// and acknowledges (CollectorAck) what is durable, and keeps per-run interval
// sets of the sequences held to report gaps and duplicates.
//
// Threading: one thread, one epoll loop over non-blocking sockets. The
// machine this runs on has 2 cores and the work per frame is a protobuf
// parse plus a memcpy; a single loop keeps every run's interval set, every
// counter and every sink single-owner with no locks. fsync runs inline (at
// most once per connection per sync interval), which is the one blocking
// call; a pool would only help with many sensors on a slow disk.
//
// Storage: SinkFactory gives each connection's segment its SegmentSink;
// `flowtrail collect` uses the exporter's RotatingFileSink under
// DIR/SENSOR/ (sanitized sensor id), so a collector's files are named and
// cut like a sensor's --output-dir. At start the collector locks DIR (flock
// on DIR/.flowtrail-collect.lock: a second collector on it is refused), then
// reads the files back to rebuild every run's SequenceSet: each is fsync'd
// before its frames count as held; the .part files a crash left lose their
// unfinished last frame (never acknowledged) and get their final name. A
// file that cannot be read stops the start: nothing is cut on a guess.
//
// Acks: CollectorAck{run_id, durable_sequence} after each fsync: at least
// every sync_interval_ms while data flows, at the segment's trailer, and
// when the connection ends (peer close, bad frame, SIGTERM); a bad frame or
// a storage failure then gets an ack with `error` and the connection is
// closed. Every frame before the bad one was validated and is kept.
//
// Duplicates (a sensor resending what was not acknowledged before it
// reconnected): a data frame whose sequence the run already holds durably
// is not stored again; it is counted as a duplicate, covered by the ack, and
// its (sensor, run, sequence) is in the summary. A file therefore never
// repeats a frame, and the run's files cut where duplicates were skipped. A
// sequence counts as held only once it is written and fsync'd: a frame that
// another connection has written but not yet fsync'd makes that connection
// fsync first, and if its storage fails (it is closed) the frame is stored
// again here, so no ack ever rests on a copy that failed.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collect/sequence_set.h"
#include "export/segment.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::collect {

// Records a connection has made durable (written and fsync'd), handed to a
// consumer (the ClickHouse loader) after each fsync, in sequence order.
// Frames skipped as duplicates are not in it. The spans are valid during the
// call.
struct DurableBatch {
  std::string_view sensor_id;
  std::string_view run_id;
  uint64_t first_sequence = 0;  // sequences[0]
  std::span<const uint64_t> sequences;
  std::span<const v1::SessionRecord> records;
};

class DurableConsumer {
 public:
  virtual ~DurableConsumer() = default;
  // An error is logged and counted; the data stays durable and acknowledged
  // (the files are the record of truth).
  virtual absl::Status OnDurable(const DurableBatch& batch) = 0;
};

// Opens the storage of one connection's segment: `sensor_dir` exists
// (DIR/SENSOR/), `run_header` is the segment header with first_sequence
// cleared (the sink frames its own segments).
using SinkFactory = std::function<absl::StatusOr<std::unique_ptr<exporter::SegmentSink>>(
    const std::string& sensor_dir, const v1::StreamHeader& run_header)>;

struct CollectorOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: any (tests read port())
  std::string dir;
  std::string tls_ca, tls_cert, tls_key;  // all three, or none
  bool insecure = false;
  size_t max_connections = 1024;
  // TLS: a sensor's stream header must carry a sensor id its certificate
  // names (subject CN or a DNS subjectAltName), so that one enrolled sensor
  // cannot write into another's files and runs. True accepts any id (sites
  // that issue one certificate to every sensor).
  bool any_sensor_id = false;
  // Memory held for incomplete frames across all connections (the decoders'
  // buffers; a frame may be up to 64 MiB): the connection whose frame would
  // pass it is closed, its sensor resends from its last ack, and the others
  // keep being served.
  uint64_t max_buffered_bytes = uint64_t{512} << 20;
  // A connection with no byte for this long, or a frame (or TLS handshake)
  // incomplete for this long, is closed.
  uint64_t idle_timeout_ms = 120'000;
  // Unsynced data is fsync'd and acknowledged at least this often.
  uint64_t sync_interval_ms = 100;
  // fsync(2) of the start's scan (the files read back, their cuts, their
  // directories); null is ::fsync. Tests inject one to watch or fail it.
  std::function<int(int fd)> scan_fsync;
  SinkFactory sink_factory;
  DurableConsumer* consumer = nullptr;
  std::FILE* log = stderr;
};

struct CollectorStats {
  uint64_t connections_accepted = 0;
  std::map<std::string, uint64_t> connections_refused;    // by reason, before any data frame
  std::map<std::string, uint64_t> connections_timed_out;  // idle, slow
  uint64_t connections_over_budget = 0;                   // --max-buffered-bytes
  uint64_t connections_closed = 0;
  uint64_t frames = 0;  // data frames accepted (stored or duplicate)
  uint64_t records = 0;
  uint64_t frames_stored = 0;
  uint64_t duplicates = 0;
  uint64_t bytes = 0;                          // bytes received on accepted connections
  std::map<std::string, uint64_t> bad_frames;  // by reason
  uint64_t syncs = 0;
  uint64_t acks = 0;
  uint64_t consumer_errors = 0;
};

// What the collector holds of one run.
struct RunState {
  std::string sensor_id;
  std::string run_id;
  // Durable: written and fsync'd, or in the files read back at start.
  SequenceSet held;
  // Written (or about to be) by a connection, not yet fsync'd.
  SequenceSet pending;
  uint64_t duplicates = 0;
  // Inclusive sequence ranges received more than once (capped list).
  std::vector<std::pair<uint64_t, uint64_t>> duplicate_ranges;
};

class Collector {
 public:
  // Checks the options (TLS files, plaintext rule), rebuilds the runs'
  // sequence sets from the files under dir, and listens.
  static absl::StatusOr<std::unique_ptr<Collector>> Create(CollectorOptions options);
  ~Collector();

  // Serves until RequestStop(); then finishes what arrived, fsyncs, sends
  // the final acks and closes every segment.
  absl::Status Run();
  // Async-signal-safe.
  void RequestStop();

  uint16_t port() const { return port_; }
  const CollectorStats& stats() const { return stats_; }
  const std::map<std::pair<std::string, std::string>, RunState>& runs() const { return runs_; }
  // Gaps and duplicates per run, and the counters.
  std::string Summary() const;
  std::string StatsJson() const;

  struct Connection;

 private:
  explicit Collector(CollectorOptions options);
  absl::Status Init();
  absl::Status Rebuild();
  void Accept();
  void OnReadable(Connection& c);
  void OnWritable(Connection& c);
  bool Handshake(Connection& c);
  // Reads what the socket has (at most `budget` bytes); false when the
  // connection was closed.
  bool ReadSome(Connection& c, size_t budget);
  absl::Status OnFrame(Connection& c, const struct DecodedFrame& f);
  absl::Status FlushBlock(Connection& c);
  absl::Status SyncAndAck(Connection& c);
  // `seq` is pending on another connection of c's run: that connection
  // fsyncs now, or is closed if its storage fails.
  void SyncPendingCopy(Connection& c, uint64_t seq);
  absl::Status LockDir();
  void SendAck(Connection& c, const v1::CollectorAck& ack);
  void TryWrite(Connection& c);
  // Ends the connection: what was stored is synced and acknowledged; then,
  // for a bad frame or when `refuse`, `reason` is sent as the ack's error.
  void Close(Connection& c, const std::string& reason, bool bad_frame, bool refuse = false);
  void Timers();
  void Log(const std::string& line) const;
  void Destroy(Connection& c);

  CollectorOptions options_;
  CollectorStats stats_;
  std::map<std::pair<std::string, std::string>, RunState> runs_;
  std::map<uint64_t, std::unique_ptr<Connection>> conns_;
  uint64_t next_conn_id_ = 1;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  int lock_fd_ = -1;  // DIR/.flowtrail-collect.lock, flock'ed while we live
  uint16_t port_ = 0;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*, null for plaintext
  uint64_t last_timer_ms_ = 0;
  bool stopping_ = false;
  std::vector<uint8_t> read_buf_;
  uint64_t buffered_bytes_ = 0;  // the sum of every connection's decoder.held_bytes()
};

// "byte N: frame length ..." -> "frame_length": the counter a decoder error
// goes to.
std::string BadFrameReason(std::string_view message);

}  // namespace flowtrail::collect
