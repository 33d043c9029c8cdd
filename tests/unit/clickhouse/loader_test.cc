#include "clickhouse/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace flowtrail::clickhouse {
namespace {

v1::SessionRecord Record(uint32_t n) {
  v1::SessionRecord r;
  r.set_session_id(0x0102030405060708ULL);
  r.set_server_confidence(v1::CONFIDENCE_HIGH);
  r.set_client_ip(std::string("\x0a\x00\x00\x01", 4));
  r.set_client_port(40000 + n);
  r.set_server_ip(std::string("\x0a\x00\x00\x02", 4));
  r.set_server_port(445);
  r.set_inbound(true);
  r.set_client_first_flags(0x02);
  r.set_client_flags(0x1b);
  r.set_server_flags(0x12);
  r.set_client_packets(3);
  r.set_first_time_us(1'700'000'000'123'456ULL);
  r.set_last_time_us(1'700'000'001'000'000ULL);
  r.set_client_bytes(10);
  r.set_end_reason(v1::END_REASON_CLOSED);
  r.set_conn_state(v1::SF);
  r.set_protocol(6);
  r.set_ip_version(4);
  r.set_sensor_id("s1");
  r.set_server_simhash(0xfedcba9876543210ULL);
  r.set_worker_id(2);
  r.set_server_isn_changed(true);
  return r;
}

template <typename T>
T At(const std::string& b, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<uint64_t>(static_cast<uint8_t>(b[at + i])) << (8 * i));
  }
  return v;
}

TEST(RowBinary, RecordBytesFollowTheColumnList) {
  std::string b;
  AppendRowBinary(Record(1), "sensor", "run7", 42, &b);
  // Fixed-width columns (196 bytes) plus three strings with their varint lengths.
  EXPECT_EQ(b.size(), 196u + (1 + 6) + (1 + 4) + (1 + 2));
  size_t at = 0;
  EXPECT_EQ(b.substr(at, 7), std::string("\x06sensor"));
  at += 7;
  EXPECT_EQ(b.substr(at, 5), std::string("\x04run7"));
  at += 5;
  EXPECT_EQ(At<uint64_t>(b, at), 42u);  // sequence
  at += 8;
  EXPECT_EQ(At<uint32_t>(b, at), 1'700'000'000u);  // first_time, seconds
  at += 4;
  EXPECT_EQ(At<uint64_t>(b, at), 0x0102030405060708ULL);
  at += 8;
  EXPECT_EQ(b[at], 2);  // server_confidence 'high'
  at += 1;
  // IPv4 as ::ffff:10.0.0.1.
  EXPECT_EQ(b.substr(at, 16), std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\0\0\x01", 16));
  at += 16;
  EXPECT_EQ(At<uint16_t>(b, at), 40001);
  at += 2 + 16;
  EXPECT_EQ(At<uint16_t>(b, at), 445);
  at += 2;
  EXPECT_EQ(b.substr(at, 7), std::string("\x00\x01\x00\x02\x00\x1b\x12", 7));
  // The tail: ..., record_sensor_id "s1", continuing, simhashes, lengths, icmp_id,
  // worker_id, fragments, server_isn_changed.
  const size_t tail = b.size() - (1 + 16 + 4 + 2 + 2 + 4 + 1);
  EXPECT_EQ(b.substr(tail - 3, 3), std::string("\x02s1"));
  EXPECT_EQ(b[tail], 0);
  EXPECT_EQ(At<uint64_t>(b, tail + 9), 0xfedcba9876543210ULL);
  EXPECT_EQ(At<uint16_t>(b, tail + 1 + 16 + 4 + 2), 2);  // worker_id
  EXPECT_EQ(b.back(), 1);
}

TEST(RowBinary, Ipv6AddressesAreStoredAsIs) {
  v1::SessionRecord r = Record(1);
  r.set_ip_version(6);
  r.set_client_ip(std::string(16, '\x20'));
  std::string b;
  AppendRowBinary(r, "", "", 1, &b);
  EXPECT_EQ(b.substr(1 + 1 + 8 + 4 + 8 + 1, 16), std::string(16, '\x20'));
}

TEST(RowBinary, ColumnListNamesEveryColumnOnce) {
  std::vector<std::string> names;
  std::string s = kSessionColumns;
  size_t at = 0;
  while (at < s.size()) {
    size_t end = s.find(", ", at);
    if (end == std::string::npos) end = s.size();
    names.push_back(s.substr(at, end - at));
    at = end + 2;
  }
  EXPECT_EQ(names.size(), 52u);  // 48 record fields + sensor_id, run_id, sequence, first_time
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
}

TEST(SqlString, EscapesQuotesAndBackslashes) { EXPECT_EQ(SqlString("a'b\\c"), "'a\\'b\\\\c'"); }

// A scripted server: each request's decoded SQL is recorded and answered by `answer`.
struct Fake : HttpTransport {
  std::vector<std::string> sql;
  std::vector<size_t> body_bytes;
  std::function<absl::StatusOr<std::string>(const std::string&)> answer;

  static std::string Decode(const std::string& qs) {
    const size_t q = qs.find("query=");
    std::string out;
    for (size_t i = q + 6; i < qs.size() && qs[i] != '&'; ++i) {
      if (qs[i] == '%' && i + 2 < qs.size()) {
        out += static_cast<char>(std::stoi(qs.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += qs[i];
      }
    }
    return out;
  }
  absl::StatusOr<std::string> Post(const std::string& qs, const std::string& body) override {
    sql.push_back(Decode(qs));
    body_bytes.push_back(body.size());
    return answer(sql.back());
  }
};

struct Harness {
  Fake* fake;
  std::unique_ptr<ClickHouseLoader> loader;
};

Harness Make(std::function<absl::StatusOr<std::string>(const std::string&)> answer,
             size_t batch_rows = 100) {
  auto fake = std::make_unique<Fake>();
  Fake* f = fake.get();
  f->answer = std::move(answer);
  LoaderOptions o;
  o.batch_rows = batch_rows;
  o.retries = 2;
  o.retry_backoff = absl::Milliseconds(1);
  auto loader = ClickHouseLoader::Create(o, std::move(fake));
  EXPECT_TRUE(loader.ok()) << loader.status();
  return {f, *std::move(loader)};
}

std::vector<v1::SessionRecord> Records(int n) {
  std::vector<v1::SessionRecord> v;
  for (int i = 0; i < n; ++i) v.push_back(Record(i));
  return v;
}

TEST(Loader, NewBatchIsJournaledAroundItsInsert) {
  Harness r = Make([](const std::string&) { return std::string(); });
  const auto recs = Records(3);
  ASSERT_TRUE(r.loader->Load("s", "run", 10, recs).ok());
  ASSERT_EQ(r.fake->sql.size(), 4u);
  EXPECT_TRUE(absl::StrContains(r.fake->sql[0], "FROM flowtrail.batches"));
  EXPECT_TRUE(absl::StrContains(r.fake->sql[0], "first_sequence <= 12 AND last_sequence >= 10"));
  EXPECT_TRUE(absl::StrContains(r.fake->sql[1], "'started'"));
  EXPECT_TRUE(absl::StartsWith(r.fake->sql[2], "INSERT INTO flowtrail.sessions ("));
  EXPECT_TRUE(absl::StrContains(r.fake->sql[3], "'done'"));
  EXPECT_EQ(r.loader->stats().rows, 3u);
}

TEST(Loader, SplitsIntoBatchesOfConsecutiveSequences) {
  Harness r = Make([](const std::string&) { return std::string(); }, 2);
  ASSERT_TRUE(r.loader->Load("s", "run", 1, Records(5)).ok());
  EXPECT_EQ(r.loader->stats().batches, 3u);
  EXPECT_TRUE(absl::StrContains(r.fake->sql[8], "first_sequence <= 5 AND last_sequence >= 5"));
}

TEST(Loader, DoneRangeIsSkipped) {
  Harness r = Make([](const std::string& q) {
    return absl::StrContains(q, "FROM flowtrail.batches") ? std::string("started\t0\ndone\t1\n")
                                                          : std::string();
  });
  ASSERT_TRUE(r.loader->Load("s", "run", 1, Records(3)).ok());
  EXPECT_EQ(r.fake->sql.size(), 1u);
  EXPECT_EQ(r.loader->stats().batches_skipped, 1u);
  EXPECT_EQ(r.loader->stats().rows, 0u);
}

TEST(Loader, LostInsertResponseIsRetriedWithoutResendingStoredRows) {
  // The server stores the INSERT but the loader sees an error; on the retry the journal
  // holds 'started' and the lookup finds every sequence number.
  bool inserted = false;
  Harness r = Make([&](const std::string& q) -> absl::StatusOr<std::string> {
    if (absl::StrContains(q, "FROM flowtrail.batches")) {
      return inserted ? std::string("started\t1\n") : std::string();
    }
    if (absl::StartsWith(q, "SELECT DISTINCT sequence")) {
      return std::string("7\n8\n9\n");
    }
    if (absl::StartsWith(q, "INSERT INTO flowtrail.sessions")) {
      inserted = true;
      return absl::UnavailableError("connection reset");
    }
    return std::string();
  });
  ASSERT_TRUE(r.loader->Load("s", "run", 7, Records(3)).ok());
  int inserts = 0;
  for (const std::string& q : r.fake->sql) {
    inserts += absl::StartsWith(q, "INSERT INTO flowtrail.sessions");
  }
  EXPECT_EQ(inserts, 1);
  EXPECT_EQ(r.loader->stats().retries, 1u);
  EXPECT_EQ(r.loader->stats().rows_skipped, 3u);
  EXPECT_TRUE(absl::StrContains(r.fake->sql.back(), "'done'"));
}

TEST(Loader, PartlyStoredBatchSendsOnlyTheMissingRows) {
  Harness r = Make([](const std::string& q) {
    if (absl::StrContains(q, "FROM flowtrail.batches")) return std::string("started\t1\n");
    if (absl::StartsWith(q, "SELECT DISTINCT sequence")) return std::string("1\n3\n");
    return std::string();
  });
  const auto recs = Records(3);
  ASSERT_TRUE(r.loader->Load("s", "", 1, recs).ok());
  std::string one;
  AppendRowBinary(recs[1], "s", "", 2, &one);
  bool found = false;
  for (size_t i = 0; i < r.fake->sql.size(); ++i) {
    if (absl::StartsWith(r.fake->sql[i], "INSERT INTO flowtrail.sessions")) {
      EXPECT_EQ(r.fake->body_bytes[i], one.size());
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(r.loader->stats().rows, 1u);
}

TEST(Loader, GivesUpAfterRetriesWithTheServersMessage) {
  Harness r = Make([](const std::string&) -> absl::StatusOr<std::string> {
    return absl::UnavailableError("Code: 60, Table flowtrail.batches doesn't exist");
  });
  absl::Status s = r.loader->Load("s", "", 1, Records(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "after 3 attempts")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "doesn't exist")) << s;
}

TEST(Loader, InvalidRecordIsRefusedBeforeAnythingIsSent) {
  Harness r = Make([](const std::string&) { return std::string(); });
  auto recs = Records(2);
  recs[1].set_ip_version(5);
  absl::Status s = r.loader->Load("s", "", 1, recs);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "sequence 2")) << s;
  EXPECT_TRUE(r.fake->sql.empty());
}

TEST(Loader, RefusesBadNames) {
  LoaderOptions o;
  o.table = "sessions; DROP";
  EXPECT_FALSE(ClickHouseLoader::Create(o, std::make_unique<Fake>()).ok());
}

}  // namespace
}  // namespace flowtrail::clickhouse
