// Writes the benchmark captures (bench_captures.h) as classic pcap files:
//   acks.pcap        1 M established TCP sessions (handshakes first), then
//                    60-byte pure ACKs of all of them in random order
//   mix.pcap         a realistic mix: TCP with handshakes, data both ways,
//                    FIN/RST; UDP DNS; ICMP echo; sizes 60-1514 bytes
//   synflood.pcap    2 M SYNs of distinct new sessions, 60 bytes
//   concurrent.pcap  1.1 M sessions of the mix, 1 M of them open at once
// Deterministic for --seed. Usage: gen_bench_captures OUT_DIR [--only a,b]
// [--seed N] [--flows N] [--rounds N] [--mix-sessions N] [--syns N]
// [--concurrent N]. Files go to OUT_DIR (BUILD_DIR/bench or /tmp), never the
// repository.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "bench_captures.h"

namespace {

class Pcap {
 public:
  explicit Pcap(const std::string& path) : f_(std::fopen(path.c_str(), "wb")) {
    if (f_ == nullptr) return;
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 22);
    const uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};  // v2.4, Ethernet
    std::fwrite(hdr, sizeof(hdr), 1, f_);
  }
  ~Pcap() {
    if (f_ != nullptr) std::fclose(f_);
  }
  bool ok() const { return f_ != nullptr && !std::ferror(f_); }
  void operator()(uint64_t ts_us, const uint8_t* p, uint32_t n) {
    const uint32_t rec[4] = {static_cast<uint32_t>(ts_us / 1000000),
                             static_cast<uint32_t>(ts_us % 1000000), n, n};
    std::fwrite(rec, sizeof(rec), 1, f_);
    std::fwrite(p, n, 1, f_);
    ++packets;
  }
  uint64_t packets = 0;

 private:
  std::FILE* f_;
};

uint64_t Arg(const char* v) { return std::strtoull(v, nullptr, 10); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr,
                 "usage: gen_bench_captures OUT_DIR [--only acks,mix,synflood,concurrent] "
                 "[--seed N] [--flows N] [--rounds N] [--mix-sessions N] [--syns N] "
                 "[--concurrent N]\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::set<std::string> only = {"acks", "mix", "synflood", "concurrent"};
  uint64_t seed = 1, flows = 1'000'000, rounds = 1, mix_sessions = 100'000, syns = 2'000'000,
           concurrent = 1'000'000;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--only") {
      only.clear();
      std::string list = argv[i + 1];
      for (size_t at = 0; at <= list.size();) {
        size_t comma = list.find(',', at);
        if (comma == std::string::npos) comma = list.size();
        only.insert(list.substr(at, comma - at));
        at = comma + 1;
      }
    } else if (a == "--seed") {
      seed = Arg(argv[i + 1]);
    } else if (a == "--flows") {
      flows = Arg(argv[i + 1]);
    } else if (a == "--rounds") {
      rounds = Arg(argv[i + 1]);
    } else if (a == "--mix-sessions") {
      mix_sessions = Arg(argv[i + 1]);
    } else if (a == "--syns") {
      syns = Arg(argv[i + 1]);
    } else if (a == "--concurrent") {
      concurrent = Arg(argv[i + 1]);
    } else {
      std::fprintf(stderr, "gen_bench_captures: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  using flowtrail::bench::MixShape;
  for (const std::string& name : only) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string path = dir + "/" + name + ".pcap";
    Pcap out(path);
    if (!out.ok()) {
      std::fprintf(stderr, "gen_bench_captures: cannot write %s\n", path.c_str());
      return 1;
    }
    if (name == "acks") {
      flowtrail::bench::EstablishedAcks(static_cast<uint32_t>(flows), static_cast<uint32_t>(rounds),
                                        seed, out);
    } else if (name == "mix") {
      MixShape m;
      m.sessions = static_cast<uint32_t>(mix_sessions);
      m.concurrent = 10'000;
      flowtrail::bench::SessionMix(m, seed, out);
    } else if (name == "synflood") {
      flowtrail::bench::SynFlood(static_cast<uint32_t>(syns), seed, out);
    } else if (name == "concurrent") {
      // Short sessions of small segments keep the file near 1.5 GB.
      MixShape m;
      m.concurrent = static_cast<uint32_t>(concurrent);
      m.sessions = m.concurrent + m.concurrent / 10;
      m.max_segments = 3;
      m.max_payload = 200;
      flowtrail::bench::SessionMix(m, seed, out);
    } else {
      std::fprintf(stderr, "gen_bench_captures: unknown capture %s\n", name.c_str());
      return 2;
    }
    if (!out.ok()) {
      std::fprintf(stderr, "gen_bench_captures: write error on %s\n", path.c_str());
      return 1;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %llu packets in %.1f s\n", path.c_str(),
                static_cast<unsigned long long>(out.packets), s);
  }
  return 0;
}
