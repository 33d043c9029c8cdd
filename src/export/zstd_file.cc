#include "export/zstd_file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace flowtrail::exporter {
namespace {

constexpr uint8_t kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};

absl::Status WriteFd(int fd, const uint8_t* p, size_t n, const std::string& name) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      return w == 0 ? absl::DataLossError(absl::StrCat("writing ", name, ": wrote 0 bytes"))
                    : absl::ErrnoToStatus(errno, absl::StrCat("writing ", name));
    }
  }
  return absl::OkStatus();
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

absl::Status Compress(int in, int out, int level, const std::string& in_name,
                      const std::string& out_name) {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (cctx == nullptr) return absl::ResourceExhaustedError("cannot create a zstd context");
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  std::vector<uint8_t> ibuf(ZSTD_CStreamInSize());
  std::vector<uint8_t> obuf(ZSTD_CStreamOutSize());
  for (;;) {
    ssize_t n = ::read(in, ibuf.data(), ibuf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("reading ", in_name));
    }
    const ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer input{ibuf.data(), static_cast<size_t>(n), 0};
    bool finished = false;
    while (!finished) {
      ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
      const size_t left = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
      if (ZSTD_isError(left)) {
        return absl::InternalError(
            absl::StrCat("zstd compressing ", in_name, ": ", ZSTD_getErrorName(left)));
      }
      if (absl::Status s = WriteFd(out, obuf.data(), output.pos, out_name); !s.ok()) return s;
      finished = mode == ZSTD_e_end ? left == 0 : input.pos == input.size;
    }
    if (n == 0) return absl::OkStatus();
  }
}

// Streaming decompression of a source whose first bytes (already read into
// `pending`) are a zstd frame.
class ZstdSource final : public ByteSource {
 public:
  ZstdSource(std::unique_ptr<ByteSource> source, std::string name)
      : source_(std::move(source)),
        name_(std::move(name)),
        dctx_(ZSTD_createDCtx()),
        in_(ZSTD_DStreamInSize()) {
    // A hostile header may ask for a huge window; 2^27 is zstd's own default
    // limit, said here so it does not change under us.
    if (dctx_ != nullptr) ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, 27);
  }
  ~ZstdSource() override { ZSTD_freeDCtx(dctx_); }

  // Bytes read from the source before this one existed.
  void Preload(const uint8_t* p, size_t n) {
    std::memcpy(in_.data(), p, n);
    in_end_ = n;
  }

  absl::StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    if (dctx_ == nullptr) return absl::ResourceExhaustedError("cannot create a zstd context");
    if (buf.empty()) return 0;
    for (;;) {
      if (in_pos_ == in_end_ && !eof_) {
        absl::StatusOr<size_t> got = source_->Read(std::span<uint8_t>(in_));
        if (!got.ok()) return got.status();
        in_pos_ = 0;
        in_end_ = *got;
        if (*got == 0) eof_ = true;
      }
      if (in_pos_ == in_end_ && eof_) {
        if (frame_open_) {
          return absl::DataLossError(
              absl::StrCat(name_, ": zstd data truncated (the compressed file is incomplete)"));
        }
        return 0;
      }
      ZSTD_inBuffer input{in_.data(), in_end_, in_pos_};
      ZSTD_outBuffer output{buf.data(), buf.size(), 0};
      const size_t r = ZSTD_decompressStream(dctx_, &output, &input);
      in_pos_ = input.pos;
      if (ZSTD_isError(r)) {
        return absl::DataLossError(
            absl::StrCat(name_, ": corrupt zstd data: ", ZSTD_getErrorName(r)));
      }
      frame_open_ = r != 0;
      if (output.pos > 0) return output.pos;
    }
  }

 private:
  std::unique_ptr<ByteSource> source_;
  std::string name_;
  ZSTD_DCtx* dctx_;
  std::vector<uint8_t> in_;
  size_t in_pos_ = 0;
  size_t in_end_ = 0;
  bool eof_ = false;
  bool frame_open_ = true;
};

// Gives back bytes already read from a source, then the rest of it.
class PrefixedSource final : public ByteSource {
 public:
  PrefixedSource(std::unique_ptr<ByteSource> source, std::vector<uint8_t> prefix)
      : source_(std::move(source)), prefix_(std::move(prefix)) {}
  absl::StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    if (pos_ < prefix_.size()) {
      const size_t n = std::min(buf.size(), prefix_.size() - pos_);
      std::memcpy(buf.data(), prefix_.data() + pos_, n);
      pos_ += n;
      return n;
    }
    return source_->Read(buf);
  }

 private:
  std::unique_ptr<ByteSource> source_;
  std::vector<uint8_t> prefix_;
  size_t pos_ = 0;
};

}  // namespace

absl::Status CompressFileZstd(const std::string& in, const std::string& out, int level,
                              bool fsync) {
  Fd src;
  src.fd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
  if (src.fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", in));
  Fd dst;
  dst.fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (dst.fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", out));
  absl::Status s = Compress(src.fd, dst.fd, level, in, out);
  if (s.ok() && fsync && ::fsync(dst.fd) != 0) {
    s = absl::ErrnoToStatus(errno, absl::StrCat("fsync ", out));
  }
  const int fd = dst.fd;
  dst.fd = -1;
  if (::close(fd) != 0 && errno != EINTR && s.ok()) {
    s = absl::ErrnoToStatus(errno, absl::StrCat("closing ", out));
  }
  if (!s.ok()) ::unlink(out.c_str());
  return s;
}

std::unique_ptr<ByteSource> MaybeZstdSource(std::unique_ptr<ByteSource> source,
                                            const std::string& name) {
  // Sniff the first 4 bytes (short reads allowed); a read error is left for
  // the reader to meet again on the next Read.
  std::vector<uint8_t> head(4);
  size_t got = 0;
  while (got < head.size()) {
    absl::StatusOr<size_t> n = source->Read(std::span<uint8_t>(head).subspan(got));
    if (!n.ok() || *n == 0) break;
    got += *n;
  }
  head.resize(got);
  if (got == 4 && std::memcmp(head.data(), kZstdMagic, 4) == 0) {
    auto z = std::make_unique<ZstdSource>(std::move(source), name);
    z->Preload(head.data(), head.size());
    return z;
  }
  return std::make_unique<PrefixedSource>(std::move(source), std::move(head));
}

}  // namespace flowtrail::exporter
