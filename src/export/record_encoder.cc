#include "export/record_encoder.h"

#include <bit>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "export/stream_format.h"
#include "export/wire_varint.h"

namespace flowtrail::exporter {
namespace {

size_t AddressBytes(uint8_t ip_version) { return ip_version == 6 ? 16 : 4; }

// The plain record's enums carry the proto values (session_record.h): the
// proto's last value bounds both.
static_assert(static_cast<int>(record::Confidence::kHigh) == v1::ServerConfidence_MAX);
static_assert(static_cast<int>(record::Side::kServer) == v1::Side_MAX);
static_assert(static_cast<int>(record::ShutdownKind::kRst) == v1::ShutdownKind_MAX);
static_assert(static_cast<int>(record::EndReason::kReplaced) == v1::EndReason_MAX);
static_assert(static_cast<int>(record::ConnState::kOTH) == v1::ConnState_MAX);

// Range-checked narrowing: the range is the plain record's field type, or
// `max` when the field means less (a 12-bit VLAN id).
template <typename T>
absl::Status Narrow(uint64_t value, const char* field, T* out,
                    uint64_t max = std::numeric_limits<T>::max()) {
  if (value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " = ", value, " is out of range (max ", max, ")"));
  }
  *out = static_cast<T>(value);
  return absl::OkStatus();
}

template <typename E>
absl::Status NarrowEnum(int value, bool (*is_valid)(int), const char* field, E* out) {
  if (!is_valid(value)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " = ", value, " is not a known value"));
  }
  *out = static_cast<E>(value);
  return absl::OkStatus();
}

// Every check of ValidateRecord, filling `r` on the way (DecodeRecord's
// result); stops at the first bad field.
absl::Status Convert(const v1::SessionRecord& in, record::SessionRecord* r) {
  if (in.ip_version() != 4 && in.ip_version() != 6) {
    return absl::InvalidArgumentError(
        absl::StrCat("ip_version = ", in.ip_version(), " is not 4 or 6"));
  }
  const size_t want = AddressBytes(static_cast<uint8_t>(in.ip_version()));
  if (in.client_ip().size() != want || in.server_ip().size() != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record has a ", in.client_ip().size(), "-byte client_ip and a ", in.server_ip().size(),
        "-byte server_ip, expected ", want, " bytes each for IPv", in.ip_version()));
  }
  if (in.sensor_id().size() > kMaxSensorIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("sensor_id = <", in.sensor_id().size(),
                                                   " bytes> is out of range (max ",
                                                   kMaxSensorIdBytes, " bytes)"));
  }
  r->ip_version = static_cast<uint8_t>(in.ip_version());
  std::memcpy(r->client_ip.bytes.data(), in.client_ip().data(), want);
  std::memcpy(r->server_ip.bytes.data(), in.server_ip().data(), want);
  r->session_id = in.session_id();
  absl::Status s;
  auto check = [&s](absl::Status next) {
    if (s.ok()) s = std::move(next);
  };
  check(NarrowEnum(in.server_confidence(), v1::ServerConfidence_IsValid, "server_confidence",
                   &r->confidence));
  check(Narrow(in.client_port(), "client_port", &r->client_port));
  check(Narrow(in.server_port(), "server_port", &r->server_port));
  r->transient_server = in.transient_server();
  r->inbound = in.inbound();
  r->full_analysis = in.full_analysis();
  check(Narrow(in.client_first_flags(), "client_first_flags", &r->client_first_flags));
  check(Narrow(in.server_first_flags(), "server_first_flags", &r->server_first_flags));
  check(Narrow(in.client_flags(), "client_flags", &r->client_flags));
  check(Narrow(in.server_flags(), "server_flags", &r->server_flags));
  r->client_payload_bytes = in.client_payload_bytes();
  r->server_payload_bytes = in.server_payload_bytes();
  r->client_packets = in.client_packets();
  r->server_packets = in.server_packets();
  r->client_first_seq = in.client_first_seq();
  r->server_first_seq = in.server_first_seq();
  r->client_last_seq = in.client_last_seq();
  r->server_last_seq = in.server_last_seq();
  r->first_time_us = in.first_time_us();
  r->last_time_us = in.last_time_us();
  r->client_fingerprint = in.client_fingerprint();
  r->server_fingerprint = in.server_fingerprint();
  r->client_bytes = in.client_bytes();
  r->server_bytes = in.server_bytes();
  check(NarrowEnum(in.first_data_sender(), v1::Side_IsValid, "first_data_sender",
                   &r->first_data_sender));
  check(NarrowEnum(in.shutdown_initiator(), v1::Side_IsValid, "shutdown_initiator",
                   &r->shutdown_initiator));
  check(
      NarrowEnum(in.shutdown_kind(), v1::ShutdownKind_IsValid, "shutdown_kind", &r->shutdown_kind));
  check(NarrowEnum(in.end_reason(), v1::EndReason_IsValid, "end_reason", &r->end_reason));
  check(NarrowEnum(in.conn_state(), v1::ConnState_IsValid, "conn_state", &r->conn_state));
  check(Narrow(in.protocol(), "protocol", &r->protocol));
  check(Narrow(in.vlan_outer(), "vlan_outer", &r->vlan_outer, kMaxVlanId));
  check(Narrow(in.vlan_inner(), "vlan_inner", &r->vlan_inner, kMaxVlanId));
  check(Narrow(in.vlan_count(), "vlan_count", &r->vlan_count));
  check(Narrow(in.input_port(), "input_port", &r->input_port));
  r->continuing = in.continuing();
  r->client_simhash = in.client_simhash();
  r->server_simhash = in.server_simhash();
  check(Narrow(in.client_first_data_len(), "client_first_data_len", &r->client_first_data_len));
  check(Narrow(in.server_first_data_len(), "server_first_data_len", &r->server_first_data_len));
  check(Narrow(in.icmp_id(), "icmp_id", &r->icmp_id));
  check(Narrow(in.worker_id(), "worker_id", &r->worker_id));
  r->fragments = in.fragments();
  r->server_isn_changed = in.server_isn_changed();
  return s;
}

// Protobuf wire primitives for EncodeRecordWire. A tag is a varint of
// (field << 3 | wire type): one byte below field 16, two up to field 2047.
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2 };

template <uint32_t kField, WireType kWire>
inline uint8_t* PutTag(uint8_t* p) {
  constexpr uint32_t kTag = kField << 3 | kWire;
  static_assert(kTag < 0x4000);
  if constexpr (kTag < 0x80) {
    *p = static_cast<uint8_t>(kTag);
    return p + 1;
  } else {
    p[0] = static_cast<uint8_t>(kTag | 0x80);
    p[1] = static_cast<uint8_t>(kTag >> 7);
    return p + 2;
  }
}

// Proto3 implicit presence: a zero value is not written (nor false, nor an
// enum's 0). Enums are written as their (non-negative) int32 value.
template <uint32_t kField>
inline uint8_t* Varint(uint64_t v, uint8_t* p) {
  return v == 0 ? p : PutVarint(v, PutTag<kField, kVarint>(p));
}

template <uint32_t kField>
inline uint8_t* Bool(bool v, uint8_t* p) {
  if (!v) return p;
  p = PutTag<kField, kVarint>(p);
  *p = 1;
  return p + 1;
}

template <uint32_t kField>
inline uint8_t* Fixed64(uint64_t v, uint8_t* p) {
  if (v == 0) return p;
  p = PutTag<kField, kFixed64>(p);
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
  return p + 8;
}

// A non-empty bytes field shorter than 128 bytes (a one-byte length).
template <uint32_t kField>
inline uint8_t* ShortBytes(const uint8_t* data, size_t n, uint8_t* p) {
  p = PutTag<kField, kLengthDelimited>(p);
  *p++ = static_cast<uint8_t>(n);
  std::memcpy(p, data, n);
  return p + n;
}

template <typename E>
inline uint64_t EnumValue(E e) {
  return static_cast<uint64_t>(static_cast<std::underlying_type_t<E>>(e));
}

}  // namespace

uint8_t* EncodeRecordWire(const record::SessionRecord& in, std::span<const uint8_t> sensor_field,
                          uint8_t* p) {
  // Field numbers of session.proto, in order (protobuf serialises by number).
  const size_t ip_len = AddressBytes(in.ip_version);
  p = Varint<1>(in.session_id, p);
  p = Varint<2>(EnumValue(in.confidence), p);
  p = ShortBytes<3>(in.client_ip.bytes.data(), ip_len, p);
  p = Varint<4>(in.client_port, p);
  p = ShortBytes<5>(in.server_ip.bytes.data(), ip_len, p);
  p = Varint<6>(in.server_port, p);
  p = Bool<7>(in.transient_server, p);
  p = Bool<8>(in.inbound, p);
  p = Bool<9>(in.full_analysis, p);
  p = Varint<10>(in.client_first_flags, p);
  p = Varint<11>(in.server_first_flags, p);
  p = Varint<12>(in.client_flags, p);
  p = Varint<13>(in.server_flags, p);
  p = Varint<14>(in.client_payload_bytes, p);
  p = Varint<15>(in.server_payload_bytes, p);
  p = Varint<16>(in.client_packets, p);
  p = Varint<17>(in.server_packets, p);
  p = Varint<18>(in.client_first_seq, p);
  p = Varint<19>(in.server_first_seq, p);
  p = Varint<20>(in.client_last_seq, p);
  p = Varint<21>(in.server_last_seq, p);
  p = Varint<22>(in.first_time_us, p);
  p = Varint<23>(in.last_time_us, p);
  p = Varint<24>(in.client_fingerprint, p);
  p = Varint<25>(in.server_fingerprint, p);
  p = Varint<26>(in.client_bytes, p);
  p = Varint<27>(in.server_bytes, p);
  p = Varint<28>(EnumValue(in.first_data_sender), p);
  p = Varint<29>(EnumValue(in.shutdown_initiator), p);
  p = Varint<30>(EnumValue(in.shutdown_kind), p);
  p = Varint<31>(EnumValue(in.end_reason), p);
  p = Varint<32>(EnumValue(in.conn_state), p);
  p = Varint<33>(in.protocol, p);
  p = Varint<34>(in.ip_version, p);
  p = Varint<35>(in.vlan_outer, p);
  p = Varint<36>(in.vlan_inner, p);
  p = Varint<37>(in.vlan_count, p);
  p = Varint<38>(in.input_port, p);
  if (!sensor_field.empty()) {  // field 39
    std::memcpy(p, sensor_field.data(), sensor_field.size());
    p += sensor_field.size();
  }
  p = Bool<40>(in.continuing, p);
  p = Fixed64<41>(in.client_simhash, p);
  p = Fixed64<42>(in.server_simhash, p);
  p = Varint<43>(in.client_first_data_len, p);
  p = Varint<44>(in.server_first_data_len, p);
  p = Varint<45>(in.icmp_id, p);
  p = Varint<46>(in.worker_id, p);
  p = Varint<47>(in.fragments, p);
  p = Bool<48>(in.server_isn_changed, p);
  return p;
}

std::string EncodeSensorIdField(std::string_view sensor_id) {
  std::string out;
  if (sensor_id.empty()) return out;
  uint8_t head[2 + kMaxVarintBytes];
  uint8_t* p = PutTag<39, kLengthDelimited>(head);
  p = PutVarint(sensor_id.size(), p);
  out.assign(reinterpret_cast<const char*>(head), static_cast<size_t>(p - head));
  out.append(sensor_id);
  return out;
}

void EncodeRecord(const record::SessionRecord& in, v1::SessionRecord* out) {
  const size_t ip_len = AddressBytes(in.ip_version);
  out->set_session_id(in.session_id);
  out->set_server_confidence(static_cast<v1::ServerConfidence>(in.confidence));
  // assign() reuses the string's capacity: no allocation once the reused
  // message has held an IPv6 address (set_client_ip(p, n) would build a
  // temporary std::string, which allocates for 16 bytes).
  out->mutable_client_ip()->assign(reinterpret_cast<const char*>(in.client_ip.bytes.data()),
                                   ip_len);
  out->set_client_port(in.client_port);
  out->mutable_server_ip()->assign(reinterpret_cast<const char*>(in.server_ip.bytes.data()),
                                   ip_len);
  out->set_server_port(in.server_port);
  out->set_transient_server(in.transient_server);
  out->set_inbound(in.inbound);
  out->set_full_analysis(in.full_analysis);
  out->set_client_first_flags(in.client_first_flags);
  out->set_server_first_flags(in.server_first_flags);
  out->set_client_flags(in.client_flags);
  out->set_server_flags(in.server_flags);
  out->set_client_payload_bytes(in.client_payload_bytes);
  out->set_server_payload_bytes(in.server_payload_bytes);
  out->set_client_packets(in.client_packets);
  out->set_server_packets(in.server_packets);
  out->set_client_first_seq(in.client_first_seq);
  out->set_server_first_seq(in.server_first_seq);
  out->set_client_last_seq(in.client_last_seq);
  out->set_server_last_seq(in.server_last_seq);
  out->set_first_time_us(in.first_time_us);
  out->set_last_time_us(in.last_time_us);
  out->set_client_fingerprint(in.client_fingerprint);
  out->set_server_fingerprint(in.server_fingerprint);
  out->set_client_bytes(in.client_bytes);
  out->set_server_bytes(in.server_bytes);
  out->set_first_data_sender(static_cast<v1::Side>(in.first_data_sender));
  out->set_shutdown_initiator(static_cast<v1::Side>(in.shutdown_initiator));
  out->set_shutdown_kind(static_cast<v1::ShutdownKind>(in.shutdown_kind));
  out->set_end_reason(static_cast<v1::EndReason>(in.end_reason));
  out->set_conn_state(static_cast<v1::ConnState>(in.conn_state));
  out->set_protocol(in.protocol);
  out->set_ip_version(in.ip_version);
  out->set_vlan_outer(in.vlan_outer);
  out->set_vlan_inner(in.vlan_inner);
  out->set_vlan_count(in.vlan_count);
  out->set_input_port(in.input_port);
  out->set_continuing(in.continuing);
  out->set_client_simhash(in.client_simhash);
  out->set_server_simhash(in.server_simhash);
  out->set_client_first_data_len(in.client_first_data_len);
  out->set_server_first_data_len(in.server_first_data_len);
  out->set_icmp_id(in.icmp_id);
  out->set_worker_id(in.worker_id);
  out->set_fragments(in.fragments);
  out->set_server_isn_changed(in.server_isn_changed);
}

absl::Status ValidateRecord(const v1::SessionRecord& record) {
  record::SessionRecord scratch;
  return Convert(record, &scratch);
}

absl::StatusOr<record::SessionRecord> DecodeRecord(const v1::SessionRecord& in) {
  record::SessionRecord r;
  if (absl::Status s = Convert(in, &r); !s.ok()) return s;
  return r;
}

}  // namespace flowtrail::exporter
