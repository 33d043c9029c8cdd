#include "tools/record_format.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <span>

#include "absl/strings/str_cat.h"
#include "record/record_names.h"

namespace flowtrail::tools {
namespace {

// Value names of the proto enums, indexed by value (tests check them against
// the descriptors).
using record::kConfidenceNames;
using record::kConnStateNames;
using record::kEndReasonNames;
using record::kShutdownKindNames;
using record::kSideNames;

// Formatting writes into small stack buffers through a char pointer and
// appends each finished piece once: far fewer string operations than
// push_back per character.
// append(ptr, size): the (first, last) overload goes through replace().
void Add(std::string* out, const char* begin, const char* end) {
  out->append(begin, static_cast<size_t>(end - begin));
}

template <typename T>
char* PutNumber(char* p, T value) {
  return std::to_chars(p, p + 24, value).ptr;
}

char* PutText(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Longest outputs of the helpers below.
constexpr size_t kMaxIpText = 46;    // INET6_ADDRSTRLEN, or hex of a short odd value
constexpr size_t kMaxEnumText = 26;  // END_REASON_ACTIVE_TIMEOUT, or an int

template <typename T>
void AppendNumber(T value, std::string* out) {
  char buf[24];
  Add(out, buf, PutNumber(buf, value));
}

char* PutEnum(char* p, std::span<const std::string_view> names, int value) {
  if (value >= 0 && static_cast<size_t>(value) < names.size()) {
    return PutText(p, names[static_cast<size_t>(value)]);
  }
  return PutNumber(p, value);
}

void AppendEnum(std::span<const std::string_view> names, int value, std::string* out) {
  char buf[kMaxEnumText];
  Add(out, buf, PutEnum(buf, names, value));
}

std::string EnumString(std::span<const std::string_view> names, int value) {
  std::string s;
  AppendEnum(names, value, &s);
  return s;
}

char* PutFlags(char* p, uint32_t flags) {
  // URG ACK PSH RST SYN FIN: bits 5..0 of the TCP flag byte.
  static constexpr char kLetters[] = "UAPRSF";
  for (int i = 0; i < 6; ++i) *p++ = (flags & (0x20u >> i)) ? kLetters[i] : '_';
  return p;
}

// RFC 5952 text, the same as glibc's inet_ntop (tests compare the two) at a
// fraction of its cost: the longest run of two or more zero groups (the first
// of equal runs) becomes "::", groups are lower-case hex without leading
// zeros, and ::a.b.c.d / ::ffff:a.b.c.d end in a dotted quad.
char* PutIp6(char* p, const uint8_t* a) {
  uint16_t w[8];
  for (size_t i = 0; i < 8; ++i) w[i] = static_cast<uint16_t>(a[2 * i] << 8 | a[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j;
  }
  if (best_len < 2) best = -1;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      *p++ = ':';
      if (i + best_len == 8) *p++ = ':';
      i += best_len - 1;
      continue;
    }
    if (i > 0) *p++ = ':';
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
      for (int k = 12; k < 16; ++k) {
        if (k > 12) *p++ = '.';
        p = PutNumber(p, a[k]);
      }
      break;
    }
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const int nibble = (w[i] >> shift) & 15;
      if (nibble != 0 || started || shift == 0) {
        *p++ = kHex[nibble];
        started = true;
      }
    }
  }
  return p;
}

// Writes at most kMaxIpText characters; an address that is neither 4 nor 16
// bytes (never in a validated record) is shown in hex, cut to fit.
char* PutIp(char* p, std::string_view bytes) {
  if (bytes.size() == 4) {
    for (int i = 0; i < 4; ++i) {
      if (i > 0) *p++ = '.';
      p = PutNumber(p, static_cast<uint8_t>(bytes[i]));
    }
  } else if (bytes.size() == 16) {
    p = PutIp6(p, reinterpret_cast<const uint8_t*>(bytes.data()));
  } else if (!bytes.empty()) {
    static constexpr char kHex[] = "0123456789abcdef";
    p = PutText(p, "0x");
    const size_t n = std::min<size_t>(bytes.size(), (kMaxIpText - 2) / 2);
    for (size_t i = 0; i < n; ++i) {
      *p++ = kHex[static_cast<uint8_t>(bytes[i]) >> 4];
      *p++ = kHex[static_cast<uint8_t>(bytes[i]) & 15];
    }
  }
  return p;
}

void AppendFlags(uint32_t flags, std::string* out) {
  char buf[6];
  Add(out, buf, PutFlags(buf, flags));
}

void AppendIp(std::string_view bytes, std::string* out) {
  char buf[kMaxIpText];
  Add(out, buf, PutIp(buf, bytes));
}

char* PutTime(char* p, uint64_t us) {
  p = PutNumber(p, us / 1000000);
  *p++ = ' ';
  uint64_t frac = us % 1000000;
  for (int i = 5; i >= 0; --i) {
    p[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  return p + 6;
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
  e.Enum("shutdown_kind", kShutdownKindNames, r.shutdown_kind());
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
    char buf[kMaxKey + 24];
    Append(buf, PutNumber(Key(buf, name), v));
  }
  void Bool(std::string_view name, bool v) {
    char buf[kMaxKey + 5];
    Append(buf, PutText(Key(buf, name), v ? "true" : "false"));
  }
  void Enum(std::string_view name, std::span<const std::string_view> names, int v) {
    char buf[kMaxKey + kMaxEnumText + 2];
    char* p = Key(buf, name);
    *p++ = '"';
    p = PutEnum(p, names, v);
    *p++ = '"';
    Append(buf, p);
  }
  void Ip(std::string_view name, std::string_view bytes) {
    char buf[kMaxKey + kMaxIpText + 2];
    char* p = Key(buf, name);
    *p++ = '"';
    p = PutIp(p, bytes);
    *p++ = '"';
    Append(buf, p);
  }
  void String(std::string_view name, std::string_view v) {
    char buf[kMaxKey + 1];
    char* p = Key(buf, name);
    *p++ = '"';
    Append(buf, p);
    size_t plain = 0;  // runs of characters that need no escape go in one append
    for (size_t i = 0; i < v.size(); ++i) {
      const auto u = static_cast<unsigned char>(v[i]);
      if (u >= 0x20 && u != '"' && u != '\\') continue;
      out_->append(v.data() + plain, i - plain);
      plain = i + 1;
      if (u == '"' || u == '\\') {
        out_->push_back('\\');
        out_->push_back(static_cast<char>(u));
      } else {
        static constexpr char kHex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 15]};
        out_->append(esc, 6);
      }
    }
    out_->append(v.data() + plain, v.size() - plain);  // UTF-8 passes through
    out_->push_back('"');
  }

 private:
  static constexpr size_t kMaxKey = 32;  // ,"client_first_data_len": is 25
  char* Key(char* p, std::string_view name) {
    *p++ = first_ ? '{' : ',';
    first_ = false;
    *p++ = '"';
    p = PutText(p, name);
    *p++ = '"';
    *p++ = ':';
    return p;
  }
  void Append(const char* begin, const char* end) { Add(out_, begin, end); }
  std::string* out_;
  bool first_ = true;
};

class CsvEmitter {
 public:
  explicit CsvEmitter(std::string* out) : out_(out) {}
  template <typename T>
  void Number(std::string_view, T v) {
    char buf[25];
    Add(out_, buf, PutNumber(Sep(buf), v));
  }
  void Bool(std::string_view, bool v) {
    char buf[6];
    Add(out_, buf, PutText(Sep(buf), v ? "true" : "false"));
  }
  void Enum(std::string_view, std::span<const std::string_view> names, int v) {
    char buf[kMaxEnumText + 1];
    Add(out_, buf, PutEnum(Sep(buf), names, v));
  }
  void Ip(std::string_view, std::string_view bytes) {
    char buf[kMaxIpText + 1];
    Add(out_, buf, PutIp(Sep(buf), bytes));
  }
  void String(std::string_view, std::string_view v) {
    char buf[1];
    Add(out_, buf, Sep(buf));
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
  char* Sep(char* p) {
    if (!first_) *p++ = ',';
    first_ = false;
    return p;
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
  // 25 fields of at most 46 characters (an IPv6 address) plus separators.
  char buf[25 * (kMaxIpText + 2) + 1];
  char* p = buf;
  auto sep = [&p] {
    *p++ = ' ';
    *p++ = ' ';
  };
  p = PutNumber(p, r.session_id()), sep();
  p = PutNumber(p, static_cast<int>(r.server_confidence())), sep();
  p = PutIp(p, r.client_ip()), sep();
  p = PutNumber(p, r.client_port()), sep();
  p = PutIp(p, r.server_ip()), sep();
  p = PutNumber(p, r.server_port()), sep();
  p = PutNumber(p, r.transient_server() ? 1 : 0), sep();
  p = PutNumber(p, r.inbound() ? 1 : 0), sep();
  p = PutNumber(p, r.full_analysis() ? 1 : 0), sep();
  p = PutFlags(p, r.client_first_flags()), sep();
  p = PutFlags(p, r.server_first_flags()), sep();
  p = PutFlags(p, r.client_flags()), sep();
  p = PutFlags(p, r.server_flags()), sep();
  p = PutNumber(p, r.client_payload_bytes()), sep();
  p = PutNumber(p, r.server_payload_bytes()), sep();
  p = PutNumber(p, r.client_packets()), sep();
  p = PutNumber(p, r.server_packets()), sep();
  p = PutNumber(p, r.client_first_seq()), sep();
  p = PutNumber(p, r.server_first_seq()), sep();
  p = PutNumber(p, r.client_last_seq()), sep();
  p = PutNumber(p, r.server_last_seq()), sep();
  p = PutTime(p, r.first_time_us()), sep();
  p = PutTime(p, r.last_time_us()), sep();
  p = PutNumber(p, r.client_fingerprint()), sep();
  p = PutNumber(p, r.server_fingerprint());
  *p++ = '\n';
  Add(out, buf, p);
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
std::string ShutdownKindName(int v) { return EnumString(kShutdownKindNames, v); }
std::string EndReasonName(int v) { return EnumString(kEndReasonNames, v); }
std::string ConnStateName(int v) { return EnumString(kConnStateNames, v); }

}  // namespace flowtrail::tools
