// flowtrail-sensor [EAL options] -- [options]: parse the application options
// (before the EAL, so --help and bad options need no DPDK set-up), start the
// EAL, build the pipeline and run it. Exit: 0 done, 1 set-up failure or
// incomplete output (write errors), 2 bad options or an unreadable or
// unsupported capture file, 3 a capture file was corrupt (reading stopped at
// the invalid record; the records before it are complete). SIGHUP re-reads
// --config: the live keys are applied, other changes refused (restart).
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "absl/strings/str_format.h"
#include "app/options.h"
#include "common/log.h"
#include "dataplane/live_settings.h"
#include "dataplane/pipeline.h"

namespace {

using flowtrail::Log;
using flowtrail::LogLevel;

// The sensor's level and DPDK's global one (RTE_LOG_ERR .. RTE_LOG_DEBUG are
// error .. debug in the same order).
void ApplyLogLevel(LogLevel level) {
  flowtrail::SetLogLevel(level);
  rte_log_set_global_level(RTE_LOG_ERR + static_cast<uint32_t>(level));
}

void OnSignal(int sig) {
  flowtrail::dataplane::Pipeline::stop_signal.store(sig, std::memory_order_relaxed);
}

void OnHangup(int) {
  flowtrail::dataplane::LiveSettings::reload_requested.store(1, std::memory_order_relaxed);
}

// SIGHUP on the control thread: re-read the file under the same command line,
// publish the live keys, refuse (and keep) the rest.
void ReloadSettings(flowtrail::app::ParsedOptions* running, const flowtrail::app::Environment& env,
                    flowtrail::dataplane::LiveSettings& live) {
  absl::StatusOr<flowtrail::app::Reload> r = flowtrail::app::ReloadOptions(*running, env);
  if (!r.ok()) {
    Log(LogLevel::kWarning, "flowtrail-sensor: reload refused, the running settings stay: %s",
        std::string(r.status().message()).c_str());
    return;
  }
  for (const std::string& w : r->parsed.warnings) {
    Log(LogLevel::kWarning, "flowtrail-sensor: %s", w.c_str());
  }
  for (const std::string& k : r->refused) {
    Log(LogLevel::kWarning, "flowtrail-sensor: reload: %s not applied: a restart is needed",
        k.c_str());
  }
  for (const std::string& k : r->applied) {
    Log(LogLevel::kNotice, "flowtrail-sensor: reload: %s applied", k.c_str());
  }
  if (r->applied.empty() && r->refused.empty()) {
    Log(LogLevel::kNotice, "flowtrail-sensor: reload: no change");
  }
  *running = std::move(r->parsed);
  if (!r->applied.empty()) {
    // The level last: the reload's own messages above follow the old one.
    ApplyLogLevel(running->config.log_level);
    live.Publish(flowtrail::dataplane::LiveValuesOf(running->config));
  }
}

bool HasArg(const std::vector<std::string>& args, std::string_view name) {
  for (const std::string& a : args) {
    if (a == name ||
        (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=')) {
      return true;
    }
  }
  return false;
}

// Bytes of free hugepages of every size, 0 when no hugetlbfs is mounted (the
// EAL needs a mount to map them).
uint64_t FreeHugepageBytes() {
  std::ifstream mounts("/proc/mounts");
  std::string dev, dir, type;
  bool mounted = false;
  while (mounts >> dev >> dir >> type) {
    mounted = mounted || type == "hugetlbfs";
    mounts.ignore(1 << 16, '\n');
  }
  if (!mounted) {
    return 0;
  }
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/kernel/mm/hugepages", ec)) {
    // hugepages-2048kB/free_hugepages
    const std::string name = e.path().filename().string();
    const uint64_t kb = std::strtoull(name.c_str() + std::strlen("hugepages-"), nullptr, 10);
    std::ifstream in(e.path() / "free_hugepages");
    uint64_t free_pages = 0;
    if (in >> free_pages) {
      bytes += free_pages * kb * 1024;
    }
  }
  return bytes;
}

// Hugepages when the machine has them: without any (none reserved, or no
// hugetlbfs mounted) or fewer than -m asks for, the EAL is given --no-huge
// (4 KiB pages) instead of failing. An explicit --no-huge or --socket-mem is
// left to the EAL.
void ChooseEalMemory(std::vector<std::string>* eal_args) {
  if (HasArg(*eal_args, "--no-huge") || HasArg(*eal_args, "--socket-mem")) {
    return;
  }
  uint64_t want_mb = 0;
  for (size_t i = 0; i + 1 < eal_args->size(); ++i) {
    if ((*eal_args)[i] == "-m") {
      want_mb = std::strtoull((*eal_args)[i + 1].c_str(), nullptr, 10);
    }
  }
  const uint64_t free_bytes = FreeHugepageBytes();
  if (free_bytes > 0 && free_bytes >= want_mb << 20) {
    Log(LogLevel::kInfo, "flowtrail-sensor: hugepages: %llu MiB free",
        static_cast<unsigned long long>(free_bytes >> 20));
    // Without --in-memory the EAL leaves its hugepage files behind after exit,
    // so every run with a new --file-prefix would leak the pages it used.
    if (!HasArg(*eal_args, "--in-memory")) {
      eal_args->insert(eal_args->begin() + 1, "--in-memory");
    }
    return;
  }
  const std::string short_of =
      free_bytes > 0 ? absl::StrFormat(" of the %d MiB -m asks for", want_mb) : "";
  Log(LogLevel::kNotice,
      "flowtrail-sensor: hugepages: %llu MiB free%s, running with --no-huge (4 KiB pages)",
      static_cast<unsigned long long>(free_bytes >> 20), short_of.c_str());
  eal_args->insert(eal_args->begin() + 1, "--no-huge");
}

}  // namespace

int main(int argc, char** argv) {
  flowtrail::dataplane::Pipeline::StartTimes start;
  start.process = std::chrono::steady_clock::now();
  // Application options are what follows the first "--".
  int dashdash = -1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      dashdash = i;
      break;
    }
  }
  std::vector<std::string_view> app_args;
  if (dashdash >= 0) {
    for (int i = dashdash + 1; i < argc; ++i) {
      app_args.emplace_back(argv[i]);
    }
  } else {
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
        fputs(flowtrail::app::Usage(argv[0]).c_str(), stdout);
        return 0;
      }
    }
  }
  // The EAL's own arguments, for the checks that need them (input captures,
  // EAL memory); the EAL parses them for real below.
  flowtrail::app::Environment env;
  for (int i = 1; i < (dashdash >= 0 ? dashdash : argc); ++i) {
    env.eal_args.emplace_back(argv[i]);
  }
  absl::StatusOr<flowtrail::app::ParsedOptions> opts = flowtrail::app::ParseOptions(app_args, env);
  if (!opts.ok()) {
    Log(LogLevel::kError, "flowtrail-sensor: %s", std::string(opts.status().message()).c_str());
    Log(LogLevel::kError, "usage: %s [EAL options] -- --output FILE [options]; see -- --help",
        argv[0]);
    return 2;
  }
  // DPDK's level too, before the EAL starts (an EAL --log-level still wins
  // for the EAL's own types).
  ApplyLogLevel(opts->config.log_level);
  for (const std::string& w : opts->warnings) {
    Log(LogLevel::kWarning, "flowtrail-sensor: %s", w.c_str());
  }
  if (opts->help) {
    fputs(flowtrail::app::Usage(argv[0]).c_str(), stdout);
    return 0;
  }
  if (opts->print_config) {
    fputs(flowtrail::app::PrintConfig(*opts).c_str(), stdout);
    return 0;
  }

  // A reader of --output - that goes away (`| head`) is a write error
  // (EPIPE): the exporter counts it and stops writing, the sensor still
  // flushes, prints its summary and exits 1. SIGPIPE would kill it silently.
  std::signal(SIGPIPE, SIG_IGN);

  // The EAL sees only its own arguments, less the capture files flowtrail
  // reads itself (dataplane/file_input.h).
  std::vector<std::string> eal_args(argv, argv + (dashdash >= 0 ? dashdash : argc));
  // No EAL arguments on the command line: the file's [eal] args.
  if (eal_args.size() == 1) {
    eal_args.insert(eal_args.end(), opts->eal_args.begin(), opts->eal_args.end());
  }
  opts->config.file_inputs = flowtrail::dataplane::TakeFileVdevs(&eal_args);
  for (const flowtrail::dataplane::FileVdev& v : opts->config.file_inputs) {
    for (const std::string& f : v.files) {
      if (absl::Status st = flowtrail::dataplane::CheckCaptureFile(f); !st.ok()) {
        Log(LogLevel::kError, "flowtrail-sensor: %s", std::string(st.message()).c_str());
        return 2;
      }
    }
  }
  ChooseEalMemory(&eal_args);
  std::vector<char*> eal_argv;
  eal_argv.reserve(eal_args.size() + 1);
  for (std::string& a : eal_args) {
    eal_argv.push_back(a.data());
  }
  eal_argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(eal_args.size()), eal_argv.data()) < 0) {
    Log(LogLevel::kError, "flowtrail-sensor: EAL initialisation failed: %s",
        rte_strerror(rte_errno));
    return 1;
  }
  start.eal_ready = std::chrono::steady_clock::now();
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  // The live settings start as parsed; SIGHUP re-reads --config (without
  // one, the command line again: nothing changes).
  flowtrail::dataplane::LiveSettings live(flowtrail::dataplane::LiveValuesOf(opts->config));
  flowtrail::app::ParsedOptions running = *opts;
  // The EAL arguments outlive the reloads (env points into argv).
  live.on_reload = [&running, &env](flowtrail::dataplane::LiveSettings& l) {
    ReloadSettings(&running, env, l);
  };
  live.on_settled = [] {
    Log(LogLevel::kNotice, "flowtrail-sensor: reload: every worker runs the new settings");
  };
  opts->config.live = &live;
  std::signal(SIGHUP, OnHangup);

  int rc = 1;
  {
    absl::StatusOr<std::unique_ptr<flowtrail::dataplane::Pipeline>> pipeline =
        flowtrail::dataplane::Pipeline::Create(opts->config, start);
    if (!pipeline.ok()) {
      Log(LogLevel::kError, "flowtrail-sensor: %s", pipeline.status().ToString().c_str());
    } else {
      rc = (*pipeline)->Run();
    }
  }
  rte_eal_cleanup();
  return rc;
}
