#include "analytics/record_counts.h"

#include "absl/strings/str_cat.h"
#include "packet/parsed_packet.h"
#include "record/record_names.h"

namespace flowtrail::analytics {

void RecordCounts::Consume(std::span<const record::SessionRecord> records) {
  // The first consumer of a burst: it brings the records in for the scan
  // table and port distribution, so it prefetches the two of a record's
  // three lines that the analytics read (addresses, ports, flags; times and
  // bytes) a few records ahead instead of waiting for each.
  constexpr size_t kAhead = 8;
  const size_t n = records.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      __builtin_prefetch(&records[i + kAhead].client_ip);
      __builtin_prefetch(&records[i + kAhead].first_time_us);
    }
    const record::SessionRecord& r = records[i];
    ++by_protocol_[r.protocol];
    ++by_conn_state_[static_cast<uint8_t>(r.conn_state) % kConnStates];
  }
  records_ += n;
}

std::string ProtocolName(uint8_t protocol) {
  switch (protocol) {
    case packet::kProtoTcp:
      return "tcp";
    case packet::kProtoUdp:
      return "udp";
    case packet::kProtoIcmp:
      return "icmp";
    case packet::kProtoIcmpV6:
      return "icmpv6";
    default:
      return absl::StrCat(protocol);
  }
}

std::string RecordCounts::ToJson() const {
  std::string s = absl::StrCat("{\"records\":", records_, ",\"by_protocol\":{");
  const char* sep = "";
  for (size_t p = 0; p < by_protocol_.size(); ++p) {
    if (by_protocol_[p] == 0) {
      continue;
    }
    absl::StrAppend(&s, sep, "\"", ProtocolName(static_cast<uint8_t>(p)), "\":", by_protocol_[p]);
    sep = ",";
  }
  absl::StrAppend(&s, "},\"by_conn_state\":{");
  sep = "";
  for (size_t c = 0; c < kConnStates; ++c) {
    if (by_conn_state_[c] == 0) {
      continue;
    }
    const std::string_view name = record::ConnStateName(static_cast<record::ConnState>(c));
    absl::StrAppend(&s, sep, "\"", absl::string_view(name.data(), name.size()),
                    "\":", by_conn_state_[c]);
    sep = ",";
  }
  absl::StrAppend(&s, "}}");
  return s;
}

}  // namespace flowtrail::analytics
