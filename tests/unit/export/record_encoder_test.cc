#include "export/record_encoder.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

#include <functional>
#include <random>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "record_gen.h"

namespace flowtrail::exporter {
namespace {

using google::protobuf::util::MessageDifferencer;

class RecordEncoderTest : public ::testing::TestWithParam<uint8_t> {};

TEST_P(RecordEncoderTest, EncodesEveryFieldButSensorId) {
  v1::SessionRecord proto;
  EncodeRecord(flowtrail::testing::FullRecord(GetParam()), &proto);
  std::vector<const google::protobuf::FieldDescriptor*> set;
  proto.GetReflection()->ListFields(proto, &set);
  // FullRecord has every field non-zero, so a forgotten field shows here.
  EXPECT_EQ(set.size(), static_cast<size_t>(proto.GetDescriptor()->field_count() - 1));
  for (const auto* f : set) EXPECT_NE(f->name(), "sensor_id");
}

TEST_P(RecordEncoderTest, AddressesHaveTheLengthOfTheirVersion) {
  const record::SessionRecord r = flowtrail::testing::FullRecord(GetParam());
  v1::SessionRecord proto;
  EncodeRecord(r, &proto);
  const size_t len = GetParam() == 6 ? 16 : 4;
  ASSERT_EQ(proto.client_ip().size(), len);
  ASSERT_EQ(proto.server_ip().size(), len);
  EXPECT_EQ(0, std::memcmp(proto.client_ip().data(), r.client_ip.bytes.data(), len));
  EXPECT_EQ(0, std::memcmp(proto.server_ip().data(), r.server_ip.bytes.data(), len));
  EXPECT_TRUE(ValidateRecord(proto).ok());
}

TEST_P(RecordEncoderTest, DecodeInvertsEncodeForEveryField) {
  v1::SessionRecord proto;
  EncodeRecord(flowtrail::testing::FullRecord(GetParam()), &proto);
  absl::StatusOr<record::SessionRecord> decoded = DecodeRecord(proto);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  v1::SessionRecord again;
  EncodeRecord(*decoded, &again);
  EXPECT_TRUE(MessageDifferencer::Equals(proto, again)) << proto.ShortDebugString() << "\n"
                                                        << again.ShortDebugString();
}

INSTANTIATE_TEST_SUITE_P(V4AndV6, RecordEncoderTest, ::testing::Values(4, 6));

TEST(RecordEncoder, ReusedMessageKeepsNothingFromThePreviousRecord) {
  v1::SessionRecord reused;
  EncodeRecord(flowtrail::testing::FullRecord(6), &reused);
  record::SessionRecord zero;
  zero.ip_version = 4;
  EncodeRecord(zero, &reused);
  v1::SessionRecord fresh;
  EncodeRecord(zero, &fresh);
  EXPECT_TRUE(MessageDifferencer::Equals(reused, fresh)) << reused.ShortDebugString();
}

TEST(RecordEncoder, RandomRecordsSurviveEncodeDecode) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    v1::SessionRecord proto;
    EncodeRecord(flowtrail::testing::RandomRecord(rng), &proto);
    absl::StatusOr<record::SessionRecord> decoded = DecodeRecord(proto);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    v1::SessionRecord again;
    EncodeRecord(*decoded, &again);
    ASSERT_TRUE(MessageDifferencer::Equals(proto, again)) << proto.ShortDebugString();
  }
}

TEST(RecordEncoder, DecodeNamesTheFieldThatDoesNotFit) {
  v1::SessionRecord proto;
  EncodeRecord(flowtrail::testing::FullRecord(4), &proto);
  proto.set_server_port(70000);
  absl::StatusOr<record::SessionRecord> d = DecodeRecord(proto);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("server_port = 70000"), absl::string_view::npos)
      << d.status();

  EncodeRecord(flowtrail::testing::FullRecord(4), &proto);
  proto.set_conn_state(static_cast<v1::ConnState>(99));
  d = DecodeRecord(proto);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("conn_state = 99"), absl::string_view::npos) << d.status();
}

TEST(RecordEncoder, ValidateRejectsUnknownVersionAndWrongAddressLength) {
  v1::SessionRecord proto;
  EncodeRecord(flowtrail::testing::FullRecord(4), &proto);
  proto.set_ip_version(5);
  EXPECT_FALSE(ValidateRecord(proto).ok());
  EncodeRecord(flowtrail::testing::FullRecord(4), &proto);
  proto.set_ip_version(6);  // but 4-byte addresses
  absl::Status s = ValidateRecord(proto);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("expected 16 bytes"), absl::string_view::npos) << s;
  EncodeRecord(flowtrail::testing::FullRecord(6), &proto);
  proto.set_server_ip("abc");
  EXPECT_FALSE(ValidateRecord(proto).ok());
}

// Each case puts one field out of the range the plain record (session_record.h)
// and the schema's enums give it; ValidateRecord, which every reader runs,
// must name the field.
struct OutOfRange {
  const char* field;
  void (*set)(v1::SessionRecord*);
};

class ValidateRecordRejects : public ::testing::TestWithParam<OutOfRange> {};

TEST_P(ValidateRecordRejects, AFieldOutsideItsRangeNamingIt) {
  v1::SessionRecord proto;
  EncodeRecord(flowtrail::testing::FullRecord(4), &proto);
  ASSERT_TRUE(ValidateRecord(proto).ok());
  GetParam().set(&proto);
  absl::Status s = ValidateRecord(proto);
  ASSERT_FALSE(s.ok()) << GetParam().field;
  EXPECT_NE(s.message().find(absl::StrCat(GetParam().field, " = ")), absl::string_view::npos) << s;
  EXPECT_FALSE(DecodeRecord(proto).ok());
}

INSTANTIATE_TEST_SUITE_P(
    EveryBoundedField, ValidateRecordRejects,
    ::testing::Values(
        OutOfRange{"client_port", [](v1::SessionRecord* r) { r->set_client_port(4294967295u); }},
        OutOfRange{"server_port", [](v1::SessionRecord* r) { r->set_server_port(65536); }},
        OutOfRange{"protocol", [](v1::SessionRecord* r) { r->set_protocol(256); }},
        OutOfRange{"server_confidence",
                   [](v1::SessionRecord* r) {
                     r->set_server_confidence(static_cast<v1::ServerConfidence>(2147483647));
                   }},
        OutOfRange{"server_confidence",
                   [](v1::SessionRecord* r) {
                     r->set_server_confidence(static_cast<v1::ServerConfidence>(-1));
                   }},
        OutOfRange{"conn_state",
                   [](v1::SessionRecord* r) { r->set_conn_state(static_cast<v1::ConnState>(99)); }},
        OutOfRange{"end_reason",
                   [](v1::SessionRecord* r) { r->set_end_reason(static_cast<v1::EndReason>(9)); }},
        OutOfRange{
            "first_data_sender",
            [](v1::SessionRecord* r) { r->set_first_data_sender(static_cast<v1::Side>(3)); }},
        OutOfRange{
            "shutdown_initiator",
            [](v1::SessionRecord* r) { r->set_shutdown_initiator(static_cast<v1::Side>(7)); }},
        OutOfRange{
            "shutdown_kind",
            [](v1::SessionRecord* r) { r->set_shutdown_kind(static_cast<v1::ShutdownKind>(3)); }},
        OutOfRange{"client_flags", [](v1::SessionRecord* r) { r->set_client_flags(0x100); }},
        OutOfRange{"server_first_flags",
                   [](v1::SessionRecord* r) { r->set_server_first_flags(1000); }},
        OutOfRange{"vlan_outer", [](v1::SessionRecord* r) { r->set_vlan_outer(4096); }},
        OutOfRange{"vlan_inner", [](v1::SessionRecord* r) { r->set_vlan_inner(65535); }},
        OutOfRange{"vlan_count", [](v1::SessionRecord* r) { r->set_vlan_count(256); }},
        OutOfRange{"input_port", [](v1::SessionRecord* r) { r->set_input_port(65536); }},
        OutOfRange{"icmp_id", [](v1::SessionRecord* r) { r->set_icmp_id(70000); }},
        OutOfRange{"worker_id", [](v1::SessionRecord* r) { r->set_worker_id(65536); }},
        OutOfRange{"client_first_data_len",
                   [](v1::SessionRecord* r) { r->set_client_first_data_len(65536); }},
        OutOfRange{"sensor_id",
                   [](v1::SessionRecord* r) { r->set_sensor_id(std::string(257, 'x')); }},
        OutOfRange{"ip_version", [](v1::SessionRecord* r) { r->set_ip_version(5); }}),
    [](const ::testing::TestParamInfo<OutOfRange>& info) {
      return absl::StrCat(info.param.field, "_", info.index);
    });

TEST(RecordEncoder, ValidateAcceptsEveryFieldAtTheTopOfItsRange) {
  v1::SessionRecord proto;
  EncodeRecord(flowtrail::testing::FullRecord(6), &proto);
  proto.set_client_port(65535);
  proto.set_server_port(65535);
  proto.set_protocol(255);
  proto.set_server_confidence(v1::CONFIDENCE_HIGH);
  proto.set_conn_state(v1::OTH);
  proto.set_end_reason(v1::END_REASON_REPLACED);
  proto.set_client_flags(255);
  proto.set_vlan_outer(4095);
  proto.set_vlan_inner(4095);
  proto.set_vlan_count(255);
  proto.set_input_port(65535);
  proto.set_worker_id(65535);
  proto.set_sensor_id(std::string(256, 'x'));
  EXPECT_TRUE(ValidateRecord(proto).ok()) << ValidateRecord(proto);
}

// What EncodeRecordWire must equal: protobuf's serialisation of the message
// EncodeRecord fills (with the sensor id set).
std::string ProtobufBytes(const record::SessionRecord& r, const std::string& sensor_id) {
  v1::SessionRecord proto;
  EncodeRecord(r, &proto);
  proto.set_sensor_id(sensor_id);
  return proto.SerializeAsString();
}

std::string WireBytes(const record::SessionRecord& r, const std::string& sensor_id) {
  const std::string field = EncodeSensorIdField(sensor_id);
  std::string out(kMaxRecordWireBytes + field.size() + 64, '\xee');
  auto* begin = reinterpret_cast<uint8_t*>(out.data());
  uint8_t* end =
      EncodeRecordWire(r, {reinterpret_cast<const uint8_t*>(field.data()), field.size()}, begin);
  const size_t n = static_cast<size_t>(end - begin);
  EXPECT_LE(n, kMaxRecordWireBytes + field.size());
  // Nothing written past the end it returns.
  EXPECT_EQ(out.find_first_not_of('\xee', n), std::string::npos);
  out.resize(n);
  return out;
}

// The extreme record: every field at the top of its C++ type, so every
// varint has its longest form (kMaxRecordWireBytes bounds it).
record::SessionRecord MaxRecord(uint8_t ip_version) {
  record::SessionRecord r = flowtrail::testing::FullRecord(ip_version);
  r.session_id = r.client_payload_bytes = r.server_payload_bytes = UINT64_MAX;
  r.client_packets = r.server_packets = r.first_time_us = r.last_time_us = UINT64_MAX;
  r.client_bytes = r.server_bytes = r.client_simhash = r.server_simhash = UINT64_MAX;
  r.client_first_seq = r.server_first_seq = r.client_last_seq = r.server_last_seq = UINT32_MAX;
  r.client_fingerprint = r.server_fingerprint = r.fragments = UINT32_MAX;
  r.client_port = r.server_port = r.vlan_outer = r.vlan_inner = r.input_port = 65535;
  r.icmp_id = r.worker_id = r.client_first_data_len = r.server_first_data_len = 65535;
  r.protocol = r.client_first_flags = r.server_first_flags = r.client_flags = 255;
  r.server_flags = r.vlan_count = 255;
  return r;
}

TEST(RecordWire, EqualsProtobufOnFullZeroAndExtremeRecords) {
  for (uint8_t v : {4, 6}) {
    record::SessionRecord zero;  // every optional field missing
    zero.ip_version = v;
    for (const record::SessionRecord& r : {flowtrail::testing::FullRecord(v), zero, MaxRecord(v)}) {
      for (const std::string& sensor :
           std::vector<std::string>{"", "s", "sensor-1", std::string(127, 'x'),
                                    std::string(128, 'y'), std::string(256, 'z')}) {
        EXPECT_EQ(WireBytes(r, sensor), ProtobufBytes(r, sensor))
            << "IPv" << int{v} << ", " << sensor.size() << "-byte sensor id";
      }
    }
  }
}

TEST(RecordWire, EqualsProtobufOnRandomRecords) {
  std::mt19937_64 rng(20261201);
  for (int i = 0; i < 20000; ++i) {
    record::SessionRecord r = flowtrail::testing::RandomRecord(rng);
    // Zero some fields at random: proto3 leaves out zeros, false and enum 0.
    if (rng() % 2) r.session_id = 0;
    if (rng() % 2) r.client_port = r.server_port = 0;
    if (rng() % 2) r.client_packets = r.server_bytes = 0;
    if (rng() % 2) r.client_simhash = 0;
    if (rng() % 2) r.first_data_sender = record::Side::kNone;
    if (rng() % 2) r.conn_state = record::ConnState::kUnspecified;
    if (rng() % 3 == 0) r = record::SessionRecord{.ip_version = r.ip_version};
    if (rng() % 4 == 0) r.fragments = static_cast<uint32_t>(1) << (rng() % 32);
    if (rng() % 4 == 0) r.first_time_us = uint64_t{1} << (rng() % 64);
    const std::string sensor = rng() % 4 == 0 ? "" : "sensor-1";
    ASSERT_EQ(WireBytes(r, sensor), ProtobufBytes(r, sensor)) << "record " << i;
  }
}

// Every varint length boundary (1 to 10 bytes), on each kind of field.
TEST(RecordWire, EqualsProtobufAtEveryVarintLengthBoundary) {
  for (int bits = 0; bits <= 64; ++bits) {
    for (int delta : {-1, 0, 1}) {
      const uint64_t base = bits == 64 ? 0 : uint64_t{1} << bits;
      const uint64_t v = base + static_cast<uint64_t>(delta);  // wraps at 0 - 1: UINT64_MAX
      // Every field of each width and tag length, alone and all at once.
      const auto u64 = v;
      const auto u32 = static_cast<uint32_t>(v);
      const auto u16 = static_cast<uint16_t>(v);
      const auto u8 = static_cast<uint8_t>(v);
      const std::vector<std::function<void(record::SessionRecord&)>> setters = {
          [&](auto& r) { r.session_id = r.client_payload_bytes = r.server_payload_bytes = u64; },
          [&](auto& r) { r.client_packets = r.server_packets = u64; },
          [&](auto& r) {
            r.first_time_us = r.last_time_us = r.client_bytes = r.server_bytes = u64;
          },
          [&](auto& r) { r.client_simhash = r.server_simhash = u64; },
          [&](auto& r) {
            r.client_first_seq = r.server_first_seq = r.client_last_seq = r.server_last_seq = u32;
            r.client_fingerprint = r.server_fingerprint = r.fragments = u32;
          },
          [&](auto& r) {
            r.client_port = r.server_port = r.vlan_outer = r.vlan_inner = r.input_port = u16;
            r.client_first_data_len = r.server_first_data_len = r.icmp_id = r.worker_id = u16;
          },
          [&](auto& r) {
            r.client_first_flags = r.server_first_flags = r.client_flags = r.server_flags = u8;
            r.protocol = r.vlan_count = u8;
            r.confidence = static_cast<record::Confidence>(u8);
            r.first_data_sender = r.shutdown_initiator = static_cast<record::Side>(u8);
            r.shutdown_kind = static_cast<record::ShutdownKind>(u8);
            r.end_reason = static_cast<record::EndReason>(u8);
            r.conn_state = static_cast<record::ConnState>(u8);
          },
          [&](auto& r) {
            r.transient_server = r.inbound = r.full_analysis = r.continuing = (v & 1) != 0;
            r.server_isn_changed = (v & 1) != 0;
          },
      };
      for (uint8_t ip : {4, 6}) {
        record::SessionRecord all = flowtrail::testing::FullRecord(ip);
        for (const auto& set : setters) {
          record::SessionRecord r = flowtrail::testing::FullRecord(ip);
          set(r);
          set(all);
          for (const std::string& sensor : {std::string(), std::string("sensor-1")}) {
            ASSERT_EQ(WireBytes(r, sensor), ProtobufBytes(r, sensor)) << "value " << v;
          }
        }
        for (const std::string& sensor : {std::string(), std::string(200, 's')}) {
          ASSERT_EQ(WireBytes(all, sensor), ProtobufBytes(all, sensor)) << "value " << v;
        }
      }
    }
  }
}

TEST(RecordWire, ExtremeRecordFitsTheBound) {
  EXPECT_LE(WireBytes(MaxRecord(6), "").size(), kMaxRecordWireBytes);
}

TEST(RecordWire, SensorIdFieldIsEmptyForAnEmptyId) {
  EXPECT_TRUE(EncodeSensorIdField("").empty());
  EXPECT_EQ(EncodeSensorIdField("ab"), std::string("\xba\x02\x02"
                                                   "ab"));
}

}  // namespace
}  // namespace flowtrail::exporter
