// Builds pcap and pcapng files in memory, byte by byte, for the capture-file
// reader's tests and benchmark (header-only; no libpcap, so the bytes are
// exactly what the test says, including broken ones).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace flowtrail::capture::test {

using Bytes = std::vector<uint8_t>;

// Appends integers in one byte order.
class ByteWriter {
 public:
  explicit ByteWriter(Bytes* out, bool big_endian) : out_(out), big_(big_endian) {}
  void U8(uint8_t v) { out_->push_back(v); }
  void U16(uint16_t v) { Int(v, 2); }
  void U32(uint32_t v) { Int(v, 4); }
  void U64(uint64_t v) { Int(v, 8); }
  void Append(const Bytes& b) { out_->insert(out_->end(), b.begin(), b.end()); }
  void Pad4() {
    while (out_->size() % 4 != 0) out_->push_back(0);
  }

 private:
  void Int(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) {
      const int shift = big_ ? 8 * (n - 1 - i) : 8 * i;
      out_->push_back(static_cast<uint8_t>(v >> shift));
    }
  }
  Bytes* out_;
  bool big_;
};

// n bytes counting up from `seed`, so frames are told apart by content.
inline Bytes Payload(size_t n, uint8_t seed = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i);
  return b;
}

struct PcapOptions {
  bool big_endian = false;
  bool nanosecond = false;
  uint32_t link_type = 1;  // the whole 32-bit field
  uint32_t snaplen = 65535;
  uint16_t major = 2;
  uint16_t minor = 4;
};

// A classic pcap file; records are appended one by one and their offsets kept.
class PcapBuilder {
 public:
  explicit PcapBuilder(PcapOptions o = {}) : o_(o) {
    ByteWriter w(&bytes_, o.big_endian);
    w.U32(o.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4);
    w.U16(o.major);
    w.U16(o.minor);
    w.U32(0);  // thiszone
    w.U32(0);  // sigfigs
    w.U32(o.snaplen);
    w.U32(o.link_type);
  }
  // caplen = data.size() unless given (a lie, for broken records); wire 0 = data.size().
  PcapBuilder& Record(uint32_t sec, uint32_t frac, const Bytes& data, uint32_t wire = 0,
                      std::optional<uint32_t> caplen = std::nullopt) {
    offsets_.push_back(bytes_.size());
    ByteWriter w(&bytes_, o_.big_endian);
    w.U32(sec);
    w.U32(frac);
    w.U32(caplen.value_or(static_cast<uint32_t>(data.size())));
    w.U32(wire != 0 ? wire : static_cast<uint32_t>(data.size()));
    w.Append(data);
    return *this;
  }
  const Bytes& bytes() const { return bytes_; }
  const std::vector<size_t>& offsets() const { return offsets_; }  // of each record

 private:
  PcapOptions o_;
  Bytes bytes_;
  std::vector<size_t> offsets_;
};

struct IdbOptions {
  uint16_t link_type = 1;
  uint32_t snaplen = 0;
  std::optional<uint8_t> tsresol;   // if_tsresol byte
  std::optional<int64_t> tsoffset;  // if_tsoffset seconds
};

// A pcapng file: sections (each in its own byte order) and blocks, with the
// offset of every block kept.
class PcapngBuilder {
 public:
  explicit PcapngBuilder(bool big_endian = false) { Section(big_endian); }

  PcapngBuilder& Section(bool big_endian, uint16_t major = 1, uint16_t minor = 0) {
    big_ = big_endian;
    Bytes body;
    ByteWriter w(&body, big_);
    w.U32(0x1a2b3c4d);
    w.U16(major);
    w.U16(minor);
    w.U64(~uint64_t{0});  // section length unknown
    return Block(0x0a0d0d0a, body);
  }
  PcapngBuilder& Interface(IdbOptions o = {}) {
    Bytes body;
    ByteWriter w(&body, big_);
    w.U16(o.link_type);
    w.U16(0);
    w.U32(o.snaplen);
    if (o.tsresol) {
      w.U16(9);
      w.U16(1);
      w.U8(*o.tsresol);
      w.Pad4();
    }
    if (o.tsoffset) {
      w.U16(14);
      w.U16(8);
      w.U64(static_cast<uint64_t>(*o.tsoffset));
    }
    if (o.tsresol || o.tsoffset) {
      w.U16(0);  // opt_endofopt
      w.U16(0);
    }
    return Block(1, body);
  }
  PcapngBuilder& Interface(uint16_t link_type) {
    IdbOptions o;
    o.link_type = link_type;
    return Interface(o);
  }
  // Enhanced Packet Block; wire 0 = data.size(); caplen overrides the field.
  PcapngBuilder& Epb(uint32_t iface, uint64_t ts, const Bytes& data, uint32_t wire = 0,
                     std::optional<uint32_t> caplen = std::nullopt) {
    Bytes body;
    ByteWriter w(&body, big_);
    w.U32(iface);
    w.U32(static_cast<uint32_t>(ts >> 32));
    w.U32(static_cast<uint32_t>(ts));
    w.U32(caplen.value_or(static_cast<uint32_t>(data.size())));
    w.U32(wire != 0 ? wire : static_cast<uint32_t>(data.size()));
    w.Append(data);
    w.Pad4();
    return Block(6, body);
  }
  // Obsolete Packet Block (16-bit interface id, drops count).
  PcapngBuilder& Pb(uint16_t iface, uint64_t ts, const Bytes& data, uint32_t wire = 0) {
    Bytes body;
    ByteWriter w(&body, big_);
    w.U16(iface);
    w.U16(0);
    w.U32(static_cast<uint32_t>(ts >> 32));
    w.U32(static_cast<uint32_t>(ts));
    w.U32(static_cast<uint32_t>(data.size()));
    w.U32(wire != 0 ? wire : static_cast<uint32_t>(data.size()));
    w.Append(data);
    w.Pad4();
    return Block(2, body);
  }
  // Simple Packet Block: the wire length, then the (padded) captured bytes.
  PcapngBuilder& Spb(const Bytes& data, uint32_t wire = 0) {
    Bytes body;
    ByteWriter w(&body, big_);
    w.U32(wire != 0 ? wire : static_cast<uint32_t>(data.size()));
    w.Append(data);
    w.Pad4();
    return Block(3, body);
  }
  // Any block: type, length, body (padded), trailing length. `length` and
  // `trailer` override the computed length fields (for broken blocks).
  PcapngBuilder& Block(uint32_t type, Bytes body, std::optional<uint32_t> length = std::nullopt,
                       std::optional<uint32_t> trailer = std::nullopt) {
    while (body.size() % 4 != 0) body.push_back(0);
    const auto len = static_cast<uint32_t>(body.size() + 12);
    offsets_.push_back(bytes_.size());
    ByteWriter w(&bytes_, big_);
    w.U32(type);
    w.U32(length.value_or(len));
    w.Append(body);
    w.U32(trailer.value_or(length.value_or(len)));
    return *this;
  }
  PcapngBuilder& Raw(const Bytes& b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  const Bytes& bytes() const { return bytes_; }
  const std::vector<size_t>& offsets() const { return offsets_; }  // of each block

 private:
  bool big_ = false;
  Bytes bytes_;
  std::vector<size_t> offsets_;
};

// A temporary file holding `bytes`, removed when this goes away.
class TempFile {
 public:
  explicit TempFile(const Bytes& bytes) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/capture_test_XXXXXX";
    const int fd = mkstemp(path_.data());
    if (fd < 0) std::abort();
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace flowtrail::capture::test
