#include "session/ftp_announce.h"

#include <string>

#include "gtest/gtest.h"
#include "packet_helpers.h"

namespace flowtrail::session {
namespace {

using testing::Ip;

bool Client(const std::string& s, FtpEndpoint* e) {
  return ParseFtpClientAnnounce(reinterpret_cast<const uint8_t*>(s.data()), s.size(), e);
}
bool Server(const std::string& s, FtpEndpoint* e, const char* server = "192.0.2.1") {
  uint8_t v = 4;
  const IpAddress a = Ip(server, &v);
  return ParseFtpServerAnnounce(reinterpret_cast<const uint8_t*>(s.data()), s.size(), a, v, e);
}

TEST(FtpAnnounce, PortCommand) {
  FtpEndpoint e;
  ASSERT_TRUE(Client("PORT 141,142,220,235,131,46\r\n", &e));
  EXPECT_EQ(e.ip_version, 4);
  EXPECT_EQ(e.addr, Ip("141.142.220.235"));
  EXPECT_EQ(e.port, 33582);
  ASSERT_TRUE(Client("port 10,0,0,1,0,21", &e));  // lower case, no CRLF
  EXPECT_EQ(e.port, 21);
}

TEST(FtpAnnounce, EprtIpv4AndIpv6) {
  FtpEndpoint e;
  ASSERT_TRUE(Client("EPRT |1|132.235.1.2|6275|\r\n", &e));
  EXPECT_EQ(e.addr, Ip("132.235.1.2"));
  EXPECT_EQ(e.port, 6275);
  ASSERT_TRUE(Client("EPRT |2|2001:470:1f05:17a6:d69a:20ff:fefd:6b88|24744|\r\n", &e));
  EXPECT_EQ(e.ip_version, 6);
  EXPECT_EQ(e.addr, Ip("2001:470:1f05:17a6:d69a:20ff:fefd:6b88"));
  EXPECT_EQ(e.port, 24744);
  ASSERT_TRUE(Client("EPRT !2!::1!80!", &e));  // any delimiter
  EXPECT_EQ(e.port, 80);
}

TEST(FtpAnnounce, PassiveReplies) {
  FtpEndpoint e;
  ASSERT_TRUE(Server("227 Entering Passive Mode (199,233,217,249,221,90)\r\n", &e));
  EXPECT_EQ(e.addr, Ip("199.233.217.249"));
  EXPECT_EQ(e.port, 56666);
  ASSERT_TRUE(Server("227 =10,1,2,3,4,5", &e));  // RFC 1123: numbers anywhere
  EXPECT_EQ(e.port, 1029);
  ASSERT_TRUE(Server("229 Entering Extended Passive Mode (|||6446|)\r\n", &e, "2001:db8::7"));
  EXPECT_EQ(e.ip_version, 6);
  EXPECT_EQ(e.addr, Ip("2001:db8::7"));
  EXPECT_EQ(e.port, 6446);
}

TEST(FtpAnnounce, FindsTheAnnouncementOnALaterLine) {
  FtpEndpoint e;
  ASSERT_TRUE(Server("200 Type set to I\r\n227 Entering Passive Mode (10,0,0,9,1,2)\r\n", &e));
  EXPECT_EQ(e.port, 258);
}

TEST(FtpAnnounce, MalformedInputIsRefused) {
  FtpEndpoint e;
  for (const char* bad : {"PORT", "PORT 1,2,3,4,5", "PORT 1,2,3,4,5,", "PORT 256,1,1,1,1,1",
                          "PORT 1,2,3,4,0,0", "PORT 1,2,3,4,99999999,1", "EPRT |1|1.2.3|80|",
                          "EPRT |3|1.2.3.4|80|", "EPRT |1|1.2.3.4|70000|", "EPRT |1|1.2.3.4|80",
                          "EPRT ", "USER PORT 1,2,3,4,5,6", "RETR x"}) {
    EXPECT_FALSE(Client(bad, &e)) << bad;
  }
  for (const char* bad : {"227", "227 Entering Passive Mode", "229 (||6446|)", "229 (|||0|)",
                          "229 (|||6446", "230 Login (1,2,3,4,5,6)", "2271,2,3,4,5"}) {
    EXPECT_FALSE(Server(bad, &e)) << bad;
  }
  EXPECT_FALSE(ParseFtpClientAnnounce(nullptr, 10, &e));
}

TEST(FtpAnnounce, TableMatchesUntilExpiry) {
  FtpAnnouncements t;
  FtpEndpoint e;
  e.addr = Ip("10.0.0.1");
  e.ip_version = 4;
  e.port = 5000;
  EXPECT_FALSE(t.Match(e.addr, 4, 5000, 0));
  t.Add(e, 1000);
  EXPECT_TRUE(t.Match(e.addr, 4, 5000, 2000));
  EXPECT_FALSE(t.Match(e.addr, 4, 5001, 2000));
  EXPECT_FALSE(t.Match(e.addr, 6, 5000, 2000));
  EXPECT_FALSE(t.Match(e.addr, 4, 5000, 1000 + FtpAnnouncements::kDefaultTtlUs + 1));
}

TEST(FtpAnnounce, TableOverwritesTheOldestWhenFull) {
  FtpAnnouncements t;
  FtpEndpoint e;
  e.addr = Ip("10.0.0.1");
  e.ip_version = 4;
  for (uint32_t i = 0; i <= FtpAnnouncements::kSize; ++i) {
    e.port = static_cast<uint16_t>(1000 + i);
    t.Add(e, 0);
  }
  EXPECT_FALSE(t.Match(e.addr, 4, 1000, 1));
  EXPECT_TRUE(t.Match(e.addr, 4, 1001, 1));
  EXPECT_TRUE(t.Match(e.addr, 4, 1000 + FtpAnnouncements::kSize, 1));
}

}  // namespace
}  // namespace flowtrail::session
