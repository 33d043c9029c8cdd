#include "dataplane/file_input.h"

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace flowtrail::dataplane {

absl::StatusOr<std::unique_ptr<FileReader>> FileReader::Open(const std::string& path,
                                                             rte_ring* ring, uint16_t port,
                                                             uint64_t clock_jump_us) {
  absl::StatusOr<std::unique_ptr<capture::CaptureFile>> file = capture::CaptureFile::Open(path);
  if (!file.ok()) {
    return file.status();
  }
  std::unique_ptr<FileReader> r(new FileReader());
  r->file_ = *std::move(file);
  r->ring_ = ring;
  r->port_ = port;
  r->clock_ = session::CaptureClock(clock_jump_us);
  r->status_.path = path;
  r->status_.format = std::string(r->file_->format());
  const auto types = r->file_->link_types();
  r->status_.link_types.assign(types.begin(), types.end());
  return r;
}

bool FileReader::Fill(rte_mbuf* m, const capture::CaptureFrame& f, rte_mempool* pool) {
  uint32_t left = f.caplen;
  const uint8_t* src = f.data;
  rte_mbuf* seg = m;
  uint32_t first = std::min<uint32_t>(left, rte_pktmbuf_tailroom(m));
  std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), src, first);
  m->data_len = static_cast<uint16_t>(first);
  m->pkt_len = f.caplen;
  m->nb_segs = 1;
  left -= first;
  src += first;
  while (left > 0) {
    rte_mbuf* next = rte_pktmbuf_alloc(pool);
    if (next == nullptr) {
      // Undo the chain; the frame is read again on the next Poll.
      rte_pktmbuf_free(m->next);
      m->next = nullptr;
      m->nb_segs = 1;
      return false;
    }
    const uint32_t n = std::min<uint32_t>(left, rte_pktmbuf_tailroom(next));
    std::memcpy(rte_pktmbuf_mtod(next, uint8_t*), src, n);
    next->data_len = static_cast<uint16_t>(n);
    seg->next = next;
    seg = next;
    ++m->nb_segs;
    left -= n;
    src += n;
  }
  m->port = port_;
  return true;
}

void FileReader::ReadAhead() {
  const capture::ReadStatus st = file_->Next(&ahead_);
  has_ahead_ = st == capture::ReadStatus::kFrame;
  if (has_ahead_) {
    return;
  }
  // Where and why the file ended (error() is empty at a clean end); the
  // reader ends once the frames before it are placed.
  status_.end = st;
  status_.end_offset = file_->offset();
  status_.error = file_->error();
}

bool FileReader::TakeNext() {
  if (!started_) {
    started_ = true;
    ReadAhead();
  }
  if (!has_ahead_) {
    ended_ = true;
    return false;
  }
  pending_ = ahead_;
  ReadAhead();
  // The clock decides with the next frame in view (capture_clock.h).
  pending_clock_ =
      clock_.Observe(pending_.ts_us, has_ahead_ ? std::optional(ahead_.ts_us) : std::nullopt);
  has_pending_ = true;
  return true;
}

bool FileReader::SendHeld() {
  if (held_sent_ < held_) {
    held_sent_ +=
        rte_ring_sp_enqueue_burst(ring_, reinterpret_cast<void* const*>(&held_mbufs_[held_sent_]),
                                  held_ - held_sent_, nullptr);
  }
  if (held_sent_ < held_) {
    return false;
  }
  held_ = held_sent_ = 0;
  return true;
}

bool FileReader::Poll(rte_mempool* pool, const RxTimestamp& ts, const CaptureMetaField& meta) {
  if (!SendHeld()) {
    return false;
  }
  if (ended_) {
    return false;
  }
  const unsigned room = std::min<unsigned>(kRxBurst, rte_ring_free_count(ring_));
  if (room == 0) {
    return false;
  }
  rte_mbuf* mbufs[kRxBurst];
  if (rte_pktmbuf_alloc_bulk(pool, mbufs, room) != 0) {
    return false;  // the pool is low: the workers are behind; read later
  }
  unsigned filled = 0;
  while (filled < room) {
    if (!has_pending_ && !TakeNext()) {
      break;
    }
    rte_mbuf* m = mbufs[filled];
    if (!Fill(m, pending_, pool)) {
      break;  // the pool is short of segments: this frame again next time
    }
    has_pending_ = false;
    CaptureMeta cm{};
    cm.clock_us = pending_clock_;
    cm.wire_len = pending_.wire_len;  // >= caplen (capture_file.h)
    cm.link_type = pending_.link_type;
    meta.Set(m, cm);
    ts.Set(m, pending_.ts_us);
    ++status_.frames;
    status_.bytes += pending_.caplen;
    ++filled;
  }
  if (filled < room) {
    rte_pktmbuf_free_bulk(&mbufs[filled], room - filled);
  }
  status_.clock_outliers = clock_.counters().outliers;
  status_.clock_backwards = clock_.counters().backwards;
  status_.clock_jumps = clock_.counters().jumps;
  if (filled == 0) {
    return false;
  }
  std::copy(mbufs, mbufs + filled, held_mbufs_);
  held_ = filled;
  held_sent_ = 0;
  SendHeld();
  return true;
}

absl::StatusOr<std::unique_ptr<FileInputPort>> FileInputPort::Create(const FileVdev& vdev,
                                                                     uint64_t clock_jump_us,
                                                                     int socket) {
  std::unique_ptr<FileInputPort> p(new FileInputPort());
  p->name_ = vdev.name;
  for (size_t i = 0; i < vdev.files.size(); ++i) {
    const std::string ring_name = absl::StrCat("ftf_", p->name_.substr(0, 16), "_", i);
    rte_ring* r =
        rte_ring_create(ring_name.c_str(), kFileRingSize, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot create ring ", ring_name, ": ",
                                                       rte_strerror(rte_errno),
                                                       "; give the EAL more memory (-m)"));
    }
    p->rings_.push_back(r);
  }
  const int id = rte_eth_from_rings(
      p->name_.c_str(), p->rings_.data(), static_cast<unsigned>(p->rings_.size()), p->rings_.data(),
      static_cast<unsigned>(p->rings_.size()), static_cast<unsigned>(socket < 0 ? 0 : socket));
  if (id < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create the ring port for ", p->name_, ": ", rte_strerror(rte_errno)));
  }
  p->port_id_ = static_cast<uint16_t>(id);
  for (size_t i = 0; i < vdev.files.size(); ++i) {
    absl::StatusOr<std::unique_ptr<FileReader>> r =
        FileReader::Open(vdev.files[i], p->rings_[i], p->port_id_, clock_jump_us);
    if (!r.ok()) {
      return r.status();
    }
    p->readers_.push_back(*std::move(r));
  }
  return p;
}

FileInputPort::~FileInputPort() {
  // The port is stopped and closed by its owner first; the rings may still
  // hold mbufs of an interrupted run.
  for (rte_ring* r : rings_) {
    void* m = nullptr;
    while (rte_ring_sc_dequeue(r, &m) == 0) {
      rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    }
    rte_ring_free(r);
  }
}

bool FileInputPort::Poll(rte_mempool* pool, const RxTimestamp& ts, const CaptureMetaField& meta) {
  bool worked = false;
  for (auto& r : readers_) {
    worked |= r->Poll(pool, ts, meta);
  }
  return worked;
}

bool FileInputPort::Done() const {
  return std::all_of(readers_.begin(), readers_.end(), [](const auto& r) { return r->done(); });
}

uint64_t FileInputPort::Delivered() const {
  uint64_t n = 0;
  for (const auto& r : readers_) {
    n += r->status().frames;
  }
  return n;
}

std::vector<FileInputStatus> FileInputPort::Statuses() const {
  std::vector<FileInputStatus> out;
  for (const auto& r : readers_) {
    out.push_back(r->status());
  }
  return out;
}

}  // namespace flowtrail::dataplane
