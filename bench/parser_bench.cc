// ParseFrame cost per packet: single hot frames of the common shapes, and a
// burst of mixed frames (encapsulations, protocols and a few bad ones) as a
// worker sees them. Beside it, the software dispatcher's key and hash per
// frame: DispatchKeyOf (the address-pair extractor it uses) and the full
// parse + SymmetricFlowHash it used before. Run: <build>/bench/parser_bench
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "dataplane/flow_hash.h"
#include "frame_builder.h"
#include "packet/parser.h"

namespace {

using flowtrail::packet::LinkType;
using flowtrail::packet::ParsedPacket;
using flowtrail::packet::ParseFrame;
using flowtrail::packet::ParseResult;
using flowtrail::testing::BuildFrame;
using flowtrail::testing::FrameSpec;

FrameSpec TcpV4() {
  FrameSpec s;
  s.src = "192.0.2.1";
  s.dst = "198.51.100.2";
  s.sport = 40000;
  s.dport = 443;
  s.flags = 0x18;
  s.seq = 123456789;
  s.ack = 987654321;
  s.tcp_options = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};  // NOP NOP timestamps
  s.payload = std::string(512, 'x');
  return s;
}

FrameSpec VlanTcpV6() {
  FrameSpec s = TcpV4();
  s.ip_version = 6;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::2";
  s.vlans = {100};
  return s;
}

FrameSpec UdpV4() {
  FrameSpec s;
  s.protocol = 17;
  s.sport = 53000;
  s.dport = 53;
  s.payload = std::string(60, 'q');
  return s;
}

void ParseOne(benchmark::State& state, const std::vector<uint8_t>& frame) {
  ParsedPacket pkt;
  const auto len = static_cast<uint32_t>(frame.size());
  for (auto _ : state) {
    ParseResult r = ParseFrame(LinkType::kEthernet, frame.data(), len, len, &pkt);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(pkt);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseTcpIpv4(benchmark::State& state) { ParseOne(state, BuildFrame(TcpV4())); }
BENCHMARK(BM_ParseTcpIpv4);

void BM_ParseVlanTcpIpv6(benchmark::State& state) { ParseOne(state, BuildFrame(VlanTcpV6())); }
BENCHMARK(BM_ParseVlanTcpIpv6);

void BM_ParseUdpIpv4(benchmark::State& state) { ParseOne(state, BuildFrame(UdpV4())); }
BENCHMARK(BM_ParseUdpIpv4);

// 64 frames in a shuffled-looking order so the branch predictor cannot learn
// one path: mostly TCP/UDP over IPv4, some IPv6, VLAN, Q-in-Q, MPLS, ICMP,
// extension headers, fragments and malformed frames.
std::vector<std::vector<uint8_t>> MixedBurst() {
  std::vector<FrameSpec> kinds;
  kinds.push_back(TcpV4());
  kinds.push_back(UdpV4());
  kinds.push_back(VlanTcpV6());
  FrameSpec s = TcpV4();
  s.payload.clear();
  s.flags = 0x10;
  kinds.push_back(s);  // pure ACK
  s = UdpV4();
  s.vlans = {10, 20};
  s.qinq = true;
  kinds.push_back(s);
  s = TcpV4();
  s.mpls_labels = {16, 17};
  kinds.push_back(s);
  s = FrameSpec();
  s.protocol = 1;
  s.icmp_type = 8;
  s.icmp_id = 7;
  kinds.push_back(s);
  s = VlanTcpV6();
  s.ipv6_extensions = {{0, {}}, {60, {}}};
  kinds.push_back(s);
  s = UdpV4();
  s.more_fragments = true;
  s.fragment_offset = 100;
  kinds.push_back(s);  // non-first fragment
  s = TcpV4();
  s.ipv4_options = {0x94, 4, 0, 0};
  kinds.push_back(s);

  std::vector<std::vector<uint8_t>> burst;
  uint32_t x = 12345;
  for (int i = 0; i < 64; ++i) {
    x = x * 1103515245 + 12345;
    // Weight toward plain TCP/UDP over IPv4, as on most links.
    const uint32_t pick = (x >> 16) % 16;
    const size_t k = pick < 4 ? 0 : pick < 6 ? 3 : pick < 8 ? 1 : (pick - 8) % kinds.size();
    burst.push_back(BuildFrame(kinds[k]));
  }
  burst[5].resize(10);  // truncated Ethernet
  burst[40][12] = 0x08;
  burst[40][13] = 0x06;  // ARP
  return burst;
}

void BM_ParseMixedBurst(benchmark::State& state) {
  const std::vector<std::vector<uint8_t>> burst = MixedBurst();
  ParsedPacket pkt;
  for (auto _ : state) {
    for (const std::vector<uint8_t>& f : burst) {
      const auto len = static_cast<uint32_t>(f.size());
      ParseResult r = ParseFrame(LinkType::kEthernet, f.data(), len, len, &pkt);
      benchmark::DoNotOptimize(r);
      benchmark::DoNotOptimize(pkt);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(burst.size()));
  state.counters["sec_per_packet"] = benchmark::Counter(
      static_cast<double>(state.iterations() * burst.size()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_ParseMixedBurst);

// The dispatcher's per-frame work: key = 0 the extractor (DispatchKeyOf),
// 1 the full parse + hash it replaced.
uint32_t DispatchKey(int mode, const std::vector<uint8_t>& f, ParsedPacket* pkt) {
  const auto len = static_cast<uint32_t>(f.size());
  if (mode == 0) {
    const flowtrail::dataplane::DispatchKey k =
        flowtrail::dataplane::DispatchKeyOf(LinkType::kEthernet, f.data(), len, len);
    return k.has_addresses ? k.hash : 0;
  }
  const ParseResult r = ParseFrame(LinkType::kEthernet, f.data(), len, len, pkt);
  return flowtrail::packet::HasAddresses(r)
             ? flowtrail::dataplane::SymmetricFlowHash(pkt->src, pkt->dst)
             : 0;
}

void KeyOne(benchmark::State& state, const std::vector<uint8_t>& frame) {
  ParsedPacket pkt;
  const int mode = static_cast<int>(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(frame.data());
    benchmark::DoNotOptimize(DispatchKey(mode, frame, &pkt));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DispatchKeyTcpIpv4(benchmark::State& state) { KeyOne(state, BuildFrame(TcpV4())); }
BENCHMARK(BM_DispatchKeyTcpIpv4)->ArgName("full_parse")->Arg(0)->Arg(1);

void BM_DispatchKeyVlanTcpIpv6(benchmark::State& state) { KeyOne(state, BuildFrame(VlanTcpV6())); }
BENCHMARK(BM_DispatchKeyVlanTcpIpv6)->ArgName("full_parse")->Arg(0)->Arg(1);

void BM_DispatchKeyMixedBurst(benchmark::State& state) {
  const std::vector<std::vector<uint8_t>> burst = MixedBurst();
  ParsedPacket pkt;
  const int mode = static_cast<int>(state.range(0));
  for (auto _ : state) {
    for (const std::vector<uint8_t>& f : burst) {
      benchmark::DoNotOptimize(DispatchKey(mode, f, &pkt));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(burst.size()));
}
BENCHMARK(BM_DispatchKeyMixedBurst)->ArgName("full_parse")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
