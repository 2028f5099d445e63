// graph_bench: N bot processes doing the same Microsoft Graph work — "summaries of the 100
// newest messages in the inbox, then read 10 of them" — through mailbrokerd's one Graph
// session vs each bot calling Graph itself with a token of its own, against the fake Graph
// server (scripts/testbed/graph.sh) and the test OAuth2 server (scripts/testbed/oauth2.sh),
// same run, at several network delays (issue 12, "Benchmark": throttling is the point).
//
// The servers: the fake checks every bearer token by RFC 7662 introspection at the OAuth2
// server (MB_GRAPH_OAUTH2_INTROSPECT_URL), so every token is a real client-credentials
// token from oidc-provider; one client (OAUTH2_CC_CLIENT_ID), i.e. one app registration,
// as for bots of one organisation. The fake serves at most GRAPH_CONCURRENCY (4) requests
// in flight per app and mailbox and answers more with 429 ApplicationThrottled +
// Retry-After (GRAPH_RETRY_AFTER, 1 s), as Exchange Online does. A request holds its slot
// only while the server works on it, so the fake is told to take --server-ms (20 ms) per
// mailbox request (its delay control, slot held): without it the fake answers in under a
// millisecond, never has two requests in flight and never throttles anyone, which no
// Exchange does. 20 ms is on the fast side of what Exchange Online takes for a listing or
// a MIME read (tens to hundreds of ms), i.e. it is kind to the direct bots. The network
// delay below comes on top.
//
// The network: for each one-way delay D (--delays, default 0,15 ms: 15 ms one way = a 30 ms
// round trip) one delay_proxy process (bench/delay_proxy.cpp) sits in front of the fake's
// HTTPS port and another in front of the OAuth2 server's HTTPS port (Microsoft's token
// endpoint is far away too): a connection opens 2·D after connect(), every chunk arrives D
// later, each way. Both variants go through them. Token introspection (fake -> OAuth2
// server, plain HTTP) is not delayed: it stands for Graph's own token check. The
// certificate's SAN IP:127.0.0.1 verifies through the proxies.
//
// Each bot is a real process (this binary re-executed with --bot): gRPC channels, TLS
// contexts and tokens are per process, as for real bots. The bots of a round start, get
// ready (start-up is not timed) and are released together; a bot's time runs from the
// release to its last step:
//   daemon — new channel, Connect (attach to the live session "graph-bench-dD", same spec
//            for all: PROTOCOL_GRAPH, cloud CUSTOM, base_url = the proxy, mailbox
//            alice@testlab.test, OAuth2 client credentials at the proxied token endpoint),
//            ListMessages(INBOX, NEWEST_FIRST, limit L), GetMessage(ref) of R listed
//            messages (all chunks read; --parallel calls at once, from as many threads),
//            Disconnect;
//   direct — what a bot with its own Graph access does, modelled on Microsoft's Graph SDKs
//            (not crippled): POST the token endpoint (client_credentials, client_secret_basic;
//            counted), then over keep-alive HTTPS connections of its own (the project's
//            net::http_connection, Authorization: Bearer) GET <root>/users/alice@testlab.test/
//            mailFolders/inbox/messages?$select=<summary fields>&$orderby=receivedDateTime
//            desc&$top=L (graph::list_messages), then R × GET messages/{id}/$value
//            (graph::get_mime), up to --parallel (4) requests at once on as many
//            connections: the SDKs' HTTP stacks open a connection per parallel request
//            (HTTP/1.1) and their batch helpers run 4+ requests at once. Every 429 / 503 is
//            retried after its Retry-After (graph::parse_retry_after; without one, the
//            codec's default 5 s), as the SDKs' RetryHandler does. The SDKs give up after
//            3 retries (maxRetries default 3) and hand the 429 to the caller; a bot that must
//            finish its job retries on, so this one retries until its deadline and counts
//            the requests that needed more than 3 retries ("beyond the SDK's 3").
// R messages spread over the page, a different set per bot (pick()). A round's wall time
// runs from the release to the last bot's end. Per delay: the fake is reset and the corpus
// delivered (timed), the parent attaches first (the session is live: the product's premise;
// keepalive 1740 s so no keepalive request lands in a round), the session's first round is
// timed as its cold round (nothing cached) and one untimed direct round warms that path up,
// then --rounds per mode alternate round by round. Around every timed round the parent reads
// the fake's counters (GET /_control/counters) and the OAuth2 server's (GET /_stats); the
// differences are what that round cost: Graph requests (429s included), TLS connections,
// 429s sent, introspections, token requests. The fake's max_in_flight is a high-water mark
// since its reset, not a per-round figure: it is read after the cold daemon round (before
// any direct bot ran: the session's own peak) and at the end of the delay. A bot failure
// ends the run (exit 1) with its error and the fake's last recorded requests.
//
// Usage: graph_bench --target unix:/path --graph-env STATE/graph.env --oauth2-env STATE/oauth2.env
//                    [--bots 20] [--rounds 5] [--messages 200] [--list 100] [--read 10]
//                    [--parallel 4] [--user alice] [--delays 0,15] [--delay-proxy PATH]
//   --delay-proxy defaults to the delay_proxy next to this binary. Bot processes get
//   --session, --url, --token-url and --patience (their RPC / request deadline, s) from
//   the parent.
// bench/run.sh graph [options] starts both servers and mailbrokerd and runs this.
//
// Command and sample (release build, 2-core VM shared with other agents' builds, main at
// a1f44bd, 2026-12-06; ~1.5 min for the whole `bench/run.sh graph --rounds 3`, start-up
// included; an earlier run under heavier load, load average 7, gave 9.5x and 11.2x):
//   $ bench/run.sh graph --rounds 3
//   one-way delay 0 ms (round trip 0 ms):
//     session start (the parent's Connect + a 1-message list): Graph requests 2, token requests 1
//     through mailbrokerd (1 Graph session): wall median    512.8 ms (min 482.3, max 570.7)  per bot median   449.2 ms p95   509.9 ms
//         at the servers per round: Graph requests 3..5, 429s 0, TLS connections 0, token requests 0, introspections 2
//     through mailbrokerd, cold (its first round, nothing cached): wall   1136.1 ms, Graph requests 105, 429s 0; the fake's max in flight for alice after it: 4
//     own token + connections per bot:        wall median   7986.1 ms (min 5944.7, max 9853.3)  per bot median  4883.8 ms p95  8801.2 ms
//         at the servers per round: Graph requests 375..421, 429s 155..201, TLS connections 80, token requests 20, introspections 119..182
//         the bots saw 518 429s in 3 rounds; one request needed up to 7 retries; 39 requests needed more than the SDK's 3 (with its default they would have failed)
//     the session's status at the end: requests 118, throttled 0, max in flight 4; the fake's max in flight for alice over the delay: 4
//     ratio daemon/direct (wall medians): 0.06 = daemon 15.57x faster
//   one-way delay 15 ms (round trip 30 ms):
//     session start (the parent's Connect + a 1-message list): Graph requests 2, token requests 1
//     through mailbrokerd (1 Graph session): wall median    556.5 ms (min 463.8, max 575.7)  per bot median   493.3 ms p95   559.3 ms
//         at the servers per round: Graph requests 2..4, 429s 0, TLS connections 0, token requests 0, introspections 1..2
//     through mailbrokerd, cold (its first round, nothing cached): wall   1691.6 ms, Graph requests 104, 429s 0; the fake's max in flight for alice after it: 4
//     own token + connections per bot:        wall median   8971.0 ms (min 6214.0, max 10186.9)  per bot median  5158.0 ms p95  9126.0 ms
//         at the servers per round: Graph requests 365..423, 429s 145..203, TLS connections 80, token requests 20, introspections 114..178
//         the bots saw 538 429s in 3 rounds; one request needed up to 6 retries; 50 requests needed more than the SDK's 3 (with its default they would have failed)
//     the session's status at the end: requests 115, throttled 0, max in flight 4; the fake's max in flight for alice over the delay: 4
//     ratio daemon/direct (wall medians): 0.06 = daemon 16.12x faster
// Reading it: 20 bots of one app on one mailbox ask for up to 80 requests at once where
// Exchange serves 4. Alone, they earn 145-203 429s per round (40-48 % of their requests),
// lose whole seconds to Retry-After (every refused bot waits 1 s, then they all come back
// together and most are refused again: up to 7 retries for one request, 39-50 requests per
// 3 rounds beyond the SDKs' default of 3, where an SDK would have handed the bot an error),
// and each fetches its own token (20 per round) and opens 4 TLS connections (80). The
// session keeps 4 in flight and never earned a 429 (its status: throttled 0), has its one
// token and its connections from before the round, and shares the work: identical lists
// share one request (2-5 per round for 20 bots), bodies come from its cache per (id,
// changeKey). Its cold round (~105 requests: the lists and the ~100 distinct bodies, 4 at
// a time) is still 5-7x faster than the direct bots. A warm round is bound by the fake's
// listing of 100 summaries (100-200 ms of the fake's CPU on this machine, asked 2-3 times
// one after the other: a list that starts while another runs waits for a fresh one), not
// by the network. The direct figure rests on Retry-After 1 s (GRAPH_RETRY_AFTER) and 20 ms
// of server time; longer Retry-Afters, as Exchange Online sends under load, only widen
// the gap.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/form.hpp"
#include "auth/http_client.hpp"
#include "auth/token_response.hpp"
#include "client/broker_client.hpp"
#include "common/base64.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "net/http_authenticators.hpp"
#include "net/http_connection.hpp"
#include "net/tls_context.hpp"
#include "protocol/graph/endpoints.hpp"
#include "protocol/graph/errors.hpp"
#include "protocol/graph/requests.hpp"
#include "protocol/graph/responses.hpp"

namespace {

using namespace mailbroker;
using clock_type = std::chrono::steady_clock;  // CLOCK_MONOTONIC: comparable across processes
namespace pb = ::mailbroker::v1;

constexpr const char* session_prefix = "graph-bench-d";  // + the one-way delay in ms
constexpr int barrier_fd = 3;  // bot: EOF = go
constexpr int results_fd = 4;  // bot: one line per event, shared pipe (writes < PIPE_BUF are atomic)
constexpr std::size_t dumped_requests = 15;  // the fake's last recorded requests shown on failure
constexpr int sdk_max_retries = 3;           // Microsoft Graph SDKs' RetryHandler default (maxRetries)

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "graph_bench: %s\n", why.c_str());
  std::exit(1);
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count();
}

struct options {
  std::string target, graph_env_path, oauth2_env_path, user = "alice";
  int bots = 20, rounds = 5, messages = 200, list = 100, read = 10, parallel = 4;
  int server_ms = 20;                 // the fake's time per mailbox request (holds its slot)
  bool with_daemon = true;            // --modes both (default) | direct (no mailbrokerd needed)
  std::vector<int> delays = {0, 15};  // one-way, ms
  std::string delay_proxy;            // path; empty = next to this binary
  // Set per delay by the parent for the bots: session name, Graph base URL and token URL
  // (both through the proxies), deadline (s).
  std::string session = "graph-bench", url, token_url;
  int patience = 120;
  // --bot mode only
  std::string bot_mode;
  int index = 0;
};

std::map<std::string, std::string> read_env(const std::string& path, const char* option) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  if (!in) die("cannot read " + path + " (" + option + ")");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (auto eq = line.find('='); eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

// What graph.sh start wrote into graph.env and oauth2.sh start into oauth2.env.
struct testbed {
  std::string ca_file, mailbox;  // the fake's CA; alice@testlab.test
  std::uint16_t graph_port = 0, control_port = 0;
  int concurrency = 0, retry_after = 0;
  std::string token_url, token_ca_file, client_id, client_secret, scope, stats_url;
  std::uint16_t token_port = 0;
};

testbed load_testbed(const options& o) {
  const auto g = read_env(o.graph_env_path, "--graph-env: the file graph.sh start printed");
  const auto a = read_env(o.oauth2_env_path, "--oauth2-env: the file oauth2.sh start printed");
  auto need = [](const std::map<std::string, std::string>& env, const std::string& path, const std::string& key) {
    auto it = env.find(key);
    if (it == env.end() || it->second.empty()) die(path + " has no " + key);
    return it->second;
  };
  testbed t;
  t.ca_file = need(g, o.graph_env_path, "CA_FILE");
  t.mailbox = o.user + "@" + need(g, o.graph_env_path, "GRAPH_MAIL_DOMAIN");
  t.graph_port = static_cast<std::uint16_t>(std::stoi(need(g, o.graph_env_path, "GRAPH_PORT")));
  t.control_port = static_cast<std::uint16_t>(std::stoi(need(g, o.graph_env_path, "GRAPH_CONTROL_PORT")));
  t.concurrency = std::stoi(need(g, o.graph_env_path, "GRAPH_CONCURRENCY"));
  t.retry_after = std::stoi(need(g, o.graph_env_path, "GRAPH_RETRY_AFTER"));
  if (need(g, o.graph_env_path, "GRAPH_OAUTH2_INTROSPECTION") != "yes") {
    die("the fake Graph server checks no tokens at the OAuth2 server: start it with MB_GRAPH_OAUTH2_INTROSPECT_URL "
        "(bench/run.sh graph does)");
  }
  t.token_url = need(a, o.oauth2_env_path, "OAUTH2_TOKEN_URL");
  t.token_ca_file = need(a, o.oauth2_env_path, "OAUTH2_CA_FILE");
  t.token_port = static_cast<std::uint16_t>(std::stoi(need(a, o.oauth2_env_path, "OAUTH2_HTTPS_PORT")));
  t.client_id = need(a, o.oauth2_env_path, "OAUTH2_CC_CLIENT_ID");
  t.client_secret = need(a, o.oauth2_env_path, "OAUTH2_CC_CLIENT_SECRET");
  t.scope = need(a, o.oauth2_env_path, "OAUTH2_SCOPE");
  t.stats_url = need(a, o.oauth2_env_path, "OAUTH2_STATS_URL");
  return t;
}

// `url` with its port replaced (the proxy's): "https://127.0.0.1:P/token".
std::string with_port(const std::string& url, std::uint16_t port) {
  auto parsed = net::parse_http_url(url);
  if (!parsed) die("cannot parse " + url + ": " + parsed.err().message);
  return std::string(parsed->endpoint.tls ? "https://" : "http://") + parsed->endpoint.host + ":" +
         std::to_string(port) + (parsed->target == "/" ? "" : parsed->target);
}

pb::ConnectRequest connect_request(const options& o, const testbed& t, const std::string& client_name) {
  pb::ConnectRequest request;
  request.set_session(o.session);
  request.set_client_name(client_name);
  auto* spec = request.mutable_spec();
  spec->set_protocol(pb::PROTOCOL_GRAPH);
  spec->mutable_server()->mutable_tls()->set_ca_file(t.ca_file);
  // No keepalive request may land inside a timed round (it would count as the daemon's).
  spec->set_keepalive_seconds(1740);
  auto* graph = spec->mutable_graph();
  graph->set_cloud(pb::GRAPH_CLOUD_CUSTOM);
  graph->set_base_url(o.url);
  graph->set_mailbox(t.mailbox);
  graph->set_timeout_seconds(60);
  auto* cc = spec->mutable_auth()->mutable_oauth2_client_credentials();
  cc->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
  cc->set_token_url(o.token_url);
  cc->set_token_ca_file(t.token_ca_file);
  cc->set_client_id(t.client_id);
  cc->mutable_client_secret()->set_inline_value(t.client_secret);
  cc->add_scopes(t.scope);
  cc->set_username(t.mailbox);
  return request;
}

// The listed positions a bot reads: R of them spread over the page, a different set per bot.
std::vector<std::size_t> pick(std::size_t listed, int index, int read) {
  std::vector<std::size_t> out;
  for (int k = 0; listed > 0 && k < read; ++k) out.push_back((static_cast<std::size_t>(index) * 7 + k * 10) % listed);
  return out;
}

// ---------------------------------------------------------------------------------------
// Bot side
// ---------------------------------------------------------------------------------------

void report(const std::string& line) {
  const std::string l = line + "\n";
  if (::write(results_fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) std::_Exit(3);
}

struct bot_outcome {
  std::string error;  // empty = ok
  std::size_t listed = 0, read = 0;
  std::uint64_t bytes = 0;
  // direct only: token requests sent, 429/503 answers seen, the most retries one request
  // needed, requests that needed more than sdk_max_retries.
  long token_requests = 0, throttled = 0, max_retries = 0, beyond_sdk = 0;
};

struct daemon_bot {
  static bot_outcome run(const options& o, const testbed& t) {
    const auto deadline = [&] { return std::chrono::system_clock::now() + std::chrono::seconds(o.patience); };
    auto channel = client::make_channel(o.target);
    client::broker_client broker(channel);
    auto mailbox = pb::Mailbox::NewStub(channel);
    pb::ConnectResponse connected;
    auto s = broker.connect(connect_request(o, t, "graph_bench bot " + std::to_string(o.index)), &connected,
                            std::chrono::seconds(o.patience));
    if (!s.ok()) return {"Connect: " + s.error_message()};
    const std::string lease = connected.lease_id();
    pb::ListMessagesRequest list;
    list.set_lease_id(lease);
    list.set_limit(static_cast<std::uint32_t>(o.list));
    list.set_order(pb::LIST_ORDER_NEWEST_FIRST);
    pb::ListMessagesResponse page;
    {
      grpc::ClientContext context;
      context.set_deadline(deadline());
      s = mailbox->ListMessages(&context, list, &page);
    }
    if (!s.ok()) return {"ListMessages: " + s.error_message()};
    bot_outcome out;
    out.listed = static_cast<std::size_t>(page.messages_size());
    // --parallel readers, each reading the next picked message until none is left.
    const auto picks = pick(out.listed, o.index, o.read);
    std::atomic<std::size_t> next{0};
    std::mutex m;
    auto reader = [&] {
      for (std::size_t k; (k = next++) < picks.size();) {
        const std::size_t i = picks[k];
        pb::GetMessageRequest get;
        get.set_lease_id(lease);
        *get.mutable_ref() = page.messages(static_cast<int>(i)).ref();
        grpc::ClientContext context;
        context.set_deadline(deadline());
        auto stream = mailbox->GetMessage(&context, get);
        pb::MessageChunk chunk;
        std::uint64_t got = 0, total = 0;
        while (stream->Read(&chunk)) {
          got += chunk.data().size();
          total = chunk.total_size();
        }
        const auto finished = stream->Finish();
        std::lock_guard lock(m);
        if (!finished.ok()) {
          if (out.error.empty()) out.error = "GetMessage #" + std::to_string(i) + ": " + finished.error_message();
          return;
        }
        if (got == 0 || got != total) {
          if (out.error.empty()) out.error = "GetMessage #" + std::to_string(i) + ": short read";
          return;
        }
        out.bytes += got;
        ++out.read;
      }
    };
    std::vector<std::thread> readers;
    for (int w = 1; w < std::min<int>(o.parallel, static_cast<int>(picks.size())); ++w) readers.emplace_back(reader);
    reader();
    for (auto& r : readers) r.join();
    if (!out.error.empty()) return out;
    pb::DisconnectResponse d;
    s = broker.disconnect(lease, false, &d);
    if (!s.ok()) out.error = "Disconnect: " + s.error_message();
    return out;
  }
};

struct direct_bot {
  // One Graph request on `conn`, retried after every 429 / 503 for as long as the SDK's
  // RetryHandler would wait (Retry-After, else the codec's default), counting them.
  static awaitable<result<net::http_response>> call(net::http_connection& conn, std::string root_path,
                                                    graph::request request, bot_outcome& out) {
    for (long retries = 0;; ++retries) {
      std::vector<net::http_header> headers;
      for (auto& [name, value] : request.headers) headers.push_back({name, value});
      headers.push_back({"Accept", "application/json"});
      net::http_request http{request.method, root_path + request.url, request.content_type, request.body,
                             std::move(headers)};
      auto response = co_await conn.send(std::move(http));
      if (!response || (response->status != 429 && response->status != 503)) {
        out.max_retries = std::max(out.max_retries, retries);
        if (retries > sdk_max_retries) ++out.beyond_sdk;
        co_return response;
      }
      ++out.throttled;
      const auto wait = graph::parse_retry_after(response->header("Retry-After"), std::chrono::system_clock::now())
                            .value_or(graph::default_retry_after);
      auto executor = co_await asio::this_coro::executor;
      asio::steady_timer timer(executor, wait);
      co_await timer.async_wait(use_awaitable);
    }
  }

  // "" when `r` is a 2xx answer, else what went wrong (the Graph error code and request-id).
  static std::string failure_of(const result<net::http_response>& r) {
    if (!r) return r.err().message;
    if (r->status / 100 == 2) return {};
    return graph::response_error(r->status, r->body, r->header("Retry-After"), std::chrono::system_clock::now())
        .err.message;
  }

  static bot_outcome run(const options& o, const testbed& t) {
    bot_outcome out;
    auto graph_tls = net::make_client_tls_context({t.ca_file, true});
    if (!graph_tls) return {"TLS context: " + graph_tls.err().message};
    auto token_tls = net::make_client_tls_context({t.token_ca_file, true});
    if (!token_tls) return {"TLS context: " + token_tls.err().message};
    const auto root = graph::service_root(graph::cloud::custom, o.url);
    if (!root) return {root.err().message};
    const auto root_url = net::parse_http_url(root.value());
    if (!root_url) return {root_url.err().message};
    const auto mailbox = graph::mailbox_root(t.mailbox);
    if (!mailbox) return {mailbox.err().message};

    asio::io_context io;
    std::string token;  // set once fetched; the authenticator reads it for every request
    auto bearer = net::make_bearer_authenticator([&token]() -> result<std::string> { return token; });
    net::http_connection_options http;
    http.tls = graph_tls.value();
    http.request_timeout = std::chrono::seconds(o.patience);
    http.connect_timeout = std::chrono::seconds(o.patience);
    const int workers = std::max(1, std::min(o.parallel, o.read));
    std::vector<std::unique_ptr<net::http_connection>> conns;
    for (int w = 0; w < workers; ++w) {
      conns.push_back(std::make_unique<net::http_connection>(io.get_executor(), root_url->endpoint, http, bearer));
    }
    const std::string root_path = root_url->target == "/" ? "" : root_url->target;  // "/v1.0"
    graph::message_list page;
    std::vector<std::size_t> picks;
    std::size_t next = 0;
    int running = workers;
    asio::steady_timer all_read(io, clock_type::time_point::max());

    auto read_some = [&](int w) -> awaitable<void> {
      while (next < picks.size() && out.error.empty()) {
        const std::size_t i = picks[next++];
        auto get = graph::get_mime(mailbox.value(), page.messages[i].item_id);
        if (!get) {
          out.error = "GET $value #" + std::to_string(i) + ": " + get.err().message;
          break;
        }
        auto got = co_await call(*conns[static_cast<std::size_t>(w)], root_path, std::move(get.value()), out);
        if (auto why = failure_of(got); !why.empty()) {
          if (out.error.empty()) out.error = "GET $value #" + std::to_string(i) + ": " + why;
          break;
        }
        if (got->body.empty()) {
          if (out.error.empty()) out.error = "GET $value #" + std::to_string(i) + ": empty body";
          break;
        }
        out.bytes += got->body.size();
        ++out.read;
      }
      if (--running == 0) all_read.cancel();
    };

    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          // The bot's own token: client credentials, as an app with its own Graph access.
          auth::http_request_options token_http;
          token_http.tls = token_tls.value();
          token_http.timeout = std::chrono::seconds(o.patience);
          const std::string form =
              auth::form_urlencode({{"grant_type", "client_credentials"}, {"scope", t.scope}});
          const std::string basic = "Basic " + base64_encode(t.client_id + ":" + t.client_secret);
          ++out.token_requests;
          auto answer = co_await auth::http_post_form(o.token_url, form, basic, token_http);
          if (!answer) {
            out.error = "token request: " + answer.err().message;
            co_return;
          }
          auto granted = auth::parse_token_response(answer->status, answer->content_type, answer->body);
          if (!granted) {
            out.error = "token request: " + granted.err().message;
            co_return;
          }
          token = granted->access_token;

          graph::message_query q;
          q.newest_first = true;
          q.top = static_cast<std::uint32_t>(o.list);
          auto list = graph::list_messages(mailbox.value(), "inbox", q);
          if (!list) {
            out.error = "list: " + list.err().message;
            co_return;
          }
          auto listed = co_await call(*conns[0], root_path, std::move(list.value()), out);
          if (auto why = failure_of(listed); !why.empty()) {
            out.error = "list: " + why;
            co_return;
          }
          auto parsed = graph::parse_message_list(listed->body, listed->status);
          if (!parsed) {
            out.error = "list: " + parsed.err().message;
            co_return;
          }
          page = std::move(parsed.value());
          out.listed = page.messages.size();
          picks = pick(out.listed, o.index, o.read);
          for (int w = 0; w < workers; ++w) {
            asio::co_spawn(io, read_some(w), [&](std::exception_ptr e) {
              if (e && out.error.empty()) out.error = "exception in a reader";
            });
          }
          error_code ec;
          co_await all_read.async_wait(asio::redirect_error(use_awaitable, ec));
        },
        // The connections keep a read pending while idle: run() would not return by itself.
        [&](std::exception_ptr e) {
          if (e && out.error.empty()) out.error = "exception in the Graph client";
          for (auto& c : conns) c->close();
          io.stop();
        });
    io.run();
    io.restart();
    io.poll();  // the aborted idle reads complete before the connections go
    return out;
  }
};

template <typename Bot>
int run_bot(const options& o) {
  const testbed t = load_testbed(o);
  report("R " + std::to_string(o.index));
  for (char c;;) {  // wait for the release (EOF)
    const ssize_t n = ::read(barrier_fd, &c, 1);
    if (n == 0) break;
    if (n < 0 && errno != EINTR) std::_Exit(3);
  }
  const std::int64_t start = now_ns();
  bot_outcome out = Bot::run(o, t);
  const std::int64_t end = now_ns();
  if (!out.error.empty()) {
    std::replace(out.error.begin(), out.error.end(), '\n', ' ');
    report("E " + std::to_string(o.index) + " " + out.error.substr(0, 400));
    return 1;
  }
  report("D " + std::to_string(o.index) + " " + std::to_string(start) + " " + std::to_string(end) + " " +
         std::to_string(out.listed) + " " + std::to_string(out.read) + " " + std::to_string(out.bytes) + " " +
         std::to_string(out.token_requests) + " " + std::to_string(out.throttled) + " " +
         std::to_string(out.max_retries) + " " + std::to_string(out.beyond_sdk));
  return 0;
}

// ---------------------------------------------------------------------------------------
// Parent side
// ---------------------------------------------------------------------------------------

// "UNAVAILABLE: ..." for a failed call of the parent.
std::string describe(const grpc::Status& s) {
  static const char* names[] = {"OK",        "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",
                                "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS", "PERMISSION_DENIED",
                                "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                                "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",    "DATA_LOSS",
                                "UNAUTHENTICATED"};
  const auto code = static_cast<std::size_t>(s.error_code());
  return std::string(code < std::size(names) ? names[code] : "code " + std::to_string(code)) + ": " + s.error_message();
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

// The fake's control API (plain HTTP on loopback), one keep-alive connection, synchronous.
class control_api {
 public:
  explicit control_api(std::uint16_t port) : conn_(io_.get_executor(), {false, "127.0.0.1", port}, {}, nullptr) {}

  // The response body of a 200; anything else ends the benchmark.
  std::string call(const std::string& method, const std::string& target, const std::string& content_type = {},
                   std::string body = {}) {
    std::optional<result<net::http_response>> got;
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          net::http_request request{method, "/_control/" + target, content_type, std::move(body), {}};
          got.emplace(co_await conn_.send(std::move(request)));
        },
        [&](std::exception_ptr) { io_.stop(); });
    io_.restart();
    io_.run();
    if (!got) die("control API " + target + ": no answer");
    if (!*got) die("control API " + target + ": " + got->err().message);
    if (got->value().status != 200) {
      die("control API " + target + ": HTTP " + std::to_string(got->value().status) + " " + got->value().body.substr(0, 300));
    }
    return std::move(got->value().body);
  }

  nlohmann::json counters() { return nlohmann::json::parse(call("GET", "counters")); }

  // The last `n` recorded requests, one line each (the fake records no token).
  std::string last_requests(std::size_t n) {
    const auto json = nlohmann::json::parse(call("GET", "requests"), nullptr, false);
    if (!json.is_array()) return "(the fake's request log is not a JSON array)\n";
    std::string out;
    auto str = [](const nlohmann::json& r, const char* key) {
      if (!r.contains(key) || r[key].is_null()) return std::string("-");
      return r[key].is_string() ? r[key].get<std::string>() : r[key].dump();
    };
    for (std::size_t i = json.size() > n ? json.size() - n : 0; i < json.size(); ++i) {
      const auto& r = json[i];
      out += "  " + str(r, "time") + " " + str(r, "method") + " " + str(r, "path") + " ?" + str(r, "query").substr(0, 120) +
             " user " + str(r, "user") + " -> " + str(r, "status") + " " + str(r, "error") + " " + str(r, "ms") + " ms\n";
    }
    return out;
  }

 private:
  asio::io_context io_;
  net::http_connection conn_;
};

// The OAuth2 server's counters (plain HTTP on loopback): token requests it answered.
long token_requests_total(const std::string& stats_url) {
  auth::http_request_options o;
  o.allow_http = true;
  auto r = run_sync(auth::http_get(stats_url, o));
  if (!r || r->status != 200) die("GET " + stats_url + " failed: " + (r ? "HTTP " + std::to_string(r->status) : r.err().message));
  const auto json = nlohmann::json::parse(r->body, nullptr, false);
  if (!json.is_object() || !json.contains("token_requests_total")) die("the OAuth2 server's stats lack token_requests_total");
  return json["token_requests_total"].get<long>();
}

// What one round cost the servers: counter differences.
struct server_cost {
  long requests = 0, connections = 0, throttled = 0, introspections = 0, token_requests = 0;
};

struct counters_snapshot {
  nlohmann::json graph;
  long token_requests = 0;
};

counters_snapshot snapshot(control_api& control, const testbed& t) { return {control.counters(), token_requests_total(t.stats_url)}; }

server_cost cost_between(const counters_snapshot& before, const counters_snapshot& after) {
  auto d = [&](const char* key) {
    if (!before.graph.contains(key) || !after.graph.contains(key)) die(std::string("the fake's counters lack ") + key);
    return after.graph[key].get<long>() - before.graph[key].get<long>();
  };
  return {d("requests"), d("connections"), d("throttled"), d("introspections"), after.token_requests - before.token_requests};
}

// The fake's high-water mark of requests in flight for `user`'s mailbox since its reset.
long max_in_flight(const nlohmann::json& counters, const std::string& user) {
  const auto& m = counters.value("max_in_flight", nlohmann::json::object());
  return m.contains(user) ? m[user].get<long>() : 0;
}

// Deterministic corpus: sizes 5..50 KB, every third message multipart with an attachment,
// each delivered as a new unread arrival in the user's inbox, one minute apart (so that
// newest first is one order). Returns bytes.
std::uint64_t deliver_corpus(const options& o, control_api& control) {
  std::mt19937 rng(20261206);
  static const char* words[] = {"invoice", "order", "report", "delivery", "payment", "status", "quarter",
                                "review",  "please", "attached", "kind",    "regards", "the",    "and"};
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::time_t first = 1795687200;  // 2026-11-26T10:00:00Z
  std::uint64_t total = 0;
  for (int i = 1; i <= o.messages; ++i) {
    const std::size_t target = 5000 + rng() % 45001;
    const std::time_t received = first + 60 * i;
    std::tm tm{};
    ::gmtime_r(&received, &tm);
    char iso[32], rfc[64];
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::strftime(rfc, sizeof rfc, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    std::string m = "From: Sender " + std::to_string(i % 17) + " <sender" + std::to_string(i % 17) + "@example.org>\r\n";
    m += "To: " + o.user + "@testlab.test\r\n";
    m += "Subject: Bench message " + std::to_string(i) + " " + words[rng() % 14] + "\r\n";
    m += std::string("Date: ") + rfc + "\r\n";
    m += "Message-ID: <graph-bench-" + std::to_string(i) + "@example.org>\r\nMIME-Version: 1.0\r\n";
    if (i % 3 == 0) {
      m += "Content-Type: multipart/mixed; boundary=bench-b\r\n\r\n--bench-b\r\nContent-Type: text/plain; "
           "charset=utf-8\r\n\r\nSee the attached file.\r\n--bench-b\r\nContent-Type: application/pdf; name=doc" +
           std::to_string(i) + ".pdf\r\nContent-Disposition: attachment; filename=doc" + std::to_string(i) +
           ".pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n";
      while (m.size() < target) {
        for (int k = 0; k < 76; ++k) m += b64[rng() % 64];
        m += "\r\n";
      }
      m += "--bench-b--\r\n";
    } else {
      m += "Content-Type: text/plain; charset=utf-8\r\n\r\n";
      while (m.size() < target) {
        std::string line;
        while (line.size() < 70) line += std::string(words[rng() % 14]) + " ";
        m += line + "\r\n";
      }
    }
    total += m.size();
    control.call("POST", "deliver?user=" + o.user + "&folder=inbox&received=" + iso, "message/rfc822", std::move(m));
  }
  return total;
}

struct round_result {
  double wall_ms = 0;
  std::vector<double> bot_ms;
  std::uint64_t bytes_per_bot = 0;
  // Summed over the bots (direct; 0 for daemon bots).
  long token_requests = 0, throttled_seen = 0, max_retries = 0, beyond_sdk = 0;
};

// Starts `o.bots` bot processes in `mode`, releases them together, collects their reports.
// A bot's error (or a dead bot) ends the benchmark with the error and the fake's last requests.
class round_runner {
 public:
  round_runner(const options& o, std::string self, control_api& control) : o_(o), self_(std::move(self)), control_(control) {}

  round_result run(const std::string& mode) {
    int barrier[2], results[2];
    if (::pipe2(barrier, O_CLOEXEC) != 0 || ::pipe2(results, O_CLOEXEC) != 0) die(std::string("pipe2: ") + std::strerror(errno));
    // Above the fixed bot fds, so that dup2 below never hits its own source.
    for (int* fd : {&barrier[0], &barrier[1], &results[0], &results[1]}) {
      const int moved = ::fcntl(*fd, F_DUPFD_CLOEXEC, 10);
      ::close(*fd);
      *fd = moved;
    }
    std::vector<std::vector<std::string>> args;
    for (int i = 0; i < o_.bots; ++i) {
      args.push_back({self_, "--bot", mode, "--index", std::to_string(i), "--target", o_.target, "--graph-env",
                      o_.graph_env_path, "--oauth2-env", o_.oauth2_env_path, "--user", o_.user, "--list",
                      std::to_string(o_.list), "--read", std::to_string(o_.read), "--parallel",
                      std::to_string(o_.parallel), "--session", o_.session, "--url", o_.url, "--token-url",
                      o_.token_url, "--patience", std::to_string(o_.patience)});
    }
    std::fflush(nullptr);
    for (auto& a : args) {
      std::vector<char*> argv;
      for (auto& s : a) argv.push_back(s.data());
      argv.push_back(nullptr);
      const pid_t pid = ::fork();
      if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
      if (pid == 0) {  // only async-signal-safe calls until exec
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no bot outlives a killed benchmark
        if (::dup2(barrier[0], barrier_fd) < 0 || ::dup2(results[1], results_fd) < 0) ::_exit(127);
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      pids_.push_back(pid);
    }
    ::close(barrier[0]);
    ::close(results[1]);
    results_fd_ = results[0];
    expect('R', "ready");
    const std::int64_t released = now_ns();
    ::close(barrier[1]);
    const auto done = expect('D', "done");
    ::close(results_fd_);
    for (pid_t pid : pids_) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("bot process " + std::to_string(pid) + " failed");
    }
    pids_.clear();
    round_result out;
    std::int64_t last = released;
    for (const auto& line : done) {
      std::istringstream in(line.substr(2));
      int index = 0;
      std::int64_t start = 0, end = 0;
      std::size_t listed = 0, read = 0;
      std::uint64_t bytes = 0;
      long tokens = 0, throttled = 0, retries = 0, beyond = 0;
      in >> index >> start >> end >> listed >> read >> bytes >> tokens >> throttled >> retries >> beyond;
      if (listed != static_cast<std::size_t>(std::min(o_.list, o_.messages)) || read != static_cast<std::size_t>(o_.read)) {
        die(mode + " bot " + std::to_string(index) + " listed " + std::to_string(listed) + " and read " +
            std::to_string(read) + " messages");
      }
      last = std::max(last, end);
      out.bot_ms.push_back(static_cast<double>(end - start) / 1e6);
      out.bytes_per_bot = bytes;
      out.token_requests += tokens;
      out.throttled_seen += throttled;
      out.max_retries = std::max(out.max_retries, retries);
      out.beyond_sdk += beyond;
    }
    out.wall_ms = static_cast<double>(last - released) / 1e6;
    return out;
  }

 private:
  std::vector<std::string> expect(char kind, const char* what) {
    std::vector<std::string> lines;
    const auto deadline = clock_type::now() + std::chrono::seconds(o_.patience + 30);  // hang guard
    while (lines.size() < static_cast<std::size_t>(o_.bots)) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        if (!line.empty() && line[0] == 'E') fail("bot " + line.substr(2));
        if (!line.empty() && line[0] == kind) lines.push_back(std::move(line));
        continue;
      }
      if (clock_type::now() > deadline) fail(std::string("bots not ") + what + " after " + std::to_string(o_.patience + 30) + " s");
      pollfd p{results_fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, 1000);
      if (r < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
      if (r > 0) {
        char buf[4096];
        const ssize_t n = ::read(results_fd_, buf, sizeof buf);
        if (n > 0) buffer_.append(buf, static_cast<std::size_t>(n));
        else if (n == 0) fail(std::string("bots exited before all were ") + what);
      }
    }
    return lines;
  }

  [[noreturn]] void fail(const std::string& why) {
    for (pid_t pid : pids_) ::kill(pid, SIGKILL);
    for (pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
    std::fprintf(stderr, "graph_bench: %s\nthe fake's last %zu recorded requests:\n%s", why.c_str(), dumped_requests,
                 control_.last_requests(dumped_requests).c_str());
    std::exit(1);
  }

  const options& o_;
  std::string self_, buffer_;
  control_api& control_;
  std::vector<pid_t> pids_;
  int results_fd_ = -1;
};

struct stats {
  double median = 0, p95 = 0, min = 0, max = 0;
};

stats summarise(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]; };
  return {at(0.5), at(0.95), v.front(), v.back()};
}

// A delay_proxy child process in front of a loopback port, for the lifetime of this object
// (SIGTERM at the end; SIGKILL with the parent).
class proxy_process {
 public:
  proxy_process(const std::string& path, std::uint16_t target_port, int delay_ms) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) die(std::string("pipe2: ") + std::strerror(errno));
    std::vector<std::string> args = {path, "--target", "127.0.0.1:" + std::to_string(target_port), "--delay-ms",
                                     std::to_string(delay_ms)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) die(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::dup2(out[1], STDOUT_FILENO) < 0) ::_exit(127);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;  // "port N\n", then nothing more is written
    const auto deadline = clock_type::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos) {
      if (clock_type::now() > deadline) die("delay_proxy did not print its port within 10 s");
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[64];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n == 0) die("delay_proxy (" + path + ") exited before printing its port");
      if (n > 0) line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    if (line.rfind("port ", 0) != 0) die("delay_proxy printed: " + line);
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(5)));
  }
  proxy_process(const proxy_process&) = delete;
  proxy_process& operator=(const proxy_process&) = delete;
  ~proxy_process() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

struct variant_result {
  stats wall{}, bot{};
  std::vector<server_cost> costs;  // per timed round
  std::vector<round_result> rounds;
};

struct delay_result {
  int delay_ms = 0, rounds = 0;
  variant_result daemon, direct;
  // The session's first round: nothing cached (every read a GET $value).
  double cold_daemon_ms = 0;
  server_cost cold_cost;
  server_cost session_start;  // the parent's Connect: the session's login
  long daemon_peak = 0, overall_peak = 0;  // the fake's max_in_flight after the cold round / at the end
  std::uint64_t corpus_bytes = 0;
  double deliver_ms = 0;
  std::uint64_t bytes_per_bot = 0;
  // SessionStatus.http at the end of the delay.
  std::uint64_t session_requests = 0, session_throttled = 0;
  std::uint32_t session_max_in_flight = 0;
};

// Every measurement at one delay: a freshly reset fake with the corpus, the latency in
// front of both servers, a session of its own (graph-bench-dD) pointing there, both
// variants through the same latency.
delay_result run_delay(const options& base, const testbed& t, const std::string& self, control_api& control, int delay) {
  options o = base;
  proxy_process graph_proxy(o.delay_proxy, t.graph_port, delay);
  proxy_process token_proxy(o.delay_proxy, t.token_port, delay);
  o.url = "https://127.0.0.1:" + std::to_string(graph_proxy.port());
  o.token_url = with_port(t.token_url, token_proxy.port());
  o.session = session_prefix + std::to_string(delay);
  // Retry-After waits dominate a throttled round: allow minutes.
  o.patience = 180 + o.bots * (o.read + 2) * 2 * delay * 3 / 1000;
  std::fprintf(stderr, "one-way delay %d ms: Graph %s, token endpoint %s, session %s\n", delay, o.url.c_str(),
               o.token_url.c_str(), o.session.c_str());

  delay_result out;
  out.delay_ms = delay;
  out.rounds = o.rounds;
  control.call("POST", "reset");  // empty mailboxes and counters: the corpus is all there is
  control.call("POST", "delay?ms=" + std::to_string(o.server_ms));  // reset cleared it
  const auto p0 = clock_type::now();
  out.corpus_bytes = deliver_corpus(o, control);
  out.deliver_ms = std::chrono::duration<double, std::milli>(clock_type::now() - p0).count();

  // The session is live before the timed rounds (the product's premise); this lease keeps
  // it so. Its ListMessages checks the corpus.
  auto channel = client::make_channel(o.target);
  client::broker_client broker(channel);
  auto mailbox = pb::Mailbox::NewStub(channel);
  const auto start_before = snapshot(control, t);
  pb::ConnectResponse connected;
  round_runner runner(o, self, control);
  if (o.with_daemon) {
    auto s = broker.connect(connect_request(o, t, "graph_bench"), &connected, std::chrono::seconds(o.patience));
    if (!s.ok()) {
      die("Connect (" + o.session + ", Graph " + o.url + ") failed: " + describe(s) + "\nthe fake's last recorded requests:\n" +
          control.last_requests(dumped_requests));
    }
    {
      pb::ListMessagesRequest list;
      list.set_lease_id(connected.lease_id());
      list.set_limit(1);
      list.set_order(pb::LIST_ORDER_NEWEST_FIRST);
      pb::ListMessagesResponse page;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(o.patience));
      s = mailbox->ListMessages(&context, list, &page);
      if (!s.ok()) {
        die("ListMessages failed: " + describe(s) + "\nthe fake's last recorded requests:\n" +
            control.last_requests(dumped_requests));
      }
      if (page.messages_size() != 1) die("ListMessages(limit 1) returned " + std::to_string(page.messages_size()) + " messages");
    }
    out.session_start = cost_between(start_before, snapshot(control, t));

    // The session's first round is its cold one (nothing cached): timed and reported on its
    // own; the direct one after it warms that path up, untimed.
    const auto cold_before = snapshot(control, t);
    out.cold_daemon_ms = runner.run("daemon").wall_ms;
    const auto cold_after = snapshot(control, t);
    out.cold_cost = cost_between(cold_before, cold_after);
    out.daemon_peak = max_in_flight(cold_after.graph, o.user);
  }
  runner.run("direct");
  std::vector<double> wall[2], bot[2];
  for (int r = 0; r < o.rounds; ++r) {
    for (int mode = o.with_daemon ? 0 : 1; mode < 2; ++mode) {
      const char* name = mode == 0 ? "daemon" : "direct";
      const auto before = snapshot(control, t);
      const auto res = runner.run(name);
      const auto cost = cost_between(before, snapshot(control, t));
      wall[mode].push_back(res.wall_ms);
      bot[mode].insert(bot[mode].end(), res.bot_ms.begin(), res.bot_ms.end());
      auto& v = mode == 0 ? out.daemon : out.direct;
      v.costs.push_back(cost);
      v.rounds.push_back(res);
      out.bytes_per_bot = res.bytes_per_bot;
      std::fprintf(stderr,
                   "  %2d ms round %d %-6s wall %8.1f ms  requests %ld  tls %ld  429 %ld  tokens %ld  introspections %ld\n",
                   delay, r + 1, name, res.wall_ms, cost.requests, cost.connections, cost.throttled, cost.token_requests,
                   cost.introspections);
      if (mode == 1 && res.token_requests != cost.token_requests) {
        std::fprintf(stderr, "  note: the direct bots sent %ld token requests, the OAuth2 server counted %ld\n",
                     res.token_requests, cost.token_requests);
      }
    }
  }
  out.daemon.wall = summarise(wall[0]);
  out.daemon.bot = summarise(bot[0]);
  out.direct.wall = summarise(wall[1]);
  out.direct.bot = summarise(bot[1]);
  out.overall_peak = max_in_flight(control.counters(), o.user);

  if (!o.with_daemon) return out;
  pb::StatusResponse st;
  if (broker.status(o.session, &st).ok() && st.sessions_size() == 1 && st.sessions(0).has_http()) {
    const auto& http = st.sessions(0).http();
    out.session_requests = http.requests();
    out.session_throttled = http.throttled();
    out.session_max_in_flight = http.max_in_flight();
  }
  pb::DisconnectResponse d;
  broker.disconnect(connected.lease_id(), true, &d);  // log the session out: the next delay starts from nothing
  return out;
}

// "12 .. 14" when the rounds differ, "12" when they agree.
std::string range_of(const std::vector<server_cost>& costs, long server_cost::*field) {
  long lo = costs.front().*field, hi = lo;
  for (const auto& c : costs) {
    lo = std::min(lo, c.*field);
    hi = std::max(hi, c.*field);
  }
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + ".." + std::to_string(hi);
}

std::string describe_costs(const std::vector<server_cost>& costs) {
  return "Graph requests " + range_of(costs, &server_cost::requests) + ", 429s " + range_of(costs, &server_cost::throttled) +
         ", TLS connections " + range_of(costs, &server_cost::connections) + ", token requests " +
         range_of(costs, &server_cost::token_requests) + ", introspections " + range_of(costs, &server_cost::introspections);
}

// "daemon 3.10x faster" / "daemon 2.40x slower" from the ratio daemon/direct of wall times.
std::string verdict(double daemon_over_direct) {
  char buf[64];
  if (daemon_over_direct <= 1) std::snprintf(buf, sizeof buf, "daemon %.2fx faster", 1 / daemon_over_direct);
  else std::snprintf(buf, sizeof buf, "daemon %.2fx slower", daemon_over_direct);
  return buf;
}

int run_parent(options o) {
  const testbed t = load_testbed(o);
  std::string self(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size());
  if (n <= 0) die("readlink /proc/self/exe failed");
  self.resize(static_cast<std::size_t>(n));
  if (o.delay_proxy.empty()) o.delay_proxy = std::filesystem::path(self).parent_path() / "delay_proxy";
  if (::access(o.delay_proxy.c_str(), X_OK) != 0) die("no delay_proxy at " + o.delay_proxy + " (--delay-proxy)");

  control_api control(t.control_port);
  std::vector<delay_result> results;
  for (int delay : o.delays) results.push_back(run_delay(o, t, self, control, delay));

  std::printf("corpus: %d messages, %.1f MB (5-50 KB each, 1/3 with an attachment), in %s's inbox on the fake Graph "
              "server, delivered afresh per delay (control API, %.0f ms)\n",
              o.messages, static_cast<double>(results.back().corpus_bytes) / 1e6, t.mailbox.c_str(),
              results.back().deliver_ms);
  std::printf("the fake: each mailbox request takes %d ms (its slot held), at most %d in flight per app and mailbox, "
              "more get 429 + Retry-After: %d s; tokens checked by introspection at the OAuth2 server (oidc-provider), "
              "one client-credentials app for all\n",
              o.server_ms, t.concurrency, t.retry_after);
  std::printf("%d bot processes at once, each: summaries of the %d newest + read %d of them (~%.0f KB of MIME), up to "
              "%d requests at once per bot; modes alternate round by round, %d rounds each\n",
              o.bots, o.list, o.read, static_cast<double>(results.back().bytes_per_bot) / 1e3, o.parallel, o.rounds);
  std::printf("  daemon: Connect (attach to the live Graph session), ListMessages(INBOX, NEWEST_FIRST, limit %d), %d x "
              "GetMessage(ref), Disconnect\n",
              o.list, o.read);
  std::printf("  direct: POST the token endpoint (client credentials), GET inbox/messages?$select&$orderby=receivedDateTime "
              "desc&$top=%d, %d x GET messages/{id}/$value, keep-alive HTTPS, 429 retried after Retry-After\n",
              o.list, o.read);
  std::printf("latency: delay_proxy in front of the fake's HTTPS port and the token endpoint (a connection opens 2*D "
              "after connect(), every chunk arrives D later, each way); server figures: counter differences around "
              "each timed round\n");
  for (const auto& r : results) {
    std::printf("one-way delay %d ms (round trip %d ms):\n", r.delay_ms, 2 * r.delay_ms);
    if (o.with_daemon) {
      std::printf("  session start (the parent's Connect + a 1-message list): Graph requests %ld, token requests %ld\n",
                  r.session_start.requests, r.session_start.token_requests);
      std::printf("  through mailbrokerd (1 Graph session): wall median %8.1f ms (min %.1f, max %.1f)  per bot median "
                  "%7.1f ms p95 %7.1f ms\n      at the servers per round: %s\n",
                  r.daemon.wall.median, r.daemon.wall.min, r.daemon.wall.max, r.daemon.bot.median, r.daemon.bot.p95,
                  describe_costs(r.daemon.costs).c_str());
      std::printf("  through mailbrokerd, cold (its first round, nothing cached): wall %8.1f ms, Graph requests %ld, 429s "
                  "%ld; the fake's max in flight for %s after it: %ld\n",
                  r.cold_daemon_ms, r.cold_cost.requests, r.cold_cost.throttled, o.user.c_str(), r.daemon_peak);
    }
    long seen = 0, beyond = 0, most = 0;
    for (const auto& rr : r.direct.rounds) {
      seen += rr.throttled_seen;
      beyond += rr.beyond_sdk;
      most = std::max(most, rr.max_retries);
    }
    std::printf("  own token + connections per bot:        wall median %8.1f ms (min %.1f, max %.1f)  per bot median "
                "%7.1f ms p95 %7.1f ms\n      at the servers per round: %s\n",
                r.direct.wall.median, r.direct.wall.min, r.direct.wall.max, r.direct.bot.median, r.direct.bot.p95,
                describe_costs(r.direct.costs).c_str());
    std::printf("      the bots saw %ld 429s in %d rounds; one request needed up to %ld retries; %ld requests needed more "
                "than the SDK's %d (with its default they would have failed)\n",
                seen, r.rounds, most, beyond, sdk_max_retries);
    if (!o.with_daemon) continue;
    std::printf("  the session's status at the end: requests %llu, throttled %llu, max in flight %u; the fake's max in "
                "flight for %s over the delay: %ld\n",
                static_cast<unsigned long long>(r.session_requests), static_cast<unsigned long long>(r.session_throttled),
                r.session_max_in_flight, o.user.c_str(), r.overall_peak);
    const double ratio = r.daemon.wall.median / r.direct.wall.median;
    std::printf("  ratio daemon/direct (wall medians): %.2f = %s\n", ratio, verdict(ratio).c_str());
  }
  if (!o.with_daemon) return 0;
  std::printf("summary (%d bots; wall time per round, medians; per round at the servers: Graph requests / 429s / TLS "
              "connections / token requests):\n",
              o.bots);
  std::printf("  %8s | %10s | %10s | %-26s | %-22s | %s\n", "delay", "daemon", "direct", "daemon/direct",
              "daemon req/429/tls/tok", "direct req/429/tls/tok");
  for (const auto& r : results) {
    const double ratio = r.daemon.wall.median / r.direct.wall.median;
    char ratio_text[64];
    std::snprintf(ratio_text, sizeof ratio_text, "%5.2f (%s)", ratio, verdict(ratio).c_str());
    auto quad = [](const std::vector<server_cost>& c) {
      return range_of(c, &server_cost::requests) + " / " + range_of(c, &server_cost::throttled) + " / " +
             range_of(c, &server_cost::connections) + " / " + range_of(c, &server_cost::token_requests);
    };
    std::printf("  %5d ms | %7.1f ms | %7.1f ms | %-26s | %-22s | %s\n", r.delay_ms, r.daemon.wall.median,
                r.direct.wall.median, ratio_text, quad(r.daemon.costs).c_str(), quad(r.direct.costs).c_str());
    std::printf("  %5d ms | cold round through mailbrokerd: %7.1f ms (%.2f of direct's median), %ld requests, %ld 429s\n",
                r.delay_ms, r.cold_daemon_ms, r.cold_daemon_ms / r.direct.wall.median, r.cold_cost.requests,
                r.cold_cost.throttled);
  }
  return 0;
}

// "0,15" -> {0, 15}; an empty or negative entry gives an empty list (usage error).
std::vector<int> parse_delays(const std::string& text) {
  std::vector<int> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const int ms = item.empty() ? -1 : std::stoi(item);
    if (ms < 0) return {};
    out.push_back(ms);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string k = argv[i], v = argv[i + 1];
      if (k == "--target") o.target = v;
      else if (k == "--graph-env") o.graph_env_path = v;
      else if (k == "--oauth2-env") o.oauth2_env_path = v;
      else if (k == "--bots") o.bots = std::stoi(v);
      else if (k == "--rounds") o.rounds = std::stoi(v);
      else if (k == "--messages") o.messages = std::stoi(v);
      else if (k == "--list") o.list = std::stoi(v);
      else if (k == "--read") o.read = std::stoi(v);
      else if (k == "--parallel") o.parallel = std::stoi(v);
      else if (k == "--server-ms") o.server_ms = std::stoi(v);
      else if (k == "--modes") {
        if (v != "both" && v != "direct") {
          std::fprintf(stderr, "--modes both|direct\n");
          return 2;
        }
        o.with_daemon = v == "both";
      }
      else if (k == "--user") o.user = v;
      else if (k == "--delays") o.delays = parse_delays(v);
      else if (k == "--delay-proxy") o.delay_proxy = v;
      else if (k == "--bot") o.bot_mode = v;
      else if (k == "--index") o.index = std::stoi(v);
      else if (k == "--session") o.session = v;
      else if (k == "--url") o.url = v;
      else if (k == "--token-url") o.token_url = v;
      else if (k == "--patience") o.patience = std::stoi(v);
      else {
        std::fprintf(stderr, "unknown option %s\n", k.c_str());
        return 2;
      }
    }
  } catch (const std::exception&) {
    std::fprintf(stderr, "graph_bench: a numeric option has a value that is not a number\n");
    return 2;
  }
  if (o.target.empty() || o.graph_env_path.empty() || o.oauth2_env_path.empty() || o.bots < 1 || o.rounds < 1 ||
      o.messages < 1 || o.list < 1 || o.list > 1000 || o.read < 1 || o.read > o.list || o.parallel < 1 ||
      o.parallel > 16 || o.server_ms < 0 || o.server_ms > 10000 || o.delays.empty() || o.patience < 1 ||
      (!o.bot_mode.empty() && (o.url.empty() || o.token_url.empty()))) {
    std::fprintf(stderr,
                 "usage: graph_bench --target unix:/path --graph-env STATE/graph.env --oauth2-env STATE/oauth2.env\n"
                 "                   [--bots 20] [--rounds 5] [--messages 200] [--list 100] [--read 10]\n"
                 "                   [--parallel 4 (1..16)] [--server-ms 20] [--user alice] [--delays 0,15]\n"
                 "                   [--delay-proxy PATH] [--modes both|direct]\n");
    return 2;
  }
  if (o.bot_mode == "daemon") return run_bot<daemon_bot>(o);
  if (o.bot_mode == "direct") return run_bot<direct_bot>(o);
  if (!o.bot_mode.empty()) {
    std::fprintf(stderr, "--bot daemon|direct\n");
    return 2;
  }
  return run_parent(o);
}
