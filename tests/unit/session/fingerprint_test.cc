// Property tests of the first-data fingerprints (SPEC §4): equal in, equal
// out; a few bytes changed, close; unrelated payloads, spread out.
#include "session/fingerprint.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "record/session_record.h"

namespace flowtrail::session {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }
uint32_t Fp(const std::vector<uint8_t>& v) {
  return ScalarFingerprint(v.data(), v.size(), v.size());
}
uint64_t Sh(const std::vector<uint8_t>& v) { return SimHash64(v.data(), v.size()); }
int64_t Dist(uint32_t a, uint32_t b) { return std::abs(int64_t{a} - int64_t{b}); }

std::vector<uint8_t> Random(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(Fingerprint, NoDataIsZeroAndDataIsNever) {
  EXPECT_EQ(ScalarFingerprint(nullptr, 0, 0), 0u);
  EXPECT_EQ(SimHash64(nullptr, 0), 0u);
  const uint8_t zeros[3] = {0, 0, 0};
  EXPECT_NE(ScalarFingerprint(zeros, 1, 1), 0u);
  EXPECT_NE(SimHash64(zeros, 1), 0u);
  std::mt19937 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const auto v = Random(rng, 1 + rng() % 40);
    ASSERT_NE(Fp(v), 0u);
    ASSERT_NE(Sh(v), 0u);
  }
}

TEST(Fingerprint, EqualPayloadsGiveEqualValues) {
  std::mt19937 rng(5);
  for (int i = 0; i < 200; ++i) {
    const auto a = Random(rng, 1 + rng() % 1500);
    const auto b = a;  // a separate copy
    ASSERT_EQ(Fp(a), Fp(b));
    ASSERT_EQ(Sh(a), Sh(b));
  }
}

TEST(Fingerprint, OnlyCapturedBytesAreRead) {
  std::vector<uint8_t> v = Bytes("GET /index.html HTTP/1.1\r\nHost: example.org\r\n\r\n");
  const uint32_t short_fp = ScalarFingerprint(v.data(), 10, v.size());
  v.resize(10);  // a sanitizer would catch a read past here
  EXPECT_EQ(short_fp, ScalarFingerprint(v.data(), 10, 47));
}

TEST(Fingerprint, AChangedEmbeddedAddressOrCounterMovesTheValuesLittle) {
  const std::string tmpl =
      "GET /cgi-bin/status?host=%s&seq=%d HTTP/1.1\r\nHost: intranet.example.org\r\n"
      "User-Agent: probe/1.0\r\nAccept: */*\r\n\r\n";
  std::mt19937 rng(11);
  auto render = [&](int a, int b, int c, int d, int seq) {
    char host[32], buf[512];
    snprintf(host, sizeof(host), "%d.%d.%d.%d", a, b, c, d);
    snprintf(buf, sizeof(buf), tmpl.c_str(), host, seq);
    return Bytes(buf);
  };
  const auto base = render(10, 1, 2, 3, 7);
  int total_hamming = 0;
  for (int i = 0; i < 200; ++i) {
    const auto v = render(10, 1 + rng() % 9, rng() % 10, rng() % 10, rng() % 10);
    ASSERT_EQ(v.size(), base.size());
    EXPECT_LT(Dist(Fp(base), Fp(v)), 64) << i;  // out of 2^32
    // Up to 4 changed bytes touch up to 16 of ~115 shingles; unrelated
    // payloads are ~32 bits apart.
    EXPECT_LE(record::SimHashDistance(Sh(base), Sh(v)), 20) << i;
    total_hamming += record::SimHashDistance(Sh(base), Sh(v));
  }
  EXPECT_LT(total_hamming / 200, 14);
}

TEST(Fingerprint, AFewChangedBytesInABinaryPayloadMoveTheValuesLittle) {
  std::mt19937 rng(13);
  int total_hamming = 0;
  constexpr int kTrials = 300;
  for (int i = 0; i < kTrials; ++i) {
    auto a = Random(rng, 200 + rng() % 1000);
    auto b = a;
    const size_t at = 2 + rng() % (a.size() - 6);
    for (size_t k = 0; k < 4; ++k) b[at + k] = static_cast<uint8_t>(rng());
    EXPECT_LT(Dist(Fp(a), Fp(b)), 1 << 8);
    total_hamming += record::SimHashDistance(Sh(a), Sh(b));
  }
  // Unrelated payloads differ in ~32 bits; 4 changed bytes in >= 200 flip few.
  EXPECT_LT(total_hamming / kTrials, 8);
}

TEST(Fingerprint, UnrelatedRandomPayloadsAreSpreadOut) {
  std::mt19937 rng(17);
  constexpr int kN = 2000;
  std::vector<uint32_t> fps;
  std::vector<uint64_t> shs;
  for (int i = 0; i < kN; ++i) {
    const auto v = Random(rng, 16 + rng() % 1400);
    fps.push_back(Fp(v));
    shs.push_back(Sh(v));
  }
  // Nearly all distinct.
  EXPECT_GE(std::set<uint32_t>(fps.begin(), fps.end()).size(), kN * 97 / 100);
  EXPECT_EQ(std::set<uint64_t>(shs.begin(), shs.end()).size(), static_cast<size_t>(kN));
  // Scalar values cover the range: every eighth of [0, 2^32) is populated
  // within 30% of its share.
  int buckets[8] = {};
  for (uint32_t f : fps) ++buckets[f >> 29];
  for (int b : buckets) {
    EXPECT_GT(b, kN / 8 * 7 / 10);
    EXPECT_LT(b, kN / 8 * 13 / 10);
  }
  // Consecutive pairs: mean numeric distance near 2^32/3, mean Hamming near 32.
  double num = 0, ham = 0;
  for (int i = 1; i < kN; ++i) {
    num += static_cast<double>(Dist(fps[i], fps[i - 1]));
    ham += record::SimHashDistance(shs[i], shs[i - 1]);
  }
  num /= kN - 1;
  ham /= kN - 1;
  EXPECT_GT(num, 4294967296.0 / 3 * 0.8);
  EXPECT_LT(num, 4294967296.0 / 3 * 1.2);
  EXPECT_GT(ham, 29);
  EXPECT_LT(ham, 35);
}

TEST(Fingerprint, DifferentProtocolsAreFarApart) {
  const uint32_t http = Fp(Bytes("GET / HTTP/1.1\r\n\r\n"));
  const uint32_t ssh = Fp(Bytes("SSH-2.0-OpenSSH_9.2\r\n"));
  const uint32_t tls = Fp({0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03});
  EXPECT_GT(Dist(http, ssh), 1 << 24);
  EXPECT_GT(Dist(http, tls), 1 << 24);
  EXPECT_GT(record::SimHashDistance(Sh(Bytes("GET / HTTP/1.1\r\n\r\n")),
                                    Sh(Bytes("SSH-2.0-OpenSSH_9.2\r\n"))),
            16);
}

}  // namespace
}  // namespace flowtrail::session
