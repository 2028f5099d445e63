// ews_bench: N bot processes doing the same EWS work — "summaries of the 100 newest unread
// messages, then read 10 of them" — through mailbrokerd's one EWS session vs each with an
// EWS connection and NTLM handshake of its own, against the fake EWS server
// (scripts/testbed/ews.sh), same run, at several network delays (issue 11, "Benchmark").
//
// The network: for each one-way delay D (--delays, default 0,10 ms: 10 ms one way = a 20 ms
// round trip, what a LAN Exchange costs) a delay_proxy process (bench/delay_proxy.cpp) sits
// in front of the fake's HTTPS port: a connection opens 2·D after connect(), every chunk
// arrives D later, each way. Both variants go through it, so TCP, TLS, each NTLM leg and
// every SOAP request pay their round trips. This is the default (--latency proxy) because
// it delays what a network delays; the fake's own delay control (--latency fake: every
// authenticated EWS request waits 2·D before it is answered) delays neither the TCP and
// TLS handshakes nor the NTLM 401 leg, so it undercharges new connections, i.e. it
// flatters the direct bots. The certificate's SAN IP:127.0.0.1 verifies through the proxy.
//
// Each bot is a real process (this binary re-executed with --bot): gRPC channels, TLS
// contexts and NTLM state are per process, as for real bots. The bots of a round start,
// get ready (start-up is not timed) and are released together; a bot's time runs from the
// release to its last step:
//   daemon — new channel, Connect (attach to the live session "ews-bench-dD", same spec
//            for all: EWS, NTLM, TESTLAB\alice), ListMessages(INBOX, UNREAD, NEWEST_FIRST,
//            limit L), GetMessage(ref) of R listed messages (all chunks read), Disconnect;
//   direct — new TLS context, new ews::client + auth::ntlm_authenticator (TESTLAB\alice),
//            TCP + TLS, FindItem(inbox, unread, newest first, max L: the first request
//            carries the NTLM NEGOTIATE, its 401 the CHALLENGE, the resend AUTHENTICATE),
//            R x GetItem(MimeContent), close — what a bot with its own connection does.
// R messages spread over the page, a different set per bot (pick()). A round's wall time
// runs from the release to the last bot's end. Per delay: the parent attaches first (the
// session is live: the product's premise; keepalive 1740 s so no keepalive GetFolder lands
// in a round), the session's first round is timed as its cold round (nothing cached) and
// one untimed direct round warms that path up, then --rounds per mode alternate
// round by round. Around every timed round the parent reads the fake's counters
// (GET /_control/counters); the difference is what that round cost the server: HTTP
// requests (401s included), SOAP requests, TCP connections, NTLM handshakes. The corpus
// (--messages, 5-50 KB each, 1/3 with an attachment) is delivered once through the
// control API (timed, printed). A bot failure ends the run (exit 1) with its error and
// the fake's last recorded requests.
//
// Usage: ews_bench --target unix:/path --ews-env STATE/ews.env [--bots 20] [--rounds 5]
//                  [--messages 200] [--list 100] [--read 10] [--user alice]
//                  [--delays 0,10] [--latency proxy|fake] [--delay-proxy PATH]
//   --delay-proxy defaults to the delay_proxy next to this binary. Bot processes get
//   --session, --url and --patience (their RPC / request deadline, s) from the parent.
// bench/run.sh ews [options] starts the fake and mailbrokerd and runs this.
//
// Command and sample (release build, 2-core VM, 2026-12-06, a CI run sharing the machine;
// ~4 min for the whole `bench/run.sh ews --rounds 3`, builds and start-up included):
//   $ bench/run.sh ews --rounds 3
//   one-way delay 0 ms (round trip 0 ms):
//     through mailbrokerd (1 EWS session): wall median    278.4 ms (min 271.9, max 310.6)  per bot median   241.8 ms p95   296.3 ms
//         at the fake per round: requests 2..3 (SOAP 2..3), TCP connections 0, NTLM handshakes 0
//     through mailbrokerd, cold (its first round, nothing cached): wall    963.2 ms, requests 23 at the fake
//     own connection + NTLM per bot:       wall median   1836.5 ms (min 1743.0, max 1948.2)  per bot median  1707.2 ms p95  1906.4 ms
//         at the fake per round: requests 240 (SOAP 220), TCP connections 20, NTLM handshakes 20
//     ratio daemon/direct (wall medians): 0.15 = daemon 6.60x faster; the session sent 3 requests
//   one-way delay 10 ms (round trip 20 ms):
//     through mailbrokerd (1 EWS session): wall median    299.0 ms (min 256.0, max 346.0)  per bot median   250.2 ms p95   317.8 ms
//         at the fake per round: requests 2..3 (SOAP 2..3), TCP connections 0, NTLM handshakes 0
//     through mailbrokerd, cold (its first round, nothing cached): wall   1149.4 ms, requests 22 at the fake
//     own connection + NTLM per bot:       wall median   1802.3 ms (min 1473.6, max 2079.0)  per bot median  1668.7 ms p95  2033.7 ms
//         at the fake per round: requests 240 (SOAP 220), TCP connections 20, NTLM handshakes 20
//     ratio daemon/direct (wall medians): 0.17 = daemon 6.03x faster; the session sent 2 requests
// Reading it: the session saves every connection and handshake (0 vs 20 of each), and its
// bots share the work: identical ListMessages calls share one FindItem (one that started
// after the call: never an older answer), bodies come from the session's cache by (item
// id, change key) — an item's MIME is fixed for a change key — and reads go side by side
// over the session's pool of HTTPS connections (ews-connections-per-session, 4), misses
// batched into multi-id GetItems. The cold round (nothing cached: 20 FindItems shared down
// to a few, ~100 bodies fetched) is still 1.6-1.9x faster than direct; warm rounds need
// 2-3 requests for 20 bots. The fake is one Python process (~9 ms of CPU per request), so
// the direct bots are bounded by its CPU at 0 ms as at 10 ms. Before the pool and the cache
// (one request at a time, 220 per round) the daemon was 1.02x slower at 0 ms and 3.2x
// slower at 10 ms; with the pool alone 1.06x and 1.40x slower.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/ntlm_authenticator.hpp"
#include "client/broker_client.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "net/http_connection.hpp"
#include "net/tls_context.hpp"
#include "protocol/ews/client.hpp"

namespace {

using namespace mailbroker;
using clock_type = std::chrono::steady_clock;  // CLOCK_MONOTONIC: comparable across processes
namespace pb = ::mailbroker::v1;

constexpr const char* session_prefix = "ews-bench-d";  // + the one-way delay in ms
constexpr int barrier_fd = 3;  // bot: EOF = go
constexpr int results_fd = 4;  // bot: one line per event, shared pipe (writes < PIPE_BUF are atomic)
constexpr std::size_t dumped_requests = 15;  // the fake's last recorded requests shown on failure

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "ews_bench: %s\n", why.c_str());
  std::exit(1);
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count();
}

struct options {
  std::string target, env_path, user = "alice";
  int bots = 20, rounds = 5, messages = 200, list = 100, read = 10;
  std::vector<int> delays = {0, 10};  // one-way, ms
  std::string latency = "proxy";      // proxy | fake
  std::string delay_proxy;            // path; empty = next to this binary
  // Set per delay by the parent for the bots: session name, EWS URL, deadline (s).
  std::string session = "ews-bench", url;
  int patience = 120;
  // --bot mode only
  std::string bot_mode;
  int index = 0;
};

// What ews.sh start wrote into ews.env.
struct testbed {
  std::string ews_url, ca_file, domain, password, state_dir;
  std::uint16_t ews_port = 0, control_port = 0;
};

testbed load_testbed(const options& o) {
  std::map<std::string, std::string> env;
  std::ifstream in(o.env_path);
  if (!in) die("cannot read " + o.env_path + " (--ews-env: the file ews.sh start printed)");
  for (std::string line; std::getline(in, line);) {
    if (auto eq = line.find('='); eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  auto need = [&](const std::string& key) {
    auto it = env.find(key);
    if (it == env.end() || it->second.empty()) die(o.env_path + " has no " + key);
    return it->second;
  };
  std::string upper;
  for (char c : o.user) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  testbed t;
  t.ews_url = need("EWS_URL");
  t.ca_file = need("CA_FILE");
  t.domain = need("EWS_DOMAIN");
  t.password = need(upper + "_PASSWORD");
  t.state_dir = need("EWS_STATE_DIR");
  t.ews_port = static_cast<std::uint16_t>(std::stoi(need("EWS_PORT")));
  t.control_port = static_cast<std::uint16_t>(std::stoi(need("EWS_CONTROL_PORT")));
  return t;
}

std::string ews_url_at(std::uint16_t port) { return "https://127.0.0.1:" + std::to_string(port) + "/EWS/Exchange.asmx"; }

pb::ConnectRequest connect_request(const options& o, const testbed& t, const std::string& client_name) {
  pb::ConnectRequest request;
  request.set_session(o.session);
  request.set_client_name(client_name);
  auto* spec = request.mutable_spec();
  spec->set_protocol(pb::PROTOCOL_EWS);
  spec->mutable_server()->mutable_tls()->set_ca_file(t.ca_file);
  // No keepalive GetFolder may land inside a timed round (it would count as the daemon's).
  spec->set_keepalive_seconds(1740);
  auto* ews = spec->mutable_ews();
  ews->set_url(o.url);
  ews->set_auth_scheme(pb::EWS_AUTH_SCHEME_NTLM);
  ews->set_domain(t.domain);
  ews->set_timeout_seconds(60);
  auto* basic = spec->mutable_auth()->mutable_basic();
  basic->set_username(o.user);
  basic->mutable_password()->set_inline_value(t.password);
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
};

struct daemon_bot {
  static bot_outcome run(const options& o, const testbed& t) {
    const auto deadline = [&] { return std::chrono::system_clock::now() + std::chrono::seconds(o.patience); };
    auto channel = client::make_channel(o.target);
    client::broker_client broker(channel);
    auto mailbox = pb::Mailbox::NewStub(channel);
    pb::ConnectResponse connected;
    auto s = broker.connect(connect_request(o, t, "ews_bench bot " + std::to_string(o.index)), &connected,
                            std::chrono::seconds(o.patience));
    if (!s.ok()) return {"Connect: " + s.error_message()};
    const std::string lease = connected.lease_id();
    pb::ListMessagesRequest list;
    list.set_lease_id(lease);
    list.set_read(pb::READ_FILTER_UNREAD);
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
    for (std::size_t i : pick(out.listed, o.index, o.read)) {
      pb::GetMessageRequest get;
      get.set_lease_id(lease);
      *get.mutable_ref() = page.messages(static_cast<int>(i)).ref();
      grpc::ClientContext context;
      context.set_deadline(deadline());
      auto reader = mailbox->GetMessage(&context, get);
      pb::MessageChunk chunk;
      std::uint64_t got = 0, total = 0;
      while (reader->Read(&chunk)) {
        got += chunk.data().size();
        total = chunk.total_size();
      }
      s = reader->Finish();
      if (!s.ok()) return {"GetMessage #" + std::to_string(i) + ": " + s.error_message()};
      if (got == 0 || got != total) return {"GetMessage #" + std::to_string(i) + ": short read"};
      out.bytes += got;
      ++out.read;
    }
    pb::DisconnectResponse d;
    s = broker.disconnect(lease, false, &d);
    if (!s.ok()) out.error = "Disconnect: " + s.error_message();
    return out;
  }
};

struct direct_bot {
  static bot_outcome run(const options& o, const testbed& t) {
    bot_outcome out;
    auto tls = net::make_client_tls_context({t.ca_file, true});
    if (!tls) return {"TLS context: " + tls.err().message};
    asio::io_context io;
    net::http_connection_options http;
    http.tls = tls.value();
    http.request_timeout = std::chrono::seconds(o.patience);
    http.connect_timeout = std::chrono::seconds(o.patience);
    ews::client_options co;
    co.anchor_mailbox = o.user;  // as the daemon's session sends it
    auto ntlm = std::make_shared<auth::ntlm_authenticator>(auth::ntlm_credentials{o.user, t.domain, t.password, {}});
    const auto port = static_cast<std::uint16_t>(std::stoi(o.url.substr(o.url.rfind(':') + 1)));
    ews::client c(io.get_executor(), net::http_endpoint{true, "127.0.0.1", port}, http, co, ntlm);
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          auto opened = co_await c.open();
          if (!opened) {
            out.error = "open: " + opened.err().message;
            co_return;
          }
          ews::folder_ref inbox;
          inbox.distinguished = "inbox";
          ews::item_query q;
          q.is_read = false;
          q.newest_first = true;
          q.max = static_cast<std::uint32_t>(o.list);
          auto find = ews::find_items(c.version(), inbox, q);
          auto found = co_await c.call(std::move(find));
          if (!found) {
            out.error = "FindItem: " + found.err().message;
            co_return;
          }
          auto page = ews::parse_find_items(found.value());
          if (!page) {
            out.error = "FindItem: " + page.err().message;
            co_return;
          }
          out.listed = page->items.size();
          for (std::size_t i : pick(out.listed, o.index, o.read)) {
            std::vector<ews::item_ref> one{{page->items[i].item_id, {}}};
            auto get = ews::get_items(c.version(), one, true, false);
            auto got = co_await c.call(std::move(get));
            if (!got) {
              out.error = "GetItem #" + std::to_string(i) + ": " + got.err().message;
              co_return;
            }
            auto items = ews::parse_items(got.value());
            if (!items || items->size() != 1 || !items->front().status.ok() || !items->front().mime) {
              out.error = "GetItem #" + std::to_string(i) + ": " +
                          (!items ? items.err().message
                                  : items->empty() ? "no item" : items->front().status.ok() ? "no MimeContent"
                                                                                             : items->front().status.message);
              co_return;
            }
            out.bytes += items->front().mime->size();
            ++out.read;
          }
        },
        // The connection keeps a read pending while idle: run() would not return by itself.
        [&](std::exception_ptr e) {
          if (e && out.error.empty()) out.error = "exception in the EWS client";
          c.close();
          io.stop();
        });
    io.run();
    io.restart();
    io.poll();  // the aborted idle read completes before `c` goes
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
         std::to_string(out.listed) + " " + std::to_string(out.read) + " " + std::to_string(out.bytes));
  return 0;
}

// ---------------------------------------------------------------------------------------
// Parent side
// ---------------------------------------------------------------------------------------

// "UNAUTHENTICATED: https://...: NTLM: ..." for a failed call of the parent.
std::string describe(const grpc::Status& s) {
  static const char* names[] = {"OK",        "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",
                                "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS", "PERMISSION_DENIED",
                                "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                                "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",    "DATA_LOSS",
                                "UNAUTHENTICATED"};
  const auto code = static_cast<std::size_t>(s.error_code());
  return std::string(code < std::size(names) ? names[code] : "code " + std::to_string(code)) + ": " + s.error_message();
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

  std::map<std::string, long> counters() {
    std::map<std::string, long> out;
    const auto json = nlohmann::json::parse(call("GET", "counters"));
    for (const auto& [k, v] : json.items()) {
      if (v.is_number_integer()) out[k] = v.get<long>();
    }
    return out;
  }

  // The last `n` recorded requests, one line each (never credentials: the fake records none).
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
      out += "  #" + str(r, "n") + " conn " + str(r, "conn") + " " + str(r, "method") + " " + str(r, "operation") +
             " user " + str(r, "user") + " auth " + str(r, "auth") + " -> " + str(r, "status") + " fault " +
             str(r, "fault") + " auth_error " + str(r, "auth_error") + "\n";
    }
    return out;
  }

 private:
  asio::io_context io_;
  net::http_connection conn_;
};

// Counter differences of one round: what it cost the fake.
struct server_cost {
  long requests = 0, soap_requests = 0, tcp_connections = 0, ntlm_handshakes = 0;
};

server_cost cost_between(const std::map<std::string, long>& before, const std::map<std::string, long>& after) {
  auto d = [&](const char* key) {
    auto a = after.find(key), b = before.find(key);
    if (a == after.end() || b == before.end()) die(std::string("the fake's counters lack ") + key);
    return a->second - b->second;
  };
  return {d("requests"), d("soap_requests"), d("tcp_connections"), d("ntlm_handshakes")};
}

// Deterministic corpus: sizes 5..50 KB, every third message multipart with an attachment,
// each delivered as a new unread arrival in the user's inbox. Returns bytes.
std::uint64_t deliver_corpus(const options& o, control_api& control) {
  std::mt19937 rng(20261126);
  static const char* words[] = {"invoice", "order", "report", "delivery", "payment", "status", "quarter",
                                "review",  "please", "attached", "kind",    "regards", "the",    "and"};
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::uint64_t total = 0;
  for (int i = 1; i <= o.messages; ++i) {
    const std::size_t target = 5000 + rng() % 45001;
    std::string m = "From: Sender " + std::to_string(i % 17) + " <sender" + std::to_string(i % 17) + "@example.org>\r\n";
    m += "To: " + o.user + "@testlab.test\r\n";
    m += "Subject: Bench message " + std::to_string(i) + " " + words[rng() % 14] + "\r\n";
    m += "Date: Thu, 26 Nov 2026 " + std::to_string(10 + i % 10) + ":" + std::to_string(10 + i % 50) + ":00 +0000\r\n";
    m += "Message-ID: <ews-bench-" + std::to_string(i) + "@example.org>\r\nMIME-Version: 1.0\r\n";
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
    control.call("POST", "deliver?user=" + o.user + "&folder=INBOX", "message/rfc822", std::move(m));
  }
  return total;
}

struct round_result {
  double wall_ms = 0;
  std::vector<double> bot_ms;
  std::uint64_t bytes_per_bot = 0;
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
      args.push_back({self_, "--bot", mode, "--index", std::to_string(i), "--target", o_.target, "--ews-env",
                      o_.env_path, "--user", o_.user, "--list", std::to_string(o_.list), "--read",
                      std::to_string(o_.read), "--session", o_.session, "--url", o_.url, "--patience",
                      std::to_string(o_.patience)});
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
      in >> index >> start >> end >> listed >> read >> bytes;
      if (listed != static_cast<std::size_t>(std::min(o_.list, o_.messages)) || read != static_cast<std::size_t>(o_.read)) {
        die(mode + " bot " + std::to_string(index) + " listed " + std::to_string(listed) + " and read " +
            std::to_string(read) + " messages");
      }
      last = std::max(last, end);
      out.bot_ms.push_back(static_cast<double>(end - start) / 1e6);
      out.bytes_per_bot = bytes;
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
    std::fprintf(stderr, "ews_bench: %s\nthe fake's last %zu recorded requests:\n%s", why.c_str(), dumped_requests,
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

// A delay_proxy child process in front of the fake's HTTPS port, for the lifetime of this
// object (SIGTERM at the end; SIGKILL with the parent).
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
};

struct delay_result {
  int delay_ms = 0, rounds = 0;
  variant_result daemon, direct;
  // The session's first round: its cache holds no body yet (every read is a GetItem).
  double cold_daemon_ms = 0;
  server_cost cold_cost;
  std::uint64_t bytes_per_bot = 0;
};

// Every measurement at one delay: the latency in front of the fake, a session of its own
// (ews-bench-dD) pointing there, both variants through the same latency.
delay_result run_delay(const options& base, const testbed& t, const std::string& self, control_api& control, int delay) {
  options o = base;
  std::optional<proxy_process> proxy;
  if (o.latency == "proxy") {
    proxy.emplace(o.delay_proxy, t.ews_port, delay);
    o.url = ews_url_at(proxy->port());
  } else {
    control.call("POST", "delay?ms=" + std::to_string(2 * delay));
    o.url = t.ews_url;
  }
  o.session = session_prefix + std::to_string(delay);
  // Through one connection a round is ~bots x (read + 1) round trips: allow 3x that.
  o.patience = 120 + o.bots * (o.read + 2) * 2 * delay * 3 / 1000;
  std::fprintf(stderr, "one-way delay %d ms (%s): %s, session %s\n", delay,
               o.latency == "proxy" ? "delay_proxy" : "the fake's delay control", o.url.c_str(), o.session.c_str());

  // The session is live before the timed rounds (the product's premise); this lease keeps
  // it so. Its ListMessages checks the corpus.
  auto channel = client::make_channel(o.target);
  client::broker_client broker(channel);
  auto mailbox = pb::Mailbox::NewStub(channel);
  pb::ConnectResponse connected;
  auto s = broker.connect(connect_request(o, t, "ews_bench"), &connected, std::chrono::seconds(o.patience));
  if (!s.ok()) {
    die("Connect (" + o.session + ", EWS " + o.url + ") failed: " + describe(s) + "\nthe fake's last recorded requests:\n" +
        control.last_requests(dumped_requests));
  }
  {
    pb::ListMessagesRequest list;
    list.set_lease_id(connected.lease_id());
    list.set_read(pb::READ_FILTER_UNREAD);
    list.set_limit(1);
    pb::ListMessagesResponse page;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(o.patience));
    s = mailbox->ListMessages(&context, list, &page);
    if (!s.ok()) {
      die("ListMessages failed: " + describe(s) +
          "\nthe fake's last recorded requests:\n" + control.last_requests(dumped_requests));
    }
    if (page.total_matching() != static_cast<std::uint32_t>(o.messages)) {
      die("ListMessages sees " + std::to_string(page.total_matching()) + " unread messages, expected " +
          std::to_string(o.messages));
    }
  }

  round_runner runner(o, self, control);
  delay_result out;
  // The session's first round is its cold one (nothing cached): timed and reported on its
  // own; the direct one after it warms that path up, untimed.
  const auto cold_before = control.counters();
  out.cold_daemon_ms = runner.run("daemon").wall_ms;
  out.cold_cost = cost_between(cold_before, control.counters());
  runner.run("direct");
  out.delay_ms = delay;
  out.rounds = o.rounds;
  std::vector<double> wall[2], bot[2];
  for (int r = 0; r < o.rounds; ++r) {
    for (int mode = 0; mode < 2; ++mode) {
      const char* name = mode == 0 ? "daemon" : "direct";
      const auto before = control.counters();
      const auto res = runner.run(name);
      const auto cost = cost_between(before, control.counters());
      wall[mode].push_back(res.wall_ms);
      bot[mode].insert(bot[mode].end(), res.bot_ms.begin(), res.bot_ms.end());
      (mode == 0 ? out.daemon : out.direct).costs.push_back(cost);
      out.bytes_per_bot = res.bytes_per_bot;
      std::fprintf(stderr, "  %2d ms round %d %-6s wall %8.1f ms  requests %ld  tcp %ld  ntlm %ld\n", delay, r + 1, name,
                   res.wall_ms, cost.requests, cost.tcp_connections, cost.ntlm_handshakes);
    }
  }
  out.daemon.wall = summarise(wall[0]);
  out.daemon.bot = summarise(bot[0]);
  out.direct.wall = summarise(wall[1]);
  out.direct.bot = summarise(bot[1]);

  pb::DisconnectResponse d;
  broker.disconnect(connected.lease_id(), true, &d);  // log the session out: the next delay starts from nothing
  if (o.latency == "fake") control.call("POST", "delay?ms=0");
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
  return "requests " + range_of(costs, &server_cost::requests) + " (SOAP " + range_of(costs, &server_cost::soap_requests) +
         "), TCP connections " + range_of(costs, &server_cost::tcp_connections) + ", NTLM handshakes " +
         range_of(costs, &server_cost::ntlm_handshakes);
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
  if (o.latency == "proxy" && ::access(o.delay_proxy.c_str(), X_OK) != 0) die("no delay_proxy at " + o.delay_proxy + " (--delay-proxy)");

  control_api control(t.control_port);
  control.call("POST", "reset");  // empty mailboxes: the corpus is all there is
  const auto p0 = clock_type::now();
  const std::uint64_t corpus_bytes = deliver_corpus(o, control);
  const double deliver_ms = std::chrono::duration<double, std::milli>(clock_type::now() - p0).count();

  std::vector<delay_result> results;
  for (int delay : o.delays) results.push_back(run_delay(o, t, self, control, delay));

  std::printf("corpus: %d messages, %.1f MB (5-50 KB each, 1/3 with an attachment), all unread, in %s's inbox on the "
              "fake EWS server; delivered in %.0f ms (control API)\n",
              o.messages, static_cast<double>(corpus_bytes) / 1e6, o.user.c_str(), deliver_ms);
  std::printf("%d bot processes at once, each: summaries of the %d newest unread + read %d of them (~%.0f KB of MIME); "
              "modes alternate round by round, %d rounds each\n",
              o.bots, o.list, o.read, static_cast<double>(results.back().bytes_per_bot) / 1e3, o.rounds);
  std::printf("  daemon: Connect (attach to the live EWS session), ListMessages(UNREAD, NEWEST_FIRST, limit %d), %d x "
              "GetMessage(ref), Disconnect\n",
              o.list, o.read);
  std::printf("  direct: TCP + TLS, FindItem(unread, newest first, %d) carrying the NTLM handshake, %d x "
              "GetItem(MimeContent), close\n",
              o.list, o.read);
  if (o.latency == "proxy") {
    std::printf("latency: delay_proxy in front of the fake (a connection opens 2*D after connect(), every chunk "
                "arrives D later, each way); server figures: the fake's counters around each timed round\n");
  } else {
    std::printf("latency: the fake's delay control (each authenticated EWS request answered 2*D later; TCP, TLS and "
                "the NTLM 401 leg undelayed); server figures: the fake's counters around each timed round\n");
  }
  for (const auto& r : results) {
    std::printf("one-way delay %d ms (round trip %d ms):\n", r.delay_ms, 2 * r.delay_ms);
    std::printf("  through mailbrokerd (1 EWS session): wall median %8.1f ms (min %.1f, max %.1f)  per bot median "
                "%7.1f ms p95 %7.1f ms\n      at the fake per round: %s\n",
                r.daemon.wall.median, r.daemon.wall.min, r.daemon.wall.max, r.daemon.bot.median, r.daemon.bot.p95,
                describe_costs(r.daemon.costs).c_str());
    std::printf("  through mailbrokerd, cold (its first round, nothing cached): wall %8.1f ms, requests %ld at the fake\n",
                r.cold_daemon_ms, r.cold_cost.requests);
    std::printf("  own connection + NTLM per bot:       wall median %8.1f ms (min %.1f, max %.1f)  per bot median "
                "%7.1f ms p95 %7.1f ms\n      at the fake per round: %s\n",
                r.direct.wall.median, r.direct.wall.min, r.direct.wall.max, r.direct.bot.median, r.direct.bot.p95,
                describe_costs(r.direct.costs).c_str());
    const double ratio = r.daemon.wall.median / r.direct.wall.median;
    std::printf("  ratio daemon/direct (wall medians): %.2f = %s; the session sent %ld requests\n", ratio,
                verdict(ratio).c_str(), r.daemon.costs.front().soap_requests);
  }
  std::printf("summary (%d bots; wall time per round, medians; per round at the fake: requests / TCP connections / "
              "NTLM handshakes):\n",
              o.bots);
  std::printf("  %8s | %10s | %10s | %-26s | %-18s | %s\n", "delay", "daemon", "direct", "daemon/direct", "daemon req/tcp/ntlm",
              "direct req/tcp/ntlm");
  for (const auto& r : results) {
    const double ratio = r.daemon.wall.median / r.direct.wall.median;
    char ratio_text[64];
    std::snprintf(ratio_text, sizeof ratio_text, "%5.2f (%s)", ratio, verdict(ratio).c_str());
    auto triple = [](const std::vector<server_cost>& c) {
      return range_of(c, &server_cost::requests) + " / " + range_of(c, &server_cost::tcp_connections) + " / " +
             range_of(c, &server_cost::ntlm_handshakes);
    };
    std::printf("  %5d ms | %7.1f ms | %7.1f ms | %-26s | %-18s | %s\n", r.delay_ms, r.daemon.wall.median,
                r.direct.wall.median, ratio_text, triple(r.daemon.costs).c_str(), triple(r.direct.costs).c_str());
    std::printf("  %5d ms | cold round through mailbrokerd: %7.1f ms (%.2f of direct's median), %ld requests\n",
                r.delay_ms, r.cold_daemon_ms, r.cold_daemon_ms / r.direct.wall.median, r.cold_cost.requests);
  }
  return 0;
}

// "0,10" -> {0, 10}; an empty or negative entry gives an empty list (usage error).
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
      else if (k == "--ews-env") o.env_path = v;
      else if (k == "--bots") o.bots = std::stoi(v);
      else if (k == "--rounds") o.rounds = std::stoi(v);
      else if (k == "--messages") o.messages = std::stoi(v);
      else if (k == "--list") o.list = std::stoi(v);
      else if (k == "--read") o.read = std::stoi(v);
      else if (k == "--user") o.user = v;
      else if (k == "--delays") o.delays = parse_delays(v);
      else if (k == "--latency") o.latency = v;
      else if (k == "--delay-proxy") o.delay_proxy = v;
      else if (k == "--bot") o.bot_mode = v;
      else if (k == "--index") o.index = std::stoi(v);
      else if (k == "--session") o.session = v;
      else if (k == "--url") o.url = v;
      else if (k == "--patience") o.patience = std::stoi(v);
      else {
        std::fprintf(stderr, "unknown option %s\n", k.c_str());
        return 2;
      }
    }
  } catch (const std::exception&) {
    std::fprintf(stderr, "ews_bench: a numeric option has a value that is not a number\n");
    return 2;
  }
  if (o.target.empty() || o.env_path.empty() || o.bots < 1 || o.rounds < 1 || o.messages < 1 || o.list < 1 ||
      o.list > 1000 || o.read < 1 || o.read > o.list || o.delays.empty() || (o.latency != "proxy" && o.latency != "fake") ||
      o.patience < 1 || (!o.bot_mode.empty() && o.url.empty())) {
    std::fprintf(stderr,
                 "usage: ews_bench --target unix:/path --ews-env STATE/ews.env [--bots 20] [--rounds 5] [--messages 200]\n"
                 "                 [--list 100] [--read 10] [--user alice] [--delays 0,10] [--latency proxy|fake]\n"
                 "                 [--delay-proxy PATH]\n");
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
