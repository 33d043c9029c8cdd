// The collector in-process over loopback (plaintext: the peer is loopback):
// acks after storage, duplicates skipped and counted, the durable-batch hook,
// a restarted collector rebuilding what it holds from the files.
#include "collect/collector.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "export/rotating_file_sink.h"
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

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/collect_test_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Collector> Make(DurableConsumer* consumer, uint64_t max_buffered = 512 << 20) {
    CollectorOptions o;
    o.max_buffered_bytes = max_buffered;
    o.dir = dir_;
    o.log = nullptr;
    o.consumer = consumer;
    o.sink_factory =
        [](const std::string& d,
           const v1::StreamHeader&) -> absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> {
      exporter::RotatingFileOptions r;
      r.dir = d;
      absl::StatusOr<std::unique_ptr<exporter::RotatingFileSink>> s =
          exporter::RotatingFileSink::Create(std::move(r));
      if (!s.ok()) return s.status();
      return std::unique_ptr<exporter::SegmentSink>(*std::move(s));
    };
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
// inside a frame: the next one to start cuts that frame off (it was never
// acknowledged), so the file stops after a whole frame, and knows the
// frames before. A closed segment (.ftr) cut short is left as it is.
TEST_F(CollectorTest, RestartCutsAnUnfinishedFrameOffAnOpenSegment) {
  const std::string whole = Segment(1, 20, false);
  std::string r21;
  AppendFrame(RecordFrame(21), &r21);
  const std::string sub = dir_ + "/s1";
  std::filesystem::create_directories(sub);
  const std::string part = sub + "/a.ftr.part", closed = sub + "/b.ftr";
  for (const std::string& f : {part, closed}) {
    std::ofstream out(f, std::ios::binary);
    const std::string bytes = (f == closed ? Segment(30, 31, false) : whole) + r21.substr(0, 5);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const uintmax_t closed_size = std::filesystem::file_size(closed);
  auto c = Make(nullptr);
  EXPECT_EQ(std::filesystem::file_size(part), whole.size());
  EXPECT_EQ(std::filesystem::file_size(closed), closed_size);
  ASSERT_EQ(c->runs().size(), 1u);
  EXPECT_EQ(c->runs().begin()->second.held.ToString(), "1-20,30-31");
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
