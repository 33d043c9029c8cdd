// Benchmark traffic, frame by frame: the shapes bench/gen_bench_captures.cc
// writes to pcap files (and flow_hash_test feeds, at a small scale, to the
// dispatcher's extractor). Deterministic for a seed; no allocation per frame
// (one frame buffer is reused), so millions of frames take seconds.
//
// Every frame is Ethernet/IPv4 with valid IP, TCP, UDP and ICMP checksums;
// frames shorter than 60 bytes are padded to the Ethernet minimum.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

namespace flowtrail::bench {

// A frame sink: called with (timestamp µs, bytes, length); the bytes are only
// valid during the call.
template <class F>
concept FrameSink = requires(F f, uint64_t t, const uint8_t* p, uint32_t n) {
  f(t, p, n);
};

struct Endpoint {
  uint32_t ip;  // host order
  uint16_t port;
};

class FrameWriter {
 public:
  static constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

  // TCP segment src → dst with `payload` bytes of data (a fixed pattern).
  uint32_t Tcp(Endpoint src, Endpoint dst, uint32_t seq, uint32_t ack, uint8_t flags,
               uint32_t payload) {
    uint8_t* l4 = Ip(src.ip, dst.ip, 6, 20 + payload);
    Put16(l4, src.port);
    Put16(l4 + 2, dst.port);
    Put32(l4 + 4, seq);
    Put32(l4 + 8, ack);
    l4[12] = 5 << 4;
    l4[13] = flags;
    Put16(l4 + 14, 65535);
    Put16(l4 + 16, 0);
    Put16(l4 + 18, 0);
    Fill(l4 + 20, payload, seq);
    return Finish(l4, 20 + payload, 6, src.ip, dst.ip, 16);
  }

  uint32_t Udp(Endpoint src, Endpoint dst, uint32_t payload, uint32_t salt) {
    uint8_t* l4 = Ip(src.ip, dst.ip, 17, 8 + payload);
    Put16(l4, src.port);
    Put16(l4 + 2, dst.port);
    Put16(l4 + 4, static_cast<uint16_t>(8 + payload));
    Put16(l4 + 6, 0);
    Fill(l4 + 8, payload, salt);
    return Finish(l4, 8 + payload, 17, src.ip, dst.ip, 6);
  }

  // ICMP echo request (type 8) or reply (0).
  uint32_t IcmpEcho(uint32_t src, uint32_t dst, uint8_t type, uint16_t id, uint16_t seq,
                    uint32_t payload) {
    uint8_t* l4 = Ip(src, dst, 1, 8 + payload);
    l4[0] = type;
    l4[1] = 0;
    Put16(l4 + 2, 0);
    Put16(l4 + 4, id);
    Put16(l4 + 6, seq);
    Fill(l4 + 8, payload, id);
    return Finish(l4, 8 + payload, 1, 0, 0, 2);
  }

  const uint8_t* data() const { return buf_.data(); }

 private:
  static void Put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
  }
  static void Put32(uint8_t* p, uint32_t v) {
    Put16(p, static_cast<uint16_t>(v >> 16));
    Put16(p + 2, static_cast<uint16_t>(v));
  }
  static uint32_t Sum(const uint8_t* p, uint32_t n, uint32_t s) {
    for (uint32_t i = 0; i + 1 < n; i += 2) s += (uint32_t{p[i]} << 8) | p[i + 1];
    if (n & 1) s += uint32_t{p[n - 1]} << 8;
    return s;
  }
  static uint16_t Fold(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
  }
  static void Fill(uint8_t* p, uint32_t n, uint32_t salt) {
    for (uint32_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>('a' + (i + salt) % 26);
  }

  uint8_t* Ip(uint32_t src, uint32_t dst, uint8_t proto, uint32_t l4_len) {
    uint8_t* e = buf_.data();
    static constexpr uint8_t kMacs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
    std::memcpy(e, kMacs, 12);
    Put16(e + 12, 0x0800);
    uint8_t* ip = e + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    Put16(ip + 2, static_cast<uint16_t>(20 + l4_len));
    Put16(ip + 4, static_cast<uint16_t>(id_++));
    Put16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = proto;
    Put16(ip + 10, 0);
    Put32(ip + 12, src);
    Put32(ip + 16, dst);
    Put16(ip + 10, Fold(Sum(ip, 20, 0)));
    return ip + 20;
  }

  // Writes the L4 checksum at `csum_at` (pseudo-header unless ICMP: src = dst
  // = 0 there) and pads to 60 bytes; returns the frame length.
  uint32_t Finish(uint8_t* l4, uint32_t l4_len, uint8_t proto, uint32_t src, uint32_t dst,
                  uint32_t csum_at) {
    uint32_t s = 0;
    if (proto != 1) {
      s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + l4_len;
    }
    uint16_t c = Fold(Sum(l4, l4_len, s));
    if (proto == 17 && c == 0) c = 0xffff;
    Put16(l4 + csum_at, c);
    uint32_t len = 34 + l4_len;
    if (len < 60) {
      std::memset(buf_.data() + len, 0, 60 - len);
      len = 60;
    }
    return len;
  }

  std::array<uint8_t, 1600> buf_{};
  uint16_t id_ = 1;
};

// Distinct client endpoints for indices 0..2^28: 10.0.0.0/8 addresses, 16
// ports each, scattered by an odd multiplier (a bijection mod 2^24).
inline Endpoint Client(uint32_t i) {
  const uint32_t host = (i >> 4) * 2654435761u & 0xffffff;
  return {0x0a000000u | host, static_cast<uint16_t>(20000 + (i & 15) * 2011 % 40000)};
}
// One of 4096 servers (172.16.0.0/12) for a flow index.
inline Endpoint Server(uint32_t i, uint16_t port) {
  return {0xac100000u | ((i * 40503u) >> 4 & 0xfff), port};
}

inline std::vector<uint32_t> Shuffled(uint32_t n, std::mt19937_64& rng) {
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

// (a) `flows` established TCP sessions: every flow's handshake (in a random
// flow order), then `rounds` rounds of one 60-byte pure ACK per flow, each
// round in a new random order and direction.
template <FrameSink Sink>
void EstablishedAcks(uint32_t flows, uint32_t rounds, uint64_t seed, Sink&& sink) {
  std::mt19937_64 rng(seed);
  FrameWriter w;
  uint64_t t = 1'700'000'000'000'000ull;
  auto isn = [](uint32_t i, bool server) { return i * 2654435761u + (server ? 0x5bd1e995u : 7u); };
  for (uint32_t i : Shuffled(flows, rng)) {
    const Endpoint c = Client(i), s = Server(i, 443);
    const uint32_t ci = isn(i, false), si = isn(i, true);
    sink(t++, w.data(), w.Tcp(c, s, ci, 0, FrameWriter::kSyn, 0));
    sink(t++, w.data(), w.Tcp(s, c, si, ci + 1, FrameWriter::kSyn | FrameWriter::kAck, 0));
    sink(t++, w.data(), w.Tcp(c, s, ci + 1, si + 1, FrameWriter::kAck, 0));
  }
  for (uint32_t r = 0; r < rounds; ++r) {
    for (uint32_t i : Shuffled(flows, rng)) {
      const Endpoint c = Client(i), s = Server(i, 443);
      const uint32_t ci = isn(i, false) + 1, si = isn(i, true) + 1;
      if (rng() & 1) {
        sink(t++, w.data(), w.Tcp(c, s, ci, si, FrameWriter::kAck, 0));
      } else {
        sink(t++, w.data(), w.Tcp(s, c, si, ci, FrameWriter::kAck, 0));
      }
    }
  }
}

// (c) `syns` SYNs of distinct new sessions (distinct client endpoints, to 64
// servers), 60 bytes each, 0.1 µs apart.
template <FrameSink Sink>
void SynFlood(uint32_t syns, uint64_t seed, Sink&& sink) {
  std::mt19937_64 rng(seed);
  FrameWriter w;
  const uint64_t t0 = 1'700'000'000'000'000ull;
  for (uint32_t i = 0; i < syns; ++i) {
    const Endpoint s = {0xac100000u | (i % 64), 80};
    sink(t0 + i / 10, w.data(),
         w.Tcp(Client(i), s, static_cast<uint32_t>(rng()), 0, FrameWriter::kSyn, 0));
  }
}

// (b, d) A mix of sessions, `concurrent` of them open at once, each packet
// from a random open session: 70 % TCP (handshake, 1-`max_segments` data
// segments each way of 0-1460 bytes (a third full-size), FIN both ways or,
// 1 in 16, a RST), 25 % UDP DNS (query 30-60 bytes, answer 60-400), 5 % ICMP
// echo (1-4 request/reply pairs). A session that ends is replaced by a new
// one until `sessions` have started. 1 µs between packets.
struct MixShape {
  uint32_t sessions = 100'000;
  uint32_t concurrent = 10'000;
  uint32_t max_segments = 8;
  uint32_t max_payload = 1460;
};

template <FrameSink Sink>
void SessionMix(const MixShape& shape, uint64_t seed, Sink&& sink) {
  std::mt19937_64 rng(seed);
  FrameWriter w;
  struct Open {
    uint32_t index;
    uint8_t kind;  // 0 TCP, 1 UDP, 2 ICMP
    uint8_t step = 0;
    uint8_t left_c, left_s;  // data segments (TCP) or exchanges (DNS, ICMP) still to send
    bool rst;
    uint32_t seq_c, seq_s;
  };
  std::vector<Open> open;
  open.reserve(shape.concurrent);
  uint32_t started = 0;
  auto start = [&]() {
    const uint32_t i = started++;
    const uint32_t r = static_cast<uint32_t>(rng());
    Open o{};
    o.index = i;
    o.kind = r % 20 < 14 ? 0 : r % 20 < 19 ? 1 : 2;
    o.left_c = static_cast<uint8_t>(1 + (r >> 8) % shape.max_segments);
    o.left_s = static_cast<uint8_t>(1 + (r >> 16) % shape.max_segments);
    if (o.kind == 2) o.left_c = o.left_s = static_cast<uint8_t>(1 + (r >> 8) % 4);
    o.rst = (r >> 24) % 16 == 0;
    o.seq_c = r * 2654435761u;
    o.seq_s = ~o.seq_c;
    return o;
  };
  auto size = [&]() -> uint32_t {
    const uint32_t r = static_cast<uint32_t>(rng());
    const uint32_t full = std::min<uint32_t>(shape.max_payload, 1460);
    return r % 3 == 0 ? full : (r >> 2) % (full + 1);
  };
  while (open.size() < shape.concurrent && started < shape.sessions) open.push_back(start());
  uint64_t t = 1'700'000'000'000'000ull;
  using W = FrameWriter;
  while (!open.empty()) {
    const size_t k = rng() % open.size();
    Open& o = open[k];
    const Endpoint c = Client(o.index);
    bool done = false;
    uint32_t len = 0;
    if (o.kind == 1) {  // DNS: query, answer
      const Endpoint s = Server(o.index, 53);
      len = o.step == 0 ? w.Udp(c, s, 30 + rng() % 31, o.index)
                        : w.Udp(s, c, 60 + rng() % 341, o.index);
      done = o.step == 1;
    } else if (o.kind == 2) {  // echo request, reply
      const uint32_t s = Server(o.index, 0).ip;
      const auto seq = static_cast<uint16_t>(o.step / 2);
      len = o.step % 2 == 0 ? w.IcmpEcho(c.ip, s, 8, static_cast<uint16_t>(o.index), seq, 56)
                            : w.IcmpEcho(s, c.ip, 0, static_cast<uint16_t>(o.index), seq, 56);
      done = o.step + 1u == 2u * o.left_c;
    } else {
      const Endpoint s = Server(o.index, (o.index & 1) ? 443 : 80);
      if (o.step == 0) {
        len = w.Tcp(c, s, o.seq_c, 0, W::kSyn, 0);
      } else if (o.step == 1) {
        len = w.Tcp(s, c, o.seq_s, o.seq_c + 1, W::kSyn | W::kAck, 0);
        ++o.seq_s;
      } else if (o.step == 2) {
        ++o.seq_c;
        len = w.Tcp(c, s, o.seq_c, o.seq_s, W::kAck, 0);
      } else if (o.left_c > 0 || o.left_s > 0) {
        // Data both ways, the client first; a bare ACK now and then.
        const bool from_client = o.left_c > 0 && (o.left_s == 0 || rng() % 2 == 0);
        const uint32_t n = size();
        if (from_client) {
          len = w.Tcp(c, s, o.seq_c, o.seq_s, W::kAck | W::kPsh, n);
          o.seq_c += n;
          --o.left_c;
        } else {
          len = w.Tcp(s, c, o.seq_s, o.seq_c, W::kAck | W::kPsh, n);
          o.seq_s += n;
          --o.left_s;
        }
      } else if (o.rst) {
        len = w.Tcp(c, s, o.seq_c, o.seq_s, W::kRst | W::kAck, 0);
        done = true;
      } else if (o.step < 250 && (o.step & 0x80) == 0) {
        len = w.Tcp(c, s, o.seq_c, o.seq_s, W::kFin | W::kAck, 0);
        o.step = 0x80;  // FIN sent: the server's FIN, then the last ACK
      } else if (o.step == 0x81) {
        len = w.Tcp(s, c, o.seq_s, o.seq_c + 1, W::kFin | W::kAck, 0);
      } else {
        len = w.Tcp(c, s, o.seq_c + 1, o.seq_s + 1, W::kAck, 0);
        done = true;
      }
    }
    sink(t++, w.data(), len);
    ++o.step;
    if (done) {
      if (started < shape.sessions) {
        o = start();
      } else {
        o = open.back();
        open.pop_back();
      }
    }
  }
}

}  // namespace flowtrail::bench
