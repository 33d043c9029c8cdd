// Client-port distributions per server port (SPEC §5; Goldfarb, "Identifying
// Anomalous Network Traffic Through the Use of Client Port Distribution",
// US-CERT 2005), with a robust method beside the paper's.
//
// Accumulation (PortDistribution): per record-time window (aligned to
// multiples of the window length, keyed by the session's first_time_us), per
// server port in a set (0-1023 by default), per client port (0-65535): the
// number of flows, plus two 64-bit linear-counting bitmaps of the client and
// server addresses seen in that cell (distinct hosts, estimated; mergeable by
// OR). A flow is a TCP or UDP session counted once, at its final record:
// interim records (continuing = true, cumulative from the session's start)
// are skipped, so an actively timed-out session is not counted twice.
// Memory is bounded by a budget of cells; when it is exceeded the coldest
// cells (oldest window first, then fewest flows) are evicted in a batch of
// 1/8 of the budget, and the evicted cells and flows are counted.
// Merge(other) adds another accumulator's cells: the result equals one pass
// over both inputs' records (when neither evicted).
//
// Analysis (AnalyzePorts), per (window, server port) with n client ports:
//  * goldfarb — the paper exactly: when n > C, mean and standard deviation of
//    the per-client-port counts; a client port is flagged when its count is
//    > mean + S * stddev (C = 5, S = 3). The paper says "the sample mean ...
//    along with the standard deviation of the sample population", which we
//    read as the sample standard deviation (divisor n - 1); its largest
//    attainable z-score is (n - 1)/sqrt(n) (Shiffler 1988), < 3 for n <= 10,
//    so with C = 5 a server port with 6-10 client ports can never alert.
//    StddevKind::kPopulation (divisor n, max z sqrt(n - 1)) is the other
//    reading; it cannot alert for n <= 10 either.
//  * robust — two rules, either flags:
//    - mad: the Iglewicz-Hoaglin modified z-score 0.6745 (x - median) / MAD
//      > 3.5, where median and MAD are taken over the client ports in the
//      same ephemeral-port band (<1024, 1024-5000 Windows XP, 5001-32767,
//      32768-49151 Linux, 49152-60999 Linux+Windows, 61000-65535
//      Windows/macOS) when that band has more than C client ports, otherwise
//      over all the server port's client ports. The median is not moved by
//      the outlier it judges, and MAD is floored (1 flow by default) because
//      most counts are equal (MAD 0). Needs more than C reference ports.
//      A multiplicity gate keeps busy server ports (thousands of client
//      ports, counts around a few flows) from flagging their natural upper
//      tail: the count must also be improbable as a Poisson draw with the
//      reference median as its mean, P(X >= count) < alpha / n (Bonferroni
//      over the server port's n client ports, alpha 0.01). Overdispersed
//      traffic (bursty reuse) is not modelled: a negative binomial would be
//      the next step.
//    - fanout: the cell's client hosts (bitmap estimate c) reached at least
//      F * c distinct servers (F = 16 by default) from one client port on one
//      server port: a fixed-source-port scan, by one host or by several
//      sharing the port (masscan and nmap -g runs often do). No minimum n: it
//      fires on a server port nobody else uses. A popular client port number
//      reused by many hosts, each to a server or two, stays far below F per
//      host. The 64-bit bitmaps saturate near 250 distinct hosts, so more
//      than ~15 hosts sharing a port cannot reach F * c.
// DPDK-free; one owner thread.
#pragma once

#include <bitset>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "analytics/port_cells.h"
#include "record/session_record.h"

namespace flowtrail::v1 {
class PortDistributionState;
}

namespace flowtrail::analytics {

using PortSet = std::bitset<65536>;

// "0-1023", "22,80,443,8000-8999", "all".
absl::StatusOr<PortSet> ParsePortSet(std::string_view text);

struct PortDistributionOptions {
  uint64_t window_us = uint64_t{3600} * 1'000'000;  // >= 1 s
  PortSet server_ports = DefaultServerPorts();
  bool tcp = true;
  bool udp = true;
  // >= 8. 900 000 cells fit the 2^20-slot table kept up to 917 504 entries
  // (port_cells.h): about 32 MiB (32 bytes a slot).
  size_t max_cells = 900'000;

  static PortSet DefaultServerPorts();  // 0-1023
};

struct PortDistributionStats {
  uint64_t records = 0;          // offered to Add
  uint64_t flows = 0;            // counted into a cell
  uint64_t interim_skipped = 0;  // continuing records (the final one counts)
  uint64_t other_protocol = 0;   // not TCP/UDP, or a protocol switched off
  uint64_t port_excluded = 0;    // server port not in the set
  uint64_t evicted_cells = 0;
  uint64_t evicted_flows = 0;
  uint64_t eviction_rounds = 0;
};

class PortDistribution {
 public:
  explicit PortDistribution(PortDistributionOptions options = {});

  static absl::Status ValidateOptions(const PortDistributionOptions& options);

  void Add(const record::SessionRecord& record);
  // Add for a batch (the analytics lcore's burst): prefetches the cells of
  // the records a few places ahead, so table misses overlap.
  void Consume(std::span<const record::SessionRecord> records);
  // Adds other's cells and counters. Fails (changing nothing) unless both have
  // the same window, server port set and protocols.
  absl::Status Merge(const PortDistribution& other);

  // The whole state (PortDistributionState in session.proto) and back. Load
  // validates everything (untrusted input): options, at most max_cells cells
  // and at most `max_cells_limit` as the budget, keys of counted server ports
  // and windows, no duplicates, no empty cells.
  void Save(v1::PortDistributionState* state) const;
  static absl::StatusOr<PortDistribution> Load(const v1::PortDistributionState& state,
                                               uint64_t max_cells_limit = 16'000'000);

  const PortDistributionOptions& options() const { return options_; }
  const PortDistributionStats& stats() const { return stats_; }
  size_t cells() const { return cells_.size(); }
  // The cell table's footprint (keys and cells) and the eviction scratch.
  size_t MemoryBytes() const;

  // Key layout: window index (32 bits) | server port (16) | client port (16).
  static uint64_t Key(uint32_t window, uint16_t server_port, uint16_t client_port) {
    return (uint64_t{window} << 32) | (uint64_t{server_port} << 16) | client_port;
  }
  const PortCellTable& cell_map() const { return cells_; }
  // Whether this record is one Add counts (TCP/UDP per options, final record,
  // server port in the set): also the filter of the follow-up query.
  bool Counts(const record::SessionRecord& record) const;
  // The record's cell key (window of first_time_us, ports).
  uint64_t KeyOf(const record::SessionRecord& record) const;

 private:
  // Add of a record that Counts, `key` its KeyOf, `h` and `slot` its hash
  // and a slot hint (PortCellTable::SlotOf).
  void AddCounted(const record::SessionRecord& r, uint64_t key, uint64_t h,
                  uint32_t slot = PortCellTable::kNoSlot);
  void Evict();

  PortDistributionOptions options_;
  PortCellTable cells_;
  std::vector<uint64_t> priorities_;  // eviction scratch, reserved once
  PortDistributionStats stats_;
};

// Bit of a host in a cell's bitmap (stable across processes, so merged
// snapshots agree).
int HostBit(const IpAddress& address);
// Linear-counting estimate of the distinct hosts behind a 64-bit bitmap:
// -64 ln(1 - popcount/64), rounded; a full bitmap gives 266 (64 ln 64), a
// lower bound.
uint32_t EstimateDistinct(uint64_t bits);
inline constexpr uint32_t kDistinctSaturated = 266;

enum class StddevKind : uint8_t { kSample, kPopulation };

struct PortAnalysisOptions {
  uint32_t min_client_ports = 5;  // C: a server port is analysed when n > C
  double sigma = 3.0;             // S
  StddevKind stddev = StddevKind::kSample;
  double robust_threshold = 3.5;  // modified z-score (Iglewicz-Hoaglin)
  double mad_floor = 1.0;         // flows
  double alpha = 0.01;            // the gate's family-wise level per server port; 1 = off
  uint32_t fanout_servers = 16;   // F per client host; 0 switches the fan-out rule off
};

// Ephemeral-port bands of the mad rule.
int PortBand(uint16_t client_port);
const char* PortBandName(int band);
inline constexpr int kPortBands = 6;

struct ClientPortRow {
  uint16_t client_port = 0;
  uint32_t flows = 0;
  uint32_t distinct_clients = 0;  // estimates, see EstimateDistinct
  uint32_t distinct_servers = 0;
  double z = 0;           // (flows - mean) / stddev; 0 when stddev is 0
  double modified_z = 0;  // against the reference below; 0 without one
  double p_value = 1;     // P(X >= flows), X ~ Poisson(ref_median)
  int band = 0;
  bool band_reference = false;  // median/MAD of the band (else of the port)
  double ref_median = 0;
  double ref_mad = 0;
  bool goldfarb = false;
  bool mad = false;
  bool fanout = false;
};

struct ServerPortReport {
  uint64_t window_start_us = 0;
  uint16_t server_port = 0;
  uint32_t client_ports = 0;  // n
  uint64_t flows = 0;
  // Goldfarb statistics (computed for every n >= 1; used only when n > C).
  double mean = 0;
  double stddev = 0;
  double threshold = 0;  // mean + S * stddev
  bool goldfarb_eligible = false;
  double max_z = 0;   // the largest z any client port could reach with this n
  double median = 0;  // over all client ports
  double mad = 0;
  std::vector<ClientPortRow> flagged;  // by either method, by client port
  size_t goldfarb_flags() const;
  size_t robust_flags() const;
};

// Statistics on their own, for tests and tools.
double Mean(std::span<const double> x);
double StdDev(std::span<const double> x, StddevKind kind);
double Median(std::vector<double> x);
double Mad(std::span<const double> x, double median);
// (n - 1)/sqrt(n) for the sample standard deviation, sqrt(n - 1) for the
// population one.
double MaxZScore(size_t n, StddevKind kind);
// P(X >= x) for X ~ Poisson(lambda): above the mean a series in log space
// (no 1 - CDF cancellation, so 1e-300 stays 1e-300), else 1 - CDF.
double PoissonUpperTail(double x, double lambda);

// Every (window, server port) with at least one client port, ordered by
// window then server port.
std::vector<ServerPortReport> AnalyzePorts(const PortDistribution& counts,
                                           const PortAnalysisOptions& options);

}  // namespace flowtrail::analytics
