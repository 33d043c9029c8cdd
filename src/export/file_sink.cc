// OpenFileSink: the stream into a file or stdout with plain write(2). The
// exporter hands it 64 KiB blocks, so there is no user-space buffer to flush.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "export/stream_writer.h"

namespace flowtrail::exporter {
namespace {

class FileSink final : public ByteSink {
 public:
  FileSink(int fd, bool owns_fd, std::string name)
      : fd_(fd), owns_fd_(owns_fd), name_(std::move(name)) {}
  ~FileSink() override { (void)Close(); }

  absl::Status Write(std::span<const uint8_t> bytes) override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(name_, ": write after close"));
    const uint8_t* p = bytes.data();
    size_t left = bytes.size();
    failed_write_prefix_ = 0;
    while (left > 0) {
      failed_write_prefix_ = bytes.size() - left;  // what a failure leaves behind
      const ssize_t n = ::write(fd_, p, left);
      if (n > 0) {
        p += n;
        left -= static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // stdout may be a non-blocking pipe: wait until it drains.
        pollfd pfd{fd_, POLLOUT, 0};
        if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) return Error("waiting to write");
      } else {
        return n == 0 ? absl::DataLossError(absl::StrCat("writing ", name_, ": wrote 0 bytes"))
                      : Error("writing");
      }
    }
    failed_write_prefix_ = 0;
    return absl::OkStatus();
  }

  size_t failed_write_prefix() const override { return failed_write_prefix_; }

  absl::Status Flush() override { return absl::OkStatus(); }

  absl::Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    const int fd = fd_;
    fd_ = -1;
    // Not retried on EINTR: on Linux the descriptor is gone either way.
    if (owns_fd_ && ::close(fd) != 0 && errno != EINTR) return Error("closing");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(const char* what) const {
    return absl::ErrnoToStatus(errno, absl::StrCat(what, " ", name_));
  }

  int fd_;
  bool owns_fd_;
  std::string name_;
  size_t failed_write_prefix_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ByteSink>> OpenFileSink(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("output path is empty");
  if (path == "-") return std::make_unique<FileSink>(STDOUT_FILENO, false, "stdout");
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path, " for writing"));
  return std::make_unique<FileSink>(fd, true, path);
}

}  // namespace flowtrail::exporter
