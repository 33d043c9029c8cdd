#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "export/stream_reader.h"
#include "export/stream_writer.h"
#include "record_gen.h"

namespace flowtrail::exporter {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return (std::filesystem::path(dir ? dir : "/tmp") / (name + "." + std::to_string(::getpid())))
      .string();
}

TEST(FileSink, StreamWrittenToAFileReadsBack) {
  const std::string path = TempPath("file_sink_test.ftr");
  {
    absl::StatusOr<std::unique_ptr<ByteSink>> sink = OpenFileSink(path);
    ASSERT_TRUE(sink.ok()) << sink.status();
    auto w = StreamWriter::Create(*std::move(sink), {.sensor_id = "f"});
    ASSERT_TRUE(w.ok());
    std::vector<record::SessionRecord> recs(5000, flowtrail::testing::FullRecord(6));
    ASSERT_TRUE((*w)->Append(recs).ok());
    ASSERT_TRUE((*w)->Close(0, 0).ok());
    EXPECT_EQ((*w)->bytes_written(), std::filesystem::file_size(path));
  }
  auto reader = StreamReader::OpenFile(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  StreamContents c = ReadAll(**reader);
  EXPECT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(c.records.size(), 5000u);
  std::filesystem::remove(path);
}

TEST(FileSink, OpenFailureNamesThePath) {
  absl::StatusOr<std::unique_ptr<ByteSink>> sink = OpenFileSink("/nonexistent-dir/out.ftr");
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("/nonexistent-dir/out.ftr"), absl::string_view::npos);
  EXPECT_FALSE(OpenFileSink("").ok());
}

TEST(FileSink, WriteErrorsReachTheWriter) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  absl::StatusOr<std::unique_ptr<ByteSink>> sink = OpenFileSink("/dev/full");
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto w = StreamWriter::Create(*std::move(sink), {.sensor_id = "f"});
  ASSERT_TRUE(w.ok());
  absl::Status s = (*w)->Flush();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;  // ENOSPC
  EXPECT_NE(s.message().find("/dev/full"), absl::string_view::npos) << s;
}

// A short write, then an error (here: the file size limit, EFBIG): the
// writer counts the records that reached the file, which a reader finds.
TEST(FileSink, ShortWriteBeforeAnErrorCountsOnlyTheRecordsInTheFile) {
  const std::string path = TempPath("file_sink_short.ftr");
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 10'000;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  absl::Status s;
  uint64_t written = 0, bytes = 0;
  {
    absl::StatusOr<std::unique_ptr<ByteSink>> sink = OpenFileSink(path);
    ASSERT_TRUE(sink.ok());
    auto w = StreamWriter::Create(*std::move(sink), {.sensor_id = "f"});
    ASSERT_TRUE(w.ok());
    std::vector<record::SessionRecord> recs(500, flowtrail::testing::FullRecord(4));
    s = (*w)->Append(recs);
    if (s.ok()) s = (*w)->Close(0, 0);
    written = (*w)->records_written();
    bytes = (*w)->bytes_written();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), absl::string_view::npos) << s;
  auto reader = StreamReader::OpenFile(path);
  ASSERT_TRUE(reader.ok());
  StreamContents c = ReadAll(**reader);
  EXPECT_FALSE(c.status.ok());  // cut inside a frame
  EXPECT_GT(c.records.size(), 0u);
  EXPECT_EQ(written, c.records.size());
  EXPECT_EQ(bytes, 10'000u);
  std::filesystem::remove(path);
}

TEST(FileSink, WriteAfterCloseIsRefused) {
  const std::string path = TempPath("file_sink_closed.ftr");
  absl::StatusOr<std::unique_ptr<ByteSink>> sink = OpenFileSink(path);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Close().ok());
  const uint8_t b = 0;
  EXPECT_EQ((*sink)->Write({&b, 1}).code(), absl::StatusCode::kFailedPrecondition);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace flowtrail::exporter
