// attach_bench: what sharing a live session buys a bot.
//
// Measures, in one run against the same Dovecot:
//   attach  — Connect RPC to mailbrokerd over its unix socket, attaching to a session
//             that is already READY (what every bot run after the first pays);
//   fresh   — a direct IMAPS connect + TLS handshake + login + logout with our own IMAP
//             client (what every bot run pays without the broker);
//   status  — a Status RPC on the same socket (gRPC's own cost, no session work);
//   raw     — a 1-byte ping-pong between this process and a forked child over a unix
//             stream socket: the transport's floor (two processes, two wake-ups), which
//             issue #9 asks attach to stay within 2x of.
// Prints median / p99 of each, the ratio fresh / attach and attach / raw.
//
// Usage: attach_bench --target unix:/path --testbed-env DIR/testbed.env
//                     [--attach N] [--fresh N] [--user alice]
// bench/run.sh starts Dovecot and mailbrokerd and runs this.
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/broker_client.hpp"
#include "net/tls_context.hpp"
#include "protocol/imap/client.hpp"

namespace {

using namespace mailbroker;
using clock_type = std::chrono::steady_clock;
namespace pb = ::mailbroker::v1;

struct stats {
  double median_ms;
  double p99_ms;
};

stats summarise(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[std::min(samples.size() - 1, static_cast<std::size_t>(q * samples.size()))]; };
  return {at(0.5), at(0.99)};
}

std::map<std::string, std::string> read_env(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (auto eq = line.find('='); eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

// One fresh IMAPS login + logout with the same client code the daemon uses.
double fresh_login_ms(const std::shared_ptr<asio::ssl::context>& tls, const imap::connect_options& options,
                      const std::string& user, const std::string& password) {
  asio::io_context io;
  std::optional<error> outcome;
  const auto start = clock_type::now();
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto c = std::make_shared<imap::client>(io.get_executor(), tls);
        error e = co_await c->open(options);
        if (e.ok()) e = co_await c->login(user, password);
        if (e.ok()) co_await c->logout(std::chrono::seconds(5));
        c->close(error{errc::cancelled, "done"});
        outcome = e;
      },
      asio::detached);
  io.run();
  const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
  if (!outcome || !outcome->ok()) {
    std::fprintf(stderr, "fresh login failed: %s\n", outcome ? outcome->message.c_str() : "no result");
    std::exit(1);
  }
  return ms;
}

// Round trips of one byte between this process and a forked child over a unix stream
// socket pair, each timed: what any RPC between a bot and the daemon pays at least.
std::vector<double> raw_socket_round_trips(int n) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    std::perror("socketpair");
    std::exit(1);
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    char byte;
    while (::read(fds[1], &byte, 1) == 1) {
      if (::write(fds[1], &byte, 1) != 1) break;
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(n));
  char byte = 'x';
  for (int i = 0; i < n + 100; ++i) {  // the first 100 warm up
    const auto t0 = clock_type::now();
    if (::write(fds[0], &byte, 1) != 1 || ::read(fds[0], &byte, 1) != 1) {
      std::perror("raw round trip");
      std::exit(1);
    }
    if (i >= 100) out.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
  }
  ::close(fds[0]);
  ::waitpid(child, nullptr, 0);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, env_path, user = "alice";
  int attach_n = 2000, fresh_n = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--target") target = v;
    else if (k == "--testbed-env") env_path = v;
    else if (k == "--attach") attach_n = std::stoi(v);
    else if (k == "--fresh") fresh_n = std::stoi(v);
    else if (k == "--user") user = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (target.empty() || env_path.empty()) {
    std::fprintf(stderr, "usage: attach_bench --target unix:/path --testbed-env FILE [--attach N] [--fresh N]\n");
    return 2;
  }
  auto env = read_env(env_path);
  std::string upper;
  for (char c : user) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  const std::string password = env[upper + "_PASSWORD"];
  const auto port = static_cast<std::uint16_t>(std::stoi(env["IMAPS_PORT"]));

  // --- attach to a live session over the daemon's unix socket
  client::broker_client broker(client::make_channel(target));
  pb::ConnectRequest request;
  request.set_session("bench");
  request.set_client_name("attach_bench");
  auto* server = request.mutable_spec()->mutable_server();
  server->set_host("127.0.0.1");
  server->set_port(port);
  server->set_tls_mode(pb::TLS_MODE_IMPLICIT);
  server->mutable_tls()->set_ca_file(env["CA_FILE"]);
  auto* basic = request.mutable_spec()->mutable_auth()->mutable_basic();
  basic->set_username(user);
  basic->mutable_password()->set_inline_value(password);

  pb::ConnectResponse first;
  auto s = broker.connect(request, &first);
  if (!s.ok()) {
    std::fprintf(stderr, "first Connect failed: %s\n", s.error_message().c_str());
    return 1;
  }
  for (int i = 0; i < 50; ++i) {  // warm-up: channel, allocator, caches
    pb::ConnectResponse r;
    broker.connect(request, &r);
    pb::DisconnectResponse d;
    broker.disconnect(r.lease_id(), false, &d);
  }
  std::vector<double> attach;
  attach.reserve(static_cast<std::size_t>(attach_n));
  for (int i = 0; i < attach_n; ++i) {
    pb::ConnectResponse r;
    const auto t0 = clock_type::now();
    s = broker.connect(request, &r);
    attach.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    if (!s.ok() || r.created()) {
      std::fprintf(stderr, "attach %d failed: %s\n", i, s.error_message().c_str());
      return 1;
    }
    pb::DisconnectResponse d;
    broker.disconnect(r.lease_id(), false, &d);  // not timed: keeps the lease table small
  }

  // --- the floor: a Status RPC (same socket and gRPC stack, no session work)
  std::vector<double> status_rpc;
  for (int i = 0; i < attach_n; ++i) {
    pb::StatusResponse st;
    const auto t0 = clock_type::now();
    s = broker.status("bench", &st);
    status_rpc.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
  }

  // --- the transport's floor: a raw unix-socket round trip between two processes
  const auto raw = raw_socket_round_trips(attach_n);

  // --- the baseline: a fresh IMAPS connect + login + logout, same server, same run
  auto tls = net::make_client_tls_context({env["CA_FILE"], true});
  if (!tls) {
    std::fprintf(stderr, "%s\n", tls.err().message.c_str());
    return 1;
  }
  imap::connect_options options;
  options.host = "127.0.0.1";
  options.port = port;
  options.tls = imap::tls_mode::implicit;
  std::vector<double> fresh;
  for (int i = 0; i < 5; ++i) fresh_login_ms(tls.value(), options, user, password);  // warm-up
  for (int i = 0; i < fresh_n; ++i) fresh.push_back(fresh_login_ms(tls.value(), options, user, password));

  pb::DisconnectResponse d;
  broker.disconnect(first.lease_id(), true, &d);

  const auto a = summarise(attach);
  const auto f = summarise(fresh);
  const auto floor = summarise(status_rpc);
  std::printf("attach to live session (Connect over unix socket, n=%d): median %.3f ms  p99 %.3f ms\n", attach_n,
              a.median_ms, a.p99_ms);
  std::printf("fresh IMAPS connect+TLS+login+logout (n=%d):           median %.3f ms  p99 %.3f ms\n", fresh_n,
              f.median_ms, f.p99_ms);
  std::printf("floor: Status RPC on the same socket (n=%d):               median %.3f ms  p99 %.3f ms\n", attach_n,
              floor.median_ms, floor.p99_ms);
  const auto r = summarise(raw);
  std::printf("floor: raw unix-socket round trip, 2 processes (n=%d):     median %.3f ms  p99 %.3f ms\n", attach_n,
              r.median_ms, r.p99_ms);
  std::printf("ratio fresh/attach (medians): %.1fx\n", f.median_ms / a.median_ms);
  std::printf("ratio attach/raw round trip (medians): %.1fx (issue #9 goal: <= 2x)\n", a.median_ms / r.median_ms);
  return 0;
}
