// mailbrokerd: holds live, authenticated mail sessions for automation bots and serves
// them over gRPC. See --help.
#include <sys/prctl.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <limits>
#include <iostream>
#include <string>
#include <string_view>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "daemon/broker_server.hpp"
#include "daemon/daemon_config.hpp"
#include "net/fd_budget.hpp"
#include "net/tls_context_cache.hpp"

namespace {

constexpr const char* usage = R"(Usage: mailbrokerd [OPTIONS]

Holds live, authenticated IMAP sessions keyed by session name and serves Connect /
Disconnect / RenewLease / Status / WatchStatus and the OAuth2 authorization flow over
gRPC, plus the Vault service, grpc.health.v1.Health and server reflection. Refreshes
OAuth2 tokens itself and keeps refresh tokens, vault entries and live sessions in an
encrypted store, so a restart brings sessions back without re-authorization. Runs on
embedded defaults; no config file is needed.

Options (each may also be set in the config file as `key = value`, without "--"):
  --config FILE                 read settings from FILE (flags given later override it)
  --socket PATH                 unix socket to listen on ("none" to disable)
                                [default: $XDG_RUNTIME_DIR/mailbroker/mailbrokerd.sock,
                                 /run/mailbroker/mailbrokerd.sock as root,
                                 else /tmp/mailbroker-$UID/mailbrokerd.sock]
  --socket-mode OCTAL           permissions of the unix socket [0660]
  --listen HOST:PORT            also listen on TCP (loopback only; port 0 = any free port)
  --allow-remote BOOL           permit a non-loopback --listen (no TLS on it yet) [false]
  --log-level LEVEL             trace|debug|info|warn|error|critical|off [info]
  --io-threads N                threads running mail I/O [2]
  --allow-core-dumps BOOL       keep the process dumpable (dumps may hold secrets) [false]
  --default-linger-seconds N    keep a session this long after its last lease [60]
  --default-lease-ttl-seconds N lease lifetime when Connect gives none [300]
  --max-lease-ttl-seconds N     longest lease a Connect may ask for [86400]
  --max-sessions N              live sessions at once [1000]
  --reconnect-initial-ms N      first reconnect delay; doubles, with jitter [500]
  --reconnect-max-ms N          reconnect delay cap [60000]
  --command-timeout-ms N        bound on each mail command (NOOP, LOGOUT, ...) [30000]
  --imap-idle-restart-seconds N IMAP IDLE (WatchMessages) is ended and issued again after
                                this long; at most 1740 (RFC 2177's 29 minutes) [1680]
  --login-concurrency-per-host N
                                connects + logins in flight per mail server host:port;
                                0 = no limit [32]
  --login-rate-per-host N       connects + logins started per second per host:port (a
                                restart of many sessions is no login storm); 0 = no limit [100]
  --message-cache-session-mb N  per session, the cache of message summaries and bodies
                                (<= 256 KiB each) that bots share; 0 turns it off [32]
  --message-cache-total-mb N    the same cache, all sessions together [1024]
  --dead-session-retention-seconds N
                                FAILED/CLOSED sessions stay in Status this long [3600]
  --state-dir DIR               durable state: the store and the vault key ("none": keep
                                nothing, no vault) [$STATE_DIRECTORY, /var/lib/mailbroker
                                as root, else $XDG_STATE_HOME/mailbroker or
                                ~/.local/state/mailbroker]
  --store-path FILE             SQLite store: session specs, refresh tokens and vault
                                entries, values AES-256-GCM encrypted [STATE_DIR/mailbroker.db]
  --vault-key-file FILE         32-byte key (64 hex chars) for the store; created with
                                mode 0600 on first start if missing [STATE_DIR/vault.key].
                                The environment variable MAILBROKER_VAULT_KEY (hex or
                                base64) takes precedence. A key that does not open the
                                store stops the daemon with exit code 1.
  --restore-grace-seconds N     sessions restored at start wait this long for a bot to
                                attach before they linger out [300]
  --oauth2-connection.NAME.SETTING VALUE
                                a managed OAuth2 connection sessions name with
                                auth.oauth2_managed; SETTING is one of provider
                                (microsoft|google|custom), tenant-id, cloud
                                (global|us-gcc-high), client-id, client-secret
                                (env:NAME|file:PATH|vault:NAME), token-url, authorize-url,
                                scopes (space-separated), redirect-uri, ca-file, grant
                                (client_credentials|authorization_code), token-type
                                (shared|per-user), username, refresh-token
  --print-config                print the effective settings and exit
  --help, --version

Signals: SIGTERM / SIGINT log every session out, then exit 0.
Exit codes: 0 clean stop, 2 bad usage or config, 1 cannot start.
)";

std::string fd_count(std::size_t n) {
  return n == std::numeric_limits<std::size_t>::max() ? std::string("unlimited") : std::to_string(n);
}

// Each session holds one or two descriptors: raise the soft limit (often 1024) toward
// the hard one as far as max-sessions needs, and say plainly when the hard one is short.
void size_fd_limit(std::size_t max_sessions) {
  namespace fd_budget = mailbroker::net::fd_budget;
  const auto a = fd_budget::raise_soft_limit(fd_budget::needed_for_sessions(max_sessions));
  if (!a.failure.empty()) {
    spdlog::warn("cannot raise the open-file limit (soft {}, hard {}): {}", fd_count(a.before), fd_count(a.hard),
                 a.failure);
  } else if (a.after != a.before) {
    spdlog::info("open-file limit raised from {} to {} (hard {}); max-sessions {} needs about {}", fd_count(a.before),
                 fd_count(a.after), fd_count(a.hard), max_sessions, a.wanted);
  } else {
    spdlog::info("open-file limit {} (hard {}); max-sessions {} needs about {}", fd_count(a.after), fd_count(a.hard),
                 max_sessions, a.wanted);
  }
  if (!a.enough()) {
    const std::size_t fits = a.after > fd_budget::reserve ? (a.after - fd_budget::reserve) / fd_budget::per_session : 0;
    spdlog::warn("max-sessions {} needs about {} file descriptors but the limit is {} (hard limit {}): only about {} "
                 "sessions fit. Raise LimitNOFILE= in the systemd unit (or `ulimit -n` before starting), or "
                 "lower --max-sessions",
                 max_sessions, a.wanted, fd_count(a.after), fd_count(a.hard), fits);
  }
}

// Parses the system trust store once, here on the main thread, rather than on an I/O
// thread when the first session connects; every session shares the result.
void warm_tls() {
  const auto start = std::chrono::steady_clock::now();
  if (auto e = mailbroker::net::tls_context_cache::process_wide().warm_system_store(); !e.ok()) {
    spdlog::warn("TLS: {} (sessions that rely on the system trust store will fail)", e.message);
    return;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  spdlog::info("TLS: system trust store loaded in {} ms (shared by every session)", ms.count());
}

int fail_usage(const std::string& message) {
  std::cerr << "mailbrokerd: " << message << "\nTry 'mailbrokerd --help'.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mailbroker;
  daemon::daemon_config config;
  bool print_config = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    }
    if (arg == "--version") {
      std::cout << "mailbrokerd 0.1.0\n";
      return 0;
    }
    if (arg == "--print-config") {
      print_config = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) return fail_usage("unexpected argument '" + std::string(arg) + "'");
    std::string key(arg.substr(2));
    std::string value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else {
      if (i + 1 >= argc) return fail_usage("--" + key + " needs a value");
      value = argv[++i];
    }
    error e = key == "config" ? daemon::apply_config_file(config, value) : daemon::apply_setting(config, key, value);
    if (!e.ok()) return fail_usage(e.message);
  }
  if (auto e = daemon::finish_config(config); !e.ok()) return fail_usage(e.message);
  if (print_config) {
    std::cout << daemon::render_config(config);
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("mailbrokerd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%-5l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  // Secrets live in this process's memory: no core dumps, no ptrace by other users.
  if (!config.allow_core_dumps) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  // Block the stop signals before any thread starts, then wait for them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  size_fd_limit(config.registry.max_sessions);
  warm_tls();

  daemon::broker_server server(config);
  if (auto e = server.start(); !e.ok()) {
    spdlog::critical("cannot start: {}", e.message);
    return 1;
  }
  for (;;) {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: configuration reload is not supported yet; restart to apply changes");
      continue;
    }
    spdlog::info("{}: logging every session out", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  server.shutdown(std::chrono::seconds(10));
  spdlog::info("stopped");
  return 0;
}
