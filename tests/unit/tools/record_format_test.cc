#include "tools/record_format.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "absl/strings/str_split.h"
#include "export/record_encoder.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "record_gen.h"

namespace flowtrail::tools {
namespace {

// The record of Heberlein's "Analysis of Session Flow Information" §3.
v1::SessionRecord PaperRecord() {
  v1::SessionRecord r;
  r.set_session_id(7038678);
  r.set_server_confidence(v1::CONFIDENCE_HIGH);
  r.set_client_ip(std::string("\x3f\xa2\xac\xfa", 4));  // 63.162.172.250
  r.set_client_port(4305);
  r.set_server_ip(std::string("\xa8\xec\xe2\x5f", 4));  // 168.236.226.95
  r.set_server_port(80);
  r.set_client_first_flags(0x02);  // SYN
  r.set_server_first_flags(0x12);  // SYN ACK
  r.set_client_flags(0x1f);        // ACK PSH RST SYN FIN
  r.set_server_flags(0x1b);        // ACK PSH SYN FIN
  r.set_client_payload_bytes(41);
  r.set_server_payload_bytes(554);
  r.set_client_packets(6);
  r.set_server_packets(7);
  r.set_client_first_seq(667076575);
  r.set_server_first_seq(465154797);
  r.set_client_last_seq(667076618);
  r.set_server_last_seq(465155076);
  r.set_first_time_us(1068854712'726492);
  r.set_last_time_us(1068854723'881319);
  r.set_client_fingerprint(static_cast<uint32_t>(-4445));
  r.set_server_fingerprint(static_cast<uint32_t>(-2968));
  r.set_protocol(6);
  r.set_ip_version(4);
  return r;
}

std::string Classic(const v1::SessionRecord& r) {
  std::string s;
  AppendClassic(r, &s);
  return s;
}
std::string Json(const v1::SessionRecord& r) {
  std::string s;
  AppendJson(r, &s);
  return s;
}
std::string Csv(const v1::SessionRecord& r) {
  std::string s;
  AppendCsv(r, &s);
  return s;
}

v1::SessionRecord Full(uint8_t ip_version) {
  v1::SessionRecord r;
  exporter::EncodeRecord(flowtrail::testing::FullRecord(ip_version), &r);
  r.set_sensor_id("edge-1");
  return r;
}

TEST(ClassicFormat, ReproducesThePapersRecordLine) {
  // The first 23 fields exactly as printed in the paper (§3).
  const std::string paper =
      "7038678  2  63.162.172.250  4305  168.236.226.95  80  0  0  0  ____S_  _A__S_  _APRSF  "
      "_AP_SF  41  554  6  7  667076575  465154797  667076618  465155076  1068854712 726492  "
      "1068854723 881319  ";
  const std::string line = Classic(PaperRecord());
  EXPECT_EQ(line.substr(0, paper.size()), paper);
  // The paper's fingerprints -4445 and -2968 are signed; ours are uint32.
  EXPECT_EQ(line.substr(paper.size()), "4294962851  4294964328\n");
}

TEST(ClassicFormat, HasTwentyFiveFieldsWithTimesAsSecondsAndMicroseconds) {
  const std::string line = Classic(Full(6));
  EXPECT_EQ(line,
            "72057594037927943  2  2021:2223:2425:2627:2829:2a2b:2c2d:2e2f  40000  "
            "4041:4243:4445:4647:4849:4a4b:4c4d:4e4f  443  1  1  1  ____S_  _A__S_  _AP_SF  "
            "_APRSF  5000000000  6000000000  11  12  4294967280  1  2  3  1700000000 000001  "
            "1700000123 456789  3735928559  8253\n");
  std::vector<std::string> fields = absl::StrSplit(line.substr(0, line.size() - 1), "  ");
  EXPECT_EQ(fields.size(), 25u);
}

TEST(ClassicFormat, TcpFlagsAreUaprsfWithUnderscores) {
  EXPECT_EQ(TcpFlags(0x12), "_A__S_");
  EXPECT_EQ(TcpFlags(0), "______");
  EXPECT_EQ(TcpFlags(0x3f), "UAPRSF");
  EXPECT_EQ(TcpFlags(0x01), "_____F");
  EXPECT_EQ(TcpFlags(0x20), "U_____");
  EXPECT_EQ(TcpFlags(0xc4), "___R__") << "ECE and CWR are not part of the classic line";
}

TEST(ClassicFormat, ZeroRecordPrintsZerosNotNothing) {
  v1::SessionRecord r;
  r.set_ip_version(4);
  r.set_client_ip(std::string(4, '\0'));
  r.set_server_ip(std::string(4, '\0'));
  EXPECT_EQ(Classic(r),
            "0  0  0.0.0.0  0  0.0.0.0  0  0  0  0  ______  ______  ______  ______  0  0  0  0  "
            "0  0  0  0  0 000000  0 000000  0  0\n");
}

TEST(JsonFormat, GoldenFullRecord) {
  EXPECT_EQ(Json(Full(4)),
            R"({"session_id":72057594037927943,"server_confidence":"CONFIDENCE_HIGH",)"
            R"("client_ip":"32.33.34.35","client_port":40000,"server_ip":"64.65.66.67",)"
            R"("server_port":443,"transient_server":true,"inbound":true,"full_analysis":true,)"
            R"("client_first_flags":2,"server_first_flags":18,"client_flags":27,"server_flags":31,)"
            R"("client_payload_bytes":5000000000,"server_payload_bytes":6000000000,)"
            R"("client_packets":11,"server_packets":12,"client_first_seq":4294967280,)"
            R"("server_first_seq":1,"client_last_seq":2,"server_last_seq":3,)"
            R"("first_time_us":1700000000000001,"last_time_us":1700000123456789,)"
            R"("client_fingerprint":3735928559,"server_fingerprint":8253,)"
            R"("client_bytes":5000000001,"server_bytes":6000000001,)"
            R"("first_data_sender":"SIDE_CLIENT","shutdown_initiator":"SIDE_SERVER",)"
            R"("shutdown_kind":"SHUTDOWN_RST","end_reason":"END_REASON_REPLACED",)"
            R"("conn_state":"OTH","protocol":6,"ip_version":4,"vlan_outer":100,"vlan_inner":200,)"
            R"("vlan_count":2,"input_port":3,"sensor_id":"edge-1","continuing":true,)"
            R"("client_simhash":9223372036854775809,"server_simhash":18446744073709551615,)"
            R"("client_first_data_len":1460,"server_first_data_len":17,"icmp_id":7,"worker_id":1,)"
            R"("fragments":9,"server_isn_changed":true})"
            "\n");
}

// Every field of the schema, in field-number order, even when zero: the
// schema downstream tools see does not depend on the values.
TEST(JsonFormat, EveryFieldIsPresentInFieldNumberOrder) {
  v1::SessionRecord zero;
  const std::string json = Json(zero);
  const auto* d = v1::SessionRecord::descriptor();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  for (int i = 0; i < d->field_count(); ++i) fields.push_back(d->field(i));
  std::sort(fields.begin(), fields.end(),
            [](auto* a, auto* b) { return a->number() < b->number(); });
  size_t pos = 0;
  for (const auto* f : fields) {
    const size_t at = json.find("\"" + f->name() + "\":", pos);
    ASSERT_NE(at, std::string::npos) << f->name() << " missing or out of order";
    pos = at;
  }
  EXPECT_EQ(std::count(json.begin(), json.end(), ':'), d->field_count());
}

TEST(JsonFormat, IsValidJsonWithEscapedStrings) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; ++i) {
    v1::SessionRecord r;
    exporter::EncodeRecord(flowtrail::testing::RandomRecord(rng), &r);
    r.set_sensor_id(i % 2 ? "a \"quoted\" \\ name\n\t\x01 zürich" : "plain");
    const std::string json = Json(r);
    ASSERT_EQ(json.back(), '\n');
    ASSERT_EQ(json.find('\n'), json.size() - 1) << "one line per record";
    google::protobuf::Struct parsed;
    auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
    ASSERT_TRUE(status.ok()) << status << "\n" << json;
    EXPECT_EQ(parsed.fields().size(), static_cast<size_t>(r.GetDescriptor()->field_count()));
    EXPECT_EQ(parsed.fields().at("sensor_id").string_value(), r.sensor_id());
    EXPECT_EQ(parsed.fields().at("client_ip").string_value(), IpText(r.client_ip()));
  }
}

TEST(JsonFormat, UnknownEnumValuesAreNumbersInStrings) {
  v1::SessionRecord r;
  r.set_conn_state(static_cast<v1::ConnState>(17));
  EXPECT_NE(Json(r).find(R"("conn_state":"17")"), std::string::npos);
}

// The hand-written enum tables must be the proto's value names.
TEST(EnumNames, MatchTheSchema) {
  struct Case {
    const google::protobuf::EnumDescriptor* d;
    std::string (*name)(int);
  };
  for (const Case& c : {Case{v1::ServerConfidence_descriptor(), ServerConfidenceName},
                        Case{v1::Side_descriptor(), SideName},
                        Case{v1::ShutdownKind_descriptor(), ShutdownKindName},
                        Case{v1::EndReason_descriptor(), EndReasonName},
                        Case{v1::ConnState_descriptor(), ConnStateName}}) {
    for (int i = 0; i < c.d->value_count(); ++i) {
      EXPECT_EQ(c.name(c.d->value(i)->number()), c.d->value(i)->name());
    }
    EXPECT_EQ(c.name(c.d->value_count()), std::to_string(c.d->value_count()));
  }
  EXPECT_EQ(ConnStateName(v1::SF), "SF");
  EXPECT_EQ(EndReasonName(v1::END_REASON_CLOSED), "END_REASON_CLOSED");
}

TEST(CsvFormat, HeaderIsTheProtoFieldNamesInFieldNumberOrder) {
  std::string header;
  AppendCsvHeader(&header);
  const auto* d = v1::SessionRecord::descriptor();
  std::vector<std::pair<int, std::string>> fields;
  for (int i = 0; i < d->field_count(); ++i) {
    fields.emplace_back(d->field(i)->number(), d->field(i)->name());
  }
  std::sort(fields.begin(), fields.end());
  std::string want;
  for (const auto& [n, name] : fields) want += (want.empty() ? "" : ",") + name;
  EXPECT_EQ(header, want + "\n");
}

TEST(CsvFormat, GoldenFullRecordMatchesTheJsonValues) {
  EXPECT_EQ(Csv(Full(6)),
            "72057594037927943,CONFIDENCE_HIGH,2021:2223:2425:2627:2829:2a2b:2c2d:2e2f,40000,"
            "4041:4243:4445:4647:4849:4a4b:4c4d:4e4f,443,true,true,true,2,18,27,31,5000000000,"
            "6000000000,11,12,4294967280,1,2,3,1700000000000001,1700000123456789,3735928559,"
            "8253,5000000001,6000000001,SIDE_CLIENT,SIDE_SERVER,SHUTDOWN_RST,"
            "END_REASON_REPLACED,OTH,6,6,100,200,2,3,edge-1,true,9223372036854775809,"
            "18446744073709551615,1460,17,7,1,9,true\n");
}

TEST(CsvFormat, QuotesOnlyWhereNeeded) {
  v1::SessionRecord r = Full(4);
  r.set_sensor_id("a,\"b\"");
  const std::string csv = Csv(r);
  EXPECT_NE(csv.find(",\"a,\"\"b\"\"\","), std::string::npos) << csv;
  std::string header;
  AppendCsvHeader(&header);
  const std::string plain = Csv(Full(4));
  EXPECT_EQ(std::count(header.begin(), header.end(), ','),
            std::count(plain.begin(), plain.end(), ','));
}

TEST(RecordFormat, ParseFormatKnowsThreeNames) {
  EXPECT_EQ(*ParseFormat("classic"), Format::kClassic);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("csv"), Format::kCsv);
  absl::StatusOr<Format> bad = ParseFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'xml'"), absl::string_view::npos);
}

TEST(RecordFormat, AddressesThatAreNeitherV4NorV6DoNotBreakTheLine) {
  EXPECT_EQ(IpText(""), "");
  EXPECT_EQ(IpText(std::string("\x01\xab", 2)), "0x01ab");
  EXPECT_EQ(IpText(std::string("\x0a\x00\x00\x01", 4)), "10.0.0.1");
  std::string v6(16, '\0');
  v6[15] = 1;
  EXPECT_EQ(IpText(v6), "::1");
}

// IpText has its own IPv6 formatter (inet_ntop dominated the cost of a
// line); it must print exactly what inet_ntop prints.
TEST(RecordFormat, Ipv6TextMatchesInetNtop) {
  std::mt19937_64 rng(5);
  auto check = [](const std::string& a) {
    char want[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, a.data(), want, sizeof(want)), nullptr);
    ASSERT_EQ(IpText(a), want);
  };
  for (int i = 0; i < 100000; ++i) {
    std::string a(16, '\0');
    // Groups are zero, 0xffff, small or random, so runs of zeros and the
    // IPv4-mapped and -compatible forms all come up.
    for (int g = 0; g < 8; ++g) {
      const uint64_t kind = rng() % 4;
      const uint16_t v = kind == 0 ? 0 : kind == 1 ? 0xffff : kind == 2 ? rng() % 16 : rng();
      a[2 * g] = static_cast<char>(v >> 8);
      a[2 * g + 1] = static_cast<char>(v);
    }
    check(a);
  }
  for (int g = 0; g < 8; ++g) {
    for (int bits = 0; bits < 256; ++bits) {  // every zero/non-zero group pattern
      std::string a(16, '\0');
      for (int k = 0; k < 8; ++k) {
        if (bits & (1 << k)) a[2 * k + 1] = static_cast<char>(g + 1);
      }
      check(a);
      a[10] = a[11] = '\xff';
      check(a);
    }
  }
}

}  // namespace
}  // namespace flowtrail::tools
