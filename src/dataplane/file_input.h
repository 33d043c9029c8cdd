// Capture files read by flowtrail itself, fed to the workers through a ring
// ethdev: one port per `--vdev=net_pcapN,rx_pcap=FILE[,rx_pcap=FILE2...]`,
// one RX queue (ring) per file, the same queue layout net_pcap would give.
//
// Why not net_pcap: it drops the wire length (pkt_len = caplen, so every
// snap-length capture looked malformed), reads pcap seconds as signed, has no
// notion of link types, and after an invalid record it goes on reading
// garbage as packets. Here capture::CaptureFile validates every record, the
// input ends where the file stops being valid (the same way on every run,
// offset and reason in the summary), and each mbuf carries its wire length,
// link type and the capture clock (capture_meta.h).
//
// The reader runs on the main lcore (Poll from the control loop). It never
// loses a frame: it reads only as many frames as its ring and the mbuf pool
// can take, and a frame it could not place is read again on the next Poll.
// Reading a file costs system calls and page faults; that is the input's
// cost, like a NIC's DMA, not the workers'.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "absl/status/statusor.h"
#include "capture/capture_file.h"
#include "dataplane/capture_meta.h"
#include "dataplane/clock.h"
#include "dataplane/pcap_devargs.h"
#include "dataplane/rx_queue.h"
#include "dataplane/stats_report.h"
#include "session/capture_clock.h"

namespace flowtrail::dataplane {

// Frames a file's ring holds between the reader and the port's poller.
inline constexpr unsigned kFileRingSize = 1024;

// How reading one file ended (stats_report.h renders it).
using FileInputStatus = InputSnapshot;

class FileReader {
 public:
  static absl::StatusOr<std::unique_ptr<FileReader>> Open(const std::string& path, rte_ring* ring,
                                                          uint16_t port, uint64_t clock_jump_us);
  // Reads up to a burst into mbufs from `pool` and enqueues them. Returns
  // true if frames moved.
  bool Poll(rte_mempool* pool, const RxTimestamp& ts, const CaptureMetaField& meta);
  bool done() const { return ended_ && held_ == held_sent_; }
  const FileInputStatus& status() const { return status_; }

 private:
  FileReader() = default;
  // Copies `f` into `m` (chaining further segments from `pool` for frames
  // beyond one mbuf). False when the pool cannot take it now.
  bool Fill(rte_mbuf* m, const capture::CaptureFrame& f, rte_mempool* pool);
  bool SendHeld();
  // Reads the frame after the pending one (the clock's lookahead).
  void ReadAhead();
  // Makes the next frame pending, with its clock; false at the end.
  bool TakeNext();

  std::unique_ptr<capture::CaptureFile> file_;
  rte_ring* ring_ = nullptr;
  uint16_t port_ = 0;
  session::CaptureClock clock_;
  capture::CaptureFrame pending_{};  // read, clock decided, not yet in an mbuf
  uint64_t pending_clock_ = 0;
  bool has_pending_ = false;
  capture::CaptureFrame ahead_{};  // the frame after it
  bool has_ahead_ = false;
  bool started_ = false;
  bool ended_ = false;  // and every frame was taken
  rte_mbuf* held_mbufs_[kRxBurst] = {};
  unsigned held_ = 0;
  unsigned held_sent_ = 0;
  FileInputStatus status_;
};

// One ring ethdev and the readers of its files.
class FileInputPort {
 public:
  static absl::StatusOr<std::unique_ptr<FileInputPort>> Create(const FileVdev& vdev,
                                                               uint64_t clock_jump_us, int socket);
  ~FileInputPort();
  FileInputPort(const FileInputPort&) = delete;
  FileInputPort& operator=(const FileInputPort&) = delete;

  uint16_t port_id() const { return port_id_; }
  const std::string& name() const { return name_; }
  size_t queues() const { return readers_.size(); }

  bool Poll(rte_mempool* pool, const RxTimestamp& ts, const CaptureMetaField& meta);
  // Every file ended and every frame read is in the port's rings or beyond.
  bool Done() const;
  uint64_t Delivered() const;
  std::vector<FileInputStatus> Statuses() const;

 private:
  FileInputPort() = default;
  std::string name_;
  uint16_t port_id_ = 0;
  std::vector<rte_ring*> rings_;
  std::vector<std::unique_ptr<FileReader>> readers_;
};

}  // namespace flowtrail::dataplane
