#include "daemon/daemon_metrics.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "auth/token_cache.hpp"
#include "metrics/denials.hpp"
#include "metrics/metrics.hpp"
#include "session/session_metrics.hpp"

namespace mailbroker::daemon {
namespace {

namespace gx = grpc::experimental;

std::string_view code_name(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

struct rpc_families {
  rpc_families()
      : handled(metrics::process_registry().counter_family(
            "mailbroker_grpc_server_handled_total", "RPCs completed, by service, method and gRPC status code.",
            {"service", "method", "code"})),
        seconds(metrics::process_registry().histogram_family(
            "mailbroker_grpc_server_handling_seconds",
            "Time from the start of a unary RPC to its status, by service and method.", {"service", "method"},
            metrics::latency_buckets())) {}
  metrics::family<metrics::counter>& handled;
  metrics::family<metrics::histogram>& seconds;
};

rpc_families& rpc() {
  static rpc_families f;
  return f;
}

class rpc_metrics_interceptor : public gx::Interceptor {
 public:
  explicit rpc_metrics_interceptor(gx::ServerRpcInfo* info)
      : unary_(info->type() == gx::ServerRpcInfo::Type::UNARY), started_(std::chrono::steady_clock::now()) {
    // "/package.Service/Method"
    std::string_view full = info->method() != nullptr ? info->method() : "";
    if (!full.empty() && full.front() == '/') full.remove_prefix(1);
    const auto slash = full.find('/');
    service_ = std::string(full.substr(0, slash));
    method_ = slash == std::string_view::npos ? std::string() : std::string(full.substr(slash + 1));
  }
  // A call that ends without sending a status (the client went away first).
  ~rpc_metrics_interceptor() override {
    if (!recorded_) record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (!recorded_ && methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS)) {
      record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void record(grpc::StatusCode code) {
    recorded_ = true;
    auto& f = rpc();
    f.handled.with({service_, method_, code_name(code)}).inc();
    if (unary_) {
      f.seconds.with({service_, method_})
          .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
    }
  }

  const bool unary_;
  const std::chrono::steady_clock::time_point started_;
  std::string service_;
  std::string method_;
  bool recorded_ = false;
};

class rpc_metrics_factory : public gx::ServerInterceptorFactoryInterface {
 public:
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    return new rpc_metrics_interceptor(info);
  }
};

metrics::family_snapshot gauge_family(std::string name, std::string help) {
  metrics::family_snapshot f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = metrics::metric_type::gauge;
  return f;
}

metrics::family_snapshot counter_family(std::string name, std::string help) {
  auto f = gauge_family(std::move(name), std::move(help));
  f.type = metrics::metric_type::counter;
  return f;
}

void collect_sessions(const session::session_registry& registry, std::vector<metrics::family_snapshot>& out) {
  const auto totals = registry.counts();
  auto sessions = gauge_family("mailbroker_sessions",
                               "Sessions listed by Status, by state and protocol (FAILED and CLOSED ones are kept "
                               "for dead-session-retention-seconds).");
  for (std::size_t p = 0; p < std::size(totals.by_protocol_state); ++p) {
    for (std::size_t s = 0; s < std::size(totals.by_protocol_state[p]); ++s) {
      metrics::sample sample;
      sample.labels = {{"protocol", std::string(session::protocol_name(static_cast<session::protocol>(p)))},
                       {"state", std::string(session::state_name(static_cast<session::session_state>(s)))}};
      sample.value = static_cast<double>(totals.by_protocol_state[p][s]);
      sessions.samples.push_back(std::move(sample));
    }
  }
  out.push_back(std::move(sessions));

  auto live = gauge_family("mailbroker_sessions_live", "Sessions counted against max-sessions.");
  live.samples.push_back({{}, static_cast<double>(totals.live), {}});
  out.push_back(std::move(live));
  auto max = gauge_family("mailbroker_sessions_max", "The max-sessions setting.");
  max.samples.push_back({{}, static_cast<double>(registry.settings().max_sessions), {}});
  out.push_back(std::move(max));
  auto leases = gauge_family("mailbroker_leases", "Leases held by bots (granted, not yet released or expired).");
  leases.samples.push_back({{}, static_cast<double>(totals.leases), {}});
  out.push_back(std::move(leases));
}

void collect_tokens(const auth::token_cache* tokens, std::vector<metrics::family_snapshot>& out) {
  auto requests = counter_family("mailbroker_token_requests_total",
                                 "HTTP requests to OAuth2 token endpoints (retries included), per cached token.");
  auto refreshes = counter_family("mailbroker_token_refreshes_total", "Access tokens obtained, per cached token.");
  auto failures = counter_family("mailbroker_token_failures_total",
                                 "Token fetches that failed after their retries, per cached token.");
  if (tokens != nullptr) {
    for (const auto& k : tokens->stats()) {
      metrics::label_set labels{{"grant", k.grant}, {"token_url", k.token_url}, {"client_id", k.client_id},
                                {"subject", k.subject}};
      requests.samples.push_back({labels, static_cast<double>(k.requests), {}});
      refreshes.samples.push_back({labels, static_cast<double>(k.refreshes), {}});
      failures.samples.push_back({std::move(labels), static_cast<double>(k.failures), {}});
    }
  }
  out.push_back(std::move(requests));
  out.push_back(std::move(refreshes));
  out.push_back(std::move(failures));
}

}  // namespace

std::unique_ptr<gx::ServerInterceptorFactoryInterface> make_rpc_metrics_interceptor() {
  rpc();
  return std::make_unique<rpc_metrics_factory>();
}

daemon_metrics::daemon_metrics(const session::session_registry& registry) {
  session::metrics_hooks::register_all();
  metrics::register_denials();
  rpc();
  const auto* reg = &registry;
  collector_id_ = metrics::process_registry().add_collector([reg](std::vector<metrics::family_snapshot>& out) {
    collect_sessions(*reg, out);
    collect_tokens(reg->tokens().get(), out);
  });
}

daemon_metrics::~daemon_metrics() {
  stop();
  metrics::process_registry().remove_collector(collector_id_);
}

error daemon_metrics::listen(asio::any_io_executor executor, const daemon_config& config) {
  if (config.metrics_listen.empty() || config.metrics_listen == "off" || config.metrics_listen == "none") {
    return error::none();
  }
  auto endpoint = parse_metrics_listen(config.metrics_listen, config.metrics_allow_remote);
  if (!endpoint) return endpoint.err();
  http_ = std::make_unique<metrics_http>(std::move(executor), [] { return metrics::process_registry().render(); });
  if (auto e = http_->start(endpoint.value()); !e.ok()) {
    http_.reset();
    return e;
  }
  spdlog::info("metrics: Prometheus endpoint at http://{}/metrics", http_->target());
  return error::none();
}

void daemon_metrics::stop() {
  if (http_) http_->stop();
}

}  // namespace mailbroker::daemon
