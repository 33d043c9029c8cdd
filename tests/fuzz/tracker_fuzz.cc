// libFuzzer target over parser + tracker. The input is a sequence of frames,
// each: 2-byte big-endian length, 2-byte timestamp word, then the frame bytes.
// The timestamp word's top two bits pick what the capture time does (forward
// by the low 14 bits x 16 ms, so timeouts, lingers and eviction all happen;
// backwards; a lone outlier up to ~3 h ahead; a gap), and a CaptureClock
// turns capture times into the tracker clock as a worker does. A small
// table (64 sessions) and output queue (16 records) keep eviction, deferral
// and drops busy. Invariants are checked after every step and on every record.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "packet/parser.h"
#include "session/capture_clock.h"
#include "session/tracker.h"

namespace {

using flowtrail::record::EndReason;
using flowtrail::record::SessionRecord;
using flowtrail::session::CaptureClock;
using flowtrail::session::PacketTime;
using flowtrail::session::Tracker;
using flowtrail::session::TrackerConfig;

void CheckRecord(const SessionRecord& r) {
  FUZZ_CHECK(r.client_packets + r.server_packets > 0);
  FUZZ_CHECK(r.first_time_us <= r.last_time_us);
  FUZZ_CHECK(r.end_reason != EndReason::kUnspecified);
  FUZZ_CHECK(r.continuing == (r.end_reason == EndReason::kActiveTimeout));
  FUZZ_CHECK(r.ip_version == 4 || r.ip_version == 6);
  FUZZ_CHECK((r.session_id >> 56) == r.worker_id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TrackerConfig config;
  config.worker_id = 7;
  config.capacity = 64;
  config.output_capacity = 16;
  config.tcp_syn_timeout_us = 2'000'000;
  config.tcp_established_timeout_us = 10'000'000;
  config.tcp_closing_timeout_us = 3'000'000;
  config.tcp_linger_us = 500'000;
  config.udp_timeout_us = 4'000'000;
  config.icmp_timeout_us = 1'000'000;
  config.active_timeout_us = 5'000'000;
  config.other_timeout_us = 3'000'000;
  auto created = Tracker::Create(config);
  FUZZ_CHECK(created.ok());
  Tracker& t = **created;

  SessionRecord out[8];
  uint64_t emitted_final = 0;
  uint64_t final_packets = 0;
  // Exactly once: a final record's id never appeared in a final record
  // before. Ids of one worker increase, so ids are checked in a small set of
  // the ones seen (a fuzz input holds few sessions).
  std::vector<uint64_t> final_ids;
  auto drain = [&] {
    while (size_t n = t.Drain(out)) {
      for (size_t i = 0; i < n; ++i) {
        CheckRecord(out[i]);
        if (out[i].continuing) continue;
        ++emitted_final;
        final_packets += out[i].client_packets + out[i].server_packets;
        for (uint64_t id : final_ids) FUZZ_CHECK(id != out[i].session_id);
        final_ids.push_back(out[i].session_id);
      }
    }
  };
  CaptureClock clock;
  uint64_t given = 0;  // packets and attributed later fragments

  // Frames are batched into ProcessBurst() calls of up to kBurst packets (a
  // frame's first byte ending in 0x7 closes a batch early), so both entry
  // points run; each batch slot owns its frame bytes.
  constexpr size_t kBurst = 8;
  std::vector<uint8_t> frames[kBurst];
  flowtrail::packet::ParsedPacket batch[kBurst];
  PacketTime times[kBurst];
  size_t batched = 0;
  auto flush_batch = [&] {
    if (batched > 0) {
      // The worker's order: what timed out before the burst leaves first.
      while (!t.Advance(times[0].clock_us, 4)) drain();
    }
    t.ProcessBurst(std::span(batch, batched), std::span(times, batched), 0);
    given += batched;
    batched = 0;
  };

  // Capture times first (the clock looks one packet ahead, as the file
  // reader does), then the frames.
  auto capture_time = [](uint32_t word, uint64_t& now) {
    const uint64_t amount = (word & 0x3fff) * 16'000u;
    switch (word >> 14) {
      case 0:
        return now += amount;
      case 1:
        return now - std::min(now, amount);  // backwards
      case 2:
        return now + amount * 40;  // outlier ahead (or ordinary when small)
      default:
        return now += amount * 40;  // a gap
    }
  };
  std::vector<uint64_t> captures;
  {
    uint64_t now = 1'600'000'000'000'000;
    for (size_t at = 0; at + 4 <= size;) {
      const uint32_t len = (uint32_t{data[at]} << 8) | data[at + 1];
      captures.push_back(capture_time((uint32_t{data[at + 2]} << 8) | data[at + 3], now));
      at += 4 + std::min<size_t>(len, size - at - 4);
    }
  }
  size_t pos = 0, step = 0, index = 0;
  while (pos + 4 <= size) {
    const uint32_t len = (uint32_t{data[pos]} << 8) | data[pos + 1];
    const uint64_t capture = captures[index];
    const std::optional<uint64_t> next =
        index + 1 < captures.size() ? std::optional(captures[index + 1]) : std::nullopt;
    ++index;
    const PacketTime pt{capture, clock.Observe(capture, next)};
    pos += 4;
    const uint32_t caplen = static_cast<uint32_t>(std::min<size_t>(len, size - pos));
    // Own copy of exactly caplen bytes: the parser must not read past it.
    std::vector<uint8_t>& frame = frames[batched];
    frame.assign(data + pos, data + pos + caplen);
    pos += caplen;
    flowtrail::packet::ParsedPacket p;
    const auto r = flowtrail::packet::ParseFrame(flowtrail::packet::LinkType::kEthernet,
                                                 frame.data(), caplen, len, &p);
    if (r == flowtrail::packet::ParseResult::kOk) {
      batch[batched] = p;
      times[batched] = pt;
      ++batched;
      if (batched == kBurst || (caplen > 0 && (frame[0] & 0xf) == 0x7)) flush_batch();
    } else {
      flush_batch();
      if (r == flowtrail::packet::ParseResult::kNonFirstFragment) {
        const uint64_t unattributed = t.counters().later_fragments_unattributed;
        t.ProcessFragment(p, pt);
        if (t.counters().later_fragments_unattributed == unattributed) ++given;
      }
    }
    if (batched == 0) {
      while (!t.Advance(clock.now(), 3)) drain();
    }
    // Drain only every third step so the output queue fills up at times.
    if (++step % 3 == 0) drain();
    const auto& c = t.counters();
    FUZZ_CHECK(c.sessions_active <= config.capacity);
    FUZZ_CHECK(c.sessions_created == c.sessions_ended + c.sessions_active);
    FUZZ_CHECK(t.PendingOutput() <= config.output_capacity);
    FUZZ_CHECK(c.later_fragments_unattributed <= c.later_fragments);
  }
  flush_batch();
  drain();
  while (!t.Advance(clock.now(), 5)) drain();
  while (!t.FlushSome(EndReason::kEndOfInput, clock.now())) drain();
  drain();
  const auto& c = t.counters();
  FUZZ_CHECK(c.sessions_active == 0);
  FUZZ_CHECK(c.sessions_created == c.sessions_ended);
  FUZZ_CHECK(emitted_final + c.records_dropped == c.sessions_ended);
  // Every packet in exactly one final record, when none was dropped.
  if (c.records_dropped == 0) FUZZ_CHECK(final_packets == given);
  return 0;
}
