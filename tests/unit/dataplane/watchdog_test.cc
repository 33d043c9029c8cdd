#include "dataplane/watchdog.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace flowtrail::dataplane {
namespace {

// A fake clock: the test passes the time.
TEST(HeartbeatWatch, PingsAtTheIntervalWhileHeartbeatsMove) {
  HeartbeatWatch w(/*ping_us=*/1000, /*stall_us=*/5000);
  std::vector<uint64_t> beats = {1, 10};
  EXPECT_TRUE(w.Observe(0, beats));  // the first observation pings
  beats = {2, 11};
  EXPECT_FALSE(w.Observe(500, beats));  // before the interval
  beats = {3, 12};
  EXPECT_TRUE(w.Observe(1000, beats));
  EXPECT_EQ(w.stalled(), -1);
}

TEST(HeartbeatWatch, AStalledHeartbeatStopsThePingsUntilItMovesAgain) {
  HeartbeatWatch w(1000, 5000);
  std::vector<uint64_t> beats = {1, 10};
  EXPECT_TRUE(w.Observe(0, beats));
  // Lcore 1 stands still; lcore 0 moves.
  uint64_t t = 0;
  int pings = 0;
  for (t = 1000; t <= 5000; t += 1000) {
    beats[0]++;
    pings += w.Observe(t, beats);
  }
  EXPECT_EQ(pings, 5);  // within stall_us: still alive
  for (; t <= 20000; t += 1000) {
    beats[0]++;
    EXPECT_FALSE(w.Observe(t, beats)) << t;
    EXPECT_EQ(w.stalled(), 1);
  }
  beats[1]++;  // it moves again
  EXPECT_TRUE(w.Observe(t, beats));
  EXPECT_EQ(w.stalled(), -1);
}

TEST(HeartbeatWatch, EveryHeartbeatStoppedMeansNoPing) {
  HeartbeatWatch w(1000, 2000);
  const std::vector<uint64_t> beats = {7, 7, 7};
  EXPECT_TRUE(w.Observe(0, beats));
  EXPECT_TRUE(w.Observe(2000, beats));  // exactly stall_us: not yet stalled
  EXPECT_FALSE(w.Observe(3000, beats));
  EXPECT_EQ(w.stalled(), 0);
}

// SystemdNotify against a datagram socket the test owns.
TEST(SystemdNotify, SendsOneDatagramPerMessage) {
  const std::string path = testing::TempDir() + "/notify_test.sock";
  unlink(path.c_str());
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.data(), path.size());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  SystemdNotify n(path, 0);
  ASSERT_TRUE(n.enabled());
  EXPECT_TRUE(n.Send("READY=1"));
  EXPECT_TRUE(n.Send("WATCHDOG=1"));
  char buf[64];
  ssize_t got = recv(fd, buf, sizeof(buf), 0);
  EXPECT_EQ(std::string(buf, got > 0 ? got : 0), "READY=1");
  got = recv(fd, buf, sizeof(buf), 0);
  EXPECT_EQ(std::string(buf, got > 0 ? got : 0), "WATCHDOG=1");
  close(fd);
  unlink(path.c_str());
}

TEST(SystemdNotify, DisabledWithoutASocket) {
  SystemdNotify n("", 0);
  EXPECT_FALSE(n.enabled());
  EXPECT_FALSE(n.Send("READY=1"));
}

TEST(SystemdNotify, ReadsTheEnvironment) {
  setenv("NOTIFY_SOCKET", "/run/test.sock", 1);
  setenv("WATCHDOG_USEC", "3000000", 1);
  unsetenv("WATCHDOG_PID");
  SystemdNotify n = SystemdNotify::FromEnvironment();
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(n.watchdog_us(), 3000000u);
  // WATCHDOG_PID naming another process: that process is watched, not us.
  setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
  EXPECT_EQ(SystemdNotify::FromEnvironment().watchdog_us(), 0u);
  unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(SystemdNotify::FromEnvironment().enabled());
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
}

}  // namespace
}  // namespace flowtrail::dataplane
