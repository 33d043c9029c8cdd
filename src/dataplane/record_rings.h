// Finished records travel from a worker to the exporter and to the analytics
// lcore by value, over one SP/SC ring per (worker, consumer) pair: no record
// mempool, no protobuf on the worker, no contention between workers.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include <emmintrin.h>
#include <immintrin.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_ring_peek_zc.h>

#include "absl/status/statusor.h"
#include "record/contact_event.h"
#include "record/session_record.h"

namespace flowtrail::dataplane {

inline constexpr unsigned kPacketRingSize = 1024;  // dispatcher → worker, mbuf pointers

// SP/SC ring of SessionRecord elements named "<prefix><index>".
absl::StatusOr<rte_ring*> CreateRecordRing(const std::string& prefix, unsigned index, unsigned size,
                                           int socket);
// SP/SC ring of ContactEvent elements (worker → analytics lcore).
absl::StatusOr<rte_ring*> CreateContactRing(const std::string& prefix, unsigned index,
                                            unsigned size, int socket);
// SP/SC ring of mbuf pointers.
absl::StatusOr<rte_ring*> CreatePacketRing(const std::string& prefix, unsigned index, unsigned size,
                                           int socket);

// Slots of an SP ring reserved by a zero-copy enqueue (ReserveSlots), to be
// written in place and then handed over with CommitSlots: in up to two
// stretches, as the reservation may wrap around the ring's end. The worker
// streams its records and events into them from the tracker's queues
// (StreamAndCommit; rte_ring's own copy of large elements goes 4 bytes at a
// time, with plain stores, after a staging copy the worker made first).
template <typename T>
struct RingSlots {
  rte_ring_zc_data zc{};
  unsigned n = 0;  // reserved

  T& operator[](unsigned i) const {
    return i < zc.n1 ? static_cast<T*>(zc.ptr1)[i] : static_cast<T*>(zc.ptr2)[i - zc.n1];
  }
};

// Up to n free slots of SP ring `r` (fewer when it has less room, maybe 0).
// Every reservation must be ended by CommitSlots(r, k), k <= its n.
template <typename T>
RingSlots<T> ReserveSlots(rte_ring* r, unsigned n) {
  RingSlots<T> s;
  s.n = rte_ring_enqueue_zc_burst_elem_start(r, sizeof(T), n, &s.zc, nullptr);
  return s;
}

// Hands the first k reserved slots to the consumer (the rest go back).
inline void CommitSlots(rte_ring* r, unsigned k) { rte_ring_enqueue_zc_elem_finish(r, k); }

// Copies a record or event into a ring slot with non-temporal stores: lines
// written without first being read in (a slot's line was last in the
// consumer's cache, and a plain store waits for it to come over; perf put
// the worker's copies at a fifth of its time in a SYN flood). Slots are
// written in order, so whole lines form in the write-combining buffers.
// StreamFence() before the slots are committed.
template <typename T>
void StreamInto(T* dst, const T& src) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
  const char* from = reinterpret_cast<const char*>(&src);
  char* to = reinterpret_cast<char*>(dst);
#pragma GCC unroll 24
  for (size_t i = 0; i < sizeof(T); i += 8) {
    long long v;
    std::memcpy(&v, from + i, 8);
    _mm_stream_si64(reinterpret_cast<long long*>(to + i), v);
  }
}
// Orders StreamInto()'s stores before the ring's tail update (a release
// store, which does not order non-temporal ones).
inline void StreamFence() { _mm_sfence(); }

// Streams the first k of `from` into reserved slots, fences, commits them.
template <typename T>
void StreamAndCommit(rte_ring* r, const RingSlots<T>& slots, std::span<const T> from, unsigned k) {
  for (unsigned i = 0; i < k; ++i) {
    StreamInto(&slots[i], from[i]);
  }
  StreamFence();
  CommitSlots(r, k);
}

// rte_ring's own copy (the benchmarks' producers; the worker streams its
// records: StreamAndCommit).
inline unsigned EnqueueRecords(rte_ring* r, std::span<const record::SessionRecord> recs) {
  return rte_ring_sp_enqueue_burst_elem(r, recs.data(), sizeof(record::SessionRecord),
                                        static_cast<unsigned>(recs.size()), nullptr);
}

inline unsigned DequeueRecords(rte_ring* r, std::span<record::SessionRecord> out) {
  return rte_ring_sc_dequeue_burst_elem(r, out.data(), sizeof(record::SessionRecord),
                                        static_cast<unsigned>(out.size()), nullptr);
}

inline unsigned DequeueContacts(rte_ring* r, std::span<record::ContactEvent> out) {
  return rte_ring_sc_dequeue_burst_elem(r, out.data(), sizeof(record::ContactEvent),
                                        static_cast<unsigned>(out.size()), nullptr);
}

// One consumer pass over its rings (one per worker): each non-empty burst goes
// to `consume`. Returns how many records moved.
template <typename Consume>
size_t DequeueFromEachRing(std::span<rte_ring* const> rings, std::span<record::SessionRecord> batch,
                           Consume&& consume) {
  size_t moved = 0;
  for (rte_ring* r : rings) {
    const unsigned n = DequeueRecords(r, batch);
    if (n != 0) {
      moved += n;
      consume(std::span<const record::SessionRecord>(batch.data(), n));
    }
  }
  return moved;
}

// The same pass without the copy out of the ring: `consume` reads up to
// `max_burst` records of each ring in place (in two spans when the burst
// wraps around the ring's end) and must not keep them; the slots go back to
// the worker once it returns. For a consumer that only reads each record
// once (the exporter's encoder). SC rings only (CreateRecordRing's are).
template <typename Consume>
size_t ConsumeFromEachRing(std::span<rte_ring* const> rings, unsigned max_burst,
                           Consume&& consume) {
  size_t moved = 0;
  for (rte_ring* r : rings) {
    rte_ring_zc_data zc;
    const unsigned n = rte_ring_dequeue_zc_burst_elem_start(r, sizeof(record::SessionRecord),
                                                            max_burst, &zc, nullptr);
    if (n == 0) continue;
    consume(std::span<const record::SessionRecord>(
        static_cast<const record::SessionRecord*>(zc.ptr1), zc.n1));
    if (zc.n1 != n) {
      consume(std::span<const record::SessionRecord>(
          static_cast<const record::SessionRecord*>(zc.ptr2), n - zc.n1));
    }
    rte_ring_dequeue_zc_elem_finish(r, n);
    moved += n;
  }
  return moved;
}

}  // namespace flowtrail::dataplane
