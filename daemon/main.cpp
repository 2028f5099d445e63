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

#include "daemon/access_gate.hpp"
#include "daemon/broker_server.hpp"
#include "daemon/daemon_config.hpp"
#include "daemon/malloc_tuning.hpp"
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
                                 else STATE_DIR/mailbrokerd.sock]. Its directory must
                                 belong to the daemon's user and not be group/world-
                                 writable (else the daemon refuses to start, naming it).
  --socket-mode OCTAL           permissions of the unix socket [0660]
  --listen HOST:PORT            also listen on TCP with TLS (port 0 = any free port);
                                needs --tls-cert-file and --tls-key-file
  --tls-cert-file FILE          TCP listener certificate chain (PEM; re-read when it changes)
  --tls-key-file FILE           its private key (PEM)
  --tls-client-ca-file FILE     CAs of client certificates (mTLS): a verified client
                                certificate is the caller's identity
  --tls-client-identity ORDER   which certificate name is the identity, first present
                                of uri, dns, cn [uri,dns,cn]
  --token "NAME sha256:HEX"     a bearer token TCP clients may present instead (only its
                                SHA-256 is configured); repeatable
  --insecure-tcp BOOL           allow --listen without TLS, loopback only, every caller
                                tcp:anonymous [false]
  --allow "PRINCIPALS PERMISSIONS TARGETS"
                                grant permissions (repeatable); see README "Trust". The
                                daemon's own uid and root may do everything; nobody else
                                anything until allowed
  --secret-hosts "REF HOSTS"    where env:NAME / file:GLOB secrets may be sent (HOST or
                                HOST:PORT, comma-separated); repeatable
  --secret-file-dir DIR         file: secret references may point only under DIR
                                (repeatable; none = file: references refused)
  --audit-log FILE              one JSON line per decision (connect, attach, force,
                                mutations, sends, vault changes, denials); "-" = the
                                log, "none" = off [STATE_DIR/audit.log]
  --max-streams N               WatchStatus + WatchMessages streams open at once [4096]
  --max-streams-per-principal N ... per caller identity [64]
  --metrics-listen HOST:PORT    Prometheus /metrics over HTTP; "" or off = none [off]
  --metrics-allow-remote BOOL   permit a non-loopback --metrics-listen (no TLS/auth) [false]
  --imap-max-response-mb N      one IMAP response, raw and parsed size (estimate), MiB;
                                a literal is at most min(N, 32) [64]
  --imap-max-pending-mb N       untagged IMAP responses held for the commands in flight on
                                one connection, MiB; >= imap-max-response-mb [128]
  --dead-connection-seconds N   a mail connection that acknowledges/answers nothing this
                                long is dropped and reconnected (TCP keepalive +
                                TCP_USER_TIMEOUT, keepalive NOOP timeout) [15]
  --allow-remote BOOL           obsolete (accepted, ignored)
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
  --ews-connections-per-session N
                                EWS sessions: HTTPS connections (requests in flight) per
                                session, 1..16; each logs in (NTLM) on its own [4]
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
                                (shared|per-user), username, refresh-token, allowed-hosts
                                (mail servers its tokens may go to; presets for
                                microsoft and google)
  --ews-autodiscover-connect-to "HOST:PORT=IP:PORT,..."
                                TEST HOOK: EWS Autodiscover (and the EWS URL it finds)
                                connects to IP:PORT for HOST:PORT, as curl --resolve
                                does (certificate and Host still name HOST); IP must be
                                loopback. For tests against a fake server only
  --print-config                print the effective settings and exit
  --check-config                check the settings (and config files) and exit
  --help, --version

Signals: SIGTERM / SIGINT log every session out, then exit 0. SIGHUP re-reads the
config: policy (allow, token, secret-hosts, secret-file-dir, allowed-hosts) and
log-level apply at once, without dropping sessions; TLS files are re-read by
themselves; an invalid config is logged and changes nothing.
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

struct command_line {
  bool print_config = false;
  bool check_config = false;
};

// Applies argv (flags and --config files, in order) to a fresh config. Also run again on
// SIGHUP, so a reload re-reads the same files with the same overrides. Returns the
// message of the first bad setting ("" when all is well); --help/--version set `exit_now`.
std::string parse_command_line(int argc, char** argv, mailbroker::daemon::daemon_config& config, command_line& flags,
                               int& exit_now) {
  using namespace mailbroker;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      exit_now = 0;
      return {};
    }
    if (arg == "--version") {
      std::cout << "mailbrokerd 0.1.0\n";
      exit_now = 0;
      return {};
    }
    if (arg == "--print-config") {
      flags.print_config = true;
      continue;
    }
    if (arg == "--check-config") {
      flags.check_config = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) return "unexpected argument '" + std::string(arg) + "'";
    std::string key(arg.substr(2));
    std::string value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else {
      if (i + 1 >= argc) return "--" + key + " needs a value";
      value = argv[++i];
    }
    error e = key == "config" ? daemon::apply_config_file(config, value) : daemon::apply_setting(config, key, value);
    if (!e.ok()) return e.message;
  }
  if (auto e = daemon::finish_config(config); !e.ok()) return e.message;
  // What only the compiled policy checks (user/group names, secret-file-dir existence).
  if (auto rules = daemon::access_rules::compile(config, static_cast<std::uint32_t>(::geteuid())); !rules) {
    return rules.err().message;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mailbroker;
  daemon::daemon_config config;
  command_line flags;
  int exit_now = -1;
  if (auto bad = parse_command_line(argc, argv, config, flags, exit_now); !bad.empty()) return fail_usage(bad);
  if (exit_now >= 0) return exit_now;
  if (flags.check_config) {
    std::cout << "mailbrokerd: configuration OK\n";
    return 0;
  }
  if (flags.print_config) {
    std::cout << daemon::render_config(config);
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("mailbrokerd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%-5l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  // Before any thread starts (daemon/malloc_tuning.hpp: measured, and why).
  if (daemon::keep_freed_memory_for_reuse()) {
    spdlog::debug("malloc: allocations up to {} KiB from the heap, {} KiB of free heap kept per arena",
                  daemon::malloc_mmap_threshold_bytes >> 10, daemon::malloc_trim_threshold_bytes >> 10);
  } else {
    spdlog::info("malloc: the daemon's thresholds are not applied (GLIBC_TUNABLES sets malloc tunables, or mallopt "
                 "refused them)");
  }

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
      daemon::daemon_config fresh;
      command_line ignored;
      int no_exit = -1;
      if (auto bad = parse_command_line(argc, argv, fresh, ignored, no_exit); !bad.empty()) {
        spdlog::error("SIGHUP: the configuration is invalid, nothing changed: {}", bad);
        continue;
      }
      if (auto e = server.reload(fresh); !e.ok()) {
        spdlog::error("SIGHUP: reload failed, nothing changed: {}", e.message);
        continue;
      }
      spdlog::set_level(spdlog::level::from_str(fresh.log_level));
      spdlog::info("SIGHUP: policy, tokens, secret bindings and log level ({}) reloaded; other settings need a "
                   "restart",
                   fresh.log_level);
      continue;
    }
    spdlog::info("{}: logging every session out", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  server.shutdown(std::chrono::seconds(10));
  spdlog::info("stopped");
  return 0;
}
