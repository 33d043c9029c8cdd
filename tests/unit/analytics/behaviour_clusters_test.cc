// Behaviour clusters (src/analytics/behaviour_clusters.h): the grouping and
// correlation rules, record selection, merging; and `flowtrail report
// clusters` in-process (formats, --plot pictures).
#include "analytics/behaviour_clusters.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "export/stream_writer.h"
#include "record/session_record.h"
#include "scan_records.h"
#include "tools/report_command.h"

// Fontconfig (under Cairo's text) keeps a process-wide cache of fonts and
// patterns by design; LeakSanitizer would report it at exit of this binary.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }

namespace flowtrail::analytics {
namespace {

namespace fs = std::filesystem;
using record::SessionRecord;
using A = ClusterAttribute;

constexpr uint32_t kClient = 0x0a000001;
constexpr uint16_t kPort = 1433;

// A data session of the scanner: client fingerprint `cfp`, server bytes `sb`.
SessionRecord Session(uint32_t server, uint32_t cfp, uint64_t sb, uint64_t t_s = 1) {
  SessionRecord r = testing::ScanRecord(kClient, server, kPort, Outcome::kData, t_s, 100);
  r.client_fingerprint = cfp;
  r.client_simhash = 0xf0f0f0f0f0f0f0f0ULL ^ cfp;
  r.server_bytes = sb;
  r.server_fingerprint = sb ? 0x48540000 + static_cast<uint32_t>(sb) : 0;
  r.first_data_sender = record::Side::kClient;
  r.shutdown_initiator = record::Side::kClient;
  r.shutdown_kind = record::ShutdownKind::kFin;
  return r;
}

ClusterReport Analyse(const std::vector<SessionRecord>& v, ClusterOptions o = {}) {
  BehaviourClusters c(o);
  c.Select({IpAddress::FromV4(kClient), 4, kPort});
  c.Consume(std::span<const SessionRecord>(v));
  auto reps = c.Reports();
  EXPECT_EQ(reps.size(), 1u);
  return reps.at(0);
}

const FingerprintGroup* Group(const ClusterReport& r, A a, size_t i) {
  size_t k = 0;
  for (const auto& g : r.groups) {
    if (g.attribute == a && k++ == i) {
      return &g;
    }
  }
  return nullptr;
}

const ClusterRule* FindRule(const ClusterReport& r, A if_a, const std::string& if_v, A then_a) {
  for (const auto& x : r.rules) {
    if (x.if_attribute == if_a && x.if_value == if_v && x.then_attribute == then_a) {
      return &x;
    }
  }
  return nullptr;
}

TEST(LinkScalar, GroupsRunsWithoutAGapLargerThanTheDistanceInclusive) {
  const std::vector<uint64_t> v = {10, 100, 300, 1000, 1100};
  EXPECT_EQ(LinkScalar(v, 200), (std::vector<uint32_t>{0, 0, 0, 1, 1}));
  EXPECT_EQ(LinkScalar(v, 199), (std::vector<uint32_t>{0, 0, 1, 2, 2}));
  EXPECT_EQ(LinkScalar(v, 0), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(LinkScalar(std::vector<uint64_t>{}, 5).empty());
}

TEST(LinkSimhash, SingleLinkageChainsNeighboursBeyondTheDistance) {
  const uint64_t a = 0x0123456789abcdefULL;
  const uint64_t b = a ^ 0x7;         // 3 bits from a
  const uint64_t c = b ^ (0x7 << 8);  // 3 from b, 6 from a
  const uint64_t d = ~a;              // 64 from a
  const std::vector<uint64_t> v = {a, d, b, c};
  EXPECT_EQ(LinkSimhash(v, 3), (std::vector<uint32_t>{0, 1, 0, 0}));
  EXPECT_EQ(LinkSimhash(v, 2), (std::vector<uint32_t>{0, 1, 2, 3}));
}

// The §7.2 shape: a template whose fingerprint varies a little with the
// target (embedded address) and a fixed 111-byte answer; a second probe
// with one exact fingerprint answered by 2 bytes.
std::vector<SessionRecord> Story() {
  std::vector<SessionRecord> v;
  for (uint32_t i = 0; i < 12; ++i) {
    v.push_back(Session(0x0b000000 + i, 0x47457000 + i * 9, 111, i));
  }
  for (uint32_t i = 0; i < 6; ++i) {
    v.push_back(Session(0x0c000000 + i, 0x50500100, 2, 20 + i));
  }
  return v;
}

TEST(BehaviourClusters, CloseFingerprintsFormOneGroupWithItsRangeAndMembers) {
  const ClusterReport r = Analyse(Story());
  EXPECT_EQ(r.sessions, 18u);
  const FingerprintGroup* g = Group(r, A::kClientFingerprint, 0);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->members.size(), 12u);
  EXPECT_EQ(g->sessions, 12u);
  EXPECT_EQ(g->lo, 0x47457000u);
  EXPECT_EQ(g->hi, 0x47457000u + 11 * 9);
  EXPECT_EQ(g->label, std::to_string(g->lo) + "-" + std::to_string(g->hi));
  const FingerprintGroup* exact = Group(r, A::kClientFingerprint, 1);
  ASSERT_NE(exact, nullptr);
  EXPECT_EQ(exact->members.size(), 1u);
  EXPECT_EQ(exact->sessions, 6u);
  EXPECT_EQ(exact->label, std::to_string(0x50500100u));
  EXPECT_EQ(Group(r, A::kClientFingerprint, 2), nullptr);
  // Every distribution value names its group.
  for (const auto& v : r.Distribution(A::kClientFingerprint)->values) {
    EXPECT_EQ(v.group, v.value == 0x50500100u ? exact->label : g->label);
  }
}

TEST(BehaviourClusters, DistanceBelowTheSpacingSplitsTheGroup) {
  ClusterOptions o;
  o.fingerprint_distance = 8;  // members are 9 apart
  const ClusterReport r = Analyse(Story(), o);
  size_t client_groups = 0;
  for (const auto& g : r.groups) {
    client_groups += g.attribute == A::kClientFingerprint;
  }
  EXPECT_EQ(client_groups, 13u);
}

TEST(BehaviourClusters, ServerBytesPredictTheFingerprintGroupAtFullConfidence) {
  const ClusterReport r = Analyse(Story(), {.max_rules = 1000});
  const FingerprintGroup* g = Group(r, A::kClientFingerprint, 0);
  const ClusterRule* rule = FindRule(r, A::kServerBytes, "111", A::kClientFingerprintGroup);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->then_value, g->label);
  EXPECT_DOUBLE_EQ(rule->confidence, 1.0);
  EXPECT_EQ(rule->support, 12u);
  EXPECT_DOUBLE_EQ(rule->lift, 18.0 / 12.0);
  EXPECT_EQ(rule->Sentence(), "when server bytes is 111, client fingerprint group is " + g->label +
                                  " in 100% of sessions (12 of 12)");
  // The exact probe: 2 server bytes -> one exact fingerprint (not a group
  // of one, which the exact attribute already says).
  EXPECT_NE(FindRule(r, A::kServerBytes, "2", A::kClientFingerprint), nullptr);
  EXPECT_EQ(FindRule(r, A::kServerBytes, "2", A::kClientFingerprintGroup), nullptr);
  // No single fingerprint of the varying template reaches 3 sessions.
  for (const auto& x : r.rules) {
    EXPECT_FALSE(x.if_attribute == A::kClientFingerprint && x.if_value != "1347420416")
        << x.Sentence();
  }
  // Ranked by confidence, then leverage, then support.
  for (size_t i = 1; i < r.rules.size(); ++i) {
    const ClusterRule& p = r.rules[i - 1];
    const ClusterRule& q = r.rules[i];
    EXPECT_TRUE(p.confidence > q.confidence ||
                (p.confidence == q.confidence &&
                 (p.leverage > q.leverage || (p.leverage == q.leverage && p.support >= q.support))))
        << p.Sentence() << " before " << q.Sentence();
  }
  EXPECT_DOUBLE_EQ(rule->leverage, 12.0 / 18 - (12.0 / 18) * (12.0 / 18));
  // Items of the same sessions are one fact: 111 server bytes, the server's
  // fingerprint of those bytes and the client's group go together, once,
  // from the earliest attribute; none of the others is an antecedent.
  EXPECT_NE(FindRule(r, A::kServerBytes, "111", A::kServerFingerprint), nullptr);
  EXPECT_EQ(FindRule(r, A::kServerFingerprint, std::to_string(0x48540000 + 111), A::kServerBytes),
            nullptr);
  EXPECT_EQ(FindRule(r, A::kClientFingerprintGroup, g->label, A::kServerBytes), nullptr);
  EXPECT_EQ(FindRule(r, A::kClientFingerprintGroup, g->label, A::kServerFingerprint), nullptr);
}

TEST(BehaviourClusters, ConstantAttributesAndSameFamilyPairsMakeNoRules) {
  const ClusterReport r = Analyse(Story(), {.max_rules = 1000});
  ASSERT_FALSE(r.rules.empty());
  for (const auto& x : r.rules) {
    // Every session has first data from the client and a client FIN.
    EXPECT_NE(x.then_attribute, A::kFirstDataSender) << x.Sentence();
    EXPECT_NE(x.then_attribute, A::kShutdownKind) << x.Sentence();
    EXPECT_NE(x.if_attribute, A::kShutdownInitiator) << x.Sentence();
    // A fingerprint does not "predict" its own group or simhash group.
    const bool client_side = [](A a) {
      return a == A::kClientFingerprint || a == A::kClientFingerprintGroup ||
             a == A::kClientSimhashGroup;
    }(x.if_attribute);
    const bool then_client = [](A a) {
      return a == A::kClientFingerprint || a == A::kClientFingerprintGroup ||
             a == A::kClientSimhashGroup;
    }(x.then_attribute);
    EXPECT_FALSE(client_side && then_client) << x.Sentence();
  }
}

TEST(BehaviourClusters, MinSupportAndMinConfidenceFilterRules) {
  std::vector<SessionRecord> v = Story();
  // 2 sessions with 50 server bytes: below the default support of 3.
  v.push_back(Session(0x0d000001, 0x61610000, 50, 40));
  v.push_back(Session(0x0d000002, 0x61610000, 50, 41));
  // 4 sessions with 7 server bytes, fingerprints split 3:1 (75 %).
  for (uint32_t i = 0; i < 3; ++i) {
    v.push_back(Session(0x0e000000 + i, 0x70700000, 7, 50 + i));
  }
  v.push_back(Session(0x0e000009, 0x10100000, 7, 60));
  ClusterReport r = Analyse(v, {.max_rules = 1000});
  EXPECT_EQ(FindRule(r, A::kServerBytes, "50", A::kClientFingerprint), nullptr);
  const ClusterRule* split = FindRule(r, A::kServerBytes, "7", A::kClientFingerprint);
  ASSERT_NE(split, nullptr);
  EXPECT_DOUBLE_EQ(split->confidence, 0.75);
  EXPECT_EQ(split->Sentence().find("in 75.0% of sessions (3 of 4)") != std::string::npos, true)
      << split->Sentence();
  r = Analyse(v, {.min_support = 2, .min_confidence = 0.8, .max_rules = 1000});
  EXPECT_NE(FindRule(r, A::kServerBytes, "50", A::kClientFingerprint), nullptr);
  EXPECT_EQ(FindRule(r, A::kServerBytes, "7", A::kClientFingerprint), nullptr);
  r = Analyse(v, {.max_rules = 2});
  EXPECT_EQ(r.rules.size(), 2u);
}

TEST(BehaviourClusters, NoDataIsNeverGroupedAndIsNamedNone) {
  std::vector<SessionRecord> v;
  for (uint32_t i = 0; i < 4; ++i) {
    SessionRecord r = testing::ScanRecord(kClient, 0x0b000000 + i, kPort, Outcome::kSuccess, i, 0);
    v.push_back(r);  // fingerprint 0: no data
  }
  v.push_back(Session(0x0c000001, 1, 0));  // fingerprint 1: within 256 of 0
  const ClusterReport r = Analyse(v);
  const auto* d = r.Distribution(A::kClientFingerprint);
  ASSERT_EQ(d->values.size(), 2u);
  EXPECT_EQ(d->values[0].text, "none");
  EXPECT_EQ(d->values[0].group, "none");
  EXPECT_EQ(d->values[0].sessions, 4u);
  EXPECT_EQ(d->values[1].group, "1");
  const FingerprintGroup* g = Group(r, A::kClientFingerprint, 0);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->members.size(), 1u);
  EXPECT_EQ(Group(r, A::kClientFingerprint, 1), nullptr);
  EXPECT_EQ(r.Distribution(A::kClientSimhash)->values[0].text, "none");
}

TEST(BehaviourClusters, SimhashGroupsUseHammingDistance) {
  std::vector<SessionRecord> v = Story();
  const ClusterReport r = Analyse(v);
  // Story's simhashes: one constant xor the fingerprint, whose low bits
  // differ by a few positions within the template.
  const FingerprintGroup* g = Group(r, A::kClientSimhash, 0);
  ASSERT_NE(g, nullptr);
  EXPECT_GT(g->members.size(), 1u);
  EXPECT_EQ(g->label[0], '~');
  for (const auto& m : g->members) {
    EXPECT_LE(record::SimHashDistance(m.value, g->mode), 2 * 6) << m.text;
  }
}

TEST(BehaviourClusters, CountsFinalTcpRecordsOfSelectedKeysOnly) {
  std::vector<SessionRecord> v = Story();
  SessionRecord interim = v[0];
  interim.continuing = true;
  SessionRecord udp = v[0];
  udp.protocol = 17;
  SessionRecord other_port = v[0];
  other_port.server_port = 80;
  SessionRecord other_client = v[0];
  other_client.client_ip = IpAddress::FromV4(kClient + 1);
  SessionRecord no_syn = v[0];
  no_syn.client_flags = 0x10;
  for (const auto& r : {interim, udp, other_port, other_client, no_syn}) {
    v.push_back(r);
  }
  EXPECT_EQ(Analyse(v).sessions, 18u);
}

TEST(BehaviourClusters, MergeOfHalvesEqualsOnePassInAnyOrder) {
  std::vector<SessionRecord> v = Story();
  const ClusterKey key{IpAddress::FromV4(kClient), 4, kPort};
  BehaviourClusters whole, first, second;
  for (auto* c : {&whole, &first, &second}) {
    c->Select(key);
  }
  whole.Consume(std::span<const SessionRecord>(v));
  std::reverse(v.begin(), v.end());
  first.Consume(std::span<const SessionRecord>(v).subspan(0, 7));
  second.Consume(std::span<const SessionRecord>(v).subspan(7));
  second.Merge(first);
  const ClusterReport a = whole.Reports()[0];
  const ClusterReport b = second.Reports()[0];
  EXPECT_EQ(a.sessions, b.sessions);
  ASSERT_EQ(a.rules.size(), b.rules.size());
  for (size_t i = 0; i < a.rules.size(); ++i) {
    EXPECT_EQ(a.rules[i].Sentence(), b.rules[i].Sentence());
  }
  ASSERT_EQ(a.groups.size(), b.groups.size());
  for (size_t i = 0; i < a.groups.size(); ++i) {
    EXPECT_EQ(a.groups[i].label, b.groups[i].label);
    EXPECT_EQ(a.groups[i].sessions, b.groups[i].sessions);
  }
}

TEST(BehaviourClusters, DistinctVectorsBeyondTheLimitAreCountedAsOverflow) {
  const ClusterReport r = Analyse(Story(), {.max_vectors = 5});
  // 12 distinct template sessions and one repeated probe vector (6 sessions,
  // but each has its own server: the vector has no server address, so 1).
  EXPECT_EQ(r.vectors, 5u);
  EXPECT_EQ(r.sessions + r.overflow, 18u);
  EXPECT_GT(r.overflow, 0u);
}

// ---------------------------------------------------------------------------
// `flowtrail report clusters` in-process.

class ReportClustersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("clusters_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::vector<SessionRecord>& recs) {
    const std::string path = (dir_ / "s.ftr").string();
    auto sink = exporter::OpenFileSink(path);
    EXPECT_TRUE(sink.ok());
    auto w = exporter::StreamWriter::Create(*std::move(sink), {.sensor_id = "clusters-test"});
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE((*w)->Append(recs).ok());
    EXPECT_TRUE((*w)->Close(0, 1).ok());
    return path;
  }
  int Run(std::vector<std::string> args, std::string* out, std::string* err = nullptr) {
    std::FILE* o = std::tmpfile();
    std::FILE* e = std::tmpfile();
    const int rc = tools::RunReport(args, o, e);
    *out = Slurp(o);
    const std::string es = Slurp(e);
    if (err) {
      *err = es;
    }
    return rc;
  }
  static std::string Slurp(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
  }
  fs::path dir_;
};

std::vector<SessionRecord> StoryWithNoise() {
  std::vector<SessionRecord> v = Story();
  // 30 silent SYNs make 10.0.0.1:1433 the top scanner; another client with
  // fewer failures ranks second.
  for (uint32_t i = 0; i < 30; ++i) {
    v.push_back(testing::ScanRecord(kClient, 0x0f000000 + i, kPort, Outcome::kSilent, 100 + i, 0));
  }
  for (uint32_t i = 0; i < 5; ++i) {
    v.push_back(testing::ScanRecord(kClient + 7, 0x0f000000 + i, 22, Outcome::kReject, 200 + i, 0));
  }
  return v;
}

TEST_F(ReportClustersTest, JsonHasKeyValueGroupAndRuleRowsOfTheTopScanner) {
  const std::string path = Write(StoryWithNoise());
  std::string out, err;
  ASSERT_EQ(Run({"clusters", "--format", "json", path}, &out, &err), 0) << err;
  EXPECT_NE(out.find(R"({"section":"key","client":"10.0.0.1","port":1433,"rank":1,"count":30,)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("section":"rule")"), std::string::npos);
  EXPECT_NE(out.find(R"("attribute":"server_bytes","value":"111","then_attribute":)"
                     R"("client_fingerprint_group")"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("10.0.0.8"), std::string::npos) << "--top 1 shows one key";
  ASSERT_EQ(Run({"clusters", "--format", "json", "--top", "2", path}, &out), 0);
  EXPECT_NE(out.find(R"("client":"10.0.0.8","port":22,"rank":2)"), std::string::npos) << out;
}

TEST_F(ReportClustersTest, TableAndCsvAndAChosenKey) {
  const std::string path = Write(StoryWithNoise());
  std::string out;
  ASSERT_EQ(Run({"clusters", "--client", "10.0.0.1", "--port", "1433", path}, &out), 0);
  EXPECT_NE(out.find("== client 10.0.0.1 port 1433: 48 sessions (scan rank 1"), std::string::npos)
      << out;
  EXPECT_NE(out.find("when server bytes is 111, client fingerprint group is"), std::string::npos);
  ASSERT_EQ(
      Run({"clusters", "--client", "10.0.0.1", "--port", "1433", "--format", "csv", path}, &out),
      0);
  EXPECT_EQ(out.substr(0, out.find('\n')),
            "section,client,port,rank,count,verdict,attribute,value,sessions,percent,group,lo,hi,"
            "members,mode,then_attribute,then_value,support,confidence,lift,leverage,text");
  // A key without records: a key row with no sessions.
  ASSERT_EQ(
      Run({"clusters", "--client", "10.9.9.9", "--port", "1", "--format", "json", path}, &out), 0);
  EXPECT_NE(out.find(R"("rank":0,"count":0,"verdict":"none","sessions":0)"), std::string::npos)
      << out;
}

TEST_F(ReportClustersTest, BadUsageExits2) {
  std::string out;
  EXPECT_EQ(Run({"clusters", "--client", "10.0.0.1"}, &out), 2);
  EXPECT_EQ(Run({"clusters", "--client", "nonsense", "--port", "1"}, &out), 2);
  EXPECT_EQ(Run({"clusters", "--simhash-distance", "65"}, &out), 2);
  EXPECT_EQ(Run({"clusters", "--client", "10.0.0.1", "--port", "1", "--top", "2"}, &out), 2);
}

TEST_F(ReportClustersTest, PlotWritesOnePngPerAttribute) {
  const std::string path = Write(StoryWithNoise());
  const std::string pics = (dir_ / "pics").string();
  std::string out, err;
  ASSERT_EQ(Run({"clusters", "--plot", pics, path}, &out, &err), 0) << err;
  for (const char* a : {"client_bytes", "server_bytes", "client_fingerprint", "server_fingerprint",
                        "first_data_sender", "shutdown_initiator", "shutdown_kind"}) {
    const fs::path png = fs::path(pics) / (std::string("10.0.0.1_1433_") + a + ".png");
    ASSERT_TRUE(fs::exists(png)) << png;
    std::ifstream f(png, std::ios::binary);
    char sig[8] = {};
    f.read(sig, 8);
    EXPECT_EQ(std::string(sig, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
    EXPECT_GT(fs::file_size(png), 5000u) << png;
  }
  EXPECT_NE(err.find("7 pictures written"), std::string::npos) << err;
}

}  // namespace
}  // namespace flowtrail::analytics
