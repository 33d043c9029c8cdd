#include "export/rotating_file_sink.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "export/stream_reader.h"
#include "export/stream_writer.h"
#include "export/zstd_file.h"
#include "record_gen.h"
#include "stream_test_util.h"

namespace flowtrail::exporter {
namespace {

using test::AppendFrame;
using test::Bytes;
using test::RecordFrame;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "/rotsink_XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    for (const std::string& f : List(/*hidden=*/true)) ::unlink((path_ + "/" + f).c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // File names in the directory, sorted.
  std::vector<std::string> List(bool hidden = false) const {
    std::vector<std::string> out;
    DIR* d = opendir(path_.c_str());
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      if (!hidden && n[0] == '.') continue;
      out.push_back(n);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

v1::StreamHeader RunHeader(const std::string& sensor = "s1/east") {
  v1::StreamHeader h;
  h.set_schema_version(v1::SCHEMA_VERSION_1);
  h.set_schema_revision(kSchemaRevisionSegments);
  h.set_sensor_id(sensor);
  h.set_run_id("0123456789abcdef0123456789abcdef");
  return h;
}

// Data frames first..first+n-1 as one Write.
std::string Block(uint64_t first, uint64_t n) {
  std::string out;
  for (uint64_t i = 0; i < n; ++i) AppendFrame(RecordFrame(first + i), &out);
  return out;
}

absl::Status WriteBlock(SegmentSink& sink, uint64_t first, uint64_t n) {
  const std::string b = Block(first, n);
  return sink.Write(Bytes(b), {.first_sequence = first, .frames = n, .records = n});
}

struct FileContents {
  StreamContents c;
  std::vector<uint64_t> seqs;
  uint64_t first_sequence = 0;
};

FileContents ReadFile(const std::string& path, bool require_trailer = true) {
  FileContents out;
  absl::StatusOr<std::unique_ptr<StreamReader>> r =
      StreamReader::OpenFile(path, {.require_trailer = require_trailer});
  if (!r.ok()) {
    out.c.status = r.status();
    return out;
  }
  for (;;) {
    absl::StatusOr<const v1::SessionRecord*> rec = (*r)->Next();
    if (!rec.ok()) {
      out.c.status = rec.status();
      break;
    }
    if (*rec == nullptr) break;
    out.seqs.push_back((*r)->last_sequence());
  }
  if ((*r)->header() != nullptr) out.c.header = *(*r)->header();
  if ((*r)->trailer() != nullptr) out.c.trailer = *(*r)->trailer();
  out.first_sequence = (*r)->first_sequence();
  return out;
}

std::unique_ptr<RotatingFileSink> MakeSink(RotatingFileOptions o) {
  absl::StatusOr<std::unique_ptr<RotatingFileSink>> s = RotatingFileSink::Create(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

TEST(SegmentFileName, IsSortableAndSanitized) {
  EXPECT_EQ(SegmentFileName("s1/east", "abc", 42, 1764621843000000),
            "s1-east_abc_00000000000000000042_20251201T204403Z.ftr");
  EXPECT_EQ(SanitizeFileNamePart(""), "sensor");
  EXPECT_EQ(SanitizeFileNamePart(".."), "-.");
  EXPECT_EQ(SanitizeFileNamePart("a_b c\xc3\xa9"), "a-b-c--");
  EXPECT_EQ(SanitizeFileNamePart(std::string(100, 'x')).size(), 64u);
}

TEST(RotatingFileSink, RotatesBySizeAndEveryFileIsACompleteSegment) {
  TempDir dir;
  auto sink = MakeSink({.dir = dir.path(), .rotate_bytes = 4096, .fsync_on_close = false});
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Begin(RunHeader()).ok());
  uint64_t seq = 1;
  for (int i = 0; i < 40; ++i) {
    const uint64_t n = 1 + i % 7;
    ASSERT_TRUE(WriteBlock(*sink, seq, n).ok());
    seq += n;
  }
  ASSERT_TRUE(sink->End({.next_sequence = seq, .records_dropped = 5, .end_time_us = 9}).ok());
  const std::vector<std::string> files = dir.List(/*hidden=*/true);
  ASSERT_GT(files.size(), 3u);
  EXPECT_EQ(files, dir.List()) << "no temporary file is left";
  EXPECT_EQ(sink->closed_files().size(), files.size());
  std::vector<uint64_t> all;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& f = files[i];
    EXPECT_EQ(f.rfind("s1-east_0123456789abcdef0123456789abcdef_", 0), 0u) << f;
    FileContents fc = ReadFile(dir.path() + "/" + f);
    ASSERT_TRUE(fc.c.status.ok()) << f << ": " << fc.c.status;
    ASSERT_FALSE(fc.seqs.empty()) << f;
    // The name's FIRSTSEQ is the header's, and names sort by it.
    EXPECT_NE(f.find(absl::StrFormat("_%020u_", fc.first_sequence)), std::string::npos) << f;
    EXPECT_EQ(fc.seqs.front(), fc.first_sequence);
    ASSERT_TRUE(fc.c.trailer.has_value());
    EXPECT_EQ(fc.c.trailer->records(), fc.seqs.size());
    if (i + 1 < files.size()) {
      // A file goes past the limit only with its first block.
      struct stat st;
      ASSERT_EQ(stat((dir.path() + "/" + f).c_str(), &st), 0);
      EXPECT_LE(st.st_size, 4096 + 200) << f;
    } else {
      EXPECT_EQ(fc.c.trailer->records_dropped(), 5u);
    }
    all.insert(all.end(), fc.seqs.begin(), fc.seqs.end());
  }
  // The union of the files is the run, each frame once.
  ASSERT_EQ(all.size(), seq - 1);
  for (uint64_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
}

TEST(RotatingFileSink, TheOpenSegmentIsHiddenUntilClosed) {
  TempDir dir;
  auto sink = MakeSink({.dir = dir.path()});
  ASSERT_TRUE(sink->Begin(RunHeader()).ok());
  EXPECT_TRUE(dir.List(true).empty()) << "no file before data";
  ASSERT_TRUE(WriteBlock(*sink, 1, 10).ok());
  EXPECT_TRUE(dir.List().empty());
  ASSERT_EQ(dir.List(true).size(), 1u);
  EXPECT_EQ(dir.List(true)[0].front(), '.');
  EXPECT_NE(dir.List(true)[0].find(".ftr.part"), std::string::npos);
  // Sync makes the written frames readable (and durable) in the .part file.
  ASSERT_TRUE(sink->Sync().ok());
  FileContents open = ReadFile(sink->open_file(), /*require_trailer=*/false);
  EXPECT_TRUE(open.c.status.ok()) << open.c.status;
  EXPECT_EQ(open.seqs.size(), 10u);
  EXPECT_FALSE(open.c.trailer.has_value());
  ASSERT_TRUE(sink->End({.next_sequence = 11}).ok());
  ASSERT_EQ(dir.List(true).size(), 1u);
  EXPECT_EQ(dir.List()[0].back(), 'r') << dir.List()[0];
  EXPECT_TRUE(ReadFile(dir.path() + "/" + dir.List()[0]).c.status.ok());
}

TEST(RotatingFileSink, RotatesByWallClockAge) {
  TempDir dir;
  uint64_t now = 1'000'000'000'000'000;
  auto sink =
      MakeSink({.dir = dir.path(), .rotate_seconds = 10, .fsync_on_close = false, .now_us = [&now] {
                  return now;
                }});
  ASSERT_TRUE(sink->Begin(RunHeader()).ok());
  ASSERT_TRUE(WriteBlock(*sink, 1, 3).ok());
  now += 5'000'000;
  ASSERT_TRUE(WriteBlock(*sink, 4, 3).ok());
  ASSERT_TRUE(sink->Flush().ok());
  EXPECT_TRUE(dir.List().empty()) << "5 s old: not yet";
  now += 5'000'000;
  ASSERT_TRUE(sink->Flush().ok());
  ASSERT_EQ(dir.List().size(), 1u) << "a Flush closes a segment that is due";
  now += 60'000'000;
  ASSERT_TRUE(sink->Flush().ok());
  EXPECT_EQ(dir.List(true).size(), 1u) << "no empty segment is opened";
  ASSERT_TRUE(WriteBlock(*sink, 7, 2).ok());
  ASSERT_TRUE(sink->End({.next_sequence = 9}).ok());
  const std::vector<std::string> files = dir.List(true);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(ReadFile(dir.path() + "/" + files[0]).seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(ReadFile(dir.path() + "/" + files[1]).seqs, (std::vector<uint64_t>{7, 8}));
}

TEST(RotatingFileSink, EndAfterARotationAddsNoEmptyFile) {
  TempDir dir;
  uint64_t now = 1'000'000'000'000'000;
  auto sink =
      MakeSink({.dir = dir.path(), .rotate_seconds = 1, .fsync_on_close = false, .now_us = [&now] {
                  return now;
                }});
  ASSERT_TRUE(sink->Begin(RunHeader()).ok());
  ASSERT_TRUE(WriteBlock(*sink, 1, 3).ok());
  now += 2'000'000;
  ASSERT_TRUE(sink->Flush().ok());
  ASSERT_TRUE(sink->End({.next_sequence = 4}).ok());
  EXPECT_EQ(dir.List(true).size(), 1u);
}

TEST(RotatingFileSink, ADiscontinuousWriteStartsANewSegment) {
  TempDir dir;
  auto sink = MakeSink({.dir = dir.path(), .fsync_on_close = false});
  ASSERT_TRUE(sink->Begin(RunHeader()).ok());
  ASSERT_TRUE(WriteBlock(*sink, 1, 5).ok());
  ASSERT_TRUE(WriteBlock(*sink, 3, 5).ok());  // resent 3..5, then 6, 7
  ASSERT_TRUE(sink->End({.next_sequence = 8}).ok());
  const std::vector<std::string> files = dir.List(true);
  ASSERT_EQ(files.size(), 2u);
  for (const std::string& f : files) {
    EXPECT_TRUE(ReadFile(dir.path() + "/" + f).c.status.ok()) << f;
  }
}

TEST(RotatingFileSink, ATakenNameGetsASuffix) {
  TempDir dir;
  for (int i = 0; i < 2; ++i) {
    auto sink = MakeSink({.dir = dir.path(), .fsync_on_close = false, .now_us = [] {
                            return uint64_t{1'000'000'000'000'000};
                          }});
    ASSERT_TRUE(sink->Begin(RunHeader()).ok());
    ASSERT_TRUE(WriteBlock(*sink, 1, 2).ok());
    ASSERT_TRUE(sink->End({.next_sequence = 3}).ok());
  }
  const std::vector<std::string> files = dir.List(true);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_NE(files[0].find("Z-1.ftr"), std::string::npos) << files[0];
}

TEST(RotatingFileSink, AbortKeepsTheDataWithoutTrailer) {
  TempDir dir;
  auto sink = MakeSink({.dir = dir.path()});
  ASSERT_TRUE(sink->Begin(RunHeader()).ok());
  ASSERT_TRUE(WriteBlock(*sink, 1, 4).ok());
  ASSERT_TRUE(sink->Abort().ok());
  ASSERT_EQ(dir.List(true).size(), 1u);
  const std::string path = dir.path() + "/" + dir.List()[0];
  EXPECT_FALSE(ReadFile(path).c.status.ok()) << "no trailer";
  FileContents fc = ReadFile(path, /*require_trailer=*/false);
  EXPECT_TRUE(fc.c.status.ok()) << fc.c.status;
  EXPECT_EQ(fc.seqs.size(), 4u);
}

// Runs `body` in a child process whose files cannot grow past `limit`
// bytes (RLIMIT_FSIZE: a write past it is cut short, then fails with EFBIG,
// as a full disk fails with ENOSPC); returns its exit code.
int WithFileSizeLimit(rlim_t limit, const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
    rlimit r{limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &r) != 0) ::_exit(100);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

// A write cut short (EFBIG, ENOSPC) leaves a torn frame at the end of the
// file: before it gets its visible name, the file is cut back to its last
// whole frame (what failed_write_prefix() reports got through), so every
// .ftr is a valid segment; with not even a whole header there is no file.
TEST(RotatingFileSink, APartialWriteIsCutBackToWholeFramesBeforeTheRename) {
  const std::string header = SegmentFramer(RunHeader()).Open(1);
  const std::string block = Block(1, 400);
  ASSERT_GT(header.size() + block.size(), 4096u);
  const size_t whole = WholeFrameBytesBefore(Bytes(block), 4096 - header.size());
  ASSERT_LT(header.size() + whole, 4096u) << "the limit must fall inside a frame";
  // A torn data frame.
  {
    TempDir dir;
    EXPECT_EQ(WithFileSizeLimit(4096,
                                [&] {
                                  auto sink = MakeSink({.dir = dir.path()});
                                  if (!sink->Begin(RunHeader()).ok()) return 1;
                                  if (WriteBlock(*sink, 1, 400).ok()) return 2;
                                  if (sink->failed_write_prefix() != whole) return 3;
                                  return sink->Abort().ok() ? 0 : 4;
                                }),
              0);
    ASSERT_EQ(dir.List(true).size(), 1u);
    const std::string path = dir.path() + "/" + dir.List()[0];
    EXPECT_TRUE(path.ends_with(".ftr")) << path;
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(static_cast<size_t>(st.st_size), header.size() + whole);
    FileContents fc = ReadFile(path, /*require_trailer=*/false);
    EXPECT_TRUE(fc.c.status.ok()) << fc.c.status;
    EXPECT_FALSE(fc.seqs.empty());
    for (size_t i = 0; i < fc.seqs.size(); ++i) EXPECT_EQ(fc.seqs[i], i + 1);
  }
  // A torn trailer: the data stays, the file ends without trailer.
  {
    TempDir dir;
    const std::string data = Block(1, 4);
    EXPECT_EQ(WithFileSizeLimit(header.size() + data.size() + 3,
                                [&] {
                                  auto sink = MakeSink({.dir = dir.path()});
                                  if (!sink->Begin(RunHeader()).ok()) return 1;
                                  if (!WriteBlock(*sink, 1, 4).ok()) return 2;
                                  return sink->End({.next_sequence = 5}).ok() ? 3 : 0;
                                }),
              0);
    ASSERT_EQ(dir.List(true).size(), 1u);
    const std::string path = dir.path() + "/" + dir.List()[0];
    FileContents fc = ReadFile(path, /*require_trailer=*/false);
    EXPECT_TRUE(fc.c.status.ok()) << fc.c.status;
    EXPECT_EQ(fc.seqs, (std::vector<uint64_t>{1, 2, 3, 4}));
  }
  // A torn header: nothing to keep.
  {
    TempDir dir;
    EXPECT_EQ(WithFileSizeLimit(header.size() - 1,
                                [&] {
                                  auto sink = MakeSink({.dir = dir.path()});
                                  if (!sink->Begin(RunHeader()).ok()) return 1;
                                  if (WriteBlock(*sink, 1, 4).ok()) return 2;
                                  return sink->Abort().ok() ? 0 : 3;
                                }),
              0);
    EXPECT_TRUE(dir.List(true).empty());
  }
}

TEST(RotatingFileSink, ARunWithoutDataLeavesOneEmptySegment) {
  TempDir dir;
  auto sink = MakeSink({.dir = dir.path()});
  ASSERT_TRUE(sink->Begin(RunHeader()).ok());
  ASSERT_TRUE(sink->End({.next_sequence = 1}).ok());
  ASSERT_EQ(dir.List(true).size(), 1u);
  FileContents fc = ReadFile(dir.path() + "/" + dir.List()[0]);
  EXPECT_TRUE(fc.c.status.ok()) << fc.c.status;
  EXPECT_TRUE(fc.seqs.empty());
}

TEST(RotatingFileSink, ItsErrorsAreClear) {
  EXPECT_FALSE(RotatingFileSink::Create({.dir = "/nonexistent/dir"}).ok());
  EXPECT_FALSE(RotatingFileSink::Create({.dir = ""}).ok());
  EXPECT_FALSE(ParseCompression("gzip").ok());
  EXPECT_EQ(*ParseCompression("zstd"), Compression::kZstd);
}

TEST(RotatingFileSink, UnderAStreamWriter) {
  TempDir dir;
  auto sink = MakeSink({.dir = dir.path(), .rotate_bytes = 100'000, .fsync_on_close = false});
  absl::StatusOr<std::unique_ptr<StreamWriter>> w =
      StreamWriter::Create(std::move(sink), StreamInfo{.sensor_id = "w"});
  ASSERT_TRUE(w.ok()) << w.status();
  std::mt19937_64 rng(5);
  std::vector<record::SessionRecord> recs(5000);
  for (auto& r : recs) r = flowtrail::testing::RandomRecord(rng);
  ASSERT_TRUE((*w)->Append(recs).ok());
  ASSERT_TRUE((*w)->Close(0, 1).ok());
  uint64_t total = 0;
  const std::vector<std::string> files = dir.List(true);
  EXPECT_GT(files.size(), 2u);
  for (const std::string& f : files) {
    FileContents fc = ReadFile(dir.path() + "/" + f);
    EXPECT_TRUE(fc.c.status.ok()) << f << ": " << fc.c.status;
    total += fc.seqs.size();
  }
  EXPECT_EQ(total, recs.size());
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(RotatingFileSinkZstd, ClosedFilesAreCompressedAndReadDirectly) {
  TempDir dir;
  auto sink = MakeSink({.dir = dir.path(),
                        .rotate_bytes = 8192,
                        .compression = Compression::kZstd,
                        .fsync_on_close = false});
  ASSERT_TRUE(sink->Begin(RunHeader()).ok());
  uint64_t seq = 1;
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(WriteBlock(*sink, seq, 10).ok());
    seq += 10;
  }
  ASSERT_TRUE(sink->End({.next_sequence = seq}).ok());
  const std::vector<std::string> files = dir.List(true);
  ASSERT_GT(files.size(), 2u);
  uint64_t expect = 1;
  for (const std::string& f : files) {
    ASSERT_EQ(f.substr(f.size() - 8), ".ftr.zst") << "every closed file is compressed: " << f;
    const std::string bytes = Slurp(dir.path() + "/" + f);
    ASSERT_EQ(static_cast<uint8_t>(bytes[0]), 0x28);
    FileContents fc = ReadFile(dir.path() + "/" + f);
    ASSERT_TRUE(fc.c.status.ok()) << f << ": " << fc.c.status;
    for (uint64_t s : fc.seqs) EXPECT_EQ(s, expect++);
  }
  EXPECT_EQ(expect, seq);
}

// A one-segment stream of records 1..n.
std::string WholeSegment(uint64_t n) {
  SegmentFramer framer(RunHeader());
  std::string bytes = framer.Open(1) + Block(1, n);
  framer.Count({.first_sequence = 1, .frames = n, .records = n});
  return bytes + framer.Close(0, 0);
}

TEST(Zstd, RoundTripIsByMagicNotName) {
  TempDir dir;
  const std::string plain = dir.path() + "/a.ftr", z = dir.path() + "/renamed.bin";
  const std::string bytes = WholeSegment(500);
  Spit(plain, bytes);
  ASSERT_TRUE(CompressFileZstd(plain, z, 3, false).ok());
  EXPECT_LT(Slurp(z).size(), bytes.size());
  FileContents fc = ReadFile(z);
  EXPECT_TRUE(fc.c.status.ok()) << fc.c.status;
  EXPECT_EQ(fc.seqs.size(), 500u);
  EXPECT_FALSE(CompressFileZstd(plain, z, 3, false).ok()) << "never overwrites";
}

TEST(Zstd, CorruptOrTruncatedDataIsAClearError) {
  TempDir dir;
  const std::string plain = dir.path() + "/a.ftr", z = dir.path() + "/a.ftr.zst";
  const std::string bytes = WholeSegment(300);
  Spit(plain, bytes);
  ASSERT_TRUE(CompressFileZstd(plain, z, 3, false).ok());
  const std::string good = Slurp(z);

  std::string corrupt = good;
  for (size_t i = corrupt.size() / 2; i < corrupt.size() / 2 + 16; ++i) corrupt[i] ^= 0x5a;
  Spit(z, corrupt);
  FileContents fc = ReadFile(z);
  ASSERT_FALSE(fc.c.status.ok());
  EXPECT_NE(fc.c.status.message().find("zstd"), std::string::npos) << fc.c.status;

  Spit(z, good.substr(0, good.size() / 2));
  fc = ReadFile(z, /*require_trailer=*/false);
  ASSERT_FALSE(fc.c.status.ok());
  EXPECT_NE(fc.c.status.message().find("zstd data truncated"), std::string::npos) << fc.c.status;

  // Only the magic: still a zstd error, not a bad frame.
  Spit(z, good.substr(0, 4));
  fc = ReadFile(z);
  ASSERT_FALSE(fc.c.status.ok());
  EXPECT_NE(fc.c.status.message().find("zstd"), std::string::npos) << fc.c.status;
}

TEST(Zstd, PlainStreamsShorterThanTheMagicStillRead) {
  TempDir dir;
  const std::string p = dir.path() + "/tiny";
  Spit(p, std::string("\x02", 1));
  FileContents fc = ReadFile(p);
  EXPECT_FALSE(fc.c.status.ok());
  EXPECT_EQ(fc.c.status.message().find("zstd"), std::string::npos) << fc.c.status;
}

}  // namespace
}  // namespace flowtrail::exporter
