#include "export/rotating_file_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "export/async_sink.h"
#include "export/stream_writer.h"
#include "export/zstd_file.h"

namespace flowtrail::exporter {
namespace {

absl::Status Errno(const char* what, const std::string& path) {
  return absl::ErrnoToStatus(errno, absl::StrCat(what, " ", path));
}

absl::Status FsyncFd(int fd, const std::string& name) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return Errno("fsync", name);
  }
  return absl::OkStatus();
}

uint64_t WallUs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// `base` with "-N" before ".ftr" for N > 0.
std::string WithSuffix(const std::string& base, int n) {
  if (n == 0) return base;
  const std::string stem = base.substr(0, base.size() - 4);  // without ".ftr"
  return absl::StrCat(stem, "-", n, ".ftr");
}

}  // namespace

absl::StatusOr<Compression> ParseCompression(std::string_view name) {
  if (name == "none") return Compression::kNone;
  if (name == "zstd") return Compression::kZstd;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown compression \"", std::string(name), "\" (none, zstd)"));
}

std::string SanitizeFileNamePart(std::string_view id) {
  std::string out;
  for (char c : id.substr(0, 64)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-';
    out.push_back(ok ? c : '-');
  }
  // A name part of dots only would read as "." or ".." in the file name's
  // first field; a leading dot would hide the file.
  if (!out.empty() && out[0] == '.') out[0] = '-';
  return out.empty() ? "sensor" : out;
}

std::string SegmentFileName(std::string_view sensor_id, std::string_view run_id,
                            uint64_t first_sequence, uint64_t open_time_us) {
  const time_t secs = static_cast<time_t>(open_time_us / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  return absl::StrFormat(
      "%s_%s_%020u_%04d%02d%02dT%02d%02d%02dZ.ftr", SanitizeFileNamePart(sensor_id),
      run_id.empty() ? std::string("run") : SanitizeFileNamePart(run_id), first_sequence,
      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// The background compression of closed files: one thread, a queue of plain
// final paths. Each becomes PATH.zst (via a .part name, fsync'd and renamed),
// then PATH is removed; a failure leaves PATH as it was and is reported.
class RotatingFileSink::Compressor {
 public:
  Compressor(std::string dir, int dir_fd, int level, bool fsync)
      : dir_(std::move(dir)), dir_fd_(dir_fd), level_(level), fsync_(fsync) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Compressor() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void Add(std::string path) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(path));
    }
    cv_.notify_all();
  }

  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
    return status_;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and nothing left
      std::string path = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      absl::Status s = CompressOne(path);
      lock.lock();
      busy_ = false;
      if (!s.ok() && status_.ok()) status_ = s;
      if (queue_.empty()) done_cv_.notify_all();
    }
  }

  absl::Status CompressOne(const std::string& path) {
    const size_t slash = path.rfind('/');
    const std::string name = path.substr(slash + 1);
    const std::string part = absl::StrCat(dir_, "/.", name, ".zst.part");
    const std::string out = absl::StrCat(path, ".zst");
    if (absl::Status s = CompressFileZstd(path, part, level_, fsync_); !s.ok()) {
      ::unlink(part.c_str());
      return s;
    }
    if (::rename(part.c_str(), out.c_str()) != 0) {
      absl::Status s = Errno("renaming to", out);
      ::unlink(part.c_str());
      return s;
    }
    if (fsync_ && dir_fd_ >= 0) {
      if (absl::Status s = FsyncFd(dir_fd_, dir_); !s.ok()) return s;
    }
    // Only once the .zst is durable: a crash in between leaves both, equal.
    if (::unlink(path.c_str()) != 0) return Errno("removing", path);
    return absl::OkStatus();
  }

  const std::string dir_;
  const int dir_fd_;
  const int level_;
  const bool fsync_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::deque<std::string> queue_;
  bool busy_ = false;
  bool stop_ = false;
  absl::Status status_;
  std::thread thread_;
};

RotatingFileSink::RotatingFileSink(RotatingFileOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<RotatingFileSink>> RotatingFileSink::Create(
    RotatingFileOptions options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("output directory is empty");
  while (options.dir.size() > 1 && options.dir.back() == '/') options.dir.pop_back();
  struct stat st;
  if (::stat(options.dir.c_str(), &st) != 0) return Errno("cannot use directory", options.dir);
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(options.dir, " is not a directory"));
  }
  if (::access(options.dir.c_str(), W_OK) != 0) return Errno("cannot write to", options.dir);
  std::unique_ptr<RotatingFileSink> sink(new RotatingFileSink(std::move(options)));
  sink->dir_fd_ = ::open(sink->options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sink->dir_fd_ < 0) return Errno("cannot open directory", sink->options_.dir);
  if (sink->options_.compression == Compression::kZstd) {
    sink->compressor_ =
        std::make_unique<Compressor>(sink->options_.dir, sink->dir_fd_, sink->options_.zstd_level,
                                     sink->options_.fsync_on_close);
  }
  return sink;
}

RotatingFileSink::~RotatingFileSink() {
  (void)Abort();
  compressor_.reset();  // joins the thread after the queue is drained
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

uint64_t RotatingFileSink::Now() const { return options_.now_us ? options_.now_us() : WallUs(); }

absl::Status RotatingFileSink::Begin(const v1::StreamHeader& run_header) {
  if (framer_ != nullptr) return absl::FailedPreconditionError("rotating file sink begun twice");
  framer_ = std::make_unique<SegmentFramer>(run_header);
  return absl::OkStatus();
}

absl::Status RotatingFileSink::WriteAll(const uint8_t* p, size_t n) {
  size_t written = 0;
  absl::Status s = WriteFd(fd_, p, n, part_path_, &written);
  file_bytes_ += written;
  if (s.ok()) {
    whole_bytes_ = file_bytes_;
    failed_prefix_ = 0;
    return s;
  }
  // A short write (ENOSPC, EFBIG) may end inside a frame: CloseSegment cuts
  // the file back to its whole frames, so they are all that got through.
  failed_prefix_ = WholeFrameBytesBefore({p, n}, written);
  whole_bytes_ += failed_prefix_;
  failed_ = true;
  return s;
}

absl::Status RotatingFileSink::OpenSegment(uint64_t first_sequence) {
  opened_us_ = Now();
  const std::string base =
      SegmentFileName(framer_->run_header().sensor_id(), framer_->run_header().run_id(),
                      first_sequence, opened_us_);
  // A name taken by an earlier segment (a collector storing a resent range
  // in the same second) gets a suffix: never overwrite a file.
  for (int n = 0;; ++n) {
    const std::string name = WithSuffix(base, n);
    final_path_ = absl::StrCat(options_.dir, "/", name);
    part_path_ = absl::StrCat(options_.dir, "/.", name, ".part");
    if (::access(final_path_.c_str(), F_OK) == 0 ||
        ::access(absl::StrCat(final_path_, ".zst").c_str(), F_OK) == 0) {
      continue;
    }
    fd_ = ::open(part_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ >= 0) break;
    if (errno != EEXIST && errno != EINTR) {
      absl::Status s = Errno("cannot create", part_path_);
      part_path_.clear();
      failed_ = true;
      return s;
    }
    if (n > 1000) return absl::AlreadyExistsError(absl::StrCat("no free name for ", base));
  }
  file_bytes_ = whole_bytes_ = 0;
  dir_synced_ = false;
  const std::string header = framer_->Open(first_sequence);
  if (absl::Status s = WriteAll(reinterpret_cast<const uint8_t*>(header.data()), header.size());
      !s.ok()) {
    failed_prefix_ = 0;
    return s;
  }
  framing_bytes_ += header.size();
  return absl::OkStatus();
}

absl::Status RotatingFileSink::CloseSegment(bool trailer, uint64_t end_time_us) {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status s;
  if (trailer && !failed_) {
    const std::string t = framer_->Close(records_dropped_, end_time_us);
    s = WriteAll(reinterpret_cast<const uint8_t*>(t.data()), t.size());
    if (s.ok()) framing_bytes_ += t.size();
  }
  // A failed write may have left a torn frame: the file must end after a
  // whole one before it gets a name readers take for a segment.
  if (whole_bytes_ < file_bytes_) {
    if (::ftruncate(fd_, static_cast<off_t>(whole_bytes_)) == 0) {
      file_bytes_ = whole_bytes_;
    } else {
      absl::Status t = Errno("cannot cut the torn last frame off", part_path_);
      s = s.ok() ? t : absl::Status(s.code(), absl::StrCat(s.message(), "; ", t.message()));
    }
  }
  const bool whole = file_bytes_ == whole_bytes_;
  // Durable even after an error, as it is about to be renamed.
  if (whole && whole_bytes_ > 0 && options_.fsync_on_close) {
    absl::Status f = FsyncFd(fd_, part_path_);
    if (s.ok()) s = f;
  }
  if (::close(fd_) != 0 && errno != EINTR && s.ok()) s = Errno("closing", part_path_);
  fd_ = -1;
  if (whole_bytes_ == 0 || !whole) {
    // Not even a whole header (nothing to read), or a torn frame that could
    // not be cut: removed, or left under the hidden .part name.
    if (whole_bytes_ == 0 && ::unlink(part_path_.c_str()) != 0 && s.ok()) {
      s = Errno("removing", part_path_);
    }
    part_path_.clear();
    failed_ = true;
    return s;
  }
  // Renamed even after an error: what reached the file is a valid prefix
  // (whole frames), and a .part name would hide it from readers.
  if (::rename(part_path_.c_str(), final_path_.c_str()) != 0) {
    if (s.ok()) s = Errno("renaming to", final_path_);
  } else {
    if (options_.fsync_on_close) {
      absl::Status d = FsyncFd(dir_fd_, options_.dir);
      if (s.ok()) s = d;
    }
    closed_.push_back(final_path_);
    if (compressor_ != nullptr && trailer && s.ok()) compressor_->Add(final_path_);
  }
  part_path_.clear();
  if (!s.ok()) failed_ = true;
  return s;
}

bool RotatingFileSink::Due(size_t next_write) const {
  if (fd_ < 0) return false;
  if (options_.rotate_bytes != 0 && file_bytes_ + next_write > options_.rotate_bytes) return true;
  if (options_.rotate_seconds != 0 &&
      Now() - opened_us_ >= options_.rotate_seconds * uint64_t{1000000}) {
    return true;
  }
  return false;
}

absl::Status RotatingFileSink::Write(std::span<const uint8_t> frames, const BlockInfo& info) {
  failed_prefix_ = 0;
  if (framer_ == nullptr) return absl::FailedPreconditionError("Write before Begin");
  if (ended_) return absl::FailedPreconditionError("Write after End");
  if (failed_) return absl::FailedPreconditionError("rotating file sink failed earlier");
  if (fd_ >= 0) {
    // The open segment always holds data here (it opens at a Write), so a
    // cut leaves no empty file.
    const bool gap = info.first_sequence != framer_->next_sequence();
    if (gap || Due(frames.size())) {
      if (absl::Status s = CloseSegment(/*trailer=*/true, Now()); !s.ok()) return s;
    }
  }
  if (fd_ < 0) {
    if (absl::Status s = OpenSegment(info.first_sequence); !s.ok()) return s;
  }
  if (absl::Status s = WriteAll(frames.data(), frames.size()); !s.ok()) return s;
  framer_->Count(info);
  return absl::OkStatus();
}

absl::Status RotatingFileSink::Flush() {
  if (failed_) return absl::FailedPreconditionError("rotating file sink failed earlier");
  // Bytes go straight to write(2): nothing to flush but the age check.
  if (fd_ >= 0 && options_.rotate_seconds != 0 && Due(0)) {
    return CloseSegment(/*trailer=*/true, Now());
  }
  return absl::OkStatus();
}

absl::Status RotatingFileSink::Sync() {
  if (absl::Status s = Flush(); !s.ok()) return s;
  if (fd_ < 0) return absl::OkStatus();  // every closed file was fsync'd
  if (absl::Status s = FsyncFd(fd_, part_path_); !s.ok()) {
    failed_ = true;
    return s;
  }
  if (!dir_synced_) {
    if (absl::Status s = FsyncFd(dir_fd_, options_.dir); !s.ok()) {
      failed_ = true;
      return s;
    }
    dir_synced_ = true;
  }
  return absl::OkStatus();
}

absl::Status RotatingFileSink::End(const StreamEnd& end) {
  if (ended_) return absl::FailedPreconditionError("rotating file sink ended twice");
  ended_ = true;
  if (framer_ == nullptr) return absl::FailedPreconditionError("End before Begin");
  records_dropped_ = end.records_dropped;
  absl::Status s;
  if (fd_ < 0 && !failed_ && closed_.empty()) {
    // A run without data still leaves one file saying so (header, trailer);
    // after a rotation the files already say it (the last trailer then
    // counts the drops up to that rotation).
    s = OpenSegment(end.next_sequence == 0 ? 1 : end.next_sequence);
  }
  absl::Status c = CloseSegment(/*trailer=*/true, end.end_time_us);
  if (s.ok()) s = c;
  if (compressor_ != nullptr) {
    absl::Status z = compressor_->Wait();
    if (s.ok()) s = z;
  }
  return s;
}

absl::Status RotatingFileSink::Abort() {
  if (ended_) return absl::OkStatus();
  ended_ = true;
  absl::Status s = CloseSegment(/*trailer=*/false, 0);
  if (compressor_ != nullptr) {
    absl::Status z = compressor_->Wait();
    if (s.ok()) s = z;
  }
  return s;
}

std::vector<std::string> RotatingFileSink::closed_files() const { return closed_; }

absl::Status RotatingFileSink::WaitForCompression() {
  return compressor_ != nullptr ? compressor_->Wait() : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SegmentSink>> OpenRunOutput(const RunOutputOptions& options) {
  // The file I/O (writes, rotation, fsync, rename) runs on the sink's own
  // thread, never on the exporter lcore.
  if (options.dir.empty()) {
    absl::StatusOr<std::unique_ptr<ByteSink>> file = OpenFileSink(options.file);
    if (!file.ok()) return file.status();
    return std::make_unique<AsyncSegmentSink>(SingleSegment(*std::move(file)));
  }
  absl::StatusOr<std::unique_ptr<RotatingFileSink>> sink = RotatingFileSink::Create(
      {.dir = options.dir,
       .rotate_bytes = options.rotate_bytes,
       .rotate_seconds = options.rotate_seconds,
       .compression = options.compress_zstd ? Compression::kZstd : Compression::kNone});
  if (!sink.ok()) return sink.status();
  return std::make_unique<AsyncSegmentSink>(*std::move(sink));
}

}  // namespace flowtrail::exporter
