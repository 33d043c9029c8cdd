// Buffered output of the tools (`flowtrail cat`, `flowtrail report`): large
// writes, and a reader that went away (`... | head`: EPIPE, SIGPIPE being
// ignored, see flowtrail.cc) told apart from a real write error.
#pragma once

#include <cerrno>
#include <cstdio>
#include <string>

namespace flowtrail::tools {

class OutputBuffer {
 public:
  explicit OutputBuffer(std::FILE* f) : f_(f) {}
  std::string* buf() { return &buf_; }
  void MaybeFlush() {
    if (buf_.size() >= size_t{64} * 1024) {
      Flush();
    }
  }
  void Flush() {
    if (closed_ || failed_) {
      buf_.clear();
      return;
    }
    errno = 0;
    bool ok = buf_.empty() || std::fwrite(buf_.data(), 1, buf_.size(), f_) == buf_.size();
    ok = std::fflush(f_) == 0 && ok;
    buf_.clear();
    if (!ok) {
      (errno == EPIPE ? closed_ : failed_) = true;
      error_ = errno;
    }
  }
  // The reader of the output has gone (`flowtrail cat ... | head`).
  bool closed() const { return closed_; }
  bool failed() const { return failed_; }
  int error() const { return error_; }

 private:
  std::FILE* f_;
  std::string buf_;
  bool closed_ = false;
  bool failed_ = false;
  int error_ = 0;
};

}  // namespace flowtrail::tools
