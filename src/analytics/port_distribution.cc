#include "analytics/port_distribution.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/hash_mix.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::analytics {

namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
// 1 / Phi^-1(3/4): MAD * 1.4826 estimates sigma; Iglewicz-Hoaglin write the
// modified z-score as 0.6745 (x - median) / MAD.
constexpr double kMadScale = 0.6745;

bool ParsePort(std::string_view s, uint32_t* out) {
  if (s.empty()) {
    return false;
  }
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out <= 65535;
}

}  // namespace

absl::StatusOr<PortSet> ParsePortSet(std::string_view text) {
  PortSet set;
  if (text == "all") {
    return set.set();
  }
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string_view::npos) {
      comma = text.size();
    }
    const std::string_view item = text.substr(at, comma - at);
    const size_t dash = item.find('-');
    uint32_t lo = 0, hi = 0;
    const bool ok = dash == std::string_view::npos
                        ? ParsePort(item, &lo) && (hi = lo, true)
                        : ParsePort(item.substr(0, dash), &lo) &&
                              ParsePort(item.substr(dash + 1), &hi) && lo <= hi;
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad port set '", std::string(text), "': '", std::string(item),
          "' is not a port or range LOW-HIGH within 0-65535 (e.g. 0-1023,8080 or all)"));
    }
    for (uint32_t p = lo; p <= hi; ++p) {
      set.set(p);
    }
    at = comma + 1;
  }
  return set;
}

PortSet PortDistributionOptions::DefaultServerPorts() {
  PortSet s;
  for (int p = 0; p < 1024; ++p) {
    s.set(p);
  }
  return s;
}

int HostBit(const IpAddress& address) {
  uint64_t a, b;
  std::memcpy(&a, address.bytes.data(), 8);
  std::memcpy(&b, address.bytes.data() + 8, 8);
  return static_cast<int>(SplitMix64Mix(a ^ SplitMix64Mix(b + 0x9e3779b97f4a7c15ULL)) >> 58);
}

uint32_t EstimateDistinct(uint64_t bits) {
  const int set = std::popcount(bits);
  if (set == 0) {
    return 0;
  }
  if (set == 64) {
    return kDistinctSaturated;  // 64 ln 64
  }
  return static_cast<uint32_t>(std::lround(-64.0 * std::log(1.0 - set / 64.0)));
}

PortDistribution::PortDistribution(PortDistributionOptions options) : options_(options) {}

absl::Status PortDistribution::ValidateOptions(const PortDistributionOptions& o) {
  if (o.window_us < 1'000'000) {
    return absl::InvalidArgumentError("the window must be at least 1 s");
  }
  if (o.max_cells < 8) {
    return absl::InvalidArgumentError("the cell budget must be at least 8");
  }
  if (!o.tcp && !o.udp) {
    return absl::InvalidArgumentError("neither TCP nor UDP is counted");
  }
  return absl::OkStatus();
}

bool PortDistribution::Counts(const record::SessionRecord& r) const {
  if (!((r.protocol == kTcp && options_.tcp) || (r.protocol == kUdp && options_.udp))) {
    return false;
  }
  return !r.continuing && options_.server_ports.test(r.server_port);
}

uint64_t PortDistribution::KeyOf(const record::SessionRecord& r) const {
  // Record time: the window of the session's first packet. Window indexes
  // past 2^32 (windows of 1 s beyond the year 2106) saturate.
  const uint64_t w = r.first_time_us / options_.window_us;
  return Key(static_cast<uint32_t>(std::min<uint64_t>(w, UINT32_MAX)), r.server_port,
             r.client_port);
}

void PortDistribution::Consume(std::span<const record::SessionRecord> records) {
  // Two stages ahead: at i + kIndexAhead the record's key is made (one
  // division per window change, not per record) and its home line (key and
  // cell side by side) prefetched; at i + kCellAhead the (now cached) line
  // gives its slot; at i it is added with the key, hash and slot found.
  constexpr size_t kIndexAhead = 16;
  constexpr size_t kCellAhead = 8;
  constexpr size_t kRing = 32;
  static_assert(kRing > kIndexAhead && (kRing & (kRing - 1)) == 0);
  std::array<uint64_t, kRing> keys;
  std::array<uint64_t, kRing> hashes;
  std::array<uint32_t, kRing> slots;
  std::array<bool, kRing> counts;
  uint64_t lo = 1;
  uint64_t hi = 0;  // [lo, hi): the cached window's record times
  uint64_t window_key = 0;
  auto stage_index = [&](size_t j) {
    const record::SessionRecord& a = records[j];
    counts[j % kRing] = Counts(a);
    if (!counts[j % kRing]) {
      return;
    }
    const uint64_t t = a.first_time_us;
    if (t < lo || t >= hi) {
      const uint64_t w = t / options_.window_us;
      window_key = Key(static_cast<uint32_t>(std::min<uint64_t>(w, UINT32_MAX)), 0, 0);
      lo = w * options_.window_us;
      hi = w >= UINT32_MAX || UINT64_MAX - lo < options_.window_us ? UINT64_MAX
                                                                   : lo + options_.window_us;
    }
    const uint64_t key = window_key | (uint64_t{a.server_port} << 16) | a.client_port;
    keys[j % kRing] = key;
    hashes[j % kRing] = cells_.Hash(key);
    cells_.PrefetchHome(hashes[j % kRing]);
  };
  auto stage_cell = [&](size_t j) {
    if (!counts[j % kRing]) {
      return;
    }
    slots[j % kRing] = cells_.SlotOf(keys[j % kRing], hashes[j % kRing]);
  };
  const size_t n = records.size();
  for (size_t j = 0; j < std::min(n, kIndexAhead); ++j) {
    stage_index(j);
  }
  for (size_t j = 0; j < std::min(n, kCellAhead); ++j) {
    stage_cell(j);
  }
  for (size_t i = 0; i < n; ++i) {
    if (i + kIndexAhead < n) {
      stage_index(i + kIndexAhead);
    }
    if (i + kCellAhead < n) {
      stage_cell(i + kCellAhead);
    }
    if (!counts[i % kRing]) {
      Add(records[i]);  // counts why it is not counted
    } else {
      ++stats_.records;
      AddCounted(records[i], keys[i % kRing], hashes[i % kRing], slots[i % kRing]);
    }
  }
}

void PortDistribution::Add(const record::SessionRecord& r) {
  ++stats_.records;
  if (!((r.protocol == kTcp && options_.tcp) || (r.protocol == kUdp && options_.udp))) {
    ++stats_.other_protocol;
    return;
  }
  if (r.continuing) {
    ++stats_.interim_skipped;
    return;
  }
  if (!options_.server_ports.test(r.server_port)) {
    ++stats_.port_excluded;
    return;
  }
  const uint64_t key = KeyOf(r);
  AddCounted(r, key, cells_.Hash(key));
}

void PortDistribution::AddCounted(const record::SessionRecord& r, uint64_t key, uint64_t h,
                                  uint32_t slot) {
  ++stats_.flows;
  bool inserted = false;
  PortCell& cell = cells_.FindOrInsert(key, h, slot, &inserted);
  if (cell.flows != UINT32_MAX) {
    ++cell.flows;
  }
  cell.client_bits |= uint64_t{1} << HostBit(r.client_ip);
  cell.server_bits |= uint64_t{1} << HostBit(r.server_ip);
  if (inserted && cells_.size() > options_.max_cells) {
    Evict();
  }
}

void PortDistribution::Evict() {
  // Priority: window index, then flows; the lowest 1/8 of the budget goes, so
  // the scan over the table is amortised over max_cells/8 inserts.
  if (priorities_.capacity() < cells_.size()) {
    priorities_.reserve(options_.max_cells + 1);
  }
  priorities_.clear();
  for (const auto& [key, cell] : cells_) {
    priorities_.push_back((key & ~uint64_t{0xffffffff}) | cell.flows);
  }
  const size_t batch = std::max<size_t>(1, options_.max_cells / 8);
  std::nth_element(priorities_.begin(), priorities_.begin() + (batch - 1), priorities_.end());
  const uint64_t cutoff = priorities_[batch - 1];
  size_t at_cutoff =
      batch - static_cast<size_t>(std::count_if(priorities_.begin(), priorities_.begin() + batch,
                                                [cutoff](uint64_t p) { return p < cutoff; }));
  cells_.Filter([&](uint64_t key, const PortCell& cell) {
    const uint64_t p = (key & ~uint64_t{0xffffffff}) | cell.flows;
    if (p < cutoff || (p == cutoff && at_cutoff > 0)) {
      if (p == cutoff) {
        --at_cutoff;
      }
      ++stats_.evicted_cells;
      stats_.evicted_flows += cell.flows;
      return false;
    }
    return true;
  });
  ++stats_.eviction_rounds;
}

absl::Status PortDistribution::Merge(const PortDistribution& other) {
  const PortDistributionOptions& a = options_;
  const PortDistributionOptions& b = other.options_;
  if (a.window_us != b.window_us || a.server_ports != b.server_ports || a.tcp != b.tcp ||
      a.udp != b.udp) {
    return absl::InvalidArgumentError(
        "client-port distributions with different windows, server ports or protocols cannot be "
        "merged");
  }
  for (const auto& [key, cell] : other.cells_) {
    bool inserted = false;
    PortCell& c = cells_.FindOrInsert(key, &inserted);
    c.flows = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{c.flows} + cell.flows, UINT32_MAX));
    c.client_bits |= cell.client_bits;
    c.server_bits |= cell.server_bits;
    if (inserted && cells_.size() > options_.max_cells) {
      Evict();
    }
  }
  const PortDistributionStats& s = other.stats_;
  stats_.records += s.records;
  stats_.flows += s.flows;
  stats_.interim_skipped += s.interim_skipped;
  stats_.other_protocol += s.other_protocol;
  stats_.port_excluded += s.port_excluded;
  stats_.evicted_cells += s.evicted_cells;
  stats_.evicted_flows += s.evicted_flows;
  stats_.eviction_rounds += s.eviction_rounds;
  return absl::OkStatus();
}

size_t PortDistribution::MemoryBytes() const {
  return cells_.MemoryBytes() + priorities_.capacity() * sizeof(uint64_t);
}

// ---------------------------------------------------------------------------
// Statistics

double Mean(std::span<const double> x) {
  if (x.empty()) {
    return 0;
  }
  double sum = 0;
  for (double v : x) {
    sum += v;
  }
  return sum / static_cast<double>(x.size());
}

double StdDev(std::span<const double> x, StddevKind kind) {
  const size_t n = x.size();
  const size_t divisor = kind == StddevKind::kSample ? n - 1 : n;
  if (n == 0 || divisor == 0) {
    return 0;
  }
  const double m = Mean(x);
  double ss = 0;
  for (double v : x) {
    ss += (v - m) * (v - m);
  }
  return std::sqrt(ss / static_cast<double>(divisor));
}

double Median(std::vector<double> x) {
  if (x.empty()) {
    return 0;
  }
  const size_t mid = x.size() / 2;
  std::nth_element(x.begin(), x.begin() + mid, x.end());
  const double upper = x[mid];
  if (x.size() % 2 == 1) {
    return upper;
  }
  const double lower = *std::max_element(x.begin(), x.begin() + mid);
  return (lower + upper) / 2;
}

double Mad(std::span<const double> x, double median) {
  std::vector<double> dev;
  dev.reserve(x.size());
  for (double v : x) {
    dev.push_back(std::fabs(v - median));
  }
  return Median(std::move(dev));
}

double MaxZScore(size_t n, StddevKind kind) {
  if (n < 2) {
    return 0;
  }
  const double d = static_cast<double>(n);
  return kind == StddevKind::kSample ? (d - 1) / std::sqrt(d) : std::sqrt(d - 1);
}

double PoissonUpperTail(double x, double lambda) {
  if (x <= 0) {
    return 1;
  }
  if (lambda <= 0) {
    return 0;
  }
  const double k0 = std::ceil(x);
  if (k0 <= lambda) {
    // Near or below the mean: 1 - P(X < k0) is accurate enough here.
    double term = std::exp(-lambda), cdf = 0;
    for (double k = 0; k < k0; ++k) {
      cdf += term;
      term *= lambda / (k + 1);
    }
    return std::clamp(1 - cdf, 0.0, 1.0);
  }
  // Terms fall once k > lambda: sum from k0 until they no longer matter.
  const double log_first = k0 * std::log(lambda) - lambda - std::lgamma(k0 + 1);
  double sum = 0, rel = 1;
  for (double k = k0; rel > 1e-17 * sum && k < k0 + 100000; ++k) {
    sum += rel;
    rel *= lambda / (k + 1);
  }
  return std::min(1.0, std::exp(log_first) * sum);
}

int PortBand(uint16_t p) {
  if (p < 1024) {
    return 0;
  }
  if (p <= 5000) {
    return 1;
  }
  if (p <= 32767) {
    return 2;
  }
  if (p <= 49151) {
    return 3;
  }
  if (p <= 60999) {
    return 4;
  }
  return 5;
}

const char* PortBandName(int band) {
  static constexpr const char* kNames[kPortBands] = {"0-1023",      "1024-5000",   "5001-32767",
                                                     "32768-49151", "49152-60999", "61000-65535"};
  return band >= 0 && band < kPortBands ? kNames[band] : "?";
}

size_t ServerPortReport::goldfarb_flags() const {
  return static_cast<size_t>(std::count_if(flagged.begin(), flagged.end(),
                                           [](const ClientPortRow& r) { return r.goldfarb; }));
}
size_t ServerPortReport::robust_flags() const {
  return static_cast<size_t>(std::count_if(
      flagged.begin(), flagged.end(), [](const ClientPortRow& r) { return r.mad || r.fanout; }));
}

namespace {

struct Group {
  uint32_t window;
  uint16_t server_port;
  std::vector<std::pair<uint16_t, const PortCell*>> ports;  // by client port
};

ServerPortReport AnalyzeGroup(const Group& g, uint64_t window_us, const PortAnalysisOptions& o) {
  ServerPortReport rep;
  rep.window_start_us = uint64_t{g.window} * window_us;
  rep.server_port = g.server_port;
  const size_t n = g.ports.size();
  rep.client_ports = static_cast<uint32_t>(n);
  std::vector<double> counts;
  counts.reserve(n);
  std::array<std::vector<double>, kPortBands> by_band;
  for (const auto& [port, cell] : g.ports) {
    counts.push_back(cell->flows);
    by_band[PortBand(port)].push_back(cell->flows);
    rep.flows += cell->flows;
  }
  rep.mean = Mean(counts);
  rep.stddev = StdDev(counts, o.stddev);
  rep.threshold = rep.mean + o.sigma * rep.stddev;
  rep.goldfarb_eligible = n > o.min_client_ports;
  rep.max_z = MaxZScore(n, o.stddev);
  rep.median = Median(counts);
  rep.mad = Mad(counts, rep.median);

  // The mad rule's reference per band: the band's own ports when there are
  // more than C of them, else every port of this server port.
  struct Ref {
    bool usable = false;
    bool band = false;
    double median = 0, mad = 0;
  };
  std::array<Ref, kPortBands> refs;
  const Ref pooled{n > o.min_client_ports, false, rep.median, rep.mad};
  for (int b = 0; b < kPortBands; ++b) {
    if (by_band[b].size() > o.min_client_ports) {
      const double m = Median(by_band[b]);
      refs[b] = Ref{true, true, m, Mad(by_band[b], m)};
    } else {
      refs[b] = pooled;
    }
  }

  for (const auto& [port, cell] : g.ports) {
    ClientPortRow row;
    row.client_port = port;
    row.flows = cell->flows;
    row.distinct_clients = EstimateDistinct(cell->client_bits);
    row.distinct_servers = EstimateDistinct(cell->server_bits);
    row.z = rep.stddev > 0 ? (row.flows - rep.mean) / rep.stddev : 0;
    row.goldfarb = rep.goldfarb_eligible && row.flows > rep.threshold;
    row.band = PortBand(port);
    const Ref& ref = refs[row.band];
    row.band_reference = ref.band;
    row.ref_median = ref.median;
    row.ref_mad = ref.mad;
    if (ref.usable) {
      row.modified_z = kMadScale * (row.flows - ref.median) / std::max(ref.mad, o.mad_floor);
      row.p_value = PoissonUpperTail(row.flows, std::max(ref.median, 1e-9));
      row.mad = row.modified_z > o.robust_threshold &&
                (o.alpha >= 1 || row.p_value < o.alpha / static_cast<double>(n));
    }
    // The cell's client hosts from one client port to many servers each.
    row.fanout =
        o.fanout_servers > 0 &&
        row.distinct_servers >= uint64_t{o.fanout_servers} * std::max(1u, row.distinct_clients);
    if (row.goldfarb || row.mad || row.fanout) {
      rep.flagged.push_back(row);
    }
  }
  return rep;
}

}  // namespace

std::vector<ServerPortReport> AnalyzePorts(const PortDistribution& counts,
                                           const PortAnalysisOptions& options) {
  // Copies (the table iterates by value), sorted; the groups point into them.
  std::vector<std::pair<uint64_t, PortCell>> cells(counts.cell_map().begin(),
                                                   counts.cell_map().end());
  std::sort(cells.begin(), cells.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ServerPortReport> out;
  Group g;
  auto flush = [&] {
    if (!g.ports.empty()) {
      out.push_back(AnalyzeGroup(g, counts.options().window_us, options));
    }
    g.ports.clear();
  };
  for (const auto& [key, cell] : cells) {
    const auto window = static_cast<uint32_t>(key >> 32);
    const auto server_port = static_cast<uint16_t>(key >> 16);
    if (g.ports.empty() || window != g.window || server_port != g.server_port) {
      flush();
      g.window = window;
      g.server_port = server_port;
    }
    g.ports.emplace_back(static_cast<uint16_t>(key), &cell);
  }
  flush();
  return out;
}

}  // namespace flowtrail::analytics

namespace flowtrail::analytics {

void PortDistribution::Save(v1::PortDistributionState* state) const {
  state->Clear();
  state->set_window_us(options_.window_us);
  std::string ports(8192, '\0');
  for (size_t p = 0; p < 65536; ++p) {
    if (options_.server_ports.test(p)) {
      ports[p / 8] = static_cast<char>(static_cast<uint8_t>(ports[p / 8]) | (1u << (p % 8)));
    }
  }
  state->set_server_ports(std::move(ports));
  state->set_tcp(options_.tcp);
  state->set_udp(options_.udp);
  state->set_max_cells(options_.max_cells);
  // Sorted by key, so equal states give equal bytes.
  std::vector<std::pair<uint64_t, PortCell>> cells(cells_.begin(), cells_.end());
  std::sort(cells.begin(), cells.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [k, c] : cells) {
    v1::PortCellState* p = state->add_cells();
    p->set_key(k);
    p->set_flows(c.flows);
    p->set_client_bits(c.client_bits);
    p->set_server_bits(c.server_bits);
  }
  state->set_records(stats_.records);
  state->set_flows(stats_.flows);
  state->set_interim_skipped(stats_.interim_skipped);
  state->set_other_protocol(stats_.other_protocol);
  state->set_port_excluded(stats_.port_excluded);
  state->set_evicted_cells(stats_.evicted_cells);
  state->set_evicted_flows(stats_.evicted_flows);
  state->set_eviction_rounds(stats_.eviction_rounds);
}

absl::StatusOr<PortDistribution> PortDistribution::Load(const v1::PortDistributionState& state,
                                                        uint64_t max_cells_limit) {
  PortDistributionOptions o;
  o.window_us = state.window_us();
  if (state.server_ports().size() != 8192) {
    return absl::InvalidArgumentError("port snapshot: the server port set is not 8192 bytes");
  }
  o.server_ports.reset();
  for (size_t p = 0; p < 65536; ++p) {
    if ((static_cast<uint8_t>(state.server_ports()[p / 8]) >> (p % 8)) & 1) {
      o.server_ports.set(p);
    }
  }
  o.tcp = state.tcp();
  o.udp = state.udp();
  if (state.max_cells() > max_cells_limit) {
    return absl::InvalidArgumentError(absl::StrCat("port snapshot: cell budget ", state.max_cells(),
                                                   " exceeds the limit ", max_cells_limit));
  }
  o.max_cells = static_cast<size_t>(state.max_cells());
  if (absl::Status s = ValidateOptions(o); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("port snapshot: ", s.message()));
  }
  if (static_cast<uint64_t>(state.cells_size()) > o.max_cells) {
    return absl::InvalidArgumentError("port snapshot: more cells than its budget");
  }
  PortDistribution d(o);
  d.cells_.Reserve(static_cast<size_t>(state.cells_size()));
  uint64_t flows = 0;
  for (const v1::PortCellState& c : state.cells()) {
    const uint16_t server_port = static_cast<uint16_t>(c.key() >> 16);
    if (c.flows() == 0 || c.client_bits() == 0 || c.server_bits() == 0 ||
        !o.server_ports.test(server_port)) {
      return absl::InvalidArgumentError(absl::StrCat("port snapshot: bad cell ", c.key()));
    }
    bool inserted = false;
    PortCell& cell = d.cells_.FindOrInsert(c.key(), &inserted);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("port snapshot: duplicate cell ", c.key()));
    }
    cell = PortCell{c.flows(), c.client_bits(), c.server_bits()};
    flows += c.flows();
  }
  d.stats_.records = state.records();
  d.stats_.flows = state.flows();
  d.stats_.interim_skipped = state.interim_skipped();
  d.stats_.other_protocol = state.other_protocol();
  d.stats_.port_excluded = state.port_excluded();
  d.stats_.evicted_cells = state.evicted_cells();
  d.stats_.evicted_flows = state.evicted_flows();
  d.stats_.eviction_rounds = state.eviction_rounds();
  if (flows > d.stats_.flows) {  // cells saturate, so only an upper bound holds
    return absl::InvalidArgumentError("port snapshot: cells hold more flows than it counted");
  }
  return d;
}

}  // namespace flowtrail::analytics
