#include "session/networks.h"

#include <string>

#include "gtest/gtest.h"
#include "packet_helpers.h"

namespace flowtrail::session {
namespace {

using testing::Ip;

TEST(Networks, ParsesIpv4AndIpv6PrefixesAndMatches) {
  auto n = Networks::Parse("10.0.0.0/8, 192.168.1.0/24,2001:db8::/32,203.0.113.7");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE(n->Contains(Ip("10.255.1.2"), 4));
  EXPECT_TRUE(n->Contains(Ip("192.168.1.200"), 4));
  EXPECT_FALSE(n->Contains(Ip("192.168.2.1"), 4));
  EXPECT_TRUE(n->Contains(Ip("203.0.113.7"), 4));  // no length = host
  EXPECT_FALSE(n->Contains(Ip("203.0.113.8"), 4));
  EXPECT_TRUE(n->Contains(Ip("2001:db8:ffff::1"), 6));
  EXPECT_FALSE(n->Contains(Ip("2001:db9::1"), 6));
  // An IPv4 address is never inside an IPv6 prefix and vice versa.
  EXPECT_FALSE(n->Contains(Ip("10.0.0.1"), 6));
}

TEST(Networks, HostBitsAreMaskedAndOddLengthsWork) {
  auto n = Networks::Parse("10.1.2.3/12,2001:db8:abcd::/35");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->Contains(Ip("10.15.255.255"), 4));
  EXPECT_FALSE(n->Contains(Ip("10.16.0.0"), 4));
  EXPECT_TRUE(n->Contains(Ip("2001:db8:bfff::"), 6));
  EXPECT_FALSE(n->Contains(Ip("2001:db8:c000::"), 6));
}

TEST(Networks, ZeroLengthMatchesEverythingOfItsVersion) {
  auto n = Networks::Parse("0.0.0.0/0");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->Contains(Ip("1.2.3.4"), 4));
  EXPECT_FALSE(n->Contains(Ip("::1"), 6));
}

TEST(Networks, EmptyListIsEmpty) {
  auto n = Networks::Parse("");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->empty());
  EXPECT_FALSE(n->Contains(Ip("1.2.3.4"), 4));
}

TEST(Networks, BadInputIsRefusedWithAMessageNamingIt) {
  for (const char* bad :
       {"10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "banana", "10.0.0.0/", "10.0.0.0/-1",
        "10.0.0.0/8x", "10.0.0.0/8,,1.2.3.4", "1.2.3.4,", "10.0.0.0/0008"}) {
    auto n = Networks::Parse(bad);
    ASSERT_FALSE(n.ok()) << bad;
    EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(n.status().message()).find("bad network"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace flowtrail::session
