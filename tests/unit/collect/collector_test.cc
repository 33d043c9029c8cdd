// The collector in-process over loopback (plaintext: the peer is loopback):
// acks after storage, duplicates skipped and counted (only against durable
// copies), the durable-batch hook, a restarted collector rebuilding what it
// holds from the files (fsync'd, finished, refusing on a read error), the
// directory lock.
#include "collect/collector.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "export/rotating_file_sink.h"
#include "export/stream_reader.h"
#include "google/protobuf/io/coded_stream.h"
#include "stream_test_util.h"

namespace flowtrail::collect {
namespace {

using exporter::test::AppendFrame;
using exporter::test::HeaderFrame;
using exporter::test::RecordFrame;
using exporter::test::TrailerFrame;

std::string Segment(uint64_t first, uint64_t last, bool trailer) {
  std::string s;
  v1::Frame h = HeaderFrame(first - 1);
  h.mutable_header()->set_first_sequence(first);
  h.mutable_header()->set_run_id("00112233445566778899aabbccddeeff");
  AppendFrame(h, &s);
  for (uint64_t i = first; i <= last; ++i) AppendFrame(RecordFrame(i), &s);
  if (trailer) AppendFrame(TrailerFrame(last + 1, last - first + 1), &s);
  return s;
}

class Recorder : public DurableConsumer {
 public:
  absl::Status OnDurable(const DurableBatch& b) override {
    EXPECT_EQ(b.sequences.size(), b.records.size());
    EXPECT_EQ(b.first_sequence, b.sequences.front());
    for (size_t i = 0; i < b.records.size(); ++i) {
      EXPECT_EQ(b.records[i].session_id(), b.sequences[i]);
      seqs.push_back(b.sequences[i]);
    }
    return absl::OkStatus();
  }
  std::vector<uint64_t> seqs;
};

// A connection to the collector that has sent `bytes`.
int Connect(uint16_t port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  return fd;
}

// Half-closes a connection and returns the last durable_sequence acked.
uint64_t Finish(int fd, std::string* error) {
  ::shutdown(fd, SHUT_WR);
  std::string in;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) in.append(buf, static_cast<size_t>(n));
  ::close(fd);
  uint64_t durable = 0;
  google::protobuf::io::CodedInputStream cis(reinterpret_cast<const uint8_t*>(in.data()),
                                             static_cast<int>(in.size()));
  uint32_t len;
  while (cis.ReadVarint32(&len)) {
    std::string body;
    if (!cis.ReadString(&body, static_cast<int>(len))) break;
    v1::CollectorAck ack;
    EXPECT_TRUE(ack.ParseFromString(body));
    if (!ack.error().empty()) {
      *error = ack.error();
      continue;
    }
    EXPECT_GT(ack.durable_sequence(), durable);  // rises with every ack
    durable = std::max(durable, ack.durable_sequence());
  }
  return durable;
}

// Sends `bytes`, half-closes, and returns the last durable_sequence acked.
uint64_t Send(uint16_t port, const std::string& bytes, std::string* error) {
  return Finish(Connect(port, bytes), error);
}

absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> FileSink(const std::string& dir) {
  exporter::RotatingFileOptions r;
  r.dir = dir;
  absl::StatusOr<std::unique_ptr<exporter::RotatingFileSink>> s =
      exporter::RotatingFileSink::Create(std::move(r));
  if (!s.ok()) return s.status();
  return std::unique_ptr<exporter::SegmentSink>(*std::move(s));
}

// A disk that fails: every Write (ENOSPC), or every Sync (EIO on fsync)
// after writes that seemed to succeed. `writes` counts the Write calls
// (read by the test thread while the collector runs).
class FailingSink : public exporter::SegmentSink {
 public:
  enum Fail { kWrite, kSync };
  FailingSink(Fail fail, std::atomic<int>* writes) : fail_(fail), writes_(writes) {}
  absl::Status Begin(const v1::StreamHeader&) override { return absl::OkStatus(); }
  absl::Status Write(std::span<const uint8_t>, const exporter::BlockInfo&) override {
    ++*writes_;
    if (fail_ == kWrite) return absl::ResourceExhaustedError("write: No space left on device");
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Sync() override {
    if (fail_ == kSync) return absl::DataLossError("fsync: Input/output error");
    return absl::OkStatus();
  }
  absl::Status End(const exporter::StreamEnd&) override { return absl::OkStatus(); }
  absl::Status Abort() override { return absl::OkStatus(); }

 private:
  Fail fail_;
  std::atomic<int>* writes_;
};

// The sequences of the records in a directory's segment files.
std::vector<uint64_t> StoredSequences(const std::string& dir) {
  std::vector<uint64_t> seqs;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (!e.path().string().ends_with(".ftr")) continue;
    auto r = exporter::StreamReader::OpenFile(e.path().string(), {.require_trailer = false});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) continue;
    for (;;) {
      absl::StatusOr<const v1::SessionRecord*> rec = (*r)->Next();
      EXPECT_TRUE(rec.ok()) << e.path() << ": " << rec.status();
      if (!rec.ok() || *rec == nullptr) break;
      seqs.push_back((*r)->last_sequence());
    }
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

void Put(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/collect_test_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  CollectorOptions Options(DurableConsumer* consumer = nullptr) {
    CollectorOptions o;
    o.dir = dir_;
    o.log = nullptr;
    o.consumer = consumer;
    o.sink_factory = [](const std::string& d, const v1::StreamHeader&) { return FileSink(d); };
    return o;
  }

  std::unique_ptr<Collector> Make(DurableConsumer* consumer, uint64_t max_buffered = 512 << 20) {
    CollectorOptions o = Options(consumer);
    o.max_buffered_bytes = max_buffered;
    absl::StatusOr<std::unique_ptr<Collector>> c = Collector::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return *std::move(c);
  }

  std::string dir_;
};

TEST_F(CollectorTest, AcksStoresSkipsDuplicatesAndRebuilds) {
  Recorder rec;
  {
    auto c = Make(&rec);
    std::thread t([&] { EXPECT_TRUE(c->Run().ok()); });
    std::string error;
    EXPECT_EQ(Send(c->port(), Segment(1, 50, false), &error), 50u);
    // A reconnect resending 41..80: 41..50 are duplicates.
    EXPECT_EQ(Send(c->port(), Segment(41, 80, true), &error), 80u);
    EXPECT_EQ(error, "");
    // A bad frame: what came before it is still acknowledged, then refused.
    std::string bad = Segment(100, 104, false) + std::string("\x03\xff\xff\xff", 4);
    EXPECT_EQ(Send(c->port(), bad, &error), 104u);
    EXPECT_NE(error.find("not a valid flowtrail.v1.Frame"), std::string::npos) << error;
    c->RequestStop();
    t.join();
    EXPECT_EQ(c->stats().duplicates, 10u);
    EXPECT_EQ(c->stats().frames_stored, 85u);
    EXPECT_EQ(c->stats().bad_frames.at("bad_protobuf"), 1u);
    const RunState& run = c->runs().begin()->second;
    EXPECT_EQ(run.held.ToString(), "1-80,100-104");
    EXPECT_EQ(run.duplicates, 10u);
    ASSERT_EQ(run.duplicate_ranges.size(), 1u);
    EXPECT_EQ(run.duplicate_ranges[0], std::make_pair(uint64_t{41}, uint64_t{50}));
    EXPECT_NE(c->Summary().find("gaps 81-99"), std::string::npos) << c->Summary();
  }
  // Every stored record went to the consumer once, in order.
  std::vector<uint64_t> want;
  for (uint64_t i = 1; i <= 80; ++i) want.push_back(i);
  for (uint64_t i = 100; i <= 104; ++i) want.push_back(i);
  EXPECT_EQ(rec.seqs, want);
  // A new collector over the same directory knows what is held.
  auto c2 = Make(nullptr);
  ASSERT_EQ(c2->runs().size(), 1u);
  EXPECT_EQ(c2->runs().begin()->second.held.ToString(), "1-80,100-104");
}

// A collector killed while writing leaves its open segment (.part) ending
// inside a frame (or in zeros: blocks allocated, never written): the next
// one to start cuts that tail off (it was never acknowledged), so the file
// stops after a whole frame, gives it its final name (readers glob *.ftr)
// and knows the frames before. A .part without a whole header is removed;
// a closed segment (.ftr) cut short is left as it is.
TEST_F(CollectorTest, RestartFinishesTheOpenSegmentsACrashLeft) {
  const std::string whole = Segment(1, 20, false);
  std::string r21;
  AppendFrame(RecordFrame(21), &r21);
  const std::string sub = dir_ + "/s1";
  std::filesystem::create_directories(sub);
  Put(sub + "/a.ftr.part", whole + r21.substr(0, 5));
  Put(sub + "/b.ftr", Segment(30, 31, false) + r21.substr(0, 5));
  Put(sub + "/.c.ftr.part", Segment(40, 45, false) + std::string(4096, '\0'));
  Put(sub + "/.d.ftr.part", whole.substr(0, 4));
  Put(sub + "/e.ftr", Segment(50, 50, true));
  Put(sub + "/.e.ftr.part", Segment(51, 52, false));  // its final name is taken
  const uintmax_t closed_size = std::filesystem::file_size(sub + "/b.ftr");
  auto c = Make(nullptr);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(sub)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a.ftr", "b.ftr", "c.ftr", "e-1.ftr", "e.ftr"}));
  EXPECT_EQ(std::filesystem::file_size(sub + "/a.ftr"), whole.size());
  EXPECT_EQ(std::filesystem::file_size(sub + "/b.ftr"), closed_size);
  EXPECT_EQ(std::filesystem::file_size(sub + "/c.ftr"), Segment(40, 45, false).size());
  ASSERT_EQ(c->runs().size(), 1u);
  EXPECT_EQ(c->runs().begin()->second.held.ToString(), "1-20,30-31,40-45,50-52");
}

// A file that cannot be read is an error of the scan, not its end: cutting
// there would delete the acknowledged frames after it, and counting only
// what came before would hide them. The collector does not start.
TEST_F(CollectorTest, ARestartScanReadErrorRefusesToStart) {
  const std::string sub = dir_ + "/s1";
  std::filesystem::create_directories(sub + "/b.ftr");  // read(2) fails: EISDIR
  Put(sub + "/a.ftr", Segment(1, 5, true));
  absl::StatusOr<std::unique_ptr<Collector>> c = Collector::Create(Options());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(
                absl::StrCat("cannot read ", sub, "/b.ftr (nothing was cut or counted): Is a")),
            std::string::npos)
      << c.status();
}

// The frames of the files read back count as held (and their resends are
// acknowledged as duplicates) only once the files, their cuts and their
// directory are fsync'd; an fsync that fails stops the start.
TEST_F(CollectorTest, RestartFsyncsWhatItCountsAsHeld) {
  const std::string sub = dir_ + "/s1";
  std::filesystem::create_directories(sub);
  std::string r6;
  AppendFrame(RecordFrame(6), &r6);
  Put(sub + "/a.ftr", Segment(1, 5, true));
  Put(sub + "/.b.ftr.part", Segment(10, 12, false) + r6.substr(0, 3));
  std::vector<std::string> synced;
  CollectorOptions o = Options();
  o.scan_fsync = [&](int fd) {
    char path[4096];
    const ssize_t n = ::readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), path, sizeof path);
    synced.emplace_back(path, n > 0 ? static_cast<size_t>(n) : 0);
    return ::fsync(fd);
  };
  {
    absl::StatusOr<std::unique_ptr<Collector>> c = Collector::Create(o);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->runs().begin()->second.held.ToString(), "1-5,10-12");
  }
  std::sort(synced.begin(), synced.end());
  EXPECT_EQ(synced, (std::vector<std::string>{sub, sub + "/.b.ftr.part", sub + "/a.ftr"}));

  o.scan_fsync = [](int) {
    errno = EIO;
    return -1;
  };
  absl::StatusOr<std::unique_ptr<Collector>> c = Collector::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(absl::StrCat("fsync ", sub, "/a.ftr")), std::string::npos)
      << c.status();
}

// A second collector started by mistake on the same directory would cut and
// rename the running one's open segment: it is refused before it reads any.
TEST_F(CollectorTest, ASecondCollectorOnTheSameDirectoryIsRefused) {
  const std::string sub = dir_ + "/s1";
  std::filesystem::create_directories(sub);
  auto c = Make(nullptr);
  const std::string part = sub + "/.open.ftr.part";
  std::string r2;
  AppendFrame(RecordFrame(2), &r2);
  const std::string bytes = Segment(1, 1, false) + r2.substr(0, 3);
  Put(part, bytes);
  absl::StatusOr<std::unique_ptr<Collector>> second = Collector::Create(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find(absl::StrCat("another flowtrail collect (pid ",
                                                        ::getpid(), ") is storing into ", dir_)),
            std::string::npos)
      << second.status();
  EXPECT_EQ(std::filesystem::file_size(part), bytes.size());  // untouched
  c.reset();                                                  // the lock goes with it
  EXPECT_TRUE(Collector::Create(Options()).ok());
}

// A storage failure (ENOSPC) closes the connection; the frames it did not
// store are not held, so the sensor's resend stores them and is acknowledged.
TEST_F(CollectorTest, AResendAfterAFailedWriteIsStored) {
  std::atomic<int> writes{0};
  int calls = 0;
  CollectorOptions o = Options();
  o.sink_factory =
      [&](const std::string& d,
          const v1::StreamHeader&) -> absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> {
    if (calls++ == 0) return std::make_unique<FailingSink>(FailingSink::kWrite, &writes);
    return FileSink(d);
  };
  auto c = *Collector::Create(o);
  std::thread t([&] { EXPECT_TRUE(c->Run().ok()); });
  std::string err1, err2;
  EXPECT_EQ(Send(c->port(), Segment(1, 10, false), &err1), 0u);
  EXPECT_NE(err1.find("No space left on device"), std::string::npos) << err1;
  EXPECT_EQ(Send(c->port(), Segment(1, 10, true), &err2), 10u);
  EXPECT_EQ(err2, "");
  c->RequestStop();
  t.join();
  EXPECT_EQ(c->stats().duplicates, 0u);
  EXPECT_EQ(c->stats().frames_stored, 10u);
  EXPECT_EQ(c->runs().begin()->second.held.ToString(), "1-10");
  EXPECT_EQ(StoredSequences(dir_ + "/test"), Range(1, 10));
}

// A resend whose first copy is written but not yet fsync'd on another
// connection waits for that fsync; when it fails, that connection is
// closed and the resend is stored: a duplicate is never acknowledged on the
// strength of a copy that failed.
TEST_F(CollectorTest, ADuplicateOfACopyWhoseFsyncFailsIsStored) {
  std::atomic<int> writes{0};
  int calls = 0;
  CollectorOptions o = Options();
  o.sync_interval_ms = 600'000;  // the first copy waits for the resend
  o.sink_factory =
      [&](const std::string& d,
          const v1::StreamHeader&) -> absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> {
    if (calls++ == 0) return std::make_unique<FailingSink>(FailingSink::kSync, &writes);
    return FileSink(d);
  };
  auto c = *Collector::Create(o);
  std::thread t([&] { EXPECT_TRUE(c->Run().ok()); });
  const int first = Connect(c->port(), Segment(1, 10, false));
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       writes == 0 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GT(writes.load(), 0);
  std::string err1, err2;
  EXPECT_EQ(Send(c->port(), Segment(1, 10, true), &err2), 10u);
  EXPECT_EQ(err2, "");
  EXPECT_EQ(Finish(first, &err1), 0u);
  EXPECT_NE(err1.find("storage: fsync: Input/output error"), std::string::npos) << err1;
  c->RequestStop();
  t.join();
  EXPECT_EQ(c->stats().duplicates, 0u);
  EXPECT_EQ(c->runs().begin()->second.held.ToString(), "1-10");
  EXPECT_TRUE(c->runs().begin()->second.pending.ranges().empty());
  EXPECT_EQ(StoredSequences(dir_ + "/test"), Range(1, 10));
}

// A resend whose first copy is unsynced on a live connection that can sync
// is a duplicate: that connection fsyncs first, both are acknowledged.
TEST_F(CollectorTest, ADuplicateOfAnUnsyncedCopyWaitsForItsFsync) {
  CollectorOptions o = Options();
  o.sync_interval_ms = 600'000;
  auto c = *Collector::Create(o);
  std::thread t([&] { EXPECT_TRUE(c->Run().ok()); });
  const int first = Connect(c->port(), Segment(1, 10, false));
  std::string err1, err2;
  EXPECT_EQ(Send(c->port(), Segment(1, 12, true), &err2), 12u);
  EXPECT_EQ(err2, "");
  EXPECT_EQ(Finish(first, &err1), 10u);
  EXPECT_EQ(err1, "");
  c->RequestStop();
  t.join();
  // How many of 1..10 came in before the first connection's bytes were read
  // depends on the scheduling; every frame is stored once either way.
  EXPECT_EQ(c->stats().duplicates + c->stats().frames_stored, 22u);
  EXPECT_EQ(c->runs().begin()->second.held.ToString(), "1-12");
  std::vector<uint64_t> stored = StoredSequences(dir_ + "/test");
  EXPECT_EQ(stored, Range(1, 12));
}

// A hostile first_sequence of 2^64 - 1: its frame would be held as the
// empty interval [2^64 - 1, 0). It is a bad frame on that connection.
TEST_F(CollectorTest, ASequenceThatWouldOverflowIsABadFrame) {
  auto c = Make(nullptr);
  std::thread t([&] { EXPECT_TRUE(c->Run().ok()); });
  std::string s;
  v1::Frame h = HeaderFrame(UINT64_MAX - 1);
  h.mutable_header()->set_first_sequence(UINT64_MAX);
  AppendFrame(h, &s);
  AppendFrame(RecordFrame(UINT64_MAX), &s);
  std::string error;
  EXPECT_EQ(Send(c->port(), s, &error), 0u);
  EXPECT_NE(error.find("frame sequence 18446744073709551615 overflows"), std::string::npos)
      << error;
  c->RequestStop();
  t.join();
  EXPECT_EQ(c->stats().bad_frames.at("bad_sequence"), 1u);
  EXPECT_EQ(c->stats().frames_stored, 0u);
}

// A peer's snapshot whose parse would take ~80 times its bytes is a bad
// frame of its own reason, refused before its parse; what came before it is
// stored and acknowledged.
TEST_F(CollectorTest, ASnapshotBombIsABadFrameOfItsOwnReason) {
  auto c = Make(nullptr);
  std::thread t([&] { EXPECT_TRUE(c->Run().ok()); });
  std::string s = Segment(1, 3, false) + exporter::test::EmptyRowsSnapshotFrame(4, 1 << 20);
  std::string error;
  EXPECT_EQ(Send(c->port(), s, &error), 3u);
  EXPECT_NE(error.find("frame (sequence 4): its snapshot would hold more than"), std::string::npos)
      << error;
  c->RequestStop();
  t.join();
  EXPECT_EQ(c->stats().bad_frames.at("too_many_messages"), 1u);
  EXPECT_EQ(c->stats().frames_stored, 3u);
}

// Incomplete frames are held to a budget across connections: the one that
// would pass it is closed (its error in the ack), the others go on.
TEST_F(CollectorTest, HoldsIncompleteFramesToTheBudget) {
  std::string r6;
  AppendFrame(RecordFrame(6), &r6);
  const size_t h = r6.size() / 2;
  ASSERT_GT(h, 1u);
  auto c = Make(nullptr, /*max_buffered=*/r6.size());
  std::thread t([&] { EXPECT_TRUE(c->Run().ok()); });
  // Records 1..5 and half of 6: once 1..5 are acknowledged the collector
  // has read it all and holds the half.
  const int a = Connect(c->port(), Segment(1, 5, false) + r6.substr(0, h));
  char ack[256];
  ASSERT_GT(::recv(a, ack, sizeof ack, 0), 0);
  // Another run's connection whose incomplete frame passes the budget.
  std::string other = Segment(1, 3, false);
  other.replace(other.find("00112233"), 8, "ffffffff");
  const size_t b = r6.size() - h + 1;
  std::string error;
  EXPECT_EQ(Send(c->port(), other + r6.substr(0, b), &error), 3u);
  EXPECT_NE(error.find(absl::StrCat("over the memory budget: incomplete frames of ", h + b,
                                    " bytes across connections, this one's ", b,
                                    " (--max-buffered-bytes ", r6.size(), ")")),
            std::string::npos)
      << error;
  // The first is still served: record 6 completes, the trailer ends it.
  std::string rest = r6.substr(h);
  AppendFrame(TrailerFrame(7, 6), &rest);
  ASSERT_EQ(::send(a, rest.data(), rest.size(), 0), static_cast<ssize_t>(rest.size()));
  error.clear();
  EXPECT_EQ(Finish(a, &error), 6u);
  EXPECT_EQ(error, "");
  c->RequestStop();
  t.join();
  EXPECT_EQ(c->stats().connections_over_budget, 1u);
  EXPECT_NE(c->Summary().find("over memory budget 1"), std::string::npos) << c->Summary();
  EXPECT_NE(c->StatsJson().find("\"connections_over_budget\": 1"), std::string::npos);
}

TEST_F(CollectorTest, RefusesPlaintextOffLoopbackAndHalfTls) {
  CollectorOptions o;
  o.dir = dir_;
  o.log = nullptr;
  o.sink_factory =
      [](const std::string&,
         const v1::StreamHeader&) -> absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> {
    return absl::UnimplementedError("unused");
  };
  o.listen_host = "0.0.0.0";
  absl::StatusOr<std::unique_ptr<Collector>> c = Collector::Create(o);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("refusing to accept plaintext"), std::string::npos);
  o.insecure = true;
  o.listen_host = "127.0.0.1";
  o.tls_ca = "/nonexistent";
  c = Collector::Create(o);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("needs all of --tls-ca"), std::string::npos);
}

}  // namespace
}  // namespace flowtrail::collect
