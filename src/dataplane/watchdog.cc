#include "dataplane/watchdog.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace flowtrail::dataplane {

bool HeartbeatWatch::Observe(uint64_t now_us, std::span<const uint64_t> beats) {
  if (last_.size() != beats.size()) {
    // First call (or the set of lcores changed): every heartbeat starts now.
    last_.assign(beats.begin(), beats.end());
    changed_us_.assign(beats.size(), now_us);
  }
  stalled_ = -1;
  for (size_t i = 0; i < beats.size(); ++i) {
    if (beats[i] != last_[i]) {
      last_[i] = beats[i];
      changed_us_[i] = now_us;
    } else if (stalled_ < 0 && now_us - changed_us_[i] > stall_us_) {
      stalled_ = static_cast<int>(i);
    }
  }
  if (stalled_ >= 0) return false;
  if (pinged_ && now_us - last_ping_us_ < ping_us_) return false;
  pinged_ = true;
  last_ping_us_ = now_us;
  return true;
}

SystemdNotify SystemdNotify::FromEnvironment() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return SystemdNotify("", 0);
  uint64_t watchdog_us = 0;
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (usec != nullptr &&
      (pid == nullptr || std::strtoll(pid, nullptr, 10) == static_cast<long long>(getpid()))) {
    watchdog_us = std::strtoull(usec, nullptr, 10);
  }
  return SystemdNotify(path, watchdog_us);
}

bool SystemdNotify::Send(std::string_view message) const {
  if (path_.empty()) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  if (addr.sun_path[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract namespace: no terminating NUL counted
  } else {
    ++len;
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const ssize_t n = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                           reinterpret_cast<const sockaddr*>(&addr), len);
  close(fd);
  return n == static_cast<ssize_t>(message.size());
}

ServiceWatchdog::ServiceWatchdog(SystemdNotify notify)
    : notify_(std::move(notify)), watch_(notify_.watchdog_us() / 4, notify_.watchdog_us() / 2) {}

void ServiceWatchdog::Ready(std::vector<std::string> lcores, std::string_view status) {
  if (!enabled() || ready_) return;
  lcores_ = std::move(lcores);
  ready_ = true;
  notify_.Send(absl::StrCat("READY=1\nSTATUS=", std::string(status)));
  if (notify_.watchdog_us() != 0) {
    Log(LogLevel::kInfo, "flowtrail: systemd watchdog: %.1f s, pinged while every lcore moves",
        static_cast<double>(notify_.watchdog_us()) / 1e6);
  }
}

void ServiceWatchdog::Tick(uint64_t now_us, std::span<const uint64_t> beats) {
  if (!ready_ || stopping_ || notify_.watchdog_us() == 0) return;
  if (watch_.Observe(now_us, beats)) {
    notify_.Send("WATCHDOG=1");
  }
  const int stalled = watch_.stalled();
  if (stalled != reported_stall_) {
    if (stalled >= 0) {
      const std::string name = static_cast<size_t>(stalled) < lcores_.size()
                                   ? lcores_[stalled]
                                   : absl::StrCat("lcore ", stalled);
      Log(LogLevel::kError, "flowtrail: watchdog: %s has not moved for %.1f s: no WATCHDOG=1",
          name.c_str(), static_cast<double>(notify_.watchdog_us() / 2) / 1e6);
    } else {
      Log(LogLevel::kWarning, "flowtrail: watchdog: every lcore moves again");
    }
    reported_stall_ = stalled;
  }
}

void ServiceWatchdog::Status(std::string_view status) {
  if (ready_ && !stopping_) notify_.Send(absl::StrCat("STATUS=", std::string(status)));
}

void ServiceWatchdog::Stopping() {
  if (!enabled() || stopping_) return;
  stopping_ = true;
  notify_.Send("STOPPING=1");
}

}  // namespace flowtrail::dataplane
