#include "export/collector_link.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "export/byte_sinks.h"
#include "export/fanout_sink.h"
#include "export/stream_format.h"
#include "export/stream_reader.h"
#include "export/stream_writer.h"
#include "google/protobuf/io/coded_stream.h"
#include "record_gen.h"
#include "stream_test_util.h"

namespace flowtrail::exporter {
namespace {

using test::AppendFrame;
using test::AppendVarint;
using test::RecordFrame;

constexpr char kRunId[] = "0123456789abcdef0123456789abcdef";

v1::StreamHeader RunHeader() {
  v1::StreamHeader h;
  h.set_schema_version(v1::SCHEMA_VERSION_1);
  h.set_schema_revision(kSchemaRevisionSegments);
  h.set_sensor_id("s1");
  h.set_run_id(kRunId);
  return h;
}

// Blocks of `frames` record frames each, numbered from 1.
// Record frames first..first+n-1, as one block's bytes.
std::string RecordFrames(uint64_t first, int n) {
  std::string data;
  for (int i = 0; i < n; ++i) AppendFrame(RecordFrame(first + i), &data);
  return data;
}

struct Blocks {
  std::vector<std::string> bytes;
  std::vector<BlockInfo> info;
  Blocks(int count, int frames) {
    uint64_t seq = 1;
    for (int b = 0; b < count; ++b) {
      bytes.push_back(RecordFrames(seq, frames));
      info.push_back({.first_sequence = seq,
                      .frames = static_cast<uint64_t>(frames),
                      .records = static_cast<uint64_t>(frames)});
      seq += frames;
    }
  }
  uint64_t records() const {
    return info.empty() ? 0 : info.back().first_sequence + info.back().frames - 1;
  }
  void Write(SegmentSink& sink, size_t from, size_t to) const {
    for (size_t i = from; i < to; ++i) {
      ASSERT_TRUE(sink.Write(test::Bytes(bytes[i]), info[i]).ok());
    }
  }
};

// Waits (generously) for a condition the link's thread makes true; the
// assertions are on the condition, never on the time it took.
template <typename F>
bool WaitFor(F f) {
  for (int i = 0; i < 60'000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return f();
}

uint64_t Get(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }

// An in-process collector speaking the contract: reads a segment per
// connection, checks it (header first, consecutive sequences, run id), acks
// every `ack_every` data frames (never beyond `ack_limit`), can be stopped
// like a killed process (no more acks, connections cut) and restarted on the
// same port, and can answer with bad acks.
class TestCollector {
 public:
  enum class BadAck { kNone, kWrongRun, kBeyondSent, kDecreasing, kOversized, kRefuse };
  struct Options {
    int ack_every = 1;
    uint64_t ack_limit = UINT64_MAX;
    BadAck bad = BadAck::kNone;
    bool bad_once = true;  // only on the first connection
    SSL_CTX* tls = nullptr;
    bool any_run = false;  // segments of other runs than kRunId are fine
  };

  explicit TestCollector(Options o) : o_(o) {}
  ~TestCollector() { Stop(); }

  void Start() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    ASSERT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
    ASSERT_EQ(listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    stop_ = false;
    thread_ = std::thread([this] { Serve(); });
  }

  // Like SIGKILL: the connection is cut, nothing more is acknowledged.
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  void set_ack_limit(uint64_t limit) { o_.ack_limit = limit; }  // while stopped

  struct Seen {
    std::vector<uint64_t> data;  // every data frame sequence, in receipt order
    std::vector<uint64_t> segment_firsts;
    int connections = 0;
    int trailers = 0;
    uint64_t trailer_records = 0;
    int violations = 0;  // frames out of order, wrong run id, header not first
    std::string violation;
    // By run id: data frame sequences, segments, and the trailers' records
    // and records_dropped.
    std::map<std::string, std::vector<uint64_t>> run_data;
    std::vector<std::string> segment_runs;
    std::map<std::string, std::pair<uint64_t, uint64_t>> run_trailer;
  };
  Seen seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      timeval tv{0, 10'000};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      Handle(fd);
      close(fd);
    }
  }

  ssize_t Read(SSL* ssl, int fd, uint8_t* buf, size_t n) {
    if (ssl == nullptr) {
      const ssize_t r = recv(fd, buf, n, 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
      return r == 0 ? -1 : r;
    }
    const int r = SSL_read(ssl, buf, static_cast<int>(n));
    if (r > 0) return r;
    const int e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
  }

  void Send(SSL* ssl, int fd, const std::string& b) {
    if (ssl != nullptr) {
      (void)SSL_write(ssl, b.data(), static_cast<int>(b.size()));
    } else {
      (void)send(fd, b.data(), b.size(), MSG_NOSIGNAL);
    }
  }

  void Ack(SSL* ssl, int fd, const std::string& run_id, uint64_t durable) {
    v1::CollectorAck ack;
    ack.set_run_id(run_id);
    ack.set_durable_sequence(durable);
    std::string out;
    AppendFrame(ack, &out);
    Send(ssl, fd, out);
  }

  static void AppendFrame(const google::protobuf::Message& m, std::string* out) {
    const std::string body = m.SerializeAsString();
    AppendVarint(body.size(), out);
    out->append(body);
  }

  void Violation(const std::string& what) {
    std::lock_guard<std::mutex> l(mu_);
    ++seen_.violations;
    seen_.violation = what;
  }

  void Handle(int fd) {
    SSL* ssl = nullptr;
    if (o_.tls != nullptr) {
      ssl = SSL_new(o_.tls);
      SSL_set_fd(ssl, fd);
      int r;
      while ((r = SSL_accept(ssl)) != 1) {
        const int e = SSL_get_error(ssl, r);
        if (stop_ || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)) {
          SSL_free(ssl);
          return;
        }
      }
    }
    int conn;
    {
      std::lock_guard<std::mutex> l(mu_);
      conn = ++seen_.connections;
    }
    const bool bad = o_.bad != BadAck::kNone && (!o_.bad_once || conn == 1);
    std::string in;
    bool have_header = false;
    uint64_t next = 0;
    uint64_t since_ack = 0;
    uint64_t acked = 0;
    std::string run_id;
    uint8_t buf[65536];
    while (!stop_) {
      const ssize_t r = Read(ssl, fd, buf, sizeof(buf));
      if (r < 0) break;
      in.append(reinterpret_cast<char*>(buf), static_cast<size_t>(r));
      for (;;) {
        google::protobuf::io::CodedInputStream cis(reinterpret_cast<const uint8_t*>(in.data()),
                                                   static_cast<int>(in.size()));
        uint64_t len = 0;
        if (!cis.ReadVarint64(&len)) break;
        const size_t used = static_cast<size_t>(cis.CurrentPosition());
        if (in.size() < used + len) break;
        v1::Frame f;
        if (!f.ParseFromArray(in.data() + used, static_cast<int>(len))) {
          Violation("unparsable frame");
          break;
        }
        in.erase(0, used + len);
        if (f.has_header()) {
          if (have_header) Violation("second header");
          have_header = true;
          run_id = f.header().run_id();
          if (run_id != kRunId && !o_.any_run) Violation("run id");
          next = f.header().first_sequence();
          if (f.sequence() != next - 1) Violation("header sequence");
          acked = next - 1;
          std::lock_guard<std::mutex> l(mu_);
          seen_.segment_firsts.push_back(next);
          seen_.segment_runs.push_back(run_id);
          continue;
        }
        if (!have_header) Violation("data before header");
        if (f.has_trailer()) {
          if (f.sequence() != next) Violation("trailer sequence");
          {
            std::lock_guard<std::mutex> l(mu_);
            ++seen_.trailers;
            seen_.trailer_records = f.trailer().records();
            seen_.run_trailer[run_id] = {f.trailer().records(), f.trailer().records_dropped()};
          }
          Ack(ssl, fd, run_id, next - 1);
          continue;
        }
        if (f.sequence() != next) Violation("gap in a segment");
        {
          std::lock_guard<std::mutex> l(mu_);
          seen_.data.push_back(f.sequence());
          seen_.run_data[run_id].push_back(f.sequence());
        }
        ++next;
        if (++since_ack >= static_cast<uint64_t>(o_.ack_every)) {
          since_ack = 0;
          const uint64_t d = std::min(next - 1, o_.ack_limit);
          if (bad) {
            switch (o_.bad) {
              case BadAck::kWrongRun:
                Ack(ssl, fd, "ffffffffffffffffffffffffffffffff", d);
                break;
              case BadAck::kBeyondSent:
                Ack(ssl, fd, run_id, d + 1000);
                break;
              case BadAck::kDecreasing:
                Ack(ssl, fd, run_id, d);
                Ack(ssl, fd, run_id, d - 1);
                break;
              case BadAck::kOversized: {
                std::string out;
                AppendVarint(5000, &out);
                out.append(5000, 'x');
                Send(ssl, fd, out);
                break;
              }
              case BadAck::kRefuse: {
                v1::CollectorAck ack;
                ack.set_error("not enrolled");
                std::string out;
                AppendFrame(ack, &out);
                Send(ssl, fd, out);
                break;
              }
              case BadAck::kNone:
                break;
            }
          } else if (d > acked) {
            acked = d;
            Ack(ssl, fd, run_id, d);
          }
        }
      }
    }
    if (ssl != nullptr) SSL_free(ssl);
  }

  Options o_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  Seen seen_;
};

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/link_test_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

CollectorLinkOptions Loopback(uint16_t port) {
  CollectorLinkOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.backoff_min_ms = 5;
  o.backoff_max_ms = 50;
  o.drain_timeout_ms = 60'000;
  return o;
}

std::unique_ptr<CollectorLink> MakeLink(CollectorLinkOptions o) {
  absl::StatusOr<std::unique_ptr<CollectorLink>> l = CollectorLink::Create(std::move(o));
  EXPECT_TRUE(l.ok()) << l.status();
  return l.ok() ? *std::move(l) : nullptr;
}

// Every sequence 1..n at least once; duplicates counted.
void ExpectNoGap(const TestCollector::Seen& s, uint64_t n, uint64_t* duplicates = nullptr) {
  std::set<uint64_t> unique(s.data.begin(), s.data.end());
  EXPECT_EQ(unique.size(), n);
  if (!unique.empty()) {
    EXPECT_EQ(*unique.begin(), 1u);
    EXPECT_EQ(*unique.rbegin(), n);
  }
  EXPECT_EQ(s.violations, 0) << s.violation;
  if (duplicates != nullptr) *duplicates = s.data.size() - unique.size();
}

TEST(CollectorLink, DeliversEveryFrameInOrder) {
  TestCollector c({.ack_every = 3});
  c.Start();
  auto link = MakeLink(Loopback(c.port()));
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(link->Begin(RunHeader()).ok());
  Blocks blocks(200, 5);
  blocks.Write(*link, 0, 200);
  ASSERT_TRUE(link->End({.next_sequence = 1001, .records_dropped = 0, .end_time_us = 7}).ok());
  const TestCollector::Seen s = c.seen();
  ASSERT_EQ(s.data.size(), 1000u);
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(s.data[i], i + 1);
  EXPECT_EQ(s.violations, 0) << s.violation;
  EXPECT_EQ(s.connections, 1);
  EXPECT_EQ(s.trailers, 1);
  EXPECT_EQ(s.trailer_records, 1000u);
  const CollectorLinkCounters& k = link->counters();
  EXPECT_EQ(Get(k.records_sent), 1000u);
  EXPECT_EQ(Get(k.records_acked), 1000u);
  EXPECT_EQ(Get(k.acked_sequence), 1000u);
  EXPECT_EQ(Get(k.records_dropped), 0u);
  EXPECT_EQ(Get(k.records_undelivered), 0u);
  EXPECT_EQ(Get(k.connects), 1u);
  EXPECT_EQ(Get(k.queued_bytes), 0u);
}

TEST(CollectorLink, CollectorDownAtStartSpillsThenReplaysWithoutGap) {
  TestCollector c({.ack_every = 2});
  c.Start();
  c.Stop();  // the port is known, nobody listens
  TempDir spill;
  CollectorLinkOptions o = Loopback(c.port());
  o.queue_bytes = 16 << 10;  // a few blocks in memory, the rest spills
  o.spill_dir = spill.path();
  o.spill_budget = 64 << 20;
  auto link = MakeLink(o);
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(link->Begin(RunHeader()).ok());
  Blocks blocks(300, 4);
  const CollectorLinkCounters& k = link->counters();
  for (size_t i = 0; i < 300; ++i) {
    blocks.Write(*link, i, i + 1);
    // Lets the thread move the block out of the ring (into the spill once
    // the in-memory half, 8 KiB, is full), so the ring never overflows.
    ASSERT_TRUE(WaitFor([&] { return Get(k.blocks_taken) == i + 1; }));
  }
  EXPECT_GT(Get(k.spilled_total), 0u);
  EXPECT_GT(Get(k.connect_failures), 0u);
  EXPECT_EQ(Get(k.records_dropped), 0u);
  EXPECT_FALSE(std::filesystem::is_empty(spill.path() + "/127.0.0.1_" + std::to_string(c.port()) +
                                         "/" + kRunId));
  c.Start();
  ASSERT_TRUE(link->End({.next_sequence = 1201, .records_dropped = 0, .end_time_us = 7}).ok());
  const TestCollector::Seen s = c.seen();
  ASSERT_EQ(s.data.size(), 1200u);  // nothing was sent before: no duplicates
  for (uint64_t i = 0; i < 1200; ++i) ASSERT_EQ(s.data[i], i + 1);
  EXPECT_EQ(s.violations, 0) << s.violation;
  EXPECT_EQ(Get(k.records_acked), 1200u);
  EXPECT_EQ(Get(k.spilled_bytes), 0u);
  EXPECT_EQ(Get(k.records_undelivered), 0u);
  // Everything acknowledged: the run's spill directory is gone.
  EXPECT_FALSE(std::filesystem::exists(spill.path() + "/127.0.0.1_" + std::to_string(c.port()) +
                                       "/" + kRunId));
}

constexpr char kLaterRun[] = "fedcba9876543210fedcba9876543210";

// The files of a run's spill directory.
std::vector<std::string> RunFiles(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(f.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A run that ends while the collector is away: every block it could not
// deliver (those still in memory too) stays in its spill directory with its
// header and end.
void LeaveAnUndeliveredRun(const CollectorLinkOptions& o, size_t blocks_n, int frames) {
  CollectorLinkOptions first = o;
  first.drain_timeout_ms = 100;  // gives up: nobody listens
  auto link = MakeLink(first);
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(link->Begin(RunHeader()).ok());
  Blocks blocks(static_cast<int>(blocks_n), frames);
  const CollectorLinkCounters& k = link->counters();
  for (size_t i = 0; i < blocks_n; ++i) {
    blocks.Write(*link, i, i + 1);
    ASSERT_TRUE(WaitFor([&] { return Get(k.blocks_taken) == i + 1; }));
  }
  ASSERT_TRUE(
      link->End({.next_sequence = blocks.records() + 1, .records_dropped = 3, .end_time_us = 7})
          .ok());
  EXPECT_EQ(Get(k.records_undelivered), blocks.records());
  EXPECT_EQ(Get(k.queued_bytes), 0u);
}

TEST(CollectorLink, ALaterRunReplaysAnEarlierRunsSpillFirst) {
  TestCollector c({.ack_every = 2, .any_run = true});
  c.Start();
  c.Stop();  // away while the first run lives
  TempDir spill;
  CollectorLinkOptions o = Loopback(c.port());
  o.queue_bytes = 16 << 10;  // a few blocks in memory at the end, the rest spilled
  o.spill_dir = spill.path();
  o.spill_budget = 64 << 20;
  const std::string link_dir = spill.path() + "/127.0.0.1_" + std::to_string(c.port());
  LeaveAnUndeliveredRun(o, 300, 4);
  std::vector<std::string> files = RunFiles(link_dir + "/" + kRunId);
  ASSERT_EQ(files.size(), 303u);  // 300 blocks, end, header, lock
  EXPECT_EQ(files[300], "end.bin");
  EXPECT_EQ(files[301], "header.pb");

  c.Start();
  v1::StreamHeader later = RunHeader();
  later.set_run_id(kLaterRun);
  auto link = MakeLink(o);
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(link->Begin(later).ok());
  Blocks blocks(10, 5);
  const CollectorLinkCounters& k = link->counters();
  for (size_t i = 0; i < 10; ++i) {
    blocks.Write(*link, i, i + 1);  // the ring holds 8 KiB: one block at a time
    ASSERT_TRUE(WaitFor([&] { return Get(k.blocks_taken) == i + 1; }));
  }
  ASSERT_TRUE(link->End({.next_sequence = 51, .records_dropped = 0, .end_time_us = 9}).ok());
  const TestCollector::Seen s = c.seen();
  EXPECT_EQ(s.violations, 0) << s.violation;
  // The earlier run first, whole and in order, ended by its own trailer
  // (its records, the drops its end recorded); then the later run.
  EXPECT_EQ(s.segment_runs, (std::vector<std::string>{kRunId, kLaterRun}));
  std::vector<uint64_t> want(1200);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(s.run_data.at(kRunId), want);
  want.resize(50);
  EXPECT_EQ(s.run_data.at(kLaterRun), want);
  EXPECT_EQ(s.run_trailer.at(kRunId), std::make_pair(uint64_t{1200}, uint64_t{3}));
  EXPECT_EQ(s.run_trailer.at(kLaterRun), std::make_pair(uint64_t{50}, uint64_t{0}));
  EXPECT_EQ(Get(k.replayed_records), 1200u);
  EXPECT_EQ(Get(k.records_acked), 50u);
  EXPECT_EQ(Get(k.acked_sequence), 50u);  // the later run's own sequences
  EXPECT_EQ(Get(k.records_undelivered), 0u);
  EXPECT_EQ(Get(k.spilled_bytes), 0u);
  // Both delivered: no spill directory is left.
  EXPECT_TRUE(RunFiles(link_dir).empty());
}

TEST(CollectorLink, ARefusedEarlierRunStaysAndALiveRunIsNotReplayed) {
  TestCollector c({.ack_every = 1, .bad = TestCollector::BadAck::kRefuse, .any_run = true});
  c.Start();
  c.Stop();
  TempDir spill;
  CollectorLinkOptions o = Loopback(c.port());
  o.spill_dir = spill.path();
  o.spill_budget = 64 << 20;
  const std::string link_dir = spill.path() + "/127.0.0.1_" + std::to_string(c.port());
  LeaveAnUndeliveredRun(o, 10, 4);
  // Another process's live run: its directory is locked.
  const std::string live = link_dir + "/00000000000000000000000000000000";
  std::filesystem::copy(link_dir + "/" + kRunId, live);
  const int lock = open((live + "/lock").c_str(), O_RDWR);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(flock(lock, LOCK_EX | LOCK_NB), 0);
  const std::vector<std::string> live_files = RunFiles(live);

  c.Start();  // refuses its first connection: the earlier run's replay
  v1::StreamHeader later = RunHeader();
  later.set_run_id(kLaterRun);
  auto link = MakeLink(o);
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(link->Begin(later).ok());
  Blocks blocks(5, 5);
  blocks.Write(*link, 0, 5);
  ASSERT_TRUE(link->End({.next_sequence = 26, .records_dropped = 0, .end_time_us = 9}).ok());
  const TestCollector::Seen s = c.seen();
  EXPECT_EQ(s.segment_runs, (std::vector<std::string>{kRunId, kLaterRun}));
  std::vector<uint64_t> want(25);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(s.run_data.at(kLaterRun), want);
  const CollectorLinkCounters& k = link->counters();
  EXPECT_EQ(Get(k.refusals), 1u);
  EXPECT_EQ(Get(k.replayed_records), 0u);
  EXPECT_EQ(Get(k.records_acked), 25u);
  // The refused run is still on disk for a later try; the live one untouched.
  EXPECT_EQ(RunFiles(link_dir + "/" + kRunId).size(), 13u);
  EXPECT_EQ(RunFiles(live), live_files);
  close(lock);
}

TEST(CollectorLink, CollectorKilledMidStreamResendsFromFirstUnacked) {
  // Acks stop at 100: frames after it are received but never durable.
  TestCollector c({.ack_every = 1, .ack_limit = 100});
  c.Start();
  TempDir spill;
  CollectorLinkOptions o = Loopback(c.port());
  o.spill_dir = spill.path();
  o.spill_budget = 64 << 20;
  auto link = MakeLink(o);
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(link->Begin(RunHeader()).ok());
  Blocks blocks(100, 5);
  blocks.Write(*link, 0, 50);  // 250 frames
  const CollectorLinkCounters& k = link->counters();
  ASSERT_TRUE(WaitFor([&] { return c.seen().data.size() == 250 && Get(k.acked_sequence) == 100; }));
  c.Stop();  // killed: 101..250 received, not durable
  blocks.Write(*link, 50, 100);
  c.set_ack_limit(UINT64_MAX);
  c.Start();  // back on the same port
  ASSERT_TRUE(link->End({.next_sequence = 501, .records_dropped = 0, .end_time_us = 7}).ok());
  const TestCollector::Seen s = c.seen();
  uint64_t dups = 0;
  ExpectNoGap(s, 500, &dups);
  EXPECT_EQ(dups, 150u);  // 101..250 twice, identifiable by sequence
  EXPECT_EQ(s.segment_firsts, (std::vector<uint64_t>{1, 101}));
  for (uint64_t i = 250; i < 400; ++i) EXPECT_EQ(s.data[i], i - 250 + 101);
  EXPECT_EQ(Get(k.reconnects), 1u);
  EXPECT_EQ(Get(k.records_acked), 500u);
  EXPECT_EQ(Get(k.records_undelivered), 0u);
}

TEST(CollectorLink, BeyondTheSpillBudgetDropsAreCountedExactly) {
  TestCollector c({.ack_every = 1});
  c.Start();
  c.Stop();
  TempDir spill;
  CollectorLinkOptions o = Loopback(c.port());
  o.queue_bytes = 16 << 10;
  o.spill_dir = spill.path();
  o.spill_budget = 32 << 10;
  auto link = MakeLink(o);
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(link->Begin(RunHeader()).ok());
  Blocks blocks(400, 4);
  // Written as fast as possible: Write() never waits, it queues or drops.
  blocks.Write(*link, 0, 400);
  const CollectorLinkCounters& k = link->counters();
  EXPECT_GT(Get(k.records_dropped), 0u);
  ASSERT_TRUE(WaitFor([&] { return Get(k.queued_bytes) <= (8 << 10) + 4096; }));
  EXPECT_LE(Get(k.spilled_bytes), 32u << 10);
  c.Start();
  ASSERT_TRUE(link->End({.next_sequence = 1601, .records_dropped = 0, .end_time_us = 7}).ok());
  const TestCollector::Seen s = c.seen();
  std::set<uint64_t> unique(s.data.begin(), s.data.end());
  EXPECT_EQ(unique.size(), s.data.size());  // nothing was sent twice
  EXPECT_EQ(s.violations, 0) << s.violation;
  // Exactly: every record either reached the collector or is counted dropped.
  EXPECT_EQ(Get(k.records_dropped) + unique.size(), 1600u);
  EXPECT_EQ(Get(k.records_acked), unique.size());
  EXPECT_EQ(Get(k.records_undelivered), 0u);
  EXPECT_GT(unique.size(), 0u);
  // Each gap closed a segment: segments are consecutive runs of sequences.
  EXPECT_GE(s.segment_firsts.size(), 1u);
}

TEST(CollectorLink, AFrameLargerThanTheRingsHalfIsTakenBehindQueuedBlocks) {
  // A snapshot frame can be several MiB, more than the ring's half: it must
  // not be dropped just because the record block before it is still queued.
  TestCollector c({.ack_every = 1});
  c.Start();
  CollectorLinkOptions o = Loopback(c.port());
  o.queue_bytes = 16 << 10;  // the ring's half: 8 KiB
  auto link = MakeLink(o);
  ASSERT_NE(link, nullptr);
  ASSERT_TRUE(link->Begin(RunHeader()).ok());
  const CollectorLinkCounters& k = link->counters();
  uint64_t seq = 1;
  for (int round = 0; round < 20; ++round) {
    const std::string small = RecordFrames(seq, 4);
    ASSERT_TRUE(
        link->Write(test::Bytes(small), {.first_sequence = seq, .frames = 4, .records = 4}).ok());
    seq += 4;
    const std::string big = RecordFrames(seq, 400);
    ASSERT_GT(big.size(), size_t{8} << 10);
    ASSERT_TRUE(
        link->Write(test::Bytes(big), {.first_sequence = seq, .frames = 400, .records = 400}).ok());
    seq += 400;
    // The next round starts once both are acknowledged (the queue is empty).
    ASSERT_TRUE(WaitFor([&] { return Get(k.records_acked) + Get(k.records_dropped) == seq - 1; }));
  }
  ASSERT_TRUE(link->End({.next_sequence = seq, .records_dropped = 0, .end_time_us = 7}).ok());
  EXPECT_EQ(Get(k.frames_dropped), 0u);
  EXPECT_EQ(Get(k.records_dropped), 0u);
  ExpectNoGap(c.seen(), seq - 1);
}

TEST(CollectorLink, BadAcksCloseTheConnectionAndAreCounted) {
  for (TestCollector::BadAck bad :
       {TestCollector::BadAck::kWrongRun, TestCollector::BadAck::kBeyondSent,
        TestCollector::BadAck::kDecreasing, TestCollector::BadAck::kOversized,
        TestCollector::BadAck::kRefuse}) {
    SCOPED_TRACE(static_cast<int>(bad));
    TestCollector c({.ack_every = 2, .bad = bad});
    c.Start();
    auto link = MakeLink(Loopback(c.port()));
    ASSERT_NE(link, nullptr);
    ASSERT_TRUE(link->Begin(RunHeader()).ok());
    Blocks blocks(50, 4);
    blocks.Write(*link, 0, 50);
    ASSERT_TRUE(link->End({.next_sequence = 201, .records_dropped = 0, .end_time_us = 7}).ok());
    const CollectorLinkCounters& k = link->counters();
    if (bad == TestCollector::BadAck::kRefuse) {
      EXPECT_EQ(Get(k.refusals), 1u);
    } else {
      EXPECT_EQ(Get(k.bad_acks), 1u);
    }
    EXPECT_GE(c.seen().connections, 2);
    ExpectNoGap(c.seen(), 200);
    EXPECT_EQ(Get(k.records_acked), 200u);
  }
}

// Certificates made with the openssl CLI: a CA, a collector and a sensor
// certificate it signed, and a second CA that signed neither.
class Pki {
 public:
  explicit Pki(const std::string& dir) : dir_(dir) {
    ok_ = Run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ca -keyout ca.key "
              "-out ca.pem") &&
          Run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other -keyout "
              "other.key -out other.pem") &&
          Issue("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost") &&
          Issue("client", "ca", "subjectAltName=DNS:sensor") &&
          Issue("rogue", "other", "subjectAltName=DNS:sensor");
  }
  bool ok() const { return ok_; }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  bool Issue(const std::string& name, const std::string& ca, const std::string& ext) {
    return Run("openssl req -newkey rsa:2048 -nodes -subj /CN=" + name + " -keyout " + name +
               ".key -out " + name + ".csr") &&
           Write(name + ".ext", ext + "\n") &&
           Run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
               ".key -CAcreateserial -days 2 -extfile " + name + ".ext -out " + name + ".pem");
  }
  bool Write(const std::string& name, const std::string& text) {
    std::ofstream out(Path(name));
    out << text;
    return out.good();
  }
  bool Run(const std::string& cmd) {
    return std::system(("cd " + dir_ + " && " + cmd + " >/dev/null 2>&1").c_str()) == 0;
  }
  std::string dir_;
  bool ok_ = false;
};

SSL_CTX* ServerContext(const Pki& pki, const std::string& ca) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate_chain_file(ctx, pki.Path("server.pem").c_str());
  SSL_CTX_use_PrivateKey_file(ctx, pki.Path("server.key").c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_load_verify_locations(ctx, pki.Path(ca).c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

TEST(CollectorLink, MutualTlsAcceptsTheEnrolledAndRefusesOthers) {
  TempDir dir;
  Pki pki(dir.path());
  ASSERT_TRUE(pki.ok()) << "openssl CLI failed";
  SSL_CTX* server = ServerContext(pki, "ca.pem");
  struct Case {
    const char* ca;
    const char* cert;
    bool delivered;
  };
  for (const Case& t : {Case{"ca.pem", "client", true},      // enrolled both ways
                        Case{"other.pem", "client", false},  // the collector's CA is unknown
                        Case{"ca.pem", "rogue", false}}) {   // the sensor is not enrolled
    SCOPED_TRACE(std::string(t.ca) + " " + t.cert);
    TestCollector c({.ack_every = 1, .tls = server});
    c.Start();
    CollectorLinkOptions o = Loopback(c.port());
    o.ca_file = pki.Path(t.ca);
    o.cert_file = pki.Path(std::string(t.cert) + ".pem");
    o.key_file = pki.Path(std::string(t.cert) + ".key");
    o.drain_timeout_ms = t.delivered ? 60'000 : 300;
    auto link = MakeLink(o);
    ASSERT_NE(link, nullptr);
    ASSERT_TRUE(link->Begin(RunHeader()).ok());
    Blocks blocks(20, 5);
    blocks.Write(*link, 0, 20);
    const CollectorLinkCounters& k = link->counters();
    if (!t.delivered) {
      ASSERT_TRUE(WaitFor([&] { return Get(k.tls_failures) > 0; }));
    }
    ASSERT_TRUE(link->End({.next_sequence = 101, .records_dropped = 0, .end_time_us = 7}).ok());
    if (t.delivered) {
      ExpectNoGap(c.seen(), 100);
      EXPECT_EQ(c.seen().trailers, 1);
      EXPECT_EQ(Get(k.tls_failures), 0u);
      EXPECT_EQ(Get(k.records_acked), 100u);
    } else {
      EXPECT_TRUE(c.seen().data.empty());
      EXPECT_GT(Get(k.tls_failures), 0u);
      EXPECT_EQ(Get(k.records_undelivered), 100u);
    }
  }
  SSL_CTX_free(server);
}

TEST(CollectorLink, PlaintextOnlyToLoopbackOrWhenInsecure) {
  CollectorLinkOptions o;
  o.host = "192.0.2.1";  // TEST-NET-1, never loopback
  o.port = 9000;
  absl::StatusOr<std::unique_ptr<CollectorLink>> l = CollectorLink::Create(o);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("--insecure"), std::string::npos) << l.status();
  o.insecure = true;
  EXPECT_TRUE(CollectorLink::Create(o).ok());
  o.insecure = false;
  o.ca_file = "/nonexistent/ca.pem";
  o.cert_file = "/nonexistent/c.pem";
  o.key_file = "/nonexistent/c.key";
  l = CollectorLink::Create(o);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("--collector-ca"), std::string::npos) << l.status();
  o.key_file.clear();
  EXPECT_FALSE(CollectorLink::Create(o).ok());
}

TEST(CollectorLink, ParseHostPort) {
  std::string h;
  uint16_t p = 0;
  ASSERT_TRUE(ParseHostPort("collector.example:7000", &h, &p).ok());
  EXPECT_EQ(h, "collector.example");
  EXPECT_EQ(p, 7000);
  ASSERT_TRUE(ParseHostPort("[::1]:7001", &h, &p).ok());
  EXPECT_EQ(h, "::1");
  EXPECT_EQ(p, 7001);
  EXPECT_FALSE(ParseHostPort("host", &h, &p).ok());
  EXPECT_FALSE(ParseHostPort("host:0", &h, &p).ok());
  EXPECT_FALSE(ParseHostPort("host:70000", &h, &p).ok());
  EXPECT_FALSE(ParseHostPort(":7000", &h, &p).ok());
  EXPECT_FALSE(ParseHostPort("::1:7000", &h, &p).ok());
}

TEST(FanoutSink, ThePrimaryGetsTheWholeStreamAndTheLinkTheSameFrames) {
  TestCollector c({.ack_every = 4});
  c.Start();
  std::string file;
  std::vector<std::unique_ptr<CollectorLink>> links;
  links.push_back(MakeLink(Loopback(c.port())));
  const CollectorLinkCounters* k = &links[0]->counters();
  auto fan = std::make_unique<FanoutSink>(SingleSegment(std::make_unique<MemorySink>(&file)),
                                          std::move(links));
  StreamInfo info;
  info.sensor_id = "s1";
  info.run_id = kRunId;
  absl::StatusOr<std::unique_ptr<StreamWriter>> w = StreamWriter::Create(std::move(fan), info);
  ASSERT_TRUE(w.ok()) << w.status();
  std::vector<record::SessionRecord> recs(3000, flowtrail::testing::FullRecord(4));
  ASSERT_TRUE((*w)->Append(recs).ok());
  ASSERT_TRUE((*w)->Close(/*records_dropped=*/0, /*end_time_us=*/9).ok());
  EXPECT_EQ(Get(k->records_acked), 3000u);
  std::unique_ptr<StreamReader> r = StreamReader::FromBytes(test::Bytes(file));
  uint64_t n = 0;
  for (;;) {
    absl::StatusOr<const v1::SessionRecord*> rec = r->Next();
    ASSERT_TRUE(rec.ok()) << rec.status();
    if (*rec == nullptr) break;
    ++n;
  }
  EXPECT_EQ(n, 3000u);
  const TestCollector::Seen s = c.seen();
  ExpectNoGap(s, 3000);
  EXPECT_EQ(s.trailers, 1);
  EXPECT_EQ(s.trailer_records, 3000u);
}

}  // namespace
}  // namespace flowtrail::exporter
