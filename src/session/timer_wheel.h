// Lazy hashed timer wheel of u32 entry indices (after Retina's conntrack wheel
// and VPP's tw_timer): a packet never touches the wheel, it only updates the
// session's last-seen time. When a slot fires, the owner re-checks each entry
// and either ends it or schedules it again at its new deadline. Deadlines
// beyond one rotation simply come round again. Each entry is in at most one
// slot: circular doubly linked lists through two u32 arrays, with one sentinel
// per slot (indices capacity..capacity+slots), so scheduling and cancelling
// are O(1) and nothing is allocated after Init(). Links are stored XORed with
// the node's own index, so the zeroed pages Init() maps are every node
// self-linked (unlinked, empty slots) without a pass over them.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "session/session_table.h"

namespace flowtrail::session {

class TimerWheel {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  // How far Advance()'s walk from a slot's tail goes (entries whose lines it
  // has prefetched wait in cache until the front reaches them: ~6 lines
  // each, so this many stay within an L2).
  static constexpr uint32_t kScoutMax = 2048;

  // One node per entry and per slot's sentinel, +1: the list being processed.
  static uint64_t NodesFor(uint32_t capacity, uint32_t slots) {
    return uint64_t{capacity} + slots + 1;
  }
  // What Init(capacity, slots) maps.
  static uint64_t BytesFor(uint32_t capacity, uint32_t slots) {
    return sizeof(Link) * NodesFor(capacity, slots);
  }

  // `slots` must be a power of two. Returns false if memory is short.
  bool Init(uint32_t capacity, uint32_t slots, uint64_t tick_us) {
    capacity_ = capacity;
    mask_ = slots - 1;
    tick_us_ = tick_us;
    links_ = MapZeroed<Link>(NodesFor(capacity, slots));
    return links_ != nullptr;
  }

  uint64_t tick_us() const { return tick_us_; }
  // The node array (prefault.h).
  MemoryRegion region() const { return {links_.get(), BytesFor(capacity_, mask_ + 1)}; }
  bool started() const { return started_; }
  // Time origin: the first packet's timestamp. Nothing fires before it.
  void Start(uint64_t now_us) {
    if (started_) return;
    started_ = true;
    next_tick_ = now_us / tick_us_;
  }

  bool Linked(uint32_t idx) const { return links_[idx].next != 0; }

  // Cancel(idx) touches idx's node and its two neighbours: an eviction
  // prefetches the node of a likely victim (its neighbours are the victims
  // before and after it, tracker.cc EvictEarliest()).
  void PrefetchNode(uint32_t idx) const { PrefetchLine(&links_[idx]); }

  // (Re)schedules `idx` to be checked once `deadline_us` has passed. A deadline
  // already past is checked at the next tick.
  void Schedule(uint32_t idx, uint64_t deadline_us) {
    Cancel(idx);
    uint64_t tick = deadline_us / tick_us_;
    if (tick < next_tick_) tick = next_tick_;
    if (tick < earliest_tick_) earliest_tick_ = tick;
    LinkAfter(Sentinel(static_cast<uint32_t>(tick & mask_)), idx);
  }

  // For eviction (the entry nearest its deadline, without a scan of the
  // table): the longest-waiting entry of the earliest non-empty slot, and
  // that slot's tick in *tick; kNone if nothing is scheduled. Every entry's
  // own deadline lies in that tick or later (Schedule() is never given a
  // deadline later than the owner's, tracker.cc), so an entry due within it
  // is an earliest one. A cursor remembers the slots found empty: a search
  // costs O(1) amortised over the ticks the clock passes.
  uint32_t Earliest(uint64_t* tick) {
    if (earliest_tick_ < next_tick_) earliest_tick_ = next_tick_;
    for (uint32_t n = 0; n <= mask_; ++n, ++earliest_tick_) {
      const uint32_t sentinel = Sentinel(static_cast<uint32_t>(earliest_tick_ & mask_));
      const uint32_t oldest = Prev(sentinel);  // lists are newest first
      if (oldest != sentinel) {
        *tick = earliest_tick_;
        return oldest;
      }
    }
    earliest_tick_ = next_tick_;  // empty: start from the clock again
    return kNone;
  }
  // The entry scheduled into idx's slot before idx (the next one Earliest()
  // would give after idx), or kNone when idx is that slot's longest-waiting.
  uint32_t ScheduledBefore(uint32_t idx) const {
    const uint32_t p = Prev(idx);
    return p >= capacity_ ? kNone : p;
  }

  void Cancel(uint32_t idx) {
    const uint32_t n = Next(idx), p = Prev(idx);
    SetNext(p, n);
    SetPrev(n, p);
    SetNext(idx, idx);
    SetPrev(idx, idx);
  }

  // Fires every slot whose tick lies wholly before `now_us` (so an entry fires
  // at most one tick after its deadline). `fire(idx)` is called with idx
  // already unlinked; it ends the entry or schedules it again and returns
  // true, or returns false to stop (e.g. output full): idx goes back to its
  // slot with the rest, and the next Advance() resumes there. Returns false if
  // stopped.
  //
  // `prefetch(next, ahead)` lets the owner pull in what firing reads, ahead
  // of the fires: a tick's entries lie scattered in memory, and without it
  // each is a cache miss the core waits for. `ahead` (kNone: none this call)
  // is an entry nothing was asked for yet (prefetch its lines); `next` (kNone
  // likewise) is the entry that fires after the current one, given as
  // `ahead` earlier, so its lines are on the way (a second stage may read
  // them, e.g. to prefetch what they point to). The list walk is itself one
  // dependent miss per node, so the wheel walks it from both ends: before
  // each fire, the entry two ahead (its node prefetched, so the step after
  // does not stall on it) and, from the tail, one more entry of the list's
  // back half, until the two walks meet (or kScoutMax entries, so a huge
  // slot does not flush the caches): two chains of misses in flight instead
  // of one, and the back half fires from cache.
  template <typename Fire, typename Prefetch>
  bool Advance(uint64_t now_us, Fire&& fire, Prefetch&& prefetch) {
    if (!started_) return true;
    const uint64_t now_tick = now_us / tick_us_;
    const uint64_t slots = uint64_t{mask_} + 1;
    // A jump of more than one rotation: every slot once is enough, since each
    // entry is re-checked against `now_us`, not against the slot's tick.
    if (now_tick > next_tick_ + slots) next_tick_ = now_tick - slots;
    const uint32_t work = Processing();
    while (next_tick_ < now_tick) {
      const uint32_t slot = Sentinel(static_cast<uint32_t>(next_tick_ & mask_));
      Splice(slot, work);
      // The tail walk's position (its node is in: Splice() wrote it).
      uint32_t back = Prev(work);
      uint32_t scout_left = kScoutMax;
      if (back == work) {
        back = kNone;
      } else {
        prefetch(kNone, back);
      }
      while (Next(work) != work) {
        const uint32_t idx = Next(work);
        Cancel(idx);
        if (const uint32_t next = Next(work); next != work) {
          uint32_t after = Next(next);
          if (after != work) {
            PrefetchNode(after);
          } else {
            after = kNone;
          }
          prefetch(next, after);
          // The walks approach by one entry each per fire: they have met
          // once the tail walk reaches the front's window.
          if (back != kNone) {
            const uint32_t b = Prev(back);
            if (back == idx || back == next || back == after || b >= capacity_ ||
                --scout_left == 0) {
              back = kNone;
            } else {
              PrefetchNode(b);
              prefetch(kNone, b);
              back = b;
            }
          }
        }
        if (!fire(idx)) {
          LinkAfter(slot, idx);
          Splice(work, slot);
          if (next_tick_ < earliest_tick_) earliest_tick_ = next_tick_;
          return false;
        }
      }
      ++next_tick_;
    }
    return true;
  }
  template <typename Fire>
  bool Advance(uint64_t now_us, Fire&& fire) {
    return Advance(now_us, std::forward<Fire>(fire), [](uint32_t, uint32_t) {});
  }

 private:
  uint32_t Sentinel(uint32_t slot) const { return capacity_ + slot; }
  uint32_t Processing() const { return capacity_ + mask_ + 1; }

  void LinkAfter(uint32_t at, uint32_t idx) {
    const uint32_t n = Next(at);
    SetNext(idx, n);
    SetPrev(idx, at);
    SetPrev(n, idx);
    SetNext(at, idx);
  }

  // Moves every entry of list `from` to the end of list `to`.
  void Splice(uint32_t from, uint32_t to) {
    if (Next(from) == from) return;
    const uint32_t first = Next(from), last = Prev(from);
    const uint32_t tail = Prev(to);
    SetNext(tail, first);
    SetPrev(first, tail);
    SetNext(last, to);
    SetPrev(to, last);
    SetNext(from, from);
    SetPrev(from, from);
  }

  struct Link {
    uint32_t next;  // XOR the node's index: 0 = self
    uint32_t prev;
  };
  uint32_t Next(uint32_t i) const { return links_[i].next ^ i; }
  uint32_t Prev(uint32_t i) const { return links_[i].prev ^ i; }
  void SetNext(uint32_t i, uint32_t v) { links_[i].next = v ^ i; }
  void SetPrev(uint32_t i, uint32_t v) { links_[i].prev = v ^ i; }

  MappedArray<Link> links_;
  uint32_t capacity_ = 0;
  uint32_t mask_ = 0;
  uint64_t tick_us_ = 1;
  uint64_t next_tick_ = 0;
  uint64_t earliest_tick_ = 0;  // no slot before it (and after next_tick_) holds an entry
  bool started_ = false;
};

}  // namespace flowtrail::session
