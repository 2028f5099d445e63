#include "daemon/broker_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

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
  if (!config_.listen.empty() && !config_.allow_remote && !is_loopback_listen(config_.listen)) {
    return {errc::invalid_argument, "listen: '" + config_.listen +
                                        "' is not a loopback address; the TCP listener has no TLS or auth yet "
                                        "(set allow-remote = true to accept that risk)"};
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
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(socket_path).parent_path(), ec);
    if (ec) return {errc::failed_precondition, "socket: cannot create the directory of " + socket_path + ": " + ec.message()};
  }

  auto state = open_daemon_state(config_);
  if (!state) return state.err();
  state_ = std::move(state.value());
  auto registry_settings = config_.registry;
  registry_settings.session.tokens = state_.tokens;
  registry_settings.session.vault = state_.vault;
  registry_settings.session.shared_cache_budget =
      std::make_shared<session::cache_budget>(config_.message_cache_total_mb << 20);

  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io_.get_executor());
  for (unsigned i = 0; i < config_.io_threads; ++i) threads_.emplace_back([this] { io_.run(); });
  registry_ = std::make_unique<session::session_registry>(io_.get_executor(), std::move(registry_settings));
  service_ = std::make_unique<session_broker_service>(*registry_, std::chrono::minutes(2));
  if (state_.store) {
    journal_ = std::make_unique<session_journal>(state_.store, *registry_);
    service_->set_journal(journal_.get());
  }
  vault_service_ = std::make_unique<vault_service>(state_.store);
  mailbox_service_ = std::make_unique<mailbox_service>(*registry_);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // SendMessage carries attachments inline; the proto documents this limit.
  builder.SetMaxReceiveMessageSize(48 * 1024 * 1024);
  if (!socket_path.empty()) builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  int tcp_port = 0;
  if (!config_.listen.empty()) {
    builder.AddListeningPort(config_.listen, grpc::InsecureServerCredentials(), &tcp_port);
  }
  builder.RegisterService(service_.get());
  builder.RegisterService(vault_service_.get());
  builder.RegisterService(mailbox_service_.get());
  // Unparseable requests (e.g. invalid UTF-8): INVALID_ARGUMENT, logged through spdlog.
  install_protobuf_log_handler();
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(make_request_parse_interceptor_factory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (!server_ || (!config_.listen.empty() && tcp_port == 0)) {
    shutdown(std::chrono::milliseconds(0));
    return {errc::failed_precondition, "cannot listen on " +
                                           (socket_path.empty() ? config_.listen : "unix:" + socket_path +
                                                                  (config_.listen.empty() ? "" : " / " + config_.listen)) +
                                           " (in use, or no permission?)"};
  }
  if (!socket_path.empty()) {
    ::chmod(socket_path.c_str(), static_cast<mode_t>(config_.socket_mode));
    unix_target_ = "unix:" + socket_path;
  }
  if (tcp_port != 0) {
    tcp_target_ = config_.listen.substr(0, config_.listen.rfind(':')) + ":" + std::to_string(tcp_port);
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
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (work_) work_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (!unix_target_.empty()) ::unlink(unix_target_.substr(5).c_str());
}

}  // namespace mailbroker::daemon
