#include "dataplane/metrics_server.h"

#include <httplib.h>
#include <pthread.h>
#include <rte_lcore.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/metrics_listen.h"
#include "dataplane/telemetry.h"

namespace flowtrail::dataplane {

struct MetricsServer::Impl {
  httplib::Server server;
  pthread_t thread{};
  bool started = false;
};

namespace {

void* Serve(void* arg) {
  static_cast<MetricsServer::Impl*>(arg)->server.listen_after_bind();
  return nullptr;
}

}  // namespace

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  if (impl_->started) {
    impl_->server.stop();
    pthread_join(impl_->thread, nullptr);
  }
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen) {
  absl::StatusOr<ListenAddress> addr = ParseListenAddress(listen);
  if (!addr.ok()) {
    return addr.status();
  }
  auto impl = std::make_unique<Impl>();
  // One worker thread: a scrape every few seconds needs no more, and each
  // would be a thread on the control cores.
  impl->server.new_task_queue = [] { return new httplib::ThreadPool(1); };
  impl->server.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(PublishedPrometheusText(), "text/plain; version=0.0.4; charset=utf-8");
  });
  impl->server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("flowtrail-sensor: metrics at /metrics\n", "text/plain");
  });
  if (!impl->server.bind_to_port(addr->host, addr->port)) {
    return absl::UnavailableError(absl::StrCat("--metrics ", listen, ": cannot listen on ",
                                               addr->host, " port ", addr->port, ": ",
                                               std::strerror(errno)));
  }
  const int rc = rte_ctrl_thread_create(&impl->thread, "ft-metrics", nullptr, &Serve, impl.get());
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("--metrics: cannot start the control thread: ", std::strerror(rc)));
  }
  impl->started = true;
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

}  // namespace flowtrail::dataplane
