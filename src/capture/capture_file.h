// Capture-file reader: classic pcap (both byte orders, microsecond and
// nanosecond magic) and pcapng (several sections, per-interface link types and
// timestamp resolutions), zero-copy over a read-only mmap of the file.
//
// Why not DPDK's net_pcap: it loses the wire length, reads pcap seconds as
// signed, takes timestamp 0 as "none" and reads garbage as packets after a bad
// record. This reader is DPDK-free; the sensor feeds its frames to a ring.
//
// Rules (one place for them):
// - Timestamps: pcap seconds are unsigned 32-bit (valid to 2106); ts_us =
//   sec * 10^6 + usec (nanoseconds floored to microseconds). 0 is a valid time.
//   pcapng: the 64-bit count in units of the interface's if_tsresol (10^-k or
//   2^-k, default 10^-6), floored to microseconds, plus if_tsoffset seconds.
//   A Simple Packet Block has no timestamp: it gets the previous frame's (0
//   when it is the first), so it never moves the capture clock.
// - Lengths: wire_len is the record's original length; when a record says it
//   is shorter than its captured bytes (or 0), wire_len = caplen, so
//   caplen <= wire_len always holds. caplen is never above kMaxCaplen. As
//   libpcap (so tcpdump and Zeek) does, a record with more captured bytes than
//   the snap length (pcap header; pcapng interface, 0 = none) is cut to it:
//   the reader returns what a capture at that snap length holds. A Simple
//   Packet Block's caplen is the lesser of its wire length and its block's
//   room (then cut to interface 0's snap length).
// - Input ends where the file stops being valid, the same way on every run:
//   kTruncated when the file ends inside a record (header or data: a capture
//   still being written or cut short by a copy), kCorrupt when a record is
//   invalid while bytes remain (pcap caplen > 262144; pcapng block length not a
//   multiple of 4, below its type's minimum, above kMaxBlockLength or with a
//   trailing copy that disagrees; a packet on an undeclared interface; a packet
//   larger than its block; a bad option or section header). A pcapng block
//   whose plausible length runs past the end of file is a truncated tail, like
//   a pcap record's data. After kEnd/kTruncated/kCorrupt, Next() keeps
//   returning the same status; offset() is then the bad record's offset and
//   error() says why ("byte 5123: record caplen 300000 exceeds 262144").
// - interface_id numbers the pcapng interfaces of the whole file in order
//   (section 2's first interface follows section 1's last), so it is unique
//   per file; in a one-section file it is the EPB's interface id. pcap: 0.
//
// The file is mapped once at Open() (nothing is read until Next() touches
// it); its size is the size at Open(). A frame's data stays valid until the
// CaptureFile is destroyed. Only regular files can be opened (no pipes).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace flowtrail::capture {

// libpcap's largest snap length (MAXIMUM_SNAPLEN): a record claiming more
// captured bytes is corrupt.
inline constexpr uint32_t kMaxCaplen = 262144;
// libpcap's largest pcapng block (INITIAL_MAX_BLOCKSIZE): a longer block is corrupt.
inline constexpr uint32_t kMaxBlockLength = 16 * 1024 * 1024;

struct CaptureFrame {
  const uint8_t* data = nullptr;  // caplen bytes, inside the mapping
  uint32_t caplen = 0;
  uint32_t wire_len = 0;   // >= caplen
  uint64_t ts_us = 0;      // microseconds since the epoch
  uint16_t link_type = 0;  // LINKTYPE_* (packet/link_type.h)
  uint32_t interface_id = 0;
};

enum class ReadStatus : uint8_t {
  kFrame,      // *frame filled
  kEnd,        // clean end of file
  kTruncated,  // file ends inside a record: error(), offset()
  kCorrupt,    // invalid record with bytes remaining: error(), offset()
};

// "frame", "end", "truncated", "corrupt".
std::string_view ReadStatusName(ReadStatus s);

class CaptureFile {
 public:
  // Maps `path` and reads its file header (and, for pcapng, the blocks before
  // the first packet). Fails, naming the file, when it is missing, unreadable,
  // not a regular file, empty, not pcap/pcapng, of an unsupported version or
  // with a broken first header.
  static absl::StatusOr<std::unique_ptr<CaptureFile>> Open(const std::string& path);
  // The same over bytes the caller keeps alive (tests, fuzzing); `name` is
  // used in messages.
  static absl::StatusOr<std::unique_ptr<CaptureFile>> OpenMemory(std::span<const uint8_t> bytes,
                                                                 std::string name = "<memory>");
  ~CaptureFile();
  CaptureFile(const CaptureFile&) = delete;
  CaptureFile& operator=(const CaptureFile&) = delete;

  // The next frame into *frame (not null). No system call, allocation or
  // copy per frame (pcapng interface blocks allocate, once per interface).
  ReadStatus Next(CaptureFrame* frame);

  // Byte offset of the next record (of the bad one after kTruncated/kCorrupt;
  // the file size after kEnd).
  uint64_t offset() const { return pos_; }
  // Why reading stopped early ("" while reading or after kEnd).
  const std::string& error() const { return error_; }
  // "pcap", "pcap (nanosecond)" or "pcapng".
  std::string_view format() const;
  // Link types of the interfaces declared before the first packet (pcap: the
  // one), in interface order: what to check at start.
  std::span<const uint16_t> link_types() const { return initial_link_types_; }
  // Frames returned so far.
  uint64_t frames() const { return frames_; }
  uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }

 private:
  enum class Kind : uint8_t { kPcap, kPcapNs, kPcapng };
  // A pcapng interface: its link type and how its timestamps become
  // microseconds: ((ts * mul) >> shift) / div + offset_us.
  struct Interface {
    uint16_t link_type = 0;
    uint32_t snaplen = 0;  // 0: no limit
    uint64_t mul = 1;
    uint64_t div = 1;
    uint8_t shift = 0;
    uint64_t offset_us = 0;  // if_tsoffset, wrapping like the 64-bit count
  };

  CaptureFile(std::string name, const uint8_t* base, uint64_t size, bool mapped);
  absl::Status Init();
  ReadStatus NextPcap(CaptureFrame* frame);
  // Walks pcapng blocks from pos_; with frame == nullptr stops (kFrame,
  // nothing consumed) at the first packet block.
  ReadStatus NextPcapng(CaptureFrame* frame);
  ReadStatus ReadSectionHeader(uint64_t len);
  ReadStatus ReadInterface(const uint8_t* b, uint32_t len);
  ReadStatus Fail(ReadStatus s, std::string why);
  // Each record's offset depends on the one before, so without help every
  // header is a cache miss in series; the file is read front to back, so
  // request every line up to kPrefetchAhead bytes past the read position.
  void Prefetch() {
    const uint64_t want = pos_ + kPrefetchAhead < size_ ? pos_ + kPrefetchAhead : size_;
    while (prefetched_ < want) {
      __builtin_prefetch(base_ + prefetched_);
      prefetched_ += 64;
    }
  }
  static constexpr uint64_t kPrefetchAhead = 16384;
  uint32_t Load32(const uint8_t* p) const;
  uint16_t Load16(const uint8_t* p) const;

  std::string name_;
  const uint8_t* base_;
  uint64_t size_;
  bool mapped_;
  Kind kind_ = Kind::kPcap;
  bool swapped_ = false;                  // current section/file is in the other byte order
  ReadStatus stop_ = ReadStatus::kFrame;  // sticky once not kFrame
  uint64_t pos_ = 0;
  uint64_t prefetched_ = 0;  // lines below it have been requested
  uint64_t frames_ = 0;
  std::string error_;
  // pcap
  uint16_t pcap_link_type_ = 0;
  uint32_t pcap_snaplen_ = kMaxCaplen;
  // pcapng: interfaces of the current section; ids of the file's earlier sections
  std::vector<Interface> interfaces_;
  uint32_t interface_base_ = 0;
  bool seen_packet_ = false;
  uint64_t last_ts_us_ = 0;  // a Simple Packet Block has no time: it takes the previous one
  std::vector<uint16_t> initial_link_types_;
};

// The link types a capture declares before its first packet (pcap: the file
// header's; pcapng: the interface blocks before the first packet block), from
// a cheap look at the file's head. For refusing unsupported ones at start.
absl::StatusOr<std::vector<uint16_t>> ReadLinkTypes(const std::string& path);

}  // namespace flowtrail::capture
