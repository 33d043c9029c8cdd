#include "dataplane/flow_hash.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_captures.h"
#include "frame_builder.h"
#include "pcap_reader.h"

namespace flowtrail::dataplane {
namespace {

IpAddress RandomAddress(std::mt19937_64& rng, bool v6) {
  IpAddress a;
  for (int i = 0; i < (v6 ? 16 : 4); ++i) a.bytes[i] = static_cast<uint8_t>(rng());
  return a;
}

TEST(SymmetricFlowHash, BothDirectionsHashAlike) {
  std::mt19937_64 rng(7);
  for (bool v6 : {false, true}) {
    for (int i = 0; i < 50000; ++i) {
      const IpAddress a = RandomAddress(rng, v6);
      const IpAddress b = RandomAddress(rng, v6);
      ASSERT_EQ(SymmetricFlowHash(a, b), SymmetricFlowHash(b, a));
    }
  }
}

TEST(SymmetricFlowHash, DependsOnBothAddresses) {
  std::mt19937_64 rng(3);
  const IpAddress a = RandomAddress(rng, false);
  const IpAddress b = RandomAddress(rng, false);
  IpAddress c = b;
  c.bytes[3] ^= 1;
  EXPECT_NE(SymmetricFlowHash(a, b), SymmetricFlowHash(a, c));
  EXPECT_NE(SymmetricFlowHash(a, b), SymmetricFlowHash(a, a));
}

TEST(SymmetricFlowHash, SpreadsHostPairsEvenlyOverWorkers) {
  std::mt19937_64 rng(11);
  for (uint32_t workers : {2u, 3u, 8u}) {
    constexpr int kPairs = 60000;
    std::vector<int> per(workers);
    for (int i = 0; i < kPairs; ++i) {
      ++per[WorkerForHash(SymmetricFlowHash(RandomAddress(rng, false), RandomAddress(rng, false)),
                          workers)];
    }
    for (int n : per) {
      EXPECT_GT(n, kPairs / static_cast<int>(workers) * 9 / 10) << workers << " workers";
      EXPECT_LT(n, kPairs / static_cast<int>(workers) * 11 / 10) << workers << " workers";
    }
  }
}

TEST(WorkerForHash, AlwaysInRange) {
  for (uint32_t w = 1; w <= 16; ++w) {
    EXPECT_EQ(WorkerForHash(0, w), 0u);
    EXPECT_EQ(WorkerForHash(0xffffffffu, w), w - 1);
  }
}

// What the dispatcher computed before DispatchKeyOf: the full parse.
DispatchKey ParsedKey(packet::LinkType link, const uint8_t* f, uint32_t caplen, uint32_t wire) {
  packet::ParsedPacket pp;
  const packet::ParseResult r = packet::ParseFrame(link, f, caplen, wire, &pp);
  DispatchKey k;
  k.ok = r == packet::ParseResult::kOk;
  k.has_addresses = packet::HasAddresses(r);
  k.hash = k.has_addresses ? SymmetricFlowHash(pp.src, pp.dst) : 0;
  return k;
}

// Counts frames compared and fails on the first few that differ.
struct Comparison {
  size_t frames = 0;
  size_t with_addresses = 0;
  size_t failures = 0;
  void Check(packet::LinkType link, const uint8_t* f, uint32_t caplen, uint32_t wire,
             const std::string& what) {
    const DispatchKey want = ParsedKey(link, f, caplen, wire);
    const DispatchKey got = DispatchKeyOf(link, f, caplen, wire);
    ++frames;
    with_addresses += want.has_addresses;
    if (got.has_addresses != want.has_addresses || got.ok != want.ok || got.hash != want.hash) {
      if (++failures <= 5) {
        ADD_FAILURE() << what << " caplen " << caplen << " wire " << wire << ": addresses "
                      << got.has_addresses << " vs " << want.has_addresses << ", ok " << got.ok
                      << " vs " << want.ok << ", hash " << got.hash << " vs " << want.hash;
      }
    }
  }
};

std::vector<testing::FrameSpec> FrameKinds() {
  using testing::FrameSpec;
  std::vector<FrameSpec> kinds;
  for (uint8_t version : {4, 6}) {
    for (uint8_t protocol : {6, 17, 1, 58, 47, 132}) {
      FrameSpec s;
      s.ip_version = version;
      if (version == 6) {
        s.src = "2001:db8::1";
        s.dst = "2001:db8:ffff::2";
      }
      s.protocol = protocol;
      s.payload = "abcdefghij";
      kinds.push_back(s);
      s.vlans = {100};
      kinds.push_back(s);
      s.vlans = {100, 200};
      s.qinq = true;
      kinds.push_back(s);
      s.vlans = {1, 2, 3};
      kinds.push_back(s);
      s.vlans = {};
      s.mpls_labels = {16, 17};
      kinds.push_back(s);
      s.mpls_labels = {};
      if (version == 4) {
        s.ipv4_options = {0x94, 4, 0, 0};
        kinds.push_back(s);
        s.ipv4_options = {};
      } else {
        s.ipv6_extensions = {{0, {}}, {60, {}}};
        kinds.push_back(s);
        s.ipv6_extensions = {};
      }
      s.more_fragments = true;
      kinds.push_back(s);  // first fragment
      s.fragment_offset = 100;
      kinds.push_back(s);  // later fragment
      s.more_fragments = false;
      kinds.push_back(s);  // last fragment
    }
  }
  testing::FrameSpec syn;
  syn.flags = 0x02;
  syn.tcp_options = {2, 4, 5, 0xb4, 1, 3, 3, 7};
  kinds.push_back(syn);
  return kinds;
}

// Every shape the parser knows (both IP versions, TCP, UDP, ICMP, other
// protocols, VLAN, Q-in-Q, MPLS, IPv4 options, IPv6 extensions, fragments),
// in every link type, cut at every length (as a snap length and as a short
// frame), and with random bytes overwritten: the extractor's key is the full
// parse's.
TEST(DispatchKeyOf, MatchesTheFullParseOnEveryFrameKindCutAndMutated) {
  std::mt19937_64 rng(42);
  Comparison cmp;
  for (const testing::FrameSpec& spec : FrameKinds()) {
    const std::vector<uint8_t> eth = testing::BuildFrame(spec);
    for (uint16_t link : {1, 113, 276, 101, 12, 14, 228, 229, 0, 108}) {
      std::vector<uint8_t> f = testing::Encapsulate(link, eth);
      if (f.empty()) {
        continue;
      }
      const auto lt = static_cast<packet::LinkType>(link);
      const auto size = static_cast<uint32_t>(f.size());
      for (uint32_t cut = 0; cut <= size; ++cut) {
        cmp.Check(lt, f.data(), cut, size, "snapped");
        cmp.Check(lt, f.data(), cut, cut, "short");
      }
      // Every header byte set to values that sit on the parser's bounds
      // (versions, header lengths, small lengths, flags).
      for (size_t at = 0; at < std::min<size_t>(f.size(), 96); ++at) {
        const uint8_t was = f[at];
        for (int v : {0, 1, 4, 5, 7, 8, 0x20, 0x40, 0x45, 0x46, 0x4f, 0x60, 0x80, 0xff, was ^ 1}) {
          f[at] = static_cast<uint8_t>(v);
          cmp.Check(lt, f.data(), size, size, "byte " + std::to_string(at));
        }
        f[at] = was;
      }
      for (int m = 0; m < 300; ++m) {
        std::vector<uint8_t> g = f;
        const int changes = 1 + static_cast<int>(rng() % 3);
        for (int c = 0; c < changes; ++c) {
          g[rng() % std::min<size_t>(g.size(), 80)] = static_cast<uint8_t>(rng());
        }
        const auto cap = static_cast<uint32_t>(rng() % (g.size() + 1));
        cmp.Check(lt, g.data(), cap, (rng() & 1) ? size : cap, "mutated");
        cmp.Check(lt, g.data(), size, size, "mutated");
      }
    }
  }
  EXPECT_EQ(cmp.failures, 0u) << "of " << cmp.frames;
  EXPECT_GT(cmp.with_addresses, cmp.frames / 4);
}

TEST(DispatchKeyOf, MatchesTheFullParseOnTheBenchmarkCaptures) {
  Comparison cmp;
  auto sink = [&](uint64_t, const uint8_t* p, uint32_t n) {
    cmp.Check(packet::LinkType::kEthernet, p, n, n, "bench");
  };
  bench::EstablishedAcks(2000, 2, 1, sink);
  bench::SynFlood(2000, 1, sink);
  bench::MixShape shape;
  shape.sessions = 3000;
  shape.concurrent = 500;
  bench::SessionMix(shape, 1, sink);
  EXPECT_EQ(cmp.failures, 0u) << "of " << cmp.frames;
  EXPECT_EQ(cmp.with_addresses, cmp.frames);
}

// The real captures (skipped without ../shared/captures): VLAN, Q-in-Q,
// IPv6, fragments, and the malformed ones.
TEST(DispatchKeyOf, MatchesTheFullParseOnTheSharedCaptures) {
  const std::string dir = testing::SharedCapturesDir();
  if (dir.empty()) {
    GTEST_SKIP() << "no shared captures";
  }
  Comparison cmp;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".pcap") {
      continue;
    }
    std::vector<testing::CapturedFrame> frames;
    std::string error;
    testing::ReadPcap(entry.path().string(), &frames, &error);  // frames before an error count
    for (const testing::CapturedFrame& f : frames) {
      cmp.Check(packet::LinkType::kEthernet, f.bytes.data(), static_cast<uint32_t>(f.bytes.size()),
                f.wire_len, entry.path().filename().string());
    }
  }
  EXPECT_EQ(cmp.failures, 0u) << "of " << cmp.frames;
  EXPECT_GT(cmp.frames, 1000u);
}

}  // namespace
}  // namespace flowtrail::dataplane
