#include "daemon/broker_server.hpp"

#include "daemon/private_directory.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <spdlog/spdlog.h>

#include "daemon/arena_message_allocator.hpp"
#include "daemon/request_parse_errors.hpp"

namespace mailbroker::daemon {
namespace {

constexpr const char* service_name = "mailbroker.v1.SessionBroker";

// True when something accepts connections on the unix socket `path`: a daemon is
// already running there, and gRPC would otherwise silently unlink its socket.
bool socket_in_use(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return false;
  addr.sun_family = AF_UNIX;
  std::copy(path.begin(), path.end(), addr.sun_path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const bool in_use = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return in_use;
}

// TLS for the TCP listener: the certificate and key (and client CAs) are watched by gRPC
// and re-read when they change, so certificates rotate without a restart. Client
// certificates are requested and, when sent, verified; callers without one may still
// present a bearer token (access_gate decides).
std::shared_ptr<grpc::ServerCredentials> tcp_credentials(const trust_config& trust) {
  if (trust.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  constexpr unsigned refresh_seconds = 60;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      trust.tls_key_file, trust.tls_cert_file, trust.tls_client_ca_file, refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!trust.tls_client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

bool is_loopback_listen(const std::string& listen) {
  return listen.rfind("127.", 0) == 0 || listen.rfind("[::1]:", 0) == 0 || listen.rfind("localhost:", 0) == 0;
}

}  // namespace

broker_server::broker_server(daemon_config config) : config_(std::move(config)) {}

broker_server::~broker_server() { shutdown(); }

error broker_server::start() {
  std::string socket_path = config_.socket_path.empty() ? default_socket_path() : config_.socket_path;
  if (socket_path == "none") socket_path.clear();
  if (socket_path.empty() && config_.listen.empty()) {
    return {errc::invalid_argument, "nothing to listen on: give --socket PATH or --listen HOST:PORT"};
  }
  const auto& trust = config_.trust;
  if (!config_.listen.empty() && trust.tls_cert_file.empty()) {
    if (!trust.insecure_tcp) {
      return {errc::invalid_argument, "listen: a TCP listener needs TLS (tls-cert-file, tls-key-file, and "
                                      "tls-client-ca-file for client certificates); insecure-tcp = true allows "
                                      "plain TCP on loopback only"};
    }
    if (!is_loopback_listen(config_.listen)) {
      return {errc::invalid_argument, "listen: '" + config_.listen +
                                          "' is not a loopback address; insecure-tcp serves loopback only (configure "
                                          "tls-cert-file / tls-key-file for remote bots)"};
    }
  }
  sockaddr_un probe{};
  if (!socket_path.empty()) {
    if (socket_path.size() >= sizeof(probe.sun_path)) {
      return {errc::invalid_argument, "socket: path '" + socket_path + "' is longer than " +
                                          std::to_string(sizeof(probe.sun_path) - 1) + " bytes"};
    }
    if (socket_in_use(socket_path)) {
      return {errc::failed_precondition, "socket: another process (a running mailbrokerd?) is listening on " +
                                             socket_path};
    }
    if (auto e = prepare_private_directory(std::filesystem::path(socket_path).parent_path().string(), 0755, "socket");
        !e.ok()) {
      return e;
    }
  }
  if (const auto dir = effective_state_dir(config_); !dir.empty()) {
    if (auto e = prepare_private_directory(dir, 0700, "state-dir"); !e.ok()) return e;
  }

  auto rules = access_rules::compile(config_, static_cast<std::uint32_t>(::geteuid()));
  if (!rules) return rules.err();
  std::string audit_path = trust.audit_log;
  if (audit_path.empty()) {
    const auto dir = effective_state_dir(config_);
    audit_path = dir.empty() ? "-" : dir + "/audit.log";
  }
  std::unique_ptr<audit_log> audit;
  if (audit_path != "none") {
    auto opened = audit_log::open(audit_path);
    if (!opened) return opened.err();
    audit = std::move(opened.value());
  }

  auto state = open_daemon_state(config_);
  if (!state) return state.err();
  state_ = std::move(state.value());
  auto registry_settings = config_.registry;
  registry_settings.session.tokens = state_.tokens;
  registry_settings.session.vault = state_.vault;
  registry_settings.session.shared_cache_budget =
      std::make_shared<session::cache_budget>(config_.message_cache_total_mb << 20);
  // Sessions that learn their mail server as they run (EWS Autodiscover) ask the gate
  // for every host before sending credentials there. Sessions run only while gate_ lives
  // (shutdown() stops them and joins the I/O threads first).
  registry_settings.destination_checks = [this](const std::string& name, const session::session_spec& spec,
                                                const std::string& owner) -> session::destination_check {
    return [this, name, spec, owner](const std::string& host, std::uint16_t port) {
      return gate_->check_destination(owner, name, spec, host, port);
    };
  };

  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io_.get_executor());
  for (unsigned i = 0; i < config_.io_threads; ++i) threads_.emplace_back([this] { io_.run(); });
  registry_ = std::make_unique<session::session_registry>(io_.get_executor(), std::move(registry_settings));
  if (!socket_path.empty()) unix_listener_ = std::make_unique<unix_peer_listener>();
  gate_ = std::make_unique<access_gate>(
      std::move(rules.value()), unix_listener_.get(), trust.insecure_tcp && trust.tls_cert_file.empty(), state_.store,
      std::vector<std::string>{effective_store_path(config_), effective_vault_key_file(config_), audit_path},
      std::move(audit));
  streams_ = std::make_unique<stream_budget>(trust.max_streams, trust.max_streams_per_principal);
  service_ = std::make_unique<session_broker_service>(*registry_, *gate_, *streams_, std::chrono::minutes(2));
  if (state_.store) {
    journal_ = std::make_unique<session_journal>(state_.store, *registry_, store::record_writer_settings{},
                                                 state_.watch_positions);
    service_->set_journal(journal_.get());
  }
  vault_service_ = std::make_unique<vault_service>(state_.store, *gate_);
  mailbox_service_ = std::make_unique<mailbox_service>(*registry_, *gate_, *streams_, state_.watch_positions);
  metrics_ = std::make_unique<daemon_metrics>(*registry_);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // SendMessage carries attachments inline; the proto documents this limit.
  builder.SetMaxReceiveMessageSize(48 * 1024 * 1024);
  int tcp_port = 0;
  if (!config_.listen.empty()) builder.AddListeningPort(config_.listen, tcp_credentials(trust), &tcp_port);
  builder.RegisterService(service_.get());
  builder.RegisterService(vault_service_.get());
  // ListMessages answers with up to 1000 summaries: built on one arena per call.
  static arena_message_allocator<mailbroker::v1::ListMessagesRequest, mailbroker::v1::ListMessagesResponse> list_allocator;
  mailbox_service_->SetMessageAllocatorFor_ListMessages(&list_allocator);
  builder.RegisterService(mailbox_service_.get());
  // Unparseable requests (e.g. invalid UTF-8): INVALID_ARGUMENT, logged through spdlog.
  // The parse interceptor goes first: it reads what the parsing thread noted.
  install_protobuf_log_handler();
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(make_request_parse_interceptor_factory());
  interceptors.push_back(make_rpc_metrics_interceptor());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (!server_ || (!config_.listen.empty() && tcp_port == 0)) {
    shutdown(std::chrono::milliseconds(0));
    return {errc::failed_precondition, "cannot listen on " + config_.listen +
                                           " (in use, no permission, or unreadable tls-cert-file / tls-key-file?)"};
  }
  if (!socket_path.empty()) {
    if (auto e = unix_listener_->start(server_.get(), socket_path, static_cast<mode_t>(config_.socket_mode)); !e.ok()) {
      shutdown(std::chrono::milliseconds(0));
      return e;
    }
    unix_target_ = "unix:" + socket_path;
  }
  if (tcp_port != 0) {
    tcp_target_ = config_.listen.substr(0, config_.listen.rfind(':')) + ":" + std::to_string(tcp_port);
    if (trust.tls_cert_file.empty()) {
      spdlog::warn("INSECURE: TCP listener {} has no TLS (insecure-tcp = true): callers are tcp:anonymous and "
                   "anything they send, inline passwords included, crosses the loopback in the clear",
                   tcp_target_);
    } else {
      spdlog::info("TCP listener {}: TLS{}", tcp_target_,
                   trust.tls_client_ca_file.empty() ? ", bearer tokens only (no tls-client-ca-file)"
                                                     : ", client certificates verified against " +
                                                           trust.tls_client_ca_file);
    }
  }
  if (auto e = metrics_->listen(io_.get_executor(), config_); !e.ok()) {
    shutdown(std::chrono::milliseconds(0));
    return e;
  }
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(service_name, true);
  spdlog::info("mailbrokerd listening on {}{}{}", unix_target_, unix_target_.empty() || tcp_target_.empty() ? "" : " and ",
               tcp_target_);
  if (journal_) {
    if (auto n = journal_->restore(config_.restore_grace); n > 0) {
      spdlog::info("store: reconnecting {} session(s) from before the restart", n);
    }
  }
  return error::none();
}

error broker_server::reload(const daemon_config& config) {
  if (!gate_) return {errc::failed_precondition, "the daemon is not running"};
  auto rules = access_rules::compile(config, static_cast<std::uint32_t>(::geteuid()));
  if (!rules) return rules.err();
  gate_->install(std::move(rules.value()));
  spdlog::info("reload: policy installed ({} allow rules, {} tokens, {} secret-hosts)", config.trust.allow.size(),
               config.trust.tokens.size(), config.trust.secret_hosts.size());
  return error::none();
}

void broker_server::shutdown(std::chrono::milliseconds drain_timeout) {
  if (stopped_) return;
  stopped_ = true;
  if (server_) {
    auto* health = server_->GetHealthCheckService();
    health->SetServingStatus("", false);
    health->SetServingStatus(service_name, false);
  }
  if (journal_) journal_->stopping();
  if (registry_) {
    auto drained = std::make_shared<std::promise<void>>();
    auto done = drained->get_future();
    registry_->shutdown([drained] { drained->set_value(); });
    if (done.wait_for(drain_timeout) != std::future_status::ready) {
      spdlog::warn("shutdown: sessions did not all log out within {} ms", drain_timeout.count());
    } else {
      spdlog::info("shutdown: every session logged out");
    }
  }
  if (unix_listener_) unix_listener_->stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (metrics_) metrics_->stop();
  if (work_) work_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace mailbroker::daemon
