// `flowtrail report scans|servers` in-process on streams written by StreamWriter.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "analytics/scan_table.h"
#include "export/stream_writer.h"
#include "scan_records.h"
#include "tools/report_command.h"

namespace flowtrail::tools {
namespace {

namespace fs = std::filesystem;
using analytics::Outcome;
using record::SessionRecord;

using analytics::testing::kS;

SessionRecord Tcp(uint32_t client, uint32_t server, uint16_t port, Outcome o, uint64_t t_s) {
  return analytics::testing::ScanRecord(client, server, port, o, t_s, /*data_bytes=*/10);
}

struct Result {
  int code;
  std::string out;
  std::string err;
};

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("report_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::vector<SessionRecord>& recs,
                    bool close = true) {
    const std::string path = (dir_ / name).string();
    auto sink = exporter::OpenFileSink(path);
    EXPECT_TRUE(sink.ok());
    auto w = exporter::StreamWriter::Create(*std::move(sink), {.sensor_id = "report-test"});
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE((*w)->Append(recs).ok());
    if (close) {
      EXPECT_TRUE((*w)->Close(0, 1).ok());
    }
    return path;
  }

  Result Run(std::vector<std::string> args) {
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    Result r;
    r.code = RunReport(args, out, err);
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }
  static std::string Slurp(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
  }

  // Client 1: a relay retrying one dead server 50 times on port 25.
  // Client 2: a scanner, 20 dead servers on port 22, data to one live one.
  std::vector<SessionRecord> Story() {
    std::vector<SessionRecord> v;
    for (int i = 0; i < 50; ++i) v.push_back(Tcp(1, 100, 25, Outcome::kSilent, i));
    v.push_back(Tcp(3, 300, 22, Outcome::kData, 0));
    for (uint32_t s = 0; s < 20; ++s) v.push_back(Tcp(2, 200 + s, 22, Outcome::kReject, 10 + s));
    v.push_back(Tcp(2, 300, 22, Outcome::kData, 40));
    return v;
  }

  fs::path dir_;
};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST_F(ReportTest, TableSortedByUniqueServersByDefault) {
  const std::string f = Write("a.ftr", Story());
  Result r = Run({"scans", f});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0].substr(0, 6), "client");
  EXPECT_NE(lines[1].find("0.0.0.2"), std::string::npos) << r.out;
  EXPECT_NE(lines[1].find("scanner"), std::string::npos) << r.out;
  EXPECT_NE(lines[2].find("0.0.0.1"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("records counted"), std::string::npos);
}

TEST_F(ReportTest, BySessionsPutsTheRelayFirst) {
  const std::string f = Write("a.ftr", Story());
  Result r = Run({"scans", "--by", "sessions", "--format", "csv", f});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "client,port,rejects,silents,success,data,count,disjoint,blind,verdict,after,est");
  EXPECT_EQ(lines[1], "0.0.0.1,25,0,50,0,0,50,1,50,pending,0,false");
}

TEST_F(ReportTest, DataOnlyTopAndJson) {
  const std::string f = Write("a.ftr", Story());
  Result r = Run({"scans", "--data-only", "--top", "1", "--format=json", f});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"client\":\"0.0.0.2\",\"port\":22,\"rejects\":20,\"silents\":0,\"success\":1,"
            "\"data\":1,\"count\":20,\"disjoint\":20,\"blind\":20,\"verdict\":\"scanner\","
            "\"after\":4,\"est\":true}\n");  // 20 servers: a sketch, exact this small
}

TEST_F(ReportTest, TwoFilesEqualOneFile) {
  auto story = Story();
  std::vector<SessionRecord> a, b;
  for (size_t i = 0; i < story.size(); ++i) (i % 3 ? a : b).push_back(story[i]);
  const std::string whole = Write("w.ftr", story);
  const std::string fa = Write("a.ftr", a);
  const std::string fb = Write("b.ftr", b);
  Result one = Run({"scans", "--format", "csv", whole});
  Result two = Run({"scans", "--format", "csv", fb, fa});
  ASSERT_EQ(one.code, 0);
  ASSERT_EQ(two.code, 0);
  EXPECT_EQ(one.out, two.out);
}

TEST_F(ReportTest, HashKeyChangesOnlyTheSketches) {
  // 20 rejects: a sketch, whose estimate may move with the key; the exact
  // rows and the session counts may not.
  const std::string f = Write("a.ftr", Story());
  Result a = Run({"scans", "--by", "sessions", "--format", "csv", f});
  Result b = Run({"scans", "--by", "sessions", "--format", "csv", "--hash-key", "0x1234abcd", f});
  ASSERT_EQ(a.code, 0);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
}

TEST_F(ReportTest, ServersListsTheActiveOnes) {
  const std::string f = Write("a.ftr", Story());
  Result r = Run({"servers", "--format", "csv", f});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "server,port,accepts,clients,first_accept,last_accept,est\n"
            "0.0.1.44,22,2,2,1700000000.000000,1700000040.000000,false\n");
}

TEST_F(ReportTest, TruncatedStreamReportsTheGoodRecordsThenTheError) {
  const std::string f = Write("a.ftr", Story(), /*close=*/false);
  Result r = Run({"scans", "--by", "sessions", f});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("0.0.0.1"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("flowtrail report: "), std::string::npos) << r.err;
  Result ok = Run({"scans", "--allow-unfinished", f});
  EXPECT_EQ(ok.code, 0) << ok.err;
  Result missing = Run({"scans", (dir_ / "nope.ftr").string()});
  EXPECT_EQ(missing.code, 1);
}

TEST_F(ReportTest, BadUsage) {
  EXPECT_EQ(Run({"scans", "--by", "hosts"}).code, 2);
  EXPECT_EQ(Run({"scans", "--trw-theta0", "1.5"}).code, 2);
  EXPECT_EQ(Run({"scans", "--trw-theta0", "0.1", "--trw-theta1", "0.2"}).code, 2);
  EXPECT_EQ(Run({"servers", "--data-only"}).code, 2);
  EXPECT_EQ(Run({"flows"}).code, 2);  // not a report
  EXPECT_EQ(Run({"scans", "--analytics-memory", "12Q"}).code, 2);
  EXPECT_EQ(Run({"scans", "--hash-key", "xyz"}).code, 2);
  EXPECT_EQ(Run({"scans", "--help"}).code, 0);
}

}  // namespace
}  // namespace flowtrail::tools
