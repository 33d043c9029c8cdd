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

namespace flowtrail::session {

class TcpSequence {
 public:
  static constexpr uint64_t kMaxJump = uint64_t{1} << 30;

  bool anchored() const { return highest_ != 0; }
  bool syn_seen() const { return bits_ & kSyn; }
  bool fin_seen() const { return bits_ & kFin; }
  // Lowest start position seen; its low 32 bits are the sequence number.
  uint64_t lowest() const { return lowest_; }
  uint64_t highest() const { return highest_; }

  // Forgets everything and anchors at `seq` (a SYN-ACK retransmitted with a
  // new ISN before any data: the old anchor is meaningless).
  void Reset() { *this = TcpSequence(); }

  // Returns the unwrapped start of this segment, or 0 if it was not trusted.
  uint64_t OnSegment(uint32_t seq, uint32_t payload_len, bool syn, bool fin,
                     uint64_t max_jump = kMaxJump) {
    uint64_t start;
    if (!anchored()) {
      start = (uint64_t{1} << 32) + seq;
      lowest_ = highest_ = start;
    } else {
      start = Unwrap(seq);
      if (start > highest_ + max_jump || start + max_jump < lowest_) return 0;
    }
    const uint64_t end = start + payload_len + (syn ? 1 : 0) + (fin ? 1 : 0);
    lowest_ = std::min(lowest_, start);
    highest_ = std::max(highest_, end);
    bits_ |= (syn ? kSyn : 0) | (fin ? kFin : 0);
    return start;
  }

  // The peer acknowledged everything before `ack`. Returns false if the ACK
  // lay implausibly far ahead (ignored).
  bool OnPeerAck(uint32_t ack, uint64_t max_jump = kMaxJump) {
    if (!anchored()) return true;
    const uint64_t a = Unwrap(ack);
    if (a <= highest_) return true;
    if (a > highest_ + max_jump) return false;
    highest_ = a;
    return true;
  }

  uint64_t Unwrap(uint32_t s) const {
    const int32_t d = static_cast<int32_t>(s - static_cast<uint32_t>(highest_));
    return highest_ + static_cast<int64_t>(d);
  }

  // Application bytes: see the file comment.
  uint64_t Bytes() const {
    if (!anchored()) return 0;
    uint64_t size = highest_ - lowest_;
    if (syn_seen() && size) --size;
    if (fin_seen() && size) --size;
    return size;
  }

 private:
  static constexpr uint8_t kSyn = 1, kFin = 2;

  // 16 bytes per endpoint (session_state.h): anchored is highest_ != 0 (an
  // anchored position is at least 2^31), and the SYN/FIN flags take the top
  // two bits of highest_'s word (positions stay below 2^62: 2^33 + bytes).
  uint64_t lowest_ = 0;
  uint64_t highest_ : 62 = 0;
  uint64_t bits_ : 2 = 0;
};
static_assert(sizeof(TcpSequence) == 16);

}  // namespace flowtrail::session
