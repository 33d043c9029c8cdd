#include "collect/segment_files.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace flowtrail::collect {
namespace {

std::string Sanitize(const std::string& id) {
  std::string s;
  for (char ch : id.substr(0, 64)) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
    s += ok ? ch : '-';
  }
  return s.empty() ? "sensor" : s;
}

uint64_t NowS() { return static_cast<uint64_t>(::time(nullptr)); }

class SegmentFileSink final : public exporter::SegmentSink {
 public:
  explicit SegmentFileSink(SegmentFileOptions o) : o_(std::move(o)) {}
  ~SegmentFileSink() override { (void)Abort(); }

  absl::Status Begin(const v1::StreamHeader& run_header) override {
    framer_ = std::make_unique<exporter::SegmentFramer>(run_header);
    return absl::OkStatus();
  }
  absl::Status Write(std::span<const uint8_t> frames, const exporter::BlockInfo& info) override {
    if (fd_ >= 0 && (info.first_sequence != framer_->next_sequence() ||
                     (o_.rotate_bytes != 0 && bytes_ + frames.size() > o_.rotate_bytes) ||
                     (o_.rotate_seconds != 0 && NowS() - opened_ >= o_.rotate_seconds))) {
      if (absl::Status s = CloseFile(true); !s.ok()) return s;
    }
    if (fd_ < 0) {
      if (absl::Status s = OpenFile(info.first_sequence); !s.ok()) return s;
    }
    if (absl::Status s = WriteAll(frames.data(), frames.size()); !s.ok()) return s;
    framer_->Count(info);
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Sync() override {
    if (fd_ >= 0 && ::fdatasync(fd_) != 0) return absl::ErrnoToStatus(errno, "fsync " + part_);
    return absl::OkStatus();
  }
  absl::Status End(const exporter::StreamEnd&) override { return CloseFile(true); }
  absl::Status Abort() override { return CloseFile(false); }

 private:
  absl::Status OpenFile(uint64_t first) {
    char seq[24];
    std::snprintf(seq, sizeof seq, "%020llu", static_cast<unsigned long long>(first));
    const std::string name = absl::StrCat(Sanitize(framer_->run_header().sensor_id()), "_",
                                          Sanitize(framer_->run_header().run_id()), "_", seq);
    final_ = absl::StrCat(o_.dir, "/", name, ".ftr");
    part_ = absl::StrCat(o_.dir, "/.", name, ".ftr.part");
    fd_ = ::open(part_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return absl::ErrnoToStatus(errno, "cannot create " + part_);
    opened_ = NowS();
    bytes_ = 0;
    const std::string header = framer_->Open(first);
    return WriteAll(reinterpret_cast<const uint8_t*>(header.data()), header.size());
  }
  absl::Status CloseFile(bool trailer) {
    if (fd_ < 0) return absl::OkStatus();
    absl::Status s;
    if (trailer) {
      const std::string t = framer_->Close(0, static_cast<uint64_t>(::time(nullptr)) * 1000000);
      s = WriteAll(reinterpret_cast<const uint8_t*>(t.data()), t.size());
    }
    if (s.ok() && ::fdatasync(fd_) != 0) s = absl::ErrnoToStatus(errno, "fsync " + part_);
    ::close(fd_);
    fd_ = -1;
    if (s.ok() && ::rename(part_.c_str(), final_.c_str()) != 0) {
      s = absl::ErrnoToStatus(errno, "rename " + part_);
    }
    if (s.ok()) {
      const int dfd = ::open(o_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
      }
    }
    return s;
  }
  absl::Status WriteAll(const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return absl::ErrnoToStatus(errno, "write " + part_);
      }
      p += w;
      n -= static_cast<size_t>(w);
      bytes_ += static_cast<uint64_t>(w);
    }
    return absl::OkStatus();
  }

  SegmentFileOptions o_;
  std::unique_ptr<exporter::SegmentFramer> framer_;
  int fd_ = -1;
  std::string part_, final_;
  uint64_t bytes_ = 0;
  uint64_t opened_ = 0;
};

}  // namespace

std::unique_ptr<exporter::SegmentSink> NewSegmentFileSink(SegmentFileOptions options) {
  return std::make_unique<SegmentFileSink>(std::move(options));
}

}  // namespace flowtrail::collect
