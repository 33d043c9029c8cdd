#include "analytics/server_set.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/hash_mix.h"

namespace flowtrail::analytics {
namespace {

// Ertl 2017, Algorithm 6 helpers.
double Sigma(double x) {
  if (x == 1.0) {
    return std::numeric_limits<double>::infinity();
  }
  double y = 1.0;
  double z = x;
  for (;;) {
    x *= x;
    const double z_old = z;
    z += x * y;
    y += y;
    if (z == z_old) {
      return z;
    }
  }
}

double Tau(double x) {
  if (x == 0.0 || x == 1.0) {
    return 0.0;
  }
  double y = 1.0;
  double z = 1.0 - x;
  for (;;) {
    x = std::sqrt(x);
    const double z_old = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
    if (z == z_old) {
      return z / 3.0;
    }
  }
}

}  // namespace

uint64_t HashServer(const IpAddress& address, uint8_t ip_version, uint16_t port, uint64_t key) {
  uint64_t w0 = 0;
  uint64_t w1 = 0;
  std::memcpy(&w0, address.bytes.data(), 8);
  std::memcpy(&w1, address.bytes.data() + 8, 8);
  uint64_t h = Fmix64(key ^ w0);
  h = Fmix64(h ^ w1 ^ (key >> 7));
  h = Fmix64(h ^ ((uint64_t{port} << 8) | ip_version) ^ (key << 13));
  return h;
}

double Hll::RelativeStandardError() { return 1.04 / std::sqrt(static_cast<double>(kRegisters)); }

void Hll::Insert(uint64_t hash) {
  constexpr int kQ = 64 - kP;
  const size_t index = hash >> kQ;
  const uint64_t rest = hash << kP;  // the low q bits, moved to the top
  const int rank = rest == 0 ? kQ + 1 : std::countl_zero(rest) + 1;
  uint8_t& r = registers_[index];
  if (rank > r) {
    r = static_cast<uint8_t>(rank);
  }
}

bool Hll::SetRegisters(std::span<const uint8_t> registers) {
  if (registers.size() != kRegisters) {
    return false;
  }
  for (uint8_t r : registers) {
    if (r > 64 - kP + 1) {
      return false;
    }
  }
  std::copy(registers.begin(), registers.end(), registers_.begin());
  return true;
}

ServerSet ServerSet::FromSketch(const Hll& sketch) {
  ServerSet s;
  s.hll_ = std::make_unique<Hll>(sketch);
  return s;
}

void Hll::Merge(const Hll& other) {
  for (size_t i = 0; i < kRegisters; ++i) {
    registers_[i] = std::max(registers_[i], other.registers_[i]);
  }
}

double Hll::Estimate() const {
  constexpr int kQ = 64 - kP;
  std::array<uint32_t, kQ + 2> c{};
  for (uint8_t r : registers_) {
    ++c[r];
  }
  const double m = static_cast<double>(kRegisters);
  double z = m * Tau(1.0 - static_cast<double>(c[kQ + 1]) / m);
  for (int k = kQ; k >= 1; --k) {
    z = 0.5 * (z + static_cast<double>(c[k]));
  }
  z += m * Sigma(static_cast<double>(c[0]) / m);
  constexpr double kAlphaInf = 0.721347520444481703680;  // 1 / (2 ln 2)
  return kAlphaInf * m * m / z;
}

ServerSet& ServerSet::operator=(const ServerSet& other) {
  if (this == &other) {
    return *this;
  }
  items_ = other.items_;
  size_ = other.size_;
  hll_ = other.hll_ ? std::make_unique<Hll>(*other.hll_) : nullptr;
  return *this;
}

bool ServerSet::Contains(uint64_t hash) const {
  for (uint32_t i = 0; i < size_ && exact(); ++i) {
    if (items_[i] == hash) {
      return true;
    }
  }
  return false;
}

void ServerSet::Promote() {
  hll_ = std::make_unique<Hll>();
  for (uint32_t i = 0; i < size_; ++i) {
    hll_->Insert(items_[i]);
  }
  size_ = 0;
}

void ServerSet::Insert(uint64_t hash) {
  if (hll_) {
    hll_->Insert(hash);
    return;
  }
  if (Contains(hash)) {
    return;
  }
  if (size_ < kInline) {
    items_[size_++] = hash;
    return;
  }
  Promote();
  hll_->Insert(hash);
}

void ServerSet::Merge(const ServerSet& other) {
  if (other.hll_) {
    if (!hll_) {
      Promote();
    }
    hll_->Merge(*other.hll_);
    return;
  }
  for (uint32_t i = 0; i < other.size_; ++i) {
    Insert(other.items_[i]);
  }
}

uint64_t ServerSet::Count() const {
  if (exact()) {
    return size_;
  }
  return static_cast<uint64_t>(std::llround(hll_->Estimate()));
}

uint64_t ServerSet::UnionCount(std::span<const ServerSet* const> sets) {
  ServerSet u;
  for (const ServerSet* s : sets) {
    u.Merge(*s);
  }
  return u.Count();
}

}  // namespace flowtrail::analytics
