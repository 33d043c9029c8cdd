#include "tools/record_format.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <span>

#include "absl/strings/str_cat.h"

namespace flowtrail::tools {
namespace {

// Value names of the proto enums, indexed by value (tests check them against
// the descriptors).
constexpr std::string_view kConfidenceNames[] = {"CONFIDENCE_LOW", "CONFIDENCE_MEDIUM",
                                                 "CONFIDENCE_HIGH"};
constexpr std::string_view kSideNames[] = {"SIDE_NONE", "SIDE_CLIENT", "SIDE_SERVER"};
constexpr std::string_view kShutdownNames[] = {"SHUTDOWN_NONE", "SHUTDOWN_FIN", "SHUTDOWN_RST"};
constexpr std::string_view kEndReasonNames[] = {
    "END_REASON_UNSPECIFIED",  "END_REASON_CLOSED",         "END_REASON_RESET",
    "END_REASON_IDLE_TIMEOUT", "END_REASON_ACTIVE_TIMEOUT", "END_REASON_EVICTED",
    "END_REASON_SHUTDOWN",     "END_REASON_END_OF_INPUT",   "END_REASON_REPLACED"};
constexpr std::string_view kConnStateNames[] = {"CONN_STATE_UNSPECIFIED",
                                                "S0",
                                                "S1",
                                                "SF",
                                                "REJ",
                                                "S2",
                                                "S3",
                                                "RSTO",
                                                "RSTR",
                                                "RSTOS0",
                                                "RSTRH",
                                                "SH",
                                                "SHR",
                                                "OTH"};

template <typename T>
void AppendNumber(T value, std::string* out) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, end);
}

void AppendEnum(std::span<const std::string_view> names, int value, std::string* out) {
  if (value >= 0 && static_cast<size_t>(value) < names.size()) {
    out->append(names[static_cast<size_t>(value)]);
  } else {
    AppendNumber(value, out);
  }
}

std::string EnumString(std::span<const std::string_view> names, int value) {
  std::string s;
  AppendEnum(names, value, &s);
  return s;
}

void AppendFlags(uint32_t flags, std::string* out) {
  // URG ACK PSH RST SYN FIN: bits 5..0 of the TCP flag byte.
  char s[6];
  static constexpr char kLetters[] = "UAPRSF";
  for (int i = 0; i < 6; ++i) s[i] = (flags & (0x20u >> i)) ? kLetters[i] : '_';
  out->append(s, 6);
}

void AppendIp(std::string_view bytes, std::string* out) {
  if (bytes.size() == 4) {
    for (int i = 0; i < 4; ++i) {
      if (i > 0) out->push_back('.');
      AppendNumber(static_cast<uint8_t>(bytes[i]), out);
    }
  } else if (bytes.size() == 16) {
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf)) != nullptr) out->append(buf);
  } else if (!bytes.empty()) {
    static constexpr char kHex[] = "0123456789abcdef";
    out->append("0x");
    for (char c : bytes) {
      out->push_back(kHex[static_cast<uint8_t>(c) >> 4]);
      out->push_back(kHex[static_cast<uint8_t>(c) & 15]);
    }
  }
}

void AppendTime(uint64_t us, std::string* out) {
  AppendNumber(us / 1000000, out);
  out->push_back(' ');
  char buf[8];
  uint64_t frac = us % 1000000;
  for (int i = 5; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out->append(buf, 6);
}

// The field list of the JSON and CSV formats: every field of the schema in
// field-number order. An emitter gets (name, value) per field.
template <typename Emitter>
void VisitFields(const v1::SessionRecord& r, Emitter& e) {
  e.Number("session_id", r.session_id());
  e.Enum("server_confidence", kConfidenceNames, r.server_confidence());
  e.Ip("client_ip", r.client_ip());
  e.Number("client_port", r.client_port());
  e.Ip("server_ip", r.server_ip());
  e.Number("server_port", r.server_port());
  e.Bool("transient_server", r.transient_server());
  e.Bool("inbound", r.inbound());
  e.Bool("full_analysis", r.full_analysis());
  e.Number("client_first_flags", r.client_first_flags());
  e.Number("server_first_flags", r.server_first_flags());
  e.Number("client_flags", r.client_flags());
  e.Number("server_flags", r.server_flags());
  e.Number("client_payload_bytes", r.client_payload_bytes());
  e.Number("server_payload_bytes", r.server_payload_bytes());
  e.Number("client_packets", r.client_packets());
  e.Number("server_packets", r.server_packets());
  e.Number("client_first_seq", r.client_first_seq());
  e.Number("server_first_seq", r.server_first_seq());
  e.Number("client_last_seq", r.client_last_seq());
  e.Number("server_last_seq", r.server_last_seq());
  e.Number("first_time_us", r.first_time_us());
  e.Number("last_time_us", r.last_time_us());
  e.Number("client_fingerprint", r.client_fingerprint());
  e.Number("server_fingerprint", r.server_fingerprint());
  e.Number("client_bytes", r.client_bytes());
  e.Number("server_bytes", r.server_bytes());
  e.Enum("first_data_sender", kSideNames, r.first_data_sender());
  e.Enum("shutdown_initiator", kSideNames, r.shutdown_initiator());
  e.Enum("shutdown_kind", kShutdownNames, r.shutdown_kind());
  e.Enum("end_reason", kEndReasonNames, r.end_reason());
  e.Enum("conn_state", kConnStateNames, r.conn_state());
  e.Number("protocol", r.protocol());
  e.Number("ip_version", r.ip_version());
  e.Number("vlan_outer", r.vlan_outer());
  e.Number("vlan_inner", r.vlan_inner());
  e.Number("vlan_count", r.vlan_count());
  e.Number("input_port", r.input_port());
  e.String("sensor_id", r.sensor_id());
  e.Bool("continuing", r.continuing());
  e.Number("client_simhash", r.client_simhash());
  e.Number("server_simhash", r.server_simhash());
  e.Number("client_first_data_len", r.client_first_data_len());
  e.Number("server_first_data_len", r.server_first_data_len());
  e.Number("icmp_id", r.icmp_id());
  e.Number("worker_id", r.worker_id());
  e.Number("fragments", r.fragments());
  e.Bool("server_isn_changed", r.server_isn_changed());
}

class JsonEmitter {
 public:
  explicit JsonEmitter(std::string* out) : out_(out) {}
  template <typename T>
  void Number(std::string_view name, T v) {
    Key(name);
    AppendNumber(v, out_);
  }
  void Bool(std::string_view name, bool v) {
    Key(name);
    out_->append(v ? "true" : "false");
  }
  void Enum(std::string_view name, std::span<const std::string_view> names, int v) {
    Key(name);
    out_->push_back('"');
    AppendEnum(names, v, out_);
    out_->push_back('"');
  }
  void Ip(std::string_view name, std::string_view bytes) {
    Key(name);
    out_->push_back('"');
    AppendIp(bytes, out_);
    out_->push_back('"');
  }
  void String(std::string_view name, std::string_view v) {
    Key(name);
    out_->push_back('"');
    for (char c : v) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_->push_back('\\');
        out_->push_back(c);
      } else if (u < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        out_->append("\\u00");
        out_->push_back(kHex[u >> 4]);
        out_->push_back(kHex[u & 15]);
      } else {
        out_->push_back(c);  // UTF-8 passes through: the reader checked it
      }
    }
    out_->push_back('"');
  }

 private:
  void Key(std::string_view name) {
    out_->push_back(first_ ? '{' : ',');
    first_ = false;
    out_->push_back('"');
    out_->append(name);
    out_->append("\":");
  }
  std::string* out_;
  bool first_ = true;
};

class CsvEmitter {
 public:
  explicit CsvEmitter(std::string* out) : out_(out) {}
  template <typename T>
  void Number(std::string_view, T v) {
    Sep();
    AppendNumber(v, out_);
  }
  void Bool(std::string_view, bool v) {
    Sep();
    out_->append(v ? "true" : "false");
  }
  void Enum(std::string_view, std::span<const std::string_view> names, int v) {
    Sep();
    AppendEnum(names, v, out_);
  }
  void Ip(std::string_view, std::string_view bytes) {
    Sep();
    AppendIp(bytes, out_);
  }
  void String(std::string_view, std::string_view v) {
    Sep();
    if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
      out_->append(v);
      return;
    }
    out_->push_back('"');
    for (char c : v) {
      if (c == '"') out_->push_back('"');
      out_->push_back(c);
    }
    out_->push_back('"');
  }

 private:
  void Sep() {
    if (!first_) out_->push_back(',');
    first_ = false;
  }
  std::string* out_;
  bool first_ = true;
};

class CsvHeaderEmitter {
 public:
  explicit CsvHeaderEmitter(std::string* out) : out_(out) {}
  template <typename T>
  void Number(std::string_view name, T) {
    Name(name);
  }
  void Bool(std::string_view name, bool) { Name(name); }
  void Enum(std::string_view name, std::span<const std::string_view>, int) { Name(name); }
  void Ip(std::string_view name, std::string_view) { Name(name); }
  void String(std::string_view name, std::string_view) { Name(name); }

 private:
  void Name(std::string_view name) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->append(name);
  }
  std::string* out_;
  bool first_ = true;
};

}  // namespace

absl::StatusOr<Format> ParseFormat(std::string_view name) {
  if (name == "classic") return Format::kClassic;
  if (name == "json") return Format::kJson;
  if (name == "csv") return Format::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown format '", std::string(name), "' (expected classic, json or csv)"));
}

void AppendClassic(const v1::SessionRecord& r, std::string* out) {
  static constexpr std::string_view kSep = "  ";
  auto num = [out](auto v) {
    AppendNumber(v, out);
    out->append(kSep);
  };
  num(r.session_id());
  num(r.server_confidence());
  AppendIp(r.client_ip(), out);
  out->append(kSep);
  num(r.client_port());
  AppendIp(r.server_ip(), out);
  out->append(kSep);
  num(r.server_port());
  num(r.transient_server() ? 1 : 0);
  num(r.inbound() ? 1 : 0);
  num(r.full_analysis() ? 1 : 0);
  for (uint32_t flags :
       {r.client_first_flags(), r.server_first_flags(), r.client_flags(), r.server_flags()}) {
    AppendFlags(flags, out);
    out->append(kSep);
  }
  num(r.client_payload_bytes());
  num(r.server_payload_bytes());
  num(r.client_packets());
  num(r.server_packets());
  num(r.client_first_seq());
  num(r.server_first_seq());
  num(r.client_last_seq());
  num(r.server_last_seq());
  AppendTime(r.first_time_us(), out);
  out->append(kSep);
  AppendTime(r.last_time_us(), out);
  out->append(kSep);
  num(r.client_fingerprint());
  AppendNumber(r.server_fingerprint(), out);
  out->push_back('\n');
}

void AppendJson(const v1::SessionRecord& record, std::string* out) {
  JsonEmitter e(out);
  VisitFields(record, e);
  out->append("}\n");
}

void AppendCsvHeader(std::string* out) {
  CsvHeaderEmitter e(out);
  VisitFields(v1::SessionRecord::default_instance(), e);
  out->push_back('\n');
}

void AppendCsv(const v1::SessionRecord& record, std::string* out) {
  CsvEmitter e(out);
  VisitFields(record, e);
  out->push_back('\n');
}

void AppendRecord(Format format, const v1::SessionRecord& record, std::string* out) {
  switch (format) {
    case Format::kClassic:
      return AppendClassic(record, out);
    case Format::kJson:
      return AppendJson(record, out);
    case Format::kCsv:
      return AppendCsv(record, out);
  }
}

std::string TcpFlags(uint32_t flags) {
  std::string s;
  AppendFlags(flags, &s);
  return s;
}

std::string IpText(std::string_view bytes) {
  std::string s;
  AppendIp(bytes, &s);
  return s;
}

std::string ServerConfidenceName(int v) { return EnumString(kConfidenceNames, v); }
std::string SideName(int v) { return EnumString(kSideNames, v); }
std::string ShutdownKindName(int v) { return EnumString(kShutdownNames, v); }
std::string EndReasonName(int v) { return EnumString(kEndReasonNames, v); }
std::string ConnStateName(int v) { return EnumString(kConnStateNames, v); }

}  // namespace flowtrail::tools
