// Where session times come from. Capture mode: the capture's timestamp, which
// the file reader (file_input.h) or net_pcap stores in the mbuf Rx-timestamp
// dynfield (µs since the epoch).
// Live mode: the TSC, converted to µs of wall time once per burst.
#pragma once

#include <sys/time.h>

#include <cstdint>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

namespace flowtrail::dataplane {

class LiveClock {
 public:
  LiveClock() : hz_(rte_get_tsc_hz()), tsc0_(rte_rdtsc()) {
    timeval tv{};
    gettimeofday(&tv, nullptr);
    wall0_us_ = static_cast<uint64_t>(tv.tv_sec) * 1'000'000 + static_cast<uint64_t>(tv.tv_usec);
  }
  uint64_t NowUs() const {
    const uint64_t d = rte_rdtsc() - tsc0_;
    return wall0_us_ + static_cast<uint64_t>(static_cast<unsigned __int128>(d) * 1'000'000 / hz_);
  }

 private:
  uint64_t hz_;
  uint64_t tsc0_;
  uint64_t wall0_us_ = 0;
};

// The Rx timestamp dynfield, registered once at start-up. The flag, not the
// value, says whether a PMD set it: a capture's time 0 is a time like any other.
struct RxTimestamp {
  int offset = -1;
  uint64_t flag = 0;

  bool Has(const rte_mbuf* m) const { return offset >= 0 && (m->ol_flags & flag) != 0; }

  // The capture time of `m`, or `fallback` when the PMD set none.
  uint64_t Of(const rte_mbuf* m, uint64_t fallback) const {
    return Has(m) ? *RTE_MBUF_DYNFIELD(m, offset, const rte_mbuf_timestamp_t*) : fallback;
  }

  // Capture mode's time of `m`: its capture timestamp, or wall time when the
  // PMD set none (e.g. --capture on an infinite_rx replay). The clock is read
  // only in that case, not per packet.
  uint64_t OfOrNow(const rte_mbuf* m, const LiveClock& clock) const {
    return Has(m) ? *RTE_MBUF_DYNFIELD(m, offset, const rte_mbuf_timestamp_t*) : clock.NowUs();
  }

  void Set(rte_mbuf* m, uint64_t us) const {
    *RTE_MBUF_DYNFIELD(m, offset, rte_mbuf_timestamp_t*) = us;
    m->ol_flags |= flag;
  }
};

}  // namespace flowtrail::dataplane
