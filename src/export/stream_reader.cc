#include "export/stream_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "export/record_encoder.h"
#include "export/zstd_file.h"

namespace flowtrail::exporter {
namespace {

class FdSource final : public ByteSource {
 public:
  FdSource(int fd, bool owns_fd, std::string name)
      : fd_(fd), owns_fd_(owns_fd), name_(std::move(name)) {}
  ~FdSource() override {
    if (owns_fd_) ::close(fd_);
  }
  absl::StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    for (;;) {
      const ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return absl::ErrnoToStatus(errno, absl::StrCat("reading ", name_));
    }
  }

 private:
  int fd_;
  bool owns_fd_;
  std::string name_;
};

class SpanSource final : public ByteSource {
 public:
  explicit SpanSource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    const size_t n = std::min(buf.size(), bytes_.size());
    if (n > 0) std::memcpy(buf.data(), bytes_.data(), n);
    bytes_ = bytes_.subspan(n);
    return n;
  }

 private:
  std::span<const uint8_t> bytes_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ByteSource>> OpenFileSource(const std::string& path) {
  // zstd-compressed segments (rotating_file_sink.h) read as the plain bytes.
  if (path == "-") {
    return MaybeZstdSource(std::make_unique<FdSource>(STDIN_FILENO, false, "stdin"), "stdin");
  }
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  return MaybeZstdSource(std::make_unique<FdSource>(fd, true, path), path);
}

std::unique_ptr<ByteSource> MemorySource(std::span<const uint8_t> bytes) {
  return std::make_unique<SpanSource>(bytes);
}

StreamReader::StreamReader(std::unique_ptr<ByteSource> source, ReaderOptions options)
    : source_(std::move(source)), options_(options), buf_(kBlockBytes) {}

absl::StatusOr<std::unique_ptr<StreamReader>> StreamReader::OpenFile(const std::string& path,
                                                                     ReaderOptions options) {
  absl::StatusOr<std::unique_ptr<ByteSource>> source = OpenFileSource(path);
  if (!source.ok()) return source.status();
  return std::make_unique<StreamReader>(*std::move(source), options);
}

std::unique_ptr<StreamReader> StreamReader::FromBytes(std::span<const uint8_t> bytes,
                                                      ReaderOptions options) {
  return std::make_unique<StreamReader>(MemorySource(bytes), options);
}

absl::StatusOr<size_t> StreamReader::Ensure(size_t n) {
  while (end_ - begin_ < n && !eof_) {
    if (buf_.size() - begin_ < n || end_ == buf_.size()) {
      // Move the unread bytes to the front, and grow for a large frame.
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      // Grow only as bytes arrive (at most doubling), so a frame length
      // larger than the input costs no more than twice the input.
      if (buf_.size() < n && end_ == buf_.size()) {
        buf_.resize(std::min(n, std::max(kBlockBytes, 2 * buf_.size())));
      }
    }
    absl::StatusOr<size_t> got = source_->Read(std::span<uint8_t>(buf_).subspan(end_));
    if (!got.ok()) return got.status();
    if (*got == 0) eof_ = true;
    end_ += *got;
  }
  return std::min(n, end_ - begin_);
}

absl::Status StreamReader::Fail(uint64_t offset, const std::string& message) {
  error_offset_ = offset;
  status_ = absl::DataLossError(absl::StrCat("byte ", offset, ": ", message));
  return status_;
}

absl::StatusOr<const v1::SessionRecord*> StreamReader::Next() {
  if (!status_.ok()) return status_;
  if (done_) return nullptr;
  return ReadFrame();
}

absl::StatusOr<const v1::SessionRecord*> StreamReader::ReadFrame() {
  for (;;) {
    const uint64_t start = offset_;
    absl::StatusOr<size_t> avail = Ensure(kMaxVarintBytes);
    if (!avail.ok()) return Fail(start, std::string(avail.status().message()));
    if (*avail == 0) {
      if (rules_.has_trailer() || (rules_.has_header() && !options_.require_trailer)) {
        done_ = true;
        return nullptr;
      }
      if (!rules_.has_header()) return Fail(start, "empty stream: no header frame");
      return Fail(start, absl::StrCat("stream ends after ", rules_.records(),
                                      " records without a trailer (truncated, or its writer "
                                      "was stopped or is still writing)"));
    }
    if (rules_.has_trailer()) return Fail(start, "unexpected data after the stream trailer");

    // The length prefix: a base-128 varint of at most 10 bytes.
    const uint8_t* p = buf_.data() + begin_;
    uint64_t len = 0;
    size_t prefix = 0;
    if (!ParseLengthPrefix(p, *avail, &len, &prefix)) {
      if (*avail < kMaxVarintBytes) return Fail(start, "stream truncated inside a frame length");
      return Fail(start, "malformed frame length: varint longer than 10 bytes");
    }
    if (LengthPrefixOverflows(p, prefix)) {
      return Fail(start, "malformed frame length: varint overflows 64 bits");
    }
    const size_t max_len = std::max(options_.max_frame_bytes, options_.max_snapshot_frame_bytes);
    if (len > max_len) {
      return Fail(start,
                  absl::StrCat("frame length ", len, " exceeds the limit of ", max_len, " bytes"));
    }
    const size_t total = prefix + static_cast<size_t>(len);
    avail = Ensure(total);
    if (!avail.ok()) return Fail(start, std::string(avail.status().message()));
    if (*avail < total) {
      return Fail(start, absl::StrCat("stream truncated: frame declares ", len, " bytes but only ",
                                      *avail - prefix, " follow"));
    }
    p = buf_.data() + begin_;
    const std::span<const uint8_t> body(p + prefix, static_cast<size_t>(len));
    // Before the parse: what it would allocate is bounded by the frame's size.
    if (absl::Status s = SegmentRules::CheckBeforeParse(body, options_.max_frame_bytes); !s.ok()) {
      return Fail(start, std::string(s.message()));
    }
    if (!frame_.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return Fail(start,
                  absl::StrCat("frame of ", len, " bytes is not a valid flowtrail.v1.Frame"));
    }
    if (absl::Status s = rules_.Check(frame_); !s.ok()) {
      return Fail(start, std::string(s.message()));
    }
    begin_ += total;
    offset_ += total;
    switch (frame_.body_case()) {
      case v1::Frame::kHeader:
        header_.Swap(frame_.mutable_header());
        continue;
      case v1::Frame::BODY_NOT_SET:  // a newer frame type: skipped
        continue;
      case v1::Frame::kTrailer:
        last_sequence_ = frame_.sequence();
        trailer_.Swap(frame_.mutable_trailer());
        continue;
      case v1::Frame::kSnapshot:
        last_sequence_ = frame_.sequence();
        last_snapshot_.Swap(frame_.mutable_snapshot());
        continue;
      case v1::Frame::kRecord:
        last_sequence_ = frame_.sequence();
        return &frame_.record();
    }
  }
}

StreamContents ReadAll(StreamReader& reader) {
  StreamContents c;
  for (;;) {
    absl::StatusOr<const v1::SessionRecord*> r = reader.Next();
    if (!r.ok()) {
      c.status = r.status();
      c.error_offset = reader.error_offset();
      break;
    }
    if (*r == nullptr) break;
    c.records.push_back(**r);
  }
  if (reader.header() != nullptr) c.header = *reader.header();
  if (reader.trailer() != nullptr) c.trailer = *reader.trailer();
  return c;
}

StreamContents ReadStreamBytes(std::span<const uint8_t> bytes, ReaderOptions options) {
  StreamReader reader(MemorySource(bytes), options);
  return ReadAll(reader);
}

}  // namespace flowtrail::exporter
