// What a frame read from a capture file carries beside its bytes, in an mbuf
// dynamic field: the wire length (the capture may have cut the frame: the
// parser counts payload and sequence bytes from the headers), the file's link
// type, and the capture clock at that frame (capture_clock.h: the clock that
// decides timeouts, robust to single outlier timestamps). The capture time
// itself is in the standard Rx-timestamp dynfield (clock.h).
//
// Frames from NICs (and from net_pcap's infinite_rx replay) have no such
// field: the dynflag says which mbufs carry it.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "absl/status/status.h"
#include "packet/link_type.h"

namespace flowtrail::dataplane {

struct CaptureMeta {
  uint64_t clock_us;
  uint32_t wire_len;
  uint16_t link_type;  // packet::LinkType value
  uint16_t reserved;
};

// The frame as the parser takes it.
struct FrameRef {
  const uint8_t* data;
  uint32_t caplen;    // bytes readable at data (the first segment)
  uint32_t wire_len;  // length on the wire
  packet::LinkType link;
};

class CaptureMetaField {
 public:
  // Registers the field and flag (idempotent: the same offsets every call).
  absl::Status Register() {
    static const rte_mbuf_dynfield kField = {"flowtrail_capture_meta", sizeof(CaptureMeta),
                                             alignof(CaptureMeta), 0};
    static const rte_mbuf_dynflag kFlag = {"flowtrail_capture_meta_valid", 0};
    offset_ = rte_mbuf_dynfield_register(&kField);
    const int bit = rte_mbuf_dynflag_register(&kFlag);
    if (offset_ < 0 || bit < 0) {
      return absl::InternalError("cannot register the mbuf capture-metadata field");
    }
    flag_ = uint64_t{1} << bit;
    return absl::OkStatus();
  }
  bool registered() const { return offset_ >= 0; }

  bool Has(const rte_mbuf* m) const { return offset_ >= 0 && (m->ol_flags & flag_) != 0; }
  const CaptureMeta& Of(const rte_mbuf* m) const {
    return *RTE_MBUF_DYNFIELD(m, offset_, const CaptureMeta*);
  }
  void Set(rte_mbuf* m, const CaptureMeta& meta) const {
    *RTE_MBUF_DYNFIELD(m, offset_, CaptureMeta*) = meta;
    m->ol_flags |= flag_;
  }

  // Capture frames: their own wire length and link type; anything else is
  // Ethernet whose wire length is the packet length.
  FrameRef FrameOf(const rte_mbuf* m) const {
    FrameRef f{rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, m->pkt_len,
               packet::LinkType::kEthernet};
    if (Has(m)) {
      const CaptureMeta& meta = Of(m);
      f.wire_len = meta.wire_len;
      f.link = static_cast<packet::LinkType>(meta.link_type);
    }
    return f;
  }

  // The capture clock at `m`, or `capture_us` for frames without the field.
  uint64_t ClockOf(const rte_mbuf* m, uint64_t capture_us) const {
    return Has(m) ? Of(m).clock_us : capture_us;
  }

 private:
  int offset_ = -1;
  uint64_t flag_ = 0;
};

}  // namespace flowtrail::dataplane
