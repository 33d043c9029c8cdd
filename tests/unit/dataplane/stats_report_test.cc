#include "dataplane/stats_report.h"

#include <gtest/gtest.h>

#include "analytics/record_counts.h"

namespace flowtrail::dataplane {
namespace {

Snapshot Sample() {
  Snapshot s;
  s.sensor_id = "s\"1";
  s.capture = true;
  s.end = "end_of_input";
  PortSnapshot p;
  p.name = "net_pcap0";
  p.driver = "net_pcap";
  p.mode = "dispatch";
  p.rx = 100;
  p.queue_rx = {100};
  s.ports.push_back(p);
  WorkerSnapshot w;
  w.packets = 60;
  w.by_result[static_cast<size_t>(packet::ParseResult::kTruncatedIpv4)] = 2;
  w.by_result[static_cast<size_t>(packet::ParseResult::kArp)] = 7;
  w.sessions_created = 5;
  s.workers = {w, WorkerSnapshot{}};
  DispatcherSnapshot d;
  d.ring_drops = 3;
  s.dispatcher = d;
  s.records_written = 5;
  s.analytics_records = 5;
  return s;
}

TEST(StatsJson, HasTheKeysTheTestsAndScriptsRead) {
  const std::string j = StatsJson(Sample());
  for (const char* key :
       {"\"ports\":[", "\"rx\":100", "\"imissed\":", "\"nombuf\":", "\"workers\":[",
        "\"packets\":60", "\"bad_packets\":{", "\"sessions_created\":5",
        "\"sessions_ended\":", "\"sessions_evicted\":", "\"sessions_active\":", "\"ring_drops\":3",
        "\"bad_packets_total\":2", "\"non_ip_total\":7", "\"non_ip\":{\"arp\":7",
        "\"records_written\":5", "\"analytics_records\":5", "\"sensor_id\":\"s\\\"1\""}) {
    EXPECT_NE(j.find(key), std::string::npos) << key << " in " << j;
  }
  const std::string reason(packet::ParseResultName(packet::ParseResult::kTruncatedIpv4));
  EXPECT_NE(j.find("\"" + reason + "\":2"), std::string::npos) << j;
}

TEST(StatsReport, OnlyMalformedFramesAreBad) {
  const Snapshot s = Sample();
  EXPECT_EQ(s.workers[0].bad_packets(), 2u);
  EXPECT_EQ(s.OfClass(packet::ParseClass::kNonIp), 7u);
  EXPECT_EQ(s.RingDrops(), 3u);  // the dispatcher's; records never drop at a ring
  const std::string j = StatsJson(s);
  const size_t bad = j.find("\"bad_packets\":{");
  ASSERT_NE(bad, std::string::npos);
  EXPECT_EQ(j.substr(bad, j.find('}', bad) - bad).find("arp"), std::string::npos) << j;
}

TEST(StatsReport, SummaryNamesBadPacketReasons) {
  const std::string text = SummaryText(Sample());
  EXPECT_NE(text.find(std::string(packet::ParseResultName(packet::ParseResult::kTruncatedIpv4))),
            std::string::npos);
  EXPECT_NE(text.find("capture mode"), std::string::npos);
}

TEST(StatsReport, InputsSayWhereAndWhyReadingStopped) {
  Snapshot s = Sample();
  InputSnapshot in;
  in.path = "x.pcap";
  in.end = capture::ReadStatus::kCorrupt;
  in.end_offset = 104;
  in.error = "byte 104: record caplen 300000 exceeds 262144";
  s.inputs = {in};
  EXPECT_NE(SummaryText(s).find("corrupt at byte 104: byte 104: record caplen"), std::string::npos)
      << SummaryText(s);
  EXPECT_NE(StatsJson(s).find("\"end\":\"corrupt\""), std::string::npos);
  EXPECT_NE(StatsJson(s).find("\"end_offset\":104"), std::string::npos);
  s.inputs[0].end = capture::ReadStatus::kEnd;
  EXPECT_EQ(SummaryText(s).find("at byte"), std::string::npos);
  EXPECT_NE(StatsJson(s).find("\"end\":\"end_of_file\""), std::string::npos);
  EXPECT_EQ(InputEndName(capture::ReadStatus::kFrame), "reading");
  EXPECT_EQ(InputEndName(capture::ReadStatus::kTruncated), "truncated");
}

TEST(RecordCounts, CountsByProtocolAndConnState) {
  analytics::RecordCounts c;
  std::vector<record::SessionRecord> recs(3);
  recs[0].protocol = packet::kProtoTcp;
  recs[0].conn_state = record::ConnState::kSF;
  recs[1].protocol = packet::kProtoTcp;
  recs[1].conn_state = record::ConnState::kREJ;
  recs[2].protocol = packet::kProtoUdp;
  c.Consume(recs);
  EXPECT_EQ(c.records(), 3u);
  EXPECT_EQ(c.by_protocol(packet::kProtoTcp), 2u);
  EXPECT_EQ(c.by_conn_state(record::ConnState::kSF), 1u);
  EXPECT_EQ(c.ToJson(),
            "{\"records\":3,\"by_protocol\":{\"tcp\":2,\"udp\":1},"
            "\"by_conn_state\":{\"CONN_STATE_UNSPECIFIED\":1,\"SF\":1,\"REJ\":1}}");
}

}  // namespace
}  // namespace flowtrail::dataplane
