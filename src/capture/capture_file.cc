#include "capture/capture_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace flowtrail::capture {
namespace {

constexpr uint32_t kPcapMagicUs = 0xa1b2c3d4;
constexpr uint32_t kPcapMagicNs = 0xa1b23c4d;
constexpr uint32_t kPcapHeaderLen = 24;
constexpr uint32_t kPcapRecordHeaderLen = 16;

constexpr uint32_t kBlockShb = 0x0a0d0d0a;  // the same in both byte orders
constexpr uint32_t kBlockIdb = 1;
constexpr uint32_t kBlockPb = 2;  // obsolete Packet Block
constexpr uint32_t kBlockSpb = 3;
constexpr uint32_t kBlockEpb = 6;
constexpr uint32_t kByteOrderMagic = 0x1a2b3c4d;
constexpr uint32_t kMinBlockLen = 12;  // type, length, trailing length
constexpr uint32_t kMinShbLen = 28;
constexpr uint32_t kMinIdbLen = 20;
constexpr uint32_t kMinEpbLen = 32;  // also the obsolete Packet Block's
constexpr uint32_t kMinSpbLen = 16;
constexpr uint32_t kPacketHeaderLen = 28;  // EPB/PB fields before the data
constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptTsResol = 9;
constexpr uint16_t kOptTsOffset = 14;

uint32_t LoadNative32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t Pow10(unsigned k) {
  uint64_t v = 1;
  while (k-- > 0) v *= 10;
  return v;
}

}  // namespace

std::string_view ReadStatusName(ReadStatus s) {
  switch (s) {
    case ReadStatus::kFrame:
      return "frame";
    case ReadStatus::kEnd:
      return "end";
    case ReadStatus::kTruncated:
      return "truncated";
    case ReadStatus::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

CaptureFile::CaptureFile(std::string name, const uint8_t* base, uint64_t size, bool mapped)
    : name_(std::move(name)), base_(base), size_(size), mapped_(mapped) {}

CaptureFile::~CaptureFile() {
  if (mapped_) munmap(const_cast<uint8_t*>(base_), size_);
}

absl::StatusOr<std::unique_ptr<CaptureFile>> CaptureFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot stat ", path, ": ", std::strerror(e)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file (capture files are mapped, not streamed)"));
  }
  if (st.st_size == 0) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty file"));
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int e = errno;
  ::close(fd);  // the mapping keeps the file
  if (m == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("cannot map ", path, ": ", std::strerror(e)));
  }
  // Read once, front to back: let the kernel read ahead and drop what is behind.
  madvise(m, size, MADV_SEQUENTIAL);
  std::unique_ptr<CaptureFile> f(new CaptureFile(path, static_cast<const uint8_t*>(m), size, true));
  if (absl::Status s = f->Init(); !s.ok()) return s;
  return f;
}

absl::StatusOr<std::unique_ptr<CaptureFile>> CaptureFile::OpenMemory(std::span<const uint8_t> bytes,
                                                                     std::string name) {
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": empty file"));
  std::unique_ptr<CaptureFile> f(
      new CaptureFile(std::move(name), bytes.data(), bytes.size(), false));
  if (absl::Status s = f->Init(); !s.ok()) return s;
  return f;
}

absl::Status CaptureFile::Init() {
  if (size_ < 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": not a pcap or pcapng file (", size_, " bytes)"));
  }
  const uint32_t magic = LoadNative32(base_);
  if (magic == kBlockShb) {
    kind_ = Kind::kPcapng;
    // Read the blocks before the first packet now: link_types() and a broken
    // first section header are known at Open(). A problem further on is left
    // for Next() to report, in file order.
    NextPcapng(nullptr);
    if (stop_ != ReadStatus::kFrame && stop_ != ReadStatus::kEnd && pos_ == 0) {
      return absl::InvalidArgumentError(absl::StrCat(name_, ": ", error_));
    }
    return absl::OkStatus();
  }
  if (magic == kPcapMagicUs || magic == kPcapMagicNs) {
    swapped_ = false;
  } else if (magic == __builtin_bswap32(kPcapMagicUs) || magic == __builtin_bswap32(kPcapMagicNs)) {
    swapped_ = true;
  } else {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: not a pcap or pcapng file (magic 0x%08x)", name_, __builtin_bswap32(magic)));
  }
  kind_ = Load32(base_) == kPcapMagicNs ? Kind::kPcapNs : Kind::kPcap;
  if (size_ < kPcapHeaderLen) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: pcap file header cut short (%d of %d bytes)", name_, size_, kPcapHeaderLen));
  }
  const uint16_t major = Load16(base_ + 4);
  const uint16_t minor = Load16(base_ + 6);
  // libpcap reads 2.0 to 2.4 (2.4 is what everybody writes).
  if (major != 2 || minor > 4) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: unsupported pcap version %d.%d", name_, major, minor));
  }
  // The low 16 bits are the link type; the upper ones carry FCS information.
  pcap_link_type_ = static_cast<uint16_t>(Load32(base_ + 20) & 0xffff);
  // As libpcap: 0 or more than the largest snap length means the largest.
  pcap_snaplen_ = Load32(base_ + 16);
  if (pcap_snaplen_ == 0 || pcap_snaplen_ > kMaxCaplen) pcap_snaplen_ = kMaxCaplen;
  initial_link_types_.assign(1, pcap_link_type_);
  pos_ = kPcapHeaderLen;
  return absl::OkStatus();
}

std::string_view CaptureFile::format() const {
  switch (kind_) {
    case Kind::kPcap:
      return "pcap";
    case Kind::kPcapNs:
      return "pcap (nanosecond)";
    case Kind::kPcapng:
      return "pcapng";
  }
  return "unknown";
}

uint32_t CaptureFile::Load32(const uint8_t* p) const {
  const uint32_t v = LoadNative32(p);
  return swapped_ ? __builtin_bswap32(v) : v;
}

uint16_t CaptureFile::Load16(const uint8_t* p) const {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return swapped_ ? __builtin_bswap16(v) : v;
}

ReadStatus CaptureFile::Fail(ReadStatus s, std::string why) {
  stop_ = s;
  if (s != ReadStatus::kEnd) error_ = absl::StrCat("byte ", pos_, ": ", why);
  return s;
}

ReadStatus CaptureFile::Next(CaptureFrame* frame) {
  if (stop_ != ReadStatus::kFrame) [[unlikely]] {
    return stop_;
  }
  return kind_ == Kind::kPcapng ? NextPcapng(frame) : NextPcap(frame);
}

ReadStatus CaptureFile::NextPcap(CaptureFrame* frame) {
  const uint64_t rem = size_ - pos_;
  if (rem < kPcapRecordHeaderLen) [[unlikely]] {
    if (rem == 0) return Fail(ReadStatus::kEnd, "");
    return Fail(ReadStatus::kTruncated,
                absl::StrFormat("file ends inside a record header (%d of %d bytes)", rem,
                                kPcapRecordHeaderLen));
  }
  Prefetch();
  const uint8_t* h = base_ + pos_;
  const uint32_t sec = Load32(h);
  const uint32_t frac = Load32(h + 4);
  const uint32_t caplen = Load32(h + 8);
  const uint32_t wire = Load32(h + 12);
  if (caplen > kMaxCaplen) [[unlikely]] {
    return Fail(ReadStatus::kCorrupt,
                absl::StrFormat("record caplen %d exceeds %d", caplen, kMaxCaplen));
  }
  if (caplen > rem - kPcapRecordHeaderLen) [[unlikely]] {
    return Fail(ReadStatus::kTruncated,
                absl::StrFormat("file ends inside a record (%d of %d data bytes)",
                                rem - kPcapRecordHeaderLen, caplen));
  }
  const uint32_t kept = caplen > pcap_snaplen_ ? pcap_snaplen_ : caplen;
  frame->data = h + kPcapRecordHeaderLen;
  frame->caplen = kept;
  frame->wire_len = wire < kept ? kept : wire;
  frame->ts_us = uint64_t{sec} * 1000000 + (kind_ == Kind::kPcapNs ? frac / 1000 : uint64_t{frac});
  frame->link_type = pcap_link_type_;
  frame->interface_id = 0;
  pos_ += kPcapRecordHeaderLen + caplen;
  ++frames_;
  return ReadStatus::kFrame;
}

ReadStatus CaptureFile::NextPcapng(CaptureFrame* frame) {
  for (;;) {
    const uint64_t rem = size_ - pos_;
    if (rem < 8) [[unlikely]] {
      if (rem == 0) return Fail(ReadStatus::kEnd, "");
      return Fail(ReadStatus::kTruncated,
                  absl::StrFormat("file ends inside a block header (%d of 8 bytes)", rem));
    }
    Prefetch();
    const uint8_t* b = base_ + pos_;
    uint32_t type = LoadNative32(b);
    if (type == kBlockShb) {
      // A new section may change the byte order: its magic says which.
      if (rem < 12) {
        return Fail(ReadStatus::kTruncated,
                    absl::StrFormat("file ends inside a section header (%d of 12 bytes)", rem));
      }
      const uint32_t bom = LoadNative32(b + 8);
      if (bom == kByteOrderMagic) {
        swapped_ = false;
      } else if (bom == __builtin_bswap32(kByteOrderMagic)) {
        swapped_ = true;
      } else {
        return Fail(ReadStatus::kCorrupt,
                    absl::StrFormat("section header byte-order magic 0x%08x is neither 0x1a2b3c4d "
                                    "nor 0x4d3c2b1a",
                                    __builtin_bswap32(bom)));
      }
    } else {
      type = Load32(b);
    }
    const uint32_t len = Load32(b + 4);
    if (len % 4 != 0 || len < kMinBlockLen || len > kMaxBlockLength) [[unlikely]] {
      return Fail(ReadStatus::kCorrupt,
                  absl::StrFormat("block type 0x%x length %d is %s", type, len,
                                  len % 4 != 0         ? "not a multiple of 4"
                                  : len < kMinBlockLen ? "below 12"
                                                       : "above 16 MiB"));
    }
    if (len > rem) [[unlikely]] {
      return Fail(
          ReadStatus::kTruncated,
          absl::StrFormat("file ends inside a block (type 0x%x, %d of %d bytes)", type, rem, len));
    }
    if (Load32(b + len - 4) != len) [[unlikely]] {
      return Fail(ReadStatus::kCorrupt,
                  absl::StrFormat("block type 0x%x length %d disagrees with its trailing copy %d",
                                  type, len, Load32(b + len - 4)));
    }
    switch (type) {
      case kBlockShb: {
        if (const ReadStatus r = ReadSectionHeader(len); r != ReadStatus::kFrame) return r;
        break;
      }
      case kBlockIdb: {
        if (const ReadStatus r = ReadInterface(b, len); r != ReadStatus::kFrame) return r;
        break;
      }
      case kBlockEpb:
      case kBlockPb:
      case kBlockSpb: {
        if (frame == nullptr) return ReadStatus::kFrame;  // Open()'s look ahead stops here
        uint32_t iface, caplen, wire;
        uint64_t ts;
        const uint8_t* data;
        if (type == kBlockSpb) {
          if (len < kMinSpbLen) [[unlikely]] {
            return Fail(
                ReadStatus::kCorrupt,
                absl::StrFormat("simple packet block length %d is below %d", len, kMinSpbLen));
          }
          if (interfaces_.empty()) [[unlikely]] {
            return Fail(ReadStatus::kCorrupt,
                        "simple packet block in a section without an interface");
          }
          iface = 0;
          wire = Load32(b + 8);
          // The captured length is not written: the smallest of the wire
          // length, the block's room and the interface's snap length.
          caplen = wire < len - 16 ? wire : len - 16;
          data = b + 12;
          ts = UINT64_MAX;  // none: the previous frame's time
        } else {
          const bool enhanced = type == kBlockEpb;
          const char* what = enhanced ? "enhanced packet block" : "packet block";
          if (len < kMinEpbLen) [[unlikely]] {
            return Fail(ReadStatus::kCorrupt,
                        absl::StrFormat("%s length %d is below %d", what, len, kMinEpbLen));
          }
          iface = enhanced ? Load32(b + 8) : Load16(b + 8);
          ts = (uint64_t{Load32(b + 12)} << 32) | Load32(b + 16);
          caplen = Load32(b + 20);
          wire = Load32(b + 24);
          data = b + kPacketHeaderLen;
          if (iface >= interfaces_.size()) [[unlikely]] {
            return Fail(ReadStatus::kCorrupt,
                        absl::StrFormat("%s on interface %d; the section declares %d", what, iface,
                                        interfaces_.size()));
          }
          if (caplen > len - kPacketHeaderLen - 4) [[unlikely]] {
            return Fail(
                ReadStatus::kCorrupt,
                absl::StrFormat("%s caplen %d exceeds its %d-byte block", what, caplen, len));
          }
        }
        if (caplen > kMaxCaplen) [[unlikely]] {
          return Fail(ReadStatus::kCorrupt,
                      absl::StrFormat("record caplen %d exceeds %d", caplen, kMaxCaplen));
        }
        const Interface& i = interfaces_[iface];
        if (i.snaplen != 0 && caplen > i.snaplen) caplen = i.snaplen;  // as libpcap
        if (ts != UINT64_MAX) {
          uint64_t us;
          if (i.div == 1000) {
            us = ts / 1000;  // nanoseconds, the common case: a multiply, not a divide
          } else if (i.div != 1) {
            us = ts / i.div;
          } else {
            us = static_cast<uint64_t>((static_cast<unsigned __int128>(ts) * i.mul) >> i.shift);
          }
          last_ts_us_ = us + i.offset_us;
        }
        frame->data = data;
        frame->caplen = caplen;
        frame->wire_len = wire < caplen ? caplen : wire;
        frame->ts_us = last_ts_us_;
        frame->link_type = i.link_type;
        frame->interface_id = interface_base_ + iface;
        pos_ += len;
        ++frames_;
        seen_packet_ = true;
        return ReadStatus::kFrame;
      }
      default:
        break;  // name resolution, statistics, decryption secrets, custom...: not ours
    }
    pos_ += len;
  }
}

ReadStatus CaptureFile::ReadSectionHeader(uint64_t len) {
  const uint8_t* b = base_ + pos_;
  if (len < kMinShbLen) {
    return Fail(ReadStatus::kCorrupt,
                absl::StrFormat("section header length %d is below %d", len, kMinShbLen));
  }
  const uint16_t major = Load16(b + 12);
  const uint16_t minor = Load16(b + 14);
  if (major != 1) {
    return Fail(ReadStatus::kCorrupt,
                absl::StrFormat("unsupported pcapng version %d.%d", major, minor));
  }
  // Interface ids restart in each section; keep ours unique per file.
  interface_base_ += static_cast<uint32_t>(interfaces_.size());
  interfaces_.clear();
  return ReadStatus::kFrame;
}

ReadStatus CaptureFile::ReadInterface(const uint8_t* b, uint32_t len) {
  if (len < kMinIdbLen) {
    return Fail(ReadStatus::kCorrupt,
                absl::StrFormat("interface block length %d is below %d", len, kMinIdbLen));
  }
  Interface i;
  i.link_type = Load16(b + 8);
  i.snaplen = Load32(b + 12);
  i.mul = 1;  // default resolution 10^-6: the count is microseconds
  const uint8_t* p = b + 16;
  const uint8_t* const end = b + len - 4;
  while (end - p >= 4) {
    const uint16_t code = Load16(p);
    const uint16_t olen = Load16(p + 2);
    if (code == kOptEnd) break;
    const uint32_t padded = (uint32_t{olen} + 3) & ~3u;
    if (padded > static_cast<uint64_t>(end - p - 4)) {
      return Fail(
          ReadStatus::kCorrupt,
          absl::StrFormat("interface block option %d (%d bytes) overruns the block", code, olen));
    }
    const uint8_t* v = p + 4;
    if (code == kOptTsResol) {
      if (olen != 1) {
        return Fail(ReadStatus::kCorrupt,
                    absl::StrFormat("if_tsresol option has %d bytes, not 1", olen));
      }
      const unsigned exp = v[0] & 0x7f;
      if (v[0] & 0x80) {  // 2^-exp seconds: (ts * 10^6) >> exp
        if (exp > 63) {
          return Fail(ReadStatus::kCorrupt,
                      absl::StrFormat("if_tsresol 2^-%d is unsupported", exp));
        }
        i.mul = 1000000;
        i.div = 1;
        i.shift = static_cast<uint8_t>(exp);
      } else {  // 10^-exp seconds
        if (exp > 19) {
          return Fail(ReadStatus::kCorrupt,
                      absl::StrFormat("if_tsresol 10^-%d is unsupported", exp));
        }
        i.shift = 0;
        i.mul = exp <= 6 ? Pow10(6 - exp) : 1;
        i.div = exp > 6 ? Pow10(exp - 6) : 1;
      }
    } else if (code == kOptTsOffset) {
      if (olen != 8) {
        return Fail(ReadStatus::kCorrupt,
                    absl::StrFormat("if_tsoffset option has %d bytes, not 8", olen));
      }
      // Signed seconds, added as the 64-bit microsecond count wraps.
      uint64_t off;
      std::memcpy(&off, v, sizeof off);
      if (swapped_) off = __builtin_bswap64(off);
      i.offset_us = off * 1000000;
    }
    p += 4 + padded;
  }
  interfaces_.push_back(i);
  if (!seen_packet_) initial_link_types_.push_back(i.link_type);
  return ReadStatus::kFrame;
}

absl::StatusOr<std::vector<uint16_t>> ReadLinkTypes(const std::string& path) {
  absl::StatusOr<std::unique_ptr<CaptureFile>> f = CaptureFile::Open(path);
  if (!f.ok()) return f.status();
  const std::span<const uint16_t> types = (*f)->link_types();
  return std::vector<uint16_t>(types.begin(), types.end());
}

}  // namespace flowtrail::capture
