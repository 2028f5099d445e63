// connection_memory_bench: what an idle, logged-in IMAP session costs this process
// (issue 9: <= 48 KiB per idle TLS session).
//
// For each mode it opens N connections with our imap::client against the testbed
// Dovecot, logs each in, lets them idle, and prints the RSS growth per connection
// (VmRSS from /proc/self/status after malloc_trim, before vs after) and the CPU time
// (user + system, this process only) spent opening them. Modes:
//   plain         — IMAP on the plain port;
//   imaps-system  — IMAPS with a context holding the system trust store plus the
//                   testbed CA (what a daemon trusting public CAs and a private one has);
//   imaps-ca      — IMAPS trusting only the testbed CA file (server.tls.ca_file).
// Connections are closed (and memory trimmed) between modes; each mode is measured
// against the RSS just before it.
//
// Usage: connection_memory_bench --testbed-env DIR/testbed.env [--n 2000]
//            [--modes plain,imaps-system,imaps-ca] [--user alice] [--parallel 32] [--exit-while-idle]
// Without --user the sessions log in as the testbed's users in turn (Dovecot allows
// 1000 sessions per user and IP).
// Dovecot must allow N sessions of one user from one IP:
//   MB_TESTBED_IMAP_CLIENT_LIMIT=500 MB_TESTBED_CLIENT_LIMIT=5000 scripts/testbed/dovecot.sh start /tmp/mbtb
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "net/fd_budget.hpp"
#include "net/tls_context.hpp"
#include "protocol/imap/client.hpp"

namespace {

using namespace mailbroker;
using namespace std::chrono_literals;

std::map<std::string, std::string> read_env(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (auto eq = line.find('='); eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

// Resident set in KiB, after giving free heap pages back to the system.
long rss_kib() {
  malloc_trim(0);
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

struct mode {
  std::string name;
  imap::connect_options options;
  std::shared_ptr<asio::ssl::context> tls;  // null for plain
};

struct outcome {
  long rss_before = 0, rss_after = 0;
  double cpu_seconds = 0, wall_seconds = 0;
  int opened = 0, failed = 0;
  std::string first_error;
};

// Opens `n` sessions (at most `parallel` opening at once), lets them idle a second,
// measures, then closes them.
struct account {
  std::string user, password;
};

// --exit-while-idle: _exit right after the first mode's measurement, sessions still
// open, so a heap profiler (heaptrack) lists what they hold as "leaked".
bool exit_while_idle = false;

outcome measure(const mode& m, int n, int parallel, const std::vector<account>& accounts) {
  outcome out;
  asio::io_context io;
  std::vector<std::shared_ptr<imap::client>> clients;
  clients.reserve(static_cast<std::size_t>(n));
  out.rss_before = rss_kib();
  const double cpu0 = cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  int next = 0, workers_done = 0;
  for (int i = 0; i < parallel; ++i) {
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          while (next < n) {
            const account& who = accounts[static_cast<std::size_t>(next++) % accounts.size()];
            auto c = std::make_shared<imap::client>(io.get_executor(), m.tls);
            error e = co_await c->open(m.options);
            if (e.ok()) e = co_await c->login(who.user, who.password);
            if (e.ok()) {
              ++out.opened;
              clients.push_back(std::move(c));
            } else {
              if (out.failed++ == 0) out.first_error = e.message;
              c->close(error{errc::cancelled, "bench: open failed"});
            }
          }
          ++workers_done;
        },
        asio::detached);
  }
  // The sessions' readers keep io busy for ever: run until the openers are done.
  while (workers_done < parallel) io.run_one_for(1s);
  out.cpu_seconds = cpu_seconds() - cpu0;
  out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  io.run_for(1s);  // idle: late server data (TLS 1.3 session tickets) is read and released
  out.rss_after = rss_kib();
  if (exit_while_idle && n > 20) {
    std::printf("%s: %d sessions open, RSS %ld KiB; exiting without closing them\n", m.name.c_str(), out.opened,
                out.rss_after);
    std::fflush(stdout);
    std::_Exit(0);
  }

  for (auto& c : clients) c->close(error{errc::cancelled, "bench: done"});
  clients.clear();
  io.run_for(200ms);
  return out;
}

void print(const std::string& name, int n, const outcome& o) {
  const double per_conn_kib =
      o.opened > 0 ? static_cast<double>(o.rss_after - o.rss_before) / static_cast<double>(o.opened) : 0.0;
  std::printf("%-13s n=%-5d opened=%-5d failed=%-4d rss %7ld -> %7ld KiB  %6.1f KiB/conn  cpu %6.2f s (%5.2f ms/conn)  wall %6.2f s\n",
              name.c_str(), n, o.opened, o.failed, o.rss_before, o.rss_after, per_conn_kib, o.cpu_seconds,
              o.opened > 0 ? 1000.0 * o.cpu_seconds / o.opened : 0.0, o.wall_seconds);
  if (o.failed > 0) std::printf("%-13s first failure: %s\n", name.c_str(), o.first_error.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string env_path, user, modes_arg = "plain,imaps-system,imaps-ca";
  int n = 2000, parallel = 32;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--exit-while-idle") {
      exit_while_idle = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", flag.c_str());
      return 2;
    }
    const std::string value = argv[i + 1];
    if (flag == "--testbed-env") {
      env_path = value;
    } else if (flag == "--n") {
      n = std::atoi(value.c_str());
    } else if (flag == "--modes") {
      modes_arg = value;
    } else if (flag == "--user") {
      user = value;
    } else if (flag == "--parallel") {
      parallel = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (env_path.empty() || n <= 0 || parallel <= 0) {
    std::fprintf(stderr,
                 "usage: %s --testbed-env DIR/testbed.env [--n 2000] [--modes plain,imaps-system,imaps-ca] "
                 "[--user alice] [--parallel 32]\n",
                 argv[0]);
    return 2;
  }
  auto env = read_env(env_path);
  // Dovecot allows mail_max_userip_connections (1000 in the testbed) per user and IP:
  // the sessions take the testbed's users in turn unless --user names one.
  std::vector<account> accounts;
  std::stringstream users(user.empty() ? env["TESTBED_USERS"] : user);
  for (std::string name; users >> name;) {
    std::string upper = name;
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (env[upper + "_PASSWORD"].empty()) {
      std::fprintf(stderr, "%s: no %s_PASSWORD\n", env_path.c_str(), upper.c_str());
      return 2;
    }
    accounts.push_back({name, env[upper + "_PASSWORD"]});
  }
  const std::string ca_file = env["CA_FILE"];
  if (accounts.empty() || ca_file.empty() || env["IMAP_PORT"].empty() || env["IMAPS_PORT"].empty()) {
    std::fprintf(stderr, "%s: no IMAP_PORT/IMAPS_PORT/CA_FILE/TESTBED_USERS\n", env_path.c_str());
    return 2;
  }
  // One descriptor per connection plus headroom.
  const auto raised = net::fd_budget::raise_soft_limit(static_cast<std::size_t>(n) + 256);
  if (!raised.enough()) {
    std::fprintf(stderr, "fd limit %zu is too low for %d connections\n", raised.after, n);
    return 1;
  }

  imap::connect_options base;
  base.host = env["HOST"].empty() ? "127.0.0.1" : env["HOST"];
  base.tls_server_name = "localhost";
  base.timeout = 30s;
  std::vector<mode> modes;
  std::stringstream names(modes_arg);
  for (std::string name; std::getline(names, name, ',');) {
    mode m{name, base, nullptr};
    if (name == "plain") {
      m.options.tls = imap::tls_mode::plain;
      m.options.port = static_cast<std::uint16_t>(std::stoi(env["IMAP_PORT"]));
    } else if (name == "imaps-system" || name == "imaps-ca") {
      m.options.tls = imap::tls_mode::implicit;
      m.options.port = static_cast<std::uint16_t>(std::stoi(env["IMAPS_PORT"]));
      if (name == "imaps-ca") {
        auto ctx = net::build_client_tls_context({ca_file, true});
        if (!ctx.ok()) {
          std::fprintf(stderr, "%s\n", ctx.err().message.c_str());
          return 1;
        }
        m.tls = ctx.value();
      } else {
        auto ctx = net::build_client_tls_context({std::string(), true});  // the system store
        error_code ec;
        if (ctx.ok()) ctx.value()->load_verify_file(ca_file, ec);
        if (!ctx.ok() || ec) {
          std::fprintf(stderr, "system store + %s: %s\n", ca_file.c_str(),
                       ctx.ok() ? ec.message().c_str() : ctx.err().message.c_str());
          return 1;
        }
        m.tls = ctx.value();
      }
    } else {
      std::fprintf(stderr, "unknown mode %s\n", name.c_str());
      return 2;
    }
    modes.push_back(std::move(m));
  }

  std::printf("connection_memory_bench: %d idle logged-in IMAP sessions per mode (RSS after malloc_trim)\n", n);
  int failures = 0;
  for (const auto& m : modes) {
    // A few connections first, not counted: one-time costs (OpenSSL's lazy tables,
    // Asio's thread-local caches) belong to the process, not to a connection.
    measure(m, std::min(n, 20), std::min(parallel, 20), accounts);
    const outcome o = measure(m, n, parallel, accounts);
    print(m.name, n, o);
    failures += o.failed;
  }
  return failures == 0 ? 0 : 1;
}
