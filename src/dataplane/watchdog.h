// systemd's service notification (sd_notify(3)) and the watchdog's stall
// rule. The datagram is written directly to $NOTIFY_SOCKET (a unix datagram
// socket, "@" = abstract): a dozen lines, where libsystemd would add a
// library to the DPDK binary for one sendto(). Without NOTIFY_SOCKET nothing
// is sent. DPDK-free: the rule is unit-tested with a fake clock.
//
// The rule (HeartbeatWatch): every lcore has a heartbeat, a number that
// changes while its loop runs (a worker's packets and tracker clock, which
// follows the wall clock when idle in live mode; the dispatcher's, exporter's
// and analytics lcore's loop count). WATCHDOG=1 is sent at most every
// `ping_us` and only while no heartbeat has stood still for longer than
// `stall_us`: a stuck lcore stops the pings and systemd (WatchdogSec=)
// restarts the sensor. Pings resume when the heartbeat moves again.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace flowtrail::dataplane {

class HeartbeatWatch {
 public:
  HeartbeatWatch(uint64_t ping_us, uint64_t stall_us) : ping_us_(ping_us), stall_us_(stall_us) {}

  // Control loop: the heartbeats now (same order every call). True when a
  // WATCHDOG=1 is due: the ping interval passed and none stalled.
  bool Observe(uint64_t now_us, std::span<const uint64_t> beats);
  // The first lcore (index into `beats`) stalled at the last Observe(); -1: none.
  int stalled() const { return stalled_; }

 private:
  uint64_t ping_us_;
  uint64_t stall_us_;
  std::vector<uint64_t> last_;        // the heartbeat at its last change
  std::vector<uint64_t> changed_us_;  // when it last changed
  uint64_t last_ping_us_ = 0;
  bool pinged_ = false;
  int stalled_ = -1;
};

class SystemdNotify {
 public:
  // From $NOTIFY_SOCKET and $WATCHDOG_USEC (when $WATCHDOG_PID, if set, is
  // this process).
  static SystemdNotify FromEnvironment();
  SystemdNotify(std::string socket_path, uint64_t watchdog_us)
      : path_(std::move(socket_path)), watchdog_us_(watchdog_us) {}

  bool enabled() const { return !path_.empty(); }
  uint64_t watchdog_us() const { return watchdog_us_; }  // 0: no watchdog
  // One datagram ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1");
  // false when it could not be sent (the caller goes on: notification is
  // advisory).
  bool Send(std::string_view message) const;

 private:
  std::string path_;
  uint64_t watchdog_us_ = 0;
};

// What the control loop tells systemd: READY=1 (with a STATUS=) once every
// lcore runs, WATCHDOG=1 by the HeartbeatWatch rule (ping every quarter of
// WATCHDOG_USEC, none once a heartbeat stood still for half of it), STATUS=
// now and then, STOPPING=1 when the sensor starts to stop (systemd no longer
// expects pings then). Without NOTIFY_SOCKET every call returns at once.
class ServiceWatchdog {
 public:
  explicit ServiceWatchdog(SystemdNotify notify);

  bool enabled() const { return notify_.enabled(); }
  // `lcores` names the heartbeats of Tick(), in order, for the stall message.
  void Ready(std::vector<std::string> lcores, std::string_view status);
  void Tick(uint64_t now_us, std::span<const uint64_t> beats);
  void Status(std::string_view status);
  void Stopping();

 private:
  SystemdNotify notify_;
  HeartbeatWatch watch_;
  std::vector<std::string> lcores_;
  int reported_stall_ = -1;
  bool ready_ = false;
  bool stopping_ = false;
};

}  // namespace flowtrail::dataplane
