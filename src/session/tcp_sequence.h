// Application bytes of one TCP endpoint from its sequence numbers.
//
// Positions are 64-bit "unwrapped" sequence numbers: the first sequence number
// seen, s0, becomes 2^32 + s0, and every later one is placed within ±2^31 of
// the highest end seen so far, so a session may carry more than 4 GiB and a
// packet slightly before the anchor (reordering) stays representable.
//
//   bytes = highest end - lowest start - (SYN seen) - (FIN seen)
//
// where a packet's end is seq + payload_len + SYN + FIN (each flag consumes
// one sequence number) and the peer's ACKs also count as ends (data that was
// acknowledged but not captured was still sent; Zeek does the same). Taking the
// highest end and the lowest start makes the count immune to retransmissions
// and to reordering. A segment starting (or an ACK ending) more than
// `max_jump` beyond what was seen is not trusted and updates nothing: the
// caller passes the plausible window (tracker.cc); it is never more than 2^30,
// the largest TCP window.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace flowtrail::session {

class TcpSequence {
 public:
  static constexpr uint64_t kMaxJump = uint64_t{1} << 30;

  bool anchored() const { return highest() != 0; }
  bool syn_seen() const { return (Word() >> kSynBit) & 1; }
  bool fin_seen() const { return (Word() >> kFinBit) & 1; }
  // Lowest start position seen; its low 32 bits are the sequence number.
  uint64_t lowest() const {
    if (!anchored()) return 0;
    return LowestOf(Word());
  }
  uint64_t highest() const { return Word() & kHighMask; }

  // Forgets everything and anchors at `seq` (a SYN-ACK retransmitted with a
  // new ISN before any data: the old anchor is meaningless).
  void Reset() { *this = TcpSequence(); }

  // One segment's accounting, with the positions around it (the packed
  // state decoded once: the tracker reads them for every TCP packet).
  struct Segment {
    uint64_t start;  // unwrapped start of the segment, trusted or not
    // Lowest start and highest end before the segment (0, 0 while unanchored)
    // and the lowest start after it.
    uint64_t lowest_before;
    uint64_t highest_before;
    uint64_t lowest;
    bool trusted;
  };
  Segment Account(uint32_t seq, uint32_t payload_len, bool syn, bool fin,
                  uint64_t max_jump = kMaxJump) {
    const uint64_t w = Word();
    Segment g;
    uint64_t lo, hi;
    if ((w & kHighMask) == 0) {  // not anchored: the segment anchors it
      g.start = (uint64_t{1} << 32) + seq;
      g.lowest_before = g.highest_before = 0;
      lo = hi = g.start;
    } else {
      lo = g.lowest_before = LowestOf(w);
      hi = g.highest_before = w & kHighMask;
      g.start = UnwrapNear(hi, seq);
      if (g.start > hi + max_jump || g.start + max_jump < lo) {
        g.lowest = lo;
        g.trusted = false;
        return g;
      }
    }
    const uint64_t end = g.start + payload_len + (syn ? 1 : 0) + (fin ? 1 : 0);
    g.lowest = std::min(lo, g.start);
    Store(g.lowest, std::max(hi, end), ((w >> kSynBit) & 1) || syn, ((w >> kFinBit) & 1) || fin);
    g.trusted = true;
    return g;
  }

  // Returns the unwrapped start of this segment, or 0 if it was not trusted.
  uint64_t OnSegment(uint32_t seq, uint32_t payload_len, bool syn, bool fin,
                     uint64_t max_jump = kMaxJump) {
    const Segment g = Account(seq, payload_len, syn, fin, max_jump);
    return g.trusted ? g.start : 0;
  }

  // The peer acknowledged everything before `ack`. Returns false if the ACK
  // lay implausibly far ahead (ignored).
  bool OnPeerAck(uint32_t ack, uint64_t max_jump = kMaxJump) {
    if (!anchored()) return true;
    const uint64_t hi = highest();
    const uint64_t a = Unwrap(ack);
    if (a <= hi) return true;
    if (a > hi + max_jump) return false;
    SetWord((Word() & ~kHighMask) | a);
    return true;
  }

  uint64_t Unwrap(uint32_t s) const { return UnwrapNear(highest(), s); }

  // Application bytes: see the file comment.
  uint64_t Bytes() const {
    if (!anchored()) return 0;
    uint64_t size = highest() - lowest();
    if (syn_seen() && size) --size;
    if (fin_seen() && size) --size;
    return size;
  }

 private:
  // 12 bytes per endpoint (session_state.h). An anchored highest position is
  // at least 2^32 (the anchor is 2^32 + s0 and it never decreases), so
  // `anchored` is highest != 0 and every start lies at or above
  // highest - 2^31 >= 2^31; the lowest start never exceeds the anchor
  // (< 2^33). lowest - 2^31 thus fits 33 bits: its low 32 in low_, bit 32
  // in the word's bit 61. The word's bits 0..60 hold highest (positions stay
  // below 2^61: 2^33 + bytes), 62 and 63 the SYN and FIN flags. Three u32s,
  // not a u64, so the struct aligns to 4 and packs into the hot entry.
  static constexpr uint64_t kLowBase = uint64_t{1} << 31;
  static constexpr int kLowBit = 61, kSynBit = 62, kFinBit = 63;
  static constexpr uint64_t kHighMask = (uint64_t{1} << kLowBit) - 1;

  // The anchored lowest start from the word and low_.
  uint64_t LowestOf(uint64_t w) const { return kLowBase + ((((w >> kLowBit) & 1) << 32) | low_); }
  // `s` placed within +-2^31 of the highest end `hi`.
  static uint64_t UnwrapNear(uint64_t hi, uint32_t s) {
    const int32_t d = static_cast<int32_t>(s - static_cast<uint32_t>(hi));
    return hi + static_cast<int64_t>(d);
  }
  uint64_t Word() const {
    uint64_t w;
    std::memcpy(&w, word_, sizeof(w));
    return w;
  }
  void SetWord(uint64_t w) { std::memcpy(word_, &w, sizeof(w)); }
  void Store(uint64_t lo, uint64_t hi, bool syn, bool fin) {
    const uint64_t off = lo - kLowBase;  // < 2^33 (see above)
    low_ = static_cast<uint32_t>(off);
    SetWord((hi & kHighMask) | ((off >> 32) << kLowBit) | (uint64_t{syn} << kSynBit) |
            (uint64_t{fin} << kFinBit));
  }

  uint32_t low_ = 0;
  uint32_t word_[2] = {0, 0};
};
static_assert(sizeof(TcpSequence) == 12 && alignof(TcpSequence) == 4);

}  // namespace flowtrail::session
