#include "export/record_encoder.h"

#include <gtest/gtest.h>

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
  const session::SessionRecord r = flowtrail::testing::FullRecord(GetParam());
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
  absl::StatusOr<session::SessionRecord> decoded = DecodeRecord(proto);
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
  session::SessionRecord zero;
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
    absl::StatusOr<session::SessionRecord> decoded = DecodeRecord(proto);
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
  absl::StatusOr<session::SessionRecord> d = DecodeRecord(proto);
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

}  // namespace
}  // namespace flowtrail::exporter
