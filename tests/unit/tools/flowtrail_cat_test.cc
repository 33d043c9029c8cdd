// Runs the built `flowtrail` binary (its path comes from meson in
// FLOWTRAIL_BIN) on streams written by StreamWriter.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "export/record_encoder.h"
#include "export/rotating_file_sink.h"
#include "export/stream_reader.h"
#include "export/stream_writer.h"
#include "google/protobuf/io/coded_stream.h"
#include "record_gen.h"
#include "stream_test_util.h"
#include "tools/record_format.h"

namespace flowtrail::tools {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class FlowtrailCatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("FLOWTRAIL_BIN");
    if (bin == nullptr) GTEST_SKIP() << "FLOWTRAIL_BIN not set (run through meson test)";
    bin_ = bin;
    dir_ = fs::temp_directory_path() / ("flowtrail_cat_test." + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  static std::string Slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // `args` is a shell fragment (paths here have no special characters).
  Result Run(const std::string& args) {
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    const std::string cmd = bin_ + " " + args + " >" + out.string() + " 2>" + err.string();
    const int status = std::system(cmd.c_str());
    Result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }

  // Writes `n` records (alternating v4/v6) and returns the path.
  std::string WriteStream(const std::string& name, int n) {
    const std::string path = (dir_ / name).string();
    auto sink = exporter::OpenFileSink(path);
    EXPECT_TRUE(sink.ok());
    auto w = exporter::StreamWriter::Create(*std::move(sink), {.sensor_id = "cat-test"});
    EXPECT_TRUE(w.ok());
    for (int i = 0; i < n; ++i) {
      record::SessionRecord r = flowtrail::testing::FullRecord(i % 2 ? 6 : 4);
      r.session_id = static_cast<uint64_t>(i + 1);
      EXPECT_TRUE((*w)->Append({&r, 1}).ok());
      records_.emplace_back();
      exporter::EncodeRecord(r, &records_.back());
      records_.back().set_sensor_id("cat-test");
    }
    EXPECT_TRUE((*w)->Close(0, 42).ok());
    return path;
  }

  // Writes `n` records as rotated segment files in dir_/name (small files:
  // many segments); returns their paths in sequence order.
  std::vector<std::string> WriteSegments(const std::string& name, int n, bool zstd = false) {
    const fs::path d = dir_ / name;
    fs::create_directories(d);
    auto sink = exporter::RotatingFileSink::Create(
        {.dir = d.string(),
         .rotate_bytes = 2000,
         .compression = zstd ? exporter::Compression::kZstd : exporter::Compression::kNone,
         .fsync_on_close = false});
    EXPECT_TRUE(sink.ok()) << sink.status();
    auto w = exporter::StreamWriter::Create(
        std::unique_ptr<exporter::SegmentSink>(*std::move(sink)), {.sensor_id = "cat-test"});
    EXPECT_TRUE(w.ok());
    for (int i = 0; i < n; ++i) {
      record::SessionRecord r = flowtrail::testing::FullRecord(i % 2 ? 6 : 4);
      r.session_id = static_cast<uint64_t>(i + 1);
      EXPECT_TRUE((*w)->Append({&r, 1}).ok());
      EXPECT_TRUE((*w)->Flush().ok());  // a block per record: many segments
      records_.emplace_back();
      exporter::EncodeRecord(r, &records_.back());
      records_.back().set_sensor_id("cat-test");
    }
    EXPECT_TRUE((*w)->Close(0, 42).ok());
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(d)) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());  // names sort by first sequence
    return files;
  }

  static std::string Join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += " " + x;
    return s;
  }

  std::string Expected(Format f, size_t count) {
    std::string s;
    if (f == Format::kCsv) AppendCsvHeader(&s);
    for (size_t i = 0; i < count; ++i) AppendRecord(f, records_[i], &s);
    return s;
  }

  std::string bin_;
  fs::path dir_;
  std::vector<v1::SessionRecord> records_;
};

TEST_F(FlowtrailCatTest, PrintsEveryRecordInEachFormat) {
  const std::string path = WriteStream("a.ftr", 5);
  Result r = Run("cat --format json " + path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Expected(Format::kJson, 5));
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find(R"("conn_state":"OTH")"), std::string::npos);

  r = Run("cat " + path);  // classic is the default
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Expected(Format::kClassic, 5));

  r = Run("cat --format=csv " + path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Expected(Format::kCsv, 5));
}

TEST_F(FlowtrailCatTest, ReadsStdinAndSeveralFilesWithOneCsvHeader) {
  const std::string a = WriteStream("a.ftr", 2);
  const std::string b = WriteStream("b.ftr", 3);
  Result r = Run("cat --format csv - " + b + " < " + a);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Expected(Format::kCsv, 5));
  r = Run("cat --format classic < " + a);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Expected(Format::kClassic, 2));
}

TEST_F(FlowtrailCatTest, TruncatedStreamPrintsGoodRecordsThenTheOffsetAndFails) {
  const std::string path = WriteStream("t.ftr", 4);
  std::string bytes = Slurp(path);
  // Cut inside the third record: two whole records remain.
  exporter::StreamContents c =
      exporter::ReadStreamBytes({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(c.status.ok());
  size_t header_len = bytes.size();
  {
    // Find where record 3 starts by reading a stream cut at every length.
    for (size_t len = 1; len < bytes.size(); ++len) {
      auto cc = exporter::ReadStreamBytes({reinterpret_cast<const uint8_t*>(bytes.data()), len});
      if (cc.records.size() == 2) {
        header_len = len;  // the end of record 2 = the start of record 3
        break;
      }
    }
  }
  const std::string cut_path = (dir_ / "cut.ftr").string();
  std::ofstream(cut_path, std::ios::binary) << bytes.substr(0, header_len + 5);
  Result r = Run("cat --format json " + cut_path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, Expected(Format::kJson, 2));
  EXPECT_NE(r.err.find(cut_path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("byte " + std::to_string(header_len) + ": stream truncated"),
            std::string::npos)
      << r.err;
}

// A snapshot frame of empty rows (2 bytes each on the wire, ~150 parsed: this
// one took 600 MB before the check) is refused before its parse: cat prints
// the records before it, names the frame and exits 1, staying small.
TEST_F(FlowtrailCatTest, SnapshotBombIsRefusedWithoutBlowingUp) {
  const std::string good = Slurp(WriteStream("g.ftr", 2));
  size_t records_end = 0;  // where the trailer starts
  for (size_t len = 1; len < good.size() && records_end == 0; ++len) {
    auto c = exporter::ReadStreamBytes({reinterpret_cast<const uint8_t*>(good.data()), len});
    if (c.records.size() == 2) records_end = len;
  }
  ASSERT_NE(records_end, 0u);
  const std::string bomb = exporter::test::EmptyRowsSnapshotFrame(3, 4 << 20);  // 8 MiB
  const std::string path = (dir_ / "bomb.ftr").string();
  std::ofstream(path, std::ios::binary) << good.substr(0, records_end) << bomb;
  Result r = Run("cat --allow-unfinished " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, Expected(Format::kClassic, 2));
  EXPECT_NE(r.err.find("byte " + std::to_string(records_end) +
                       ": frame (sequence 3): its snapshot would hold more than"),
            std::string::npos)
      << r.err;
  // The largest child so far (this one's is its 8 MiB of input and a few MiB).
  struct rusage ru = {};
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &ru), 0);
  EXPECT_LT(ru.ru_maxrss, 300 * 1024) << "KiB";
}

TEST_F(FlowtrailCatTest, CorruptFileDoesNotStopTheNextOne) {
  const std::string good = WriteStream("g.ftr", 2);
  const std::string bad = (dir_ / "bad.ftr").string();
  std::ofstream(bad, std::ios::binary) << "\x05garbage";
  Result r = Run("cat " + bad + " " + good);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, Expected(Format::kClassic, 2));
  EXPECT_NE(r.err.find(bad + ": byte 0: "), std::string::npos) << r.err;
}

TEST_F(FlowtrailCatTest, StreamWithoutTrailerFailsUnlessAllowedUnfinished) {
  const std::string path = (dir_ / "open.ftr").string();
  {
    auto sink = exporter::OpenFileSink(path);
    ASSERT_TRUE(sink.ok());
    auto w = exporter::StreamWriter::Create(*std::move(sink), {.sensor_id = "cat-test"});
    ASSERT_TRUE(w.ok());
    record::SessionRecord r = flowtrail::testing::FullRecord(4);
    ASSERT_TRUE((*w)->Append({&r, 1}).ok());
    ASSERT_TRUE((*w)->Flush().ok());
    records_.emplace_back();
    exporter::EncodeRecord(r, &records_.back());
    records_.back().set_sensor_id("cat-test");
    // Left open: like reading the file of a sensor that is still running.
    std::string bytes = Slurp(path);
    Result res = Run("cat --format json " + path);
    EXPECT_EQ(res.exit_code, 1);
    EXPECT_EQ(res.out, Expected(Format::kJson, 1));
    EXPECT_NE(res.err.find("byte " + std::to_string(bytes.size()) +
                           ": stream ends after 1 "
                           "records without a trailer"),
              std::string::npos)
        << res.err;
    res = Run("cat --allow-unfinished --format json " + path);
    EXPECT_EQ(res.exit_code, 0) << res.err;
    EXPECT_EQ(res.out, Expected(Format::kJson, 1));
    ASSERT_TRUE((*w)->Close(0, 0).ok());
  }
}

// A stream the writer would never produce: records with fields outside their
// range (crafted, or corrupted in a way that still parses).
TEST_F(FlowtrailCatTest, RecordWithFieldsOutOfRangeIsAnErrorWithItsOffsetNotGarbage) {
  std::string bytes;
  auto frame = [&bytes](const v1::Frame& f) {
    const std::string body = f.SerializeAsString();
    uint8_t prefix[10];
    const uint8_t* end =
        google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(body.size(), prefix);
    bytes.append(reinterpret_cast<const char*>(prefix), static_cast<size_t>(end - prefix));
    bytes.append(body);
  };
  v1::Frame f;
  f.mutable_header()->set_schema_version(v1::SCHEMA_VERSION_1);
  frame(f);
  f.Clear();
  f.set_sequence(1);
  exporter::EncodeRecord(flowtrail::testing::FullRecord(4), f.mutable_record());
  records_.push_back(f.record());
  frame(f);
  for (auto corrupt : std::vector<void (*)(v1::SessionRecord*)>{
           [](v1::SessionRecord* r) { r->set_client_port(4294967295u); },
           [](v1::SessionRecord* r) { r->set_conn_state(static_cast<v1::ConnState>(99)); },
           [](v1::SessionRecord* r) {
             r->set_server_confidence(static_cast<v1::ServerConfidence>(2147483647));
           },
           [](v1::SessionRecord* r) { r->set_vlan_outer(4096); },
       }) {
    std::string good = bytes;
    v1::Frame bad = f;
    bad.set_sequence(2);
    corrupt(bad.mutable_record());
    frame(bad);
    v1::Frame trailer;
    trailer.set_sequence(3);
    trailer.mutable_trailer()->set_records(2);
    frame(trailer);
    const std::string path = (dir_ / "range.ftr").string();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    for (Format fmt : {Format::kClassic, Format::kJson, Format::kCsv}) {
      const char* name = fmt == Format::kClassic ? "classic"
                         : fmt == Format::kJson  ? "json"
                                                 : "csv";
      Result r = Run(std::string("cat --format ") + name + " " + path);
      EXPECT_EQ(r.exit_code, 1) << name;
      EXPECT_EQ(r.out, Expected(fmt, 1)) << name;
      EXPECT_NE(
          r.err.find(path + ": byte " + std::to_string(good.size()) + ": record (sequence 2): "),
          std::string::npos)
          << r.err;
    }
    bytes = good;
  }
}

// `flowtrail cat ... | head`: the reader of the output goes away. No SIGPIPE
// death (status 141 in a shell), no message: cat stops and exits 0.
TEST_F(FlowtrailCatTest, OutputPipeClosedByItsReaderEndsQuietlyWithZero) {
  const std::string path = WriteStream("big.ftr", 20000);
  for (const char* fmt : {"classic", "json"}) {
    const fs::path err = dir_ / "pipe.stderr", status = dir_ / "pipe.status";
    const std::string cmd = "bash -c '" + bin_ + " cat --format " + fmt + " " + path + " 2>" +
                            err.string() + " | head -1 >/dev/null; echo ${PIPESTATUS[0]} >" +
                            status.string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_EQ(Slurp(status), "0\n") << fmt << " (141 = killed by SIGPIPE)";
    EXPECT_EQ(Slurp(err), "") << fmt;
  }
}

// Any other write error is one: a message naming it, exit 1.
TEST_F(FlowtrailCatTest, OutputThatCannotBeWrittenFailsWithOne) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  const std::string path = WriteStream("full.ftr", 10);
  const fs::path err = dir_ / "full.stderr";
  const int status = std::system((bin_ + " cat " + path + " >/dev/full 2>" + err.string()).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(Slurp(err).find("error writing the output: No space left on device"), std::string::npos)
      << Slurp(err);
}

TEST_F(FlowtrailCatTest, MissingFileIsNamedAndFails) {
  Result r = Run("cat " + (dir_ / "nope.ftr").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope.ftr"), std::string::npos) << r.err;
}

TEST_F(FlowtrailCatTest, ShowHeaderPrintsHeaderAndTrailerToStderr) {
  const std::string path = WriteStream("h.ftr", 1);
  Result r = Run("cat --show-header " + path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Expected(Format::kClassic, 1));
  EXPECT_NE(r.err.find("header: schema_version: SCHEMA_VERSION_1 sensor_id: \"cat-test\""),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("trailer: records: 1 end_time_us: 42"), std::string::npos) << r.err;
}

TEST_F(FlowtrailCatTest, BadUsageExitsTwoWithAMessage) {
  Result r = Run("cat --format xml x.ftr");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown format 'xml'"), std::string::npos) << r.err;
  r = Run("cat --bogus x.ftr");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option '--bogus'"), std::string::npos) << r.err;
  r = Run("cat --format");
  EXPECT_EQ(r.exit_code, 2);
  r = Run("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  r = Run("");
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(FlowtrailCatTest, HelpExitsZero) {
  Result r = Run("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("cat"), std::string::npos);
  r = Run("cat --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--format classic"), std::string::npos);
}

}  // namespace
}  // namespace flowtrail::tools

namespace flowtrail::tools {
namespace {

TEST_F(FlowtrailCatTest, SegmentsInAnyOrderPrintTheRunOnceInSequenceOrder) {
  std::vector<std::string> files = WriteSegments("run", 40);
  ASSERT_GE(files.size(), 4u);
  std::reverse(files.begin(), files.end());
  std::swap(files[1], files[3]);
  Result r = Run("cat --format json" + Join(files));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Expected(Format::kJson, 40));
  // One summary line for the run cut into segments, no gap.
  EXPECT_NE(r.err.find(" segments, 40 records, sequences 1..40"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("gap"), std::string::npos) << r.err;
}

TEST_F(FlowtrailCatTest, AMissingSegmentIsReportedAsAGapWithItsOwnExitStatus) {
  std::vector<std::string> files = WriteSegments("run", 40);
  ASSERT_GE(files.size(), 4u);
  // The records of the third file are the missing sequences.
  exporter::StreamContents third;
  {
    const std::string b = Slurp(files[2]);
    third = exporter::ReadStreamBytes({reinterpret_cast<const uint8_t*>(b.data()), b.size()});
    ASSERT_TRUE(third.status.ok());
  }
  const uint64_t lo = third.header->first_sequence();
  const uint64_t hi = lo + third.records.size() - 1;
  fs::remove(files[2]);
  files.erase(files.begin() + 2);
  Result r = Run("cat --format csv" + Join(files));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  std::string want;
  AppendCsvHeader(&want);
  for (size_t i = 0; i < records_.size(); ++i) {
    if (i + 1 < lo || i + 1 > hi) AppendRecord(Format::kCsv, records_[i], &want);
  }
  EXPECT_EQ(r.out, want);
  const std::string gap =
      "gap " + std::to_string(lo) + ".." + std::to_string(hi) + " (" + std::to_string(hi - lo + 1);
  EXPECT_NE(r.err.find(gap), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sequences " + std::to_string(lo) + ".." + std::to_string(hi) + " missing"),
            std::string::npos)
      << r.err;
}

TEST_F(FlowtrailCatTest, DuplicatesArePrintedOnceAndCounted) {
  std::vector<std::string> files = WriteSegments("run", 20);
  ASSERT_GT(files.size(), 2u);
  const std::string b = Slurp(files[1]);
  const auto c = exporter::ReadStreamBytes({reinterpret_cast<const uint8_t*>(b.data()), b.size()});
  Result r = Run("cat" + Join(files) + " " + files[1]);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Expected(Format::kClassic, 20));
  EXPECT_NE(r.err.find(std::to_string(c.records.size()) + " duplicate records"), std::string::npos)
      << r.err;
}

TEST_F(FlowtrailCatTest, ReadsZstdSegmentsDirectly) {
  std::vector<std::string> files = WriteSegments("z", 30, /*zstd=*/true);
  ASSERT_GT(files.size(), 2u);
  for (const std::string& f : files) EXPECT_EQ(f.substr(f.size() - 4), ".zst") << f;
  std::reverse(files.begin(), files.end());
  Result r = Run("cat --format json" + Join(files));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Expected(Format::kJson, 30));
}

TEST_F(FlowtrailCatTest, ReportsCountADuplicatedSegmentOnce) {
  std::vector<std::string> files = WriteSegments("run", 30);
  Result once = Run("report ports --format json" + Join(files));
  Result twice = Run("report ports --format json" + Join(files) + Join(files));
  EXPECT_EQ(once.exit_code, 0) << once.err;
  EXPECT_EQ(twice.exit_code, 0) << twice.err;
  EXPECT_EQ(once.out, twice.out);
  Result scans = Run("report snapshot -o " + (dir_ / "s1").string() + Join(files));
  Result scans2 = Run("report snapshot -o " + (dir_ / "s2").string() + Join(files) + Join(files));
  EXPECT_NE(scans.err.find("30 records"), std::string::npos) << scans.err;
  EXPECT_NE(scans2.err.find("30 records"), std::string::npos) << scans2.err;
}

}  // namespace
}  // namespace flowtrail::tools
