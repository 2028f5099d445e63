// token_bench: what the daemon's shared OAuth2 token cache buys N bots.
//
// Runs against a real mailbrokerd (fresh: empty token cache), an oidc-provider token
// endpoint and a Dovecot that checks those tokens by introspection (bench/run.sh starts
// all three). One client-credentials client, so every session shares one cache key.
//
//   cold     N sessions (distinct names, same spec) Connect concurrently on the empty
//            cache: wall time until all N are READY, token-endpoint requests (expect 1).
//   warm     N more sessions on the same daemon while the token is cached: wall time,
//            requests (expect 0 when the phase ends before 80 % of the token's lifetime).
//   refresh  with the 2N sessions live, wait until the token is past 80 % of its
//            lifetime, kick the mail user at Dovecot (every session reconnects and
//            needs a fresh token), wait until all are READY again (Status polling):
//            token requests in that cycle must be 1 (one per key) -> PASS / FAIL.
//   baseline N direct client_credentials requests with the daemon's own HTTP client,
//            each on a new TLS connection (what N bots fetching their own tokens do):
//            sequentially and all at once; requests counted at the server (N).
// Token requests are counted by the server (GET OAUTH2_STATS_URL, token_requests_total;
// POST OAUTH2_RESET_STATS_URL before each phase). At the end every lease is released
// with force (sessions log out). Exit code 1 on FAIL or on any error, 2 on bad usage.
//
// Usage: token_bench --target unix:/path --oauth2-env DIR/oauth2.env
//                    --testbed-env DIR/testbed.env [--sessions 100]
//                    [--dovecot-sh scripts/testbed/dovecot.sh] [--kick-at 0.85]
// bench/run.sh (or `bench/run.sh token`) starts everything and runs this.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <latch>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

#include "auth/form.hpp"
#include "auth/http_client.hpp"
#include "client/broker_client.hpp"
#include "common/base64.hpp"
#include "net/tls_context.hpp"

#ifndef MB_SOURCE_DIR
#define MB_SOURCE_DIR "."
#endif

namespace {

using namespace mailbroker;
using clock_type = std::chrono::steady_clock;
namespace pb = ::mailbroker::v1;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "token_bench: %s\n", message.c_str());
  std::exit(1);
}

std::map<std::string, std::string> read_env(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  if (!in) die("cannot read " + path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (auto eq = line.find('='); eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

std::string need(const std::map<std::string, std::string>& env, const std::string& key) {
  auto it = env.find(key);
  if (it == env.end() || it->second.empty()) die("env file lacks " + key);
  return it->second;
}

// Runs one awaitable to completion on a private io_context.
template <class T>
T run_sync(awaitable<T> task) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(
      io, [&]() -> awaitable<void> { out.emplace(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  return std::move(*out);
}

// The token server's counters (plain http on loopback).
struct oauth2_counters {
  std::string stats_url, reset_url;

  nlohmann::json get() const {
    auth::http_request_options o;
    o.allow_http = true;
    auto r = run_sync(auth::http_get(stats_url, o));
    if (!r || r->status != 200) die("GET stats failed: " + (r ? std::to_string(r->status) : r.err().message));
    return nlohmann::json::parse(r->body);
  }
  int token_requests() const { return get().value("token_requests_total", -1); }
  void reset() const {
    auth::http_request_options o;
    o.allow_http = true;
    auto r = run_sync(auth::http_post_form(reset_url, "", "", o));
    if (!r || r->status != 200) die("POST reset_stats failed: " + (r ? std::to_string(r->status) : r.err().message));
  }
};

struct phase_result {
  double wall_ms = 0;
  double median_ms = 0;  // per-Connect latency
  double max_ms = 0;
  int ok = 0;
  int token_requests = 0;
  std::vector<std::string> leases;
};

// N concurrent Connects (one thread each, released together): wall time until all
// returned READY.
phase_result connect_all(client::broker_client& broker, const pb::ConnectRequest& templ, const std::string& prefix,
                         int n) {
  phase_result out;
  std::vector<double> latency(static_cast<std::size_t>(n), 0.0);
  std::vector<std::string> leases(static_cast<std::size_t>(n));
  std::vector<std::string> errors(static_cast<std::size_t>(n));
  std::latch go(n + 1);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      pb::ConnectRequest request = templ;
      request.set_session(prefix + std::to_string(i));
      pb::ConnectResponse response;
      go.arrive_and_wait();
      const auto t0 = clock_type::now();
      auto s = broker.connect(request, &response, std::chrono::seconds(60));
      latency[static_cast<std::size_t>(i)] = ms_since(t0);
      if (!s.ok()) {
        errors[static_cast<std::size_t>(i)] = s.error_message();
      } else if (response.session().state() != pb::SESSION_STATE_READY) {
        errors[static_cast<std::size_t>(i)] = "state " + pb::SessionState_Name(response.session().state());
      }
      if (s.ok()) leases[static_cast<std::size_t>(i)] = response.lease_id();
    });
  }
  const auto t0 = clock_type::now();
  go.arrive_and_wait();
  for (auto& t : threads) t.join();
  out.wall_ms = ms_since(t0);
  for (int i = 0; i < n; ++i) {
    if (errors[static_cast<std::size_t>(i)].empty()) ++out.ok;
    else std::fprintf(stderr, "token_bench: %s%d: %s\n", prefix.c_str(), i, errors[static_cast<std::size_t>(i)].c_str());
    if (!leases[static_cast<std::size_t>(i)].empty()) out.leases.push_back(leases[static_cast<std::size_t>(i)]);
  }
  std::sort(latency.begin(), latency.end());
  out.median_ms = latency[latency.size() / 2];
  out.max_ms = latency.back();
  return out;
}

std::vector<pb::SessionStatus> bench_sessions(client::broker_client& broker) {
  pb::StatusResponse st;
  auto s = broker.status("", &st);
  if (!s.ok()) die("Status failed: " + s.error_message());
  std::vector<pb::SessionStatus> out;
  for (const auto& session : st.sessions()) {
    if (session.name().rfind("tok-", 0) == 0) out.push_back(session);
  }
  return out;
}

std::chrono::system_clock::time_point to_system(const google::protobuf::Timestamp& t) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(
          google::protobuf::util::TimeUtil::TimestampToNanoseconds(t))));
}

std::string run_command(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) die("popen failed: " + command);
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (::pclose(p) != 0) die("command failed: " + command);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, oauth2_env_path, testbed_env_path;
  std::string dovecot_sh = std::string(MB_SOURCE_DIR) + "/scripts/testbed/dovecot.sh";
  int n = 100;
  double kick_at = 0.85;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--target") target = v;
    else if (k == "--oauth2-env") oauth2_env_path = v;
    else if (k == "--testbed-env") testbed_env_path = v;
    else if (k == "--sessions") n = std::stoi(v);
    else if (k == "--dovecot-sh") dovecot_sh = v;
    else if (k == "--kick-at") kick_at = std::stod(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (target.empty() || oauth2_env_path.empty() || testbed_env_path.empty() || n < 1 || kick_at <= 0.8 ||
      kick_at >= 1.0) {
    std::fprintf(stderr,
                 "usage: token_bench --target unix:/path --oauth2-env FILE --testbed-env FILE [--sessions N]\n"
                 "                   [--dovecot-sh PATH] [--kick-at FRACTION (0.8..1, default 0.85)]\n");
    return 2;
  }
  const auto oenv = read_env(oauth2_env_path);
  const auto tenv = read_env(testbed_env_path);
  const oauth2_counters counters{need(oenv, "OAUTH2_STATS_URL"), need(oenv, "OAUTH2_RESET_STATS_URL")};
  const std::string mail_user = need(oenv, "OAUTH2_CC_MAIL_USER");
  const std::string testbed_dir = need(tenv, "STATE_DIR");
  const int ttl = std::stoi(need(oenv, "OAUTH2_ACCESS_TTL"));

  pb::ConnectRequest templ;
  templ.set_client_name("token_bench");
  templ.set_lease_ttl_seconds(3600);
  auto* server = templ.mutable_spec()->mutable_server();
  server->set_host("127.0.0.1");
  server->set_port(static_cast<std::uint32_t>(std::stoi(need(tenv, "IMAPS_PORT"))));
  server->set_tls_mode(pb::TLS_MODE_IMPLICIT);
  server->mutable_tls()->set_ca_file(need(tenv, "CA_FILE"));
  auto* cc = templ.mutable_spec()->mutable_auth()->mutable_oauth2_client_credentials();
  cc->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
  cc->set_token_url(need(oenv, "OAUTH2_TOKEN_URL"));
  cc->set_token_ca_file(need(oenv, "OAUTH2_CA_FILE"));
  cc->set_client_id(need(oenv, "OAUTH2_CC_CLIENT_ID"));
  cc->mutable_client_secret()->set_inline_value(need(oenv, "OAUTH2_CC_CLIENT_SECRET"));
  cc->add_scopes(need(oenv, "OAUTH2_SCOPE"));
  cc->set_username(mail_user);

  client::broker_client broker(client::make_channel(target));
  {  // the gRPC channel up before anything is timed (no session, no token request)
    pb::StatusResponse st;
    auto s = broker.status("", &st);
    if (!s.ok()) die("daemon not answering: " + s.error_message());
    if (!bench_sessions(broker).empty()) die("the daemon already has tok-* sessions: it must be fresh");
  }
  bool pass = true;

  // --- cold: empty cache
  counters.reset();
  auto cold = connect_all(broker, templ, "tok-cold-", n);
  cold.token_requests = counters.token_requests();
  if (cold.ok != n) die("cold phase: " + std::to_string(n - cold.ok) + " of " + std::to_string(n) + " Connects failed");

  // The cached token's lifetime, as the daemon sees it.
  pb::StatusResponse first;
  if (!broker.status("tok-cold-0", &first).ok() || first.sessions_size() != 1 ||
      !first.sessions(0).token().has_valid_until() || !first.sessions(0).token().has_last_refresh()) {
    die("no token status for tok-cold-0");
  }
  const auto issued = to_system(first.sessions(0).token().last_refresh());
  const auto expires = to_system(first.sessions(0).token().valid_until());
  const auto lifetime = expires - issued;
  const auto refresh_point = issued + std::chrono::duration_cast<std::chrono::system_clock::duration>(lifetime * 0.8);

  // --- warm: same key, cached token
  counters.reset();
  auto warm = connect_all(broker, templ, "tok-warm-", n);
  warm.token_requests = counters.token_requests();
  const bool warm_before_refresh_point = std::chrono::system_clock::now() < refresh_point;
  if (warm.ok != n) die("warm phase: " + std::to_string(n - warm.ok) + " of " + std::to_string(n) + " Connects failed");

  // --- refresh cycle: 2N live sessions, token past 80 %, kick, all READY again
  auto live = bench_sessions(broker);
  std::map<std::string, std::uint64_t> connects_before;
  for (const auto& s : live) {
    if (s.state() != pb::SESSION_STATE_READY) die(s.name() + " is not READY before the kick");
    connects_before[s.name()] = s.counters().connects();
  }
  if (static_cast<int>(connects_before.size()) != 2 * n) die("expected " + std::to_string(2 * n) + " live sessions");
  const auto kick_time = issued + std::chrono::duration_cast<std::chrono::system_clock::duration>(lifetime * kick_at);
  std::this_thread::sleep_until(kick_time);
  const std::string who_before = run_command(dovecot_sh + " who " + testbed_dir + " " + mail_user);
  counters.reset();
  const auto kick_t0 = clock_type::now();
  run_command(dovecot_sh + " kick " + testbed_dir + " " + mail_user + " 2>/dev/null");
  const double kick_ms = ms_since(kick_t0);
  int relogged = 0;
  double refresh_wall_ms = 0;
  const auto refresh_deadline = clock_type::now() + std::chrono::seconds(120);
  while (true) {
    relogged = 0;
    for (const auto& s : bench_sessions(broker)) {
      if (s.state() == pb::SESSION_STATE_READY && s.counters().connects() > connects_before[s.name()]) ++relogged;
    }
    refresh_wall_ms = ms_since(kick_t0);
    if (relogged == 2 * n || clock_type::now() > refresh_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto refresh_stats = counters.get();
  const int refresh_requests = refresh_stats.value("token_requests_total", -1);
  const std::string who_after = run_command(dovecot_sh + " who " + testbed_dir + " " + mail_user);
  std::uint64_t max_refresh_count = 0;
  for (const auto& s : bench_sessions(broker)) max_refresh_count = std::max(max_refresh_count, s.token().refresh_count());

  // --- baseline: N bots fetching their own tokens (no broker)
  auto tls = net::make_client_tls_context({need(oenv, "OAUTH2_CA_FILE"), true});
  if (!tls) die(tls.err().message);
  auth::http_request_options http;
  http.tls = tls.value();
  const std::string token_url = need(oenv, "OAUTH2_TOKEN_URL");
  const std::string basic =
      "Basic " + base64_encode(need(oenv, "OAUTH2_CC_CLIENT_ID") + ":" + need(oenv, "OAUTH2_CC_CLIENT_SECRET"));
  const std::string form = auth::form_urlencode({{"grant_type", "client_credentials"}, {"scope", need(oenv, "OAUTH2_SCOPE")}});
  auto fetch = [&]() -> awaitable<bool> {
    auto r = co_await auth::http_post_form(token_url, form, basic, http);
    co_return r && r->status == 200 && r->body.find("\"access_token\"") != std::string::npos;
  };
  counters.reset();
  std::vector<double> seq;
  const auto seq_t0 = clock_type::now();
  for (int i = 0; i < n; ++i) {
    const auto t0 = clock_type::now();
    if (!run_sync(fetch())) die("direct token request failed");
    seq.push_back(ms_since(t0));
  }
  const double seq_wall_ms = ms_since(seq_t0);
  const int seq_requests = counters.token_requests();
  std::sort(seq.begin(), seq.end());

  counters.reset();
  int par_ok = 0;
  double par_wall_ms = 0;
  {
    asio::io_context io;
    const auto t0 = clock_type::now();
    for (int i = 0; i < n; ++i) {
      asio::co_spawn(io, fetch(), [&](std::exception_ptr e, bool ok) {
        if (!e && ok) ++par_ok;
      });
    }
    io.run();
    par_wall_ms = ms_since(t0);
  }
  const int par_requests = counters.token_requests();
  if (par_ok != n) die("concurrent direct token requests: " + std::to_string(n - par_ok) + " failed");

  // --- clean up: release every lease with force (logs the sessions out)
  for (const auto* phase : {&cold, &warm}) {
    for (const auto& lease : phase->leases) {
      pb::DisconnectResponse d;
      broker.disconnect(lease, true, &d);
    }
  }
  int closed = 0;
  const auto close_deadline = clock_type::now() + std::chrono::seconds(30);
  while (true) {
    closed = 0;
    auto all = bench_sessions(broker);
    for (const auto& s : all) closed += s.state() == pb::SESSION_STATE_CLOSED;
    if (closed == static_cast<int>(all.size()) || clock_type::now() > close_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // --- report
  const bool cold_ok = cold.token_requests == 1;
  const bool warm_ok = warm.token_requests == 0 || !warm_before_refresh_point;
  const bool refresh_ok = relogged == 2 * n && refresh_requests == 1;
  pass = cold_ok && warm_ok && refresh_ok;
  const double lifetime_s = std::chrono::duration<double>(lifetime).count();
  std::printf("token_bench: %d sessions per phase, one cache key (client %s -> mail user %s), access TTL %d s "
              "(daemon sees %.1f s)\n",
              n, need(oenv, "OAUTH2_CC_CLIENT_ID").c_str(), mail_user.c_str(), ttl, lifetime_s);
  std::printf("  cold    %3d concurrent Connects, empty cache:   all READY in %8.1f ms (Connect median %7.1f, max %7.1f)"
              "  token requests %d  [expect 1] %s\n",
              n, cold.wall_ms, cold.median_ms, cold.max_ms, cold.token_requests, cold_ok ? "ok" : "FAIL");
  std::printf("  warm    %3d concurrent Connects, cached token:  all READY in %8.1f ms (Connect median %7.1f, max %7.1f)"
              "  token requests %d  [expect 0] %s\n",
              n, warm.wall_ms, warm.median_ms, warm.max_ms, warm.token_requests,
              warm.token_requests == 0 ? "ok" : (warm_ok ? "ok (phase ran past 80 % of the lifetime)" : "FAIL"));
  std::printf("  ratio cold/warm wall time: %.2fx\n", cold.wall_ms / warm.wall_ms);
  std::printf("  refresh %3d live sessions (Dovecot who: %s), kicked at %.0f %% of the token lifetime:\n", 2 * n,
              who_before.c_str(), kick_at * 100);
  std::printf("          %d/%d READY again in %.1f ms after the kick (doveadm kick took %.1f ms), Dovecot who %s;\n",
              relogged, 2 * n, refresh_wall_ms, kick_ms, who_after.c_str());
  std::printf("          token requests in the cycle %d (introspections %d), max per-session refresh_count %llu"
              "  -> %s (1 per key)\n",
              refresh_requests, refresh_stats.value("introspection_requests", -1),
              static_cast<unsigned long long>(max_refresh_count), refresh_ok ? "PASS" : "FAIL");
  std::printf("  baseline: %d bots fetching their own tokens (client_credentials POST, new TLS connection each):\n", n);
  std::printf("          sequential %8.1f ms wall (median %.2f ms, max %.2f ms per request), token requests %d\n",
              seq_wall_ms, seq[seq.size() / 2], seq.back(), seq_requests);
  std::printf("          concurrent %8.1f ms wall, token requests %d\n", par_wall_ms, par_requests);
  std::printf("  ratio token requests per %d sessions, bots alone / broker: %d / %d = %.0fx (per refresh cycle: %d / %d)\n",
              n, seq_requests, cold.token_requests, cold.token_requests > 0 ? double(seq_requests) / cold.token_requests : 0.0,
              2 * n, refresh_requests);
  std::printf("  cleanup: %d/%d sessions CLOSED after forced Disconnect\n", closed, 2 * n);
  std::printf("RESULT: %s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
