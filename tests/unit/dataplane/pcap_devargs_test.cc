#include "dataplane/pcap_devargs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "frame_builder.h"

namespace flowtrail::dataplane {
namespace {

TEST(PcapDevargs, ListsEveryRxFileInQueueOrder) {
  PcapDevargs d = ParsePcapDevargs("rx_pcap=/a/b.pcap,rx_pcap=c.pcap,tx_pcap=out.pcap");
  EXPECT_EQ(d.rx_files, (std::vector<std::string>{"/a/b.pcap", "c.pcap"}));
  EXPECT_FALSE(d.infinite_rx);
  EXPECT_FALSE(d.live_interface);
}

TEST(PcapDevargs, RecognisesInfiniteRxAndLiveInterfaces) {
  EXPECT_TRUE(ParsePcapDevargs("rx_pcap=x.pcap,infinite_rx=1").infinite_rx);
  EXPECT_FALSE(ParsePcapDevargs("rx_pcap=x.pcap,infinite_rx=0").infinite_rx);
  EXPECT_TRUE(ParsePcapDevargs("iface=eth0").live_interface);
  EXPECT_TRUE(ParsePcapDevargs("rx_iface=eth0,tx_iface=eth1").live_interface);
  EXPECT_TRUE(ParsePcapDevargs("rx_iface_in=eth0").live_interface);
  EXPECT_TRUE(ParsePcapDevargs("").rx_files.empty());
}

TEST(TakeFileVdevs, TakesOnlyVdevsThatReadFilesAndKeepsTheRestInOrder) {
  std::vector<std::string> args = {"sensor",
                                   "--no-huge",
                                   "--vdev=net_pcap0,rx_pcap=a.pcap,rx_pcap=b.pcap",
                                   "--vdev",
                                   "net_pcap1,rx_pcap=c.pcap",
                                   "--vdev=net_pcap2,rx_pcap=d.pcap,infinite_rx=1",
                                   "--vdev=net_pcap3,iface=eth0",
                                   "--vdev=net_null0",
                                   "-l",
                                   "0-1"};
  const std::vector<FileVdev> taken = TakeFileVdevs(&args);
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].name, "net_pcap0");
  EXPECT_EQ(taken[0].files, (std::vector<std::string>{"a.pcap", "b.pcap"}));
  EXPECT_EQ(taken[1].name, "net_pcap1");
  EXPECT_EQ(taken[1].files, (std::vector<std::string>{"c.pcap"}));
  EXPECT_EQ(args, (std::vector<std::string>{
                      "sensor", "--no-huge", "--vdev=net_pcap2,rx_pcap=d.pcap,infinite_rx=1",
                      "--vdev=net_pcap3,iface=eth0", "--vdev=net_null0", "-l", "0-1"}));
}

TEST(TakeFileVdevs, LeavesVdevsWithOtherKeysOrNoFileToNetPcap) {
  std::vector<std::string> args = {"sensor", "--vdev=net_pcap0,rx_pcap=a.pcap,tx_pcap=o.pcap",
                                   "--vdev=net_pcap1,rx_pcap=", "--vdev=net_pcap2"};
  const std::vector<std::string> before = args;
  EXPECT_TRUE(TakeFileVdevs(&args).empty());
  EXPECT_EQ(args, before);
}

TEST(ReadPcapShape, CountsWhatLibpcapWillDeliverAndTheLongestFrame) {
  const std::string path = ::testing::TempDir() + "/count_" + std::to_string(getpid()) + ".pcap";
  {
    testing::PcapWriter w(path);
    ASSERT_TRUE(w.ok());
    std::vector<uint8_t> frame(60, 0xab);
    for (int i = 0; i < 1234; ++i) w.Write(1'000'000 + i, frame);
    w.Write(2'000'000, std::vector<uint8_t>(1514, 0xcd));
    w.Write(2'000'001, frame);
  }
  absl::StatusOr<PcapShape> shape = ReadPcapShape(path);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->packets, 1236u);
  EXPECT_EQ(shape->max_caplen, 1514u);
  std::remove(path.c_str());
}

TEST(ReadPcapShape, MissingFileIsAnErrorNamingIt) {
  absl::StatusOr<PcapShape> n = ReadPcapShape("/nonexistent/x.pcap");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("/nonexistent/x.pcap"), absl::string_view::npos);
}

}  // namespace
}  // namespace flowtrail::dataplane
