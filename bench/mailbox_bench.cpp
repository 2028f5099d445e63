// mailbox_bench: N bot processes doing the same mailbox work — "list the 100 newest, read
// 10" — through mailbrokerd's one shared session vs each over its own fresh IMAPS
// connection, same Dovecot, same run, at several one-way network delays.
//
// The network: for each delay D (--delays, default 0,10,40 ms) a delay_proxy process
// (bench/delay_proxy.cpp) sits in front of Dovecot's IMAPS port: a connection opens 2·D
// after connect() (the TCP handshake), every chunk arrives D later, each way. Both
// variants go through the same proxy, so TLS, login and every command pay the round trips
// they would over a distance (the certificate's SAN IP:127.0.0.1 still verifies). Each
// delay has a session of its own, "mailbox-bench-dD", whose spec points at that proxy; it
// is logged out before the next delay starts.
//
// Each bot is a real process (this binary re-executed with --bot), so gRPC channels and
// TLS contexts are per process as for real bots. All bots of a round are started, get
// ready (process start-up is not timed), then are released together (a pipe the parent
// closes). A bot's time runs from the release to its last step:
//   daemon — new channel, Connect (attach to the shared session, same spec for all),
//            ListMessages(folder, UNREAD, NEWEST_FIRST, limit L), GetMessage of R listed
//            uids (all chunks read), Disconnect (not force). A daemon that ignores
//            `order` lists the oldest L; the bot reads from whatever page came back and
//            the report says which order it was;
//   direct — new TLS context, IMAPS connect + TLS + login with our own imap::client,
//            SELECT, UID SEARCH UNSEEN, UID FETCH of the L highest uids with the items the
//            daemon fetches (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE,
//            parsed), UID FETCH BODY.PEEK[] of R of them, LOGOUT.
// R uids spread over the page, a different set per bot (pick()). A round's wall time
// runs from the release to the last bot's end. Modes alternate round by round; --rounds
// per mode (at most --far-rounds at delays >= 40 ms: a daemon round there costs ~bots x
// (R + 1) round trips of 80 ms through one connection). The corpus is planted once
// (timed, printed). Per delay, before the timed rounds: the parent attaches (the session
// is live: the product's premise) and one untimed round of each mode runs with the bots
// held before Disconnect/LOGOUT while `dovecot.sh who` counts Dovecot's connections.
// After them: a cold daemon round, the session logged out first so the first bot's
// Connect creates it (login over the delayed link). The report gives, per delay, wall
// median/min/max and per-bot median/p95 of both variants, the cold round, the ratio
// direct/daemon ("daemon N x faster/slower"), the connection counts, and a summary table.
// It also gives the CPU time a round costs, medians: the bots' own (each measures its
// work, getrusage) and mailbrokerd's (/proc/PID/stat from release to the last bot's end),
// so a run on a loaded or small machine shows where the CPU went (Dovecot is not counted),
// and that CPU spread over the machine's cores: the floor a daemon round cannot beat.
//
// Then, at the smallest delay only (0 by default: it measures the lease book, not the
// link), claim + ack (work distribution, the session live again): a folder is planted with
// C small "Job i" messages (one doveadm import, untimed), N claim bots are released
// together; each: new channel, Connect (attach), then ClaimMessages(folder, UNREAD, max
// M, TTL 120 s) -> AckMessage(DELETE or MARK_READ) of every claimed message, until a
// claim comes back empty. Wall time: release to the last bot's empty claim; messages/s =
// C / wall; per-ack and per-claim latencies are each call's round trip as the bot saw
// it. Exactly once is checked from the bots' reports (every uid and every subject "Job
// 1".."Job C" acked once, nothing else) and from Dovecot (the folder drained); anything
// else exits 1. The same drain with 1 bot (1 lease), on a second folder, is the baseline.
//
// Usage: mailbox_bench --target unix:/path --testbed-env DIR/testbed.env
//                      [--dovecot-sh PATH] [--bots 20] [--rounds 5] [--messages 200]
//                      [--list 100] [--read 10] [--user alice] [--folder Bench]
//                      [--claims 1000] [--claim-max 10] [--claim-action delete|read]
//                      [--delays 0,10,40] [--far-rounds 3] [--delay-proxy PATH]
//                      [--daemon-pid PID] [--folders 1] [--max-connections 0]
//                      [--read-ahead 0]
//   --folders K: the corpus is planted in K folders (--folder, --folder-1 ..) and bot i
//   works in folder i mod K; --read-ahead BYTES: the session's SessionSpec.read_ahead_bytes
//   (after a listing, the daemon fetches the page's bodies in one command; 0 = off);
//   --max-connections: the session's SessionSpec.max_connections
//   (IMAP connections it may hold; extras serve reads of a folder the main one is not in).
//   --daemon-pid: mailbrokerd's pid (bench/run.sh passes it), for its CPU per round.
//   --claims 0 skips the claim + ack drains; --delay-proxy defaults to the delay_proxy
//   next to this binary. Bot processes get --session, --port and --patience (their
//   RPC / command deadline, s; scaled with bots x delay) from the parent.
// bench/run.sh starts Dovecot and mailbrokerd and runs this.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/broker_client.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "net/tls_context.hpp"
#include "protocol/imap/client.hpp"
#include "protocol/imap/mailbox_codec.hpp"

namespace {

using namespace mailbroker;
using clock_type = std::chrono::steady_clock;  // CLOCK_MONOTONIC: comparable across processes
namespace pb = ::mailbroker::v1;

constexpr const char* session_prefix = "mailbox-bench-d";  // + the one-way delay in ms
constexpr int barrier_fd = 3;  // bot: EOF = go
constexpr int results_fd = 4;  // bot: one line per event, shared pipe (writes < PIPE_BUF are atomic)
constexpr int hold_fd = 5;     // bot (held rounds): EOF = finish (Disconnect / LOGOUT)

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "mailbox_bench: %s\n", why.c_str());
  std::exit(1);
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count();
}

std::map<std::string, std::string> read_env(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  if (!in) die("cannot read " + path);
  for (std::string line; std::getline(in, line);) {
    if (auto eq = line.find('='); eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

std::string need(const std::map<std::string, std::string>& env, const std::string& key) {
  auto it = env.find(key);
  if (it == env.end() || it->second.empty()) die("testbed.env has no " + key);
  return it->second;
}

struct options {
  std::string target, env_path, dovecot_sh, user = "alice", folder = "Bench";
  int bots = 20, rounds = 5, messages = 200, list = 100, read = 10;
  // One-way delays (ms) of the delay_proxy both variants go through; rounds per mode at
  // delays >= 40 ms (each costs ~bots x (read + 1) round trips through one connection).
  std::vector<int> delays = {0, 10, 40};
  int far_rounds = 3;
  std::string delay_proxy;  // path; empty = next to this binary
  // Where bots go (set per delay by the parent): the session name and the proxy's port.
  std::string session = "mailbox-bench";
  int port = 0;
  int patience = 120;  // s: a bot's RPC / IMAP command deadline; the parent's hang guard
  int daemon_pid = 0;  // > 0: mailbrokerd's pid, whose CPU time per round is reported
  // Bots spread over this many folders (bot i in folder_of(i)), each holding the corpus;
  // and the session's SessionSpec.max_connections (0 = the daemon's default, 1).
  int folders = 1, max_connections = 0;
  long read_ahead = 0;  // SessionSpec.read_ahead_bytes
  // Claim + ack phase: messages per drain (0 = skip the phase), ClaimMessages max, ack.
  int claims = 1000, claim_max = 10;
  std::string claim_action = "delete";  // delete | read
  // --bot mode only
  std::string bot_mode;
  int index = 0;
  bool hold = false;
};

struct testbed {
  std::string state_dir, conf, ca_file, password;
  std::uint16_t port = 0;
};

testbed load_testbed(const options& o) {
  const auto env = read_env(o.env_path);
  std::string upper;
  for (char c : o.user) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  testbed t;
  t.state_dir = need(env, "STATE_DIR");
  t.conf = need(env, "DOVECOT_CONF");
  t.ca_file = need(env, "CA_FILE");
  t.password = need(env, upper + "_PASSWORD");
  t.port = static_cast<std::uint16_t>(std::stoi(need(env, "IMAPS_PORT")));
  return t;
}

// The port bots and the daemon's session connect to: the delay proxy's (o.port), or
// Dovecot's IMAPS port.
std::uint16_t imaps_port(const options& o, const testbed& t) {
  return o.port > 0 ? static_cast<std::uint16_t>(o.port) : t.port;
}

pb::ConnectRequest connect_request(const options& o, const testbed& t, const std::string& client_name) {
  pb::ConnectRequest request;
  request.set_session(o.session);
  request.set_client_name(client_name);
  auto* server = request.mutable_spec()->mutable_server();
  server->set_host("127.0.0.1");
  server->set_port(imaps_port(o, t));
  server->set_tls_mode(pb::TLS_MODE_IMPLICIT);
  server->mutable_tls()->set_ca_file(t.ca_file);
  request.mutable_spec()->set_max_connections(static_cast<std::uint32_t>(o.max_connections));
  request.mutable_spec()->set_read_ahead_bytes(static_cast<std::uint32_t>(o.read_ahead));
  auto* basic = request.mutable_spec()->mutable_auth()->mutable_basic();
  basic->set_username(o.user);
  basic->mutable_password()->set_inline_value(t.password);
  return request;
}

// The listed uids a bot reads: R of them spread over the page, a different set per bot.
std::vector<std::uint32_t> pick(const std::vector<std::uint32_t>& listed, int index, int read) {
  std::vector<std::uint32_t> out;
  if (listed.empty()) return out;
  for (int k = 0; k < read; ++k) out.push_back(listed[(static_cast<std::size_t>(index) * 7 + k * 10) % listed.size()]);
  return out;
}

// ---------------------------------------------------------------------------------------
// Bot side
// ---------------------------------------------------------------------------------------

void report(const std::string& line) {
  const std::string l = line + "\n";
  if (::write(results_fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) std::_Exit(3);
}

void wait_eof(int fd) {
  char c;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 0) return;
    if (n < 0 && errno != EINTR) std::_Exit(3);
  }
}

// This process's CPU time (user + system), in microseconds.
std::int64_t process_cpu_us() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000LL + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

// The CPU time (user + system) process `pid` has used so far, in microseconds; -1 if gone.
std::int64_t cpu_us_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt: fields 3..13
  long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return -1;
  return (utime + stime) * 1000000LL / ::sysconf(_SC_CLK_TCK);
}

// The folder bot `index` works in: --folder, or with --folders K, "--folder-k" for k = index mod K > 0.
std::string folder_of(const options& o, int index) {
  const int k = o.folders > 1 ? index % o.folders : 0;
  return k == 0 ? o.folder : o.folder + "-" + std::to_string(k);
}

struct bot_outcome {
  std::string error;  // empty = ok
  std::size_t listed = 0, read = 0;
  std::uint64_t bytes = 0;
  bool newest_first = false;  // the page came highest uid first
};

std::chrono::system_clock::time_point rpc_deadline(const options& o) {
  return std::chrono::system_clock::now() + std::chrono::seconds(o.patience);
}

// The bot's work up to the point where it would let go; `finish` lets go.
struct daemon_bot {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<client::broker_client> broker;
  std::string lease;

  bot_outcome work(const options& o, const testbed& t) {
    bot_outcome out;
    channel = client::make_channel(o.target);
    broker = std::make_unique<client::broker_client>(channel);
    auto mailbox = pb::Mailbox::NewStub(channel);
    pb::ConnectResponse connected;
    auto s = broker->connect(connect_request(o, t, "mailbox_bench bot " + std::to_string(o.index)), &connected,
                             std::chrono::seconds(o.patience));
    if (!s.ok()) return {"Connect: " + s.error_message()};
    lease = connected.lease_id();
    pb::ListMessagesRequest list;
    list.set_lease_id(lease);
    list.set_folder(o.folder);
    list.set_read(pb::READ_FILTER_UNREAD);
    list.set_limit(static_cast<std::uint32_t>(o.list));
    // "The newest L": a daemon that does not know the field yet lists oldest first; the
    // bot then reads from that page (the parent reports which order came back).
    list.set_order(pb::LIST_ORDER_NEWEST_FIRST);
    pb::ListMessagesResponse page;
    {
      grpc::ClientContext context;
      context.set_deadline(rpc_deadline(o));
      s = mailbox->ListMessages(&context, list, &page);
    }
    if (!s.ok()) return {"ListMessages: " + s.error_message()};
    std::vector<std::uint32_t> uids;
    for (const auto& m : page.messages()) uids.push_back(m.uid());
    out.listed = uids.size();
    out.newest_first = uids.size() > 1 && uids.front() > uids.back();
    for (std::uint32_t uid : pick(uids, o.index, o.read)) {
      pb::GetMessageRequest get;
      get.set_lease_id(lease);
      get.set_folder(o.folder);
      get.set_uid(uid);
      grpc::ClientContext context;
      context.set_deadline(rpc_deadline(o));
      auto reader = mailbox->GetMessage(&context, get);
      pb::MessageChunk chunk;
      std::uint64_t got = 0, total = 0;
      while (reader->Read(&chunk)) {
        got += chunk.data().size();
        total = chunk.total_size();
      }
      s = reader->Finish();
      if (!s.ok()) return {"GetMessage " + std::to_string(uid) + ": " + s.error_message()};
      if (got == 0 || got != total) return {"GetMessage " + std::to_string(uid) + ": short read"};
      out.bytes += got;
      ++out.read;
    }
    return out;
  }

  std::string finish() {
    if (lease.empty()) return {};
    pb::DisconnectResponse d;
    auto s = broker->disconnect(lease, false, &d);
    return s.ok() ? "" : "Disconnect: " + s.error_message();
  }

};

struct direct_bot {
  asio::io_context io;
  std::shared_ptr<imap::client> c;

  bot_outcome work(const options& o, const testbed& t) {
    const std::chrono::milliseconds timeout = std::chrono::seconds(o.patience);
    bot_outcome out;
    auto tls = net::make_client_tls_context({t.ca_file, true});
    if (!tls) return {"TLS context: " + tls.err().message};
    c = std::make_shared<imap::client>(io.get_executor(), tls.value());
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          imap::connect_options options;
          options.host = "127.0.0.1";
          options.port = imaps_port(o, t);
          options.tls = imap::tls_mode::implicit;
          options.timeout = timeout;
          error e = co_await c->open(options);
          if (e.ok()) e = co_await c->login(o.user, t.password);
          if (!e.ok()) {
            out.error = "open/login: " + e.message;
            co_return;
          }
          auto run = [&](std::string command) -> awaitable<std::optional<imap::command_result>> {
            auto r = co_await c->execute(command, timeout);
            if (!r) {
              out.error = command + ": " + r.err().message;
              co_return std::nullopt;
            }
            if (r->status != "OK") {
              out.error = command + ": " + r->status + " " + r->text;
              co_return std::nullopt;
            }
            co_return std::move(r.value());
          };
          auto encoded = imap::encode_mailbox_name(o.folder);
          auto quoted = encoded ? imap::astring(encoded.value()) : std::nullopt;
          if (!quoted || !co_await run("SELECT " + *quoted)) {
            if (out.error.empty()) out.error = "folder name";
            co_return;
          }
          auto search = co_await run("UID SEARCH UNSEEN");
          if (!search) co_return;
          // The L newest: the highest uids, highest first (what LIST_ORDER_NEWEST_FIRST returns).
          auto uids = imap::parse_search_response(search->untagged);
          std::sort(uids.begin(), uids.end(), std::greater<>());
          if (uids.size() > static_cast<std::size_t>(o.list)) uids.resize(static_cast<std::size_t>(o.list));
          if (uids.empty()) {
            out.error = "UID SEARCH UNSEEN found nothing";
            co_return;
          }
          auto fetch = co_await run("UID FETCH " + imap::format_uid_set(uids) +
                                    " (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)");
          if (!fetch) co_return;
          std::vector<std::uint32_t> listed;
          for (const auto& u : fetch->untagged) {
            if (u.name != "FETCH") continue;
            if (auto s = imap::parse_fetch_summary(u);
                s && std::binary_search(uids.begin(), uids.end(), s->uid, std::greater<>())) {
              listed.push_back(s->uid);
            }
          }
          std::sort(listed.begin(), listed.end(), std::greater<>());
          out.listed = listed.size();
          out.newest_first = listed.size() > 1;
          for (std::uint32_t uid : pick(listed, o.index, o.read)) {
            auto body = co_await run("UID FETCH " + std::to_string(uid) + " BODY.PEEK[]");
            if (!body) co_return;
            std::uint64_t got = 0;
            for (const auto& u : body->untagged) {
              if (u.name != "FETCH") continue;
              if (auto b = imap::parse_fetch_body_chunk(u, uid)) got += b->data.size();
            }
            if (got == 0) {
              out.error = "UID FETCH " + std::to_string(uid) + " BODY.PEEK[]: no body";
              co_return;
            }
            out.bytes += got;
            ++out.read;
          }
        },
        // The client's reader keeps a read pending: run() would not return by itself.
        [this, &out](std::exception_ptr e) {
          if (e && out.error.empty()) out.error = "exception in the IMAP client";
          io.stop();
        });
    io.restart();
    io.run();
    return out;
  }

  std::string finish() {
    if (!c) return {};
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          co_await c->logout(std::chrono::seconds(5));
          c->close(error{errc::cancelled, "done"});
        },
        [this](std::exception_ptr) { io.stop(); });
    io.restart();
    io.run();
    return {};
  }
};

template <typename Bot>
int run_bot(const options& o) {
  const testbed t = load_testbed(o);
  Bot bot;
  report("R " + std::to_string(o.index));
  wait_eof(barrier_fd);
  const std::int64_t start = now_ns();
  const std::int64_t cpu_start = process_cpu_us();
  bot_outcome out = bot.work(o, t);
  const std::int64_t cpu_us = process_cpu_us() - cpu_start;  // the work, not Disconnect / LOGOUT
  if (out.error.empty() && o.hold) {
    report("H " + std::to_string(o.index));
    wait_eof(hold_fd);
  }
  if (out.error.empty()) out.error = bot.finish();
  const std::int64_t end = now_ns();
  if (!out.error.empty()) {
    std::string e = out.error;
    std::replace(e.begin(), e.end(), '\n', ' ');
    report("E " + std::to_string(o.index) + " " + e.substr(0, 300));
    return 1;
  }
  report("D " + std::to_string(o.index) + " " + std::to_string(start) + " " + std::to_string(end) + " " +
         std::to_string(out.listed) + " " + std::to_string(out.read) + " " + std::to_string(out.bytes) + " " +
         (out.newest_first ? "1" : "0") + " " + std::to_string(cpu_us));
  return 0;
}

// Claim + ack bot: new channel, Connect (attach), then ClaimMessages(folder, UNREAD, max
// M) -> AckMessage of each claimed message, until a claim comes back empty. Its time runs
// from the release to that empty claim (Disconnect after it is not timed). Afterwards
// (untimed) it reports one line per processed message, "M index uid ack_us subject", one
// per claim call, "Q index claim_us n", and "D index start end claims acks 0".
int run_claim_bot(const options& o) {
  const testbed t = load_testbed(o);
  const pb::AckAction action = o.claim_action == "read" ? pb::ACK_ACTION_MARK_READ : pb::ACK_ACTION_DELETE;
  report("R " + std::to_string(o.index));
  wait_eof(barrier_fd);
  const std::int64_t start = now_ns();
  auto channel = client::make_channel(o.target);
  client::broker_client broker(channel);
  auto mailbox = pb::Mailbox::NewStub(channel);
  const std::string me = std::to_string(o.index);
  auto fail = [&](const std::string& what, const grpc::Status& s) {
    std::string e = what + ": " + s.error_message();
    std::replace(e.begin(), e.end(), '\n', ' ');
    report("E " + me + " " + e.substr(0, 300));
    return 1;
  };
  pb::ConnectResponse connected;
  auto s = broker.connect(connect_request(o, t, "mailbox_bench claim bot " + me), &connected);
  if (!s.ok()) return fail("Connect", s);
  const std::string lease = connected.lease_id();
  struct processed {
    std::uint32_t uid;
    std::int64_t ack_ns;
    std::string subject;
  };
  std::vector<processed> done;
  std::vector<std::pair<std::int64_t, int>> claims;  // latency, messages claimed
  for (;;) {
    pb::ClaimMessagesRequest claim;
    claim.set_lease_id(lease);
    claim.set_folder(o.folder);
    claim.set_read(pb::READ_FILTER_UNREAD);
    claim.set_max(static_cast<std::uint32_t>(o.claim_max));
    claim.set_claim_ttl_seconds(120);
    pb::ClaimMessagesResponse batch;
    const std::int64_t c0 = now_ns();
    {
      grpc::ClientContext context;
      context.set_deadline(rpc_deadline(o));
      s = mailbox->ClaimMessages(&context, claim, &batch);
    }
    if (!s.ok()) return fail("ClaimMessages", s);
    claims.emplace_back(now_ns() - c0, batch.messages_size());
    if (batch.messages_size() == 0) break;
    for (const auto& m : batch.messages()) {
      pb::AckMessageRequest ack;
      ack.set_lease_id(lease);
      ack.set_folder(o.folder);
      ack.set_uid(m.summary().uid());
      ack.set_action(action);
      pb::AckMessageResponse acked;
      const std::int64_t a0 = now_ns();
      grpc::ClientContext context;
      context.set_deadline(rpc_deadline(o));
      s = mailbox->AckMessage(&context, ack, &acked);
      if (!s.ok()) return fail("AckMessage " + std::to_string(m.summary().uid()), s);
      done.push_back({m.summary().uid(), now_ns() - a0, m.summary().subject()});
    }
  }
  const std::int64_t end = now_ns();
  pb::DisconnectResponse d;
  s = broker.disconnect(lease, false, &d);
  if (!s.ok()) return fail("Disconnect", s);
  for (const auto& p : done) {
    std::string subject = p.subject.substr(0, 200);
    std::replace(subject.begin(), subject.end(), '\n', ' ');
    report("M " + me + " " + std::to_string(p.uid) + " " + std::to_string(p.ack_ns / 1000) + " " + subject);
  }
  for (const auto& [ns, n] : claims) report("Q " + me + " " + std::to_string(ns / 1000) + " " + std::to_string(n));
  report("D " + me + " " + std::to_string(start) + " " + std::to_string(end) + " " + std::to_string(claims.size()) +
         " " + std::to_string(done.size()) + " 0");
  return 0;
}

// ---------------------------------------------------------------------------------------
// Parent side
// ---------------------------------------------------------------------------------------

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

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// "FOLDER messages=M unseen=U" from doveadm.
std::string folder_status(const testbed& t, const std::string& user, const std::string& folder) {
  return run_command("doveadm -c " + shell_quote(t.conf) + " mailbox status -u " + shell_quote(user) +
                     " 'messages unseen' " + shell_quote(folder));
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Imports DIR/FOLDER (an mbox file) into FOLDER with one `doveadm import`, checks that it
// now holds COUNT unread messages, removes DIR.
void import_mbox(const options& o, const testbed& t, const std::filesystem::path& dir, const std::string& folder,
                 int count, bool keep_dir = false) {
  namespace fs = std::filesystem;
  // Dovecot's mail processes may run as another uid (nobody when we are root): the
  // source mbox must be readable and its directory writable for the dotlock.
  fs::permissions(dir, fs::perms::all);
  fs::permissions(dir / folder, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                    fs::perms::group_write | fs::perms::others_read | fs::perms::others_write);
  run_command("doveadm -c " + shell_quote(t.conf) + " import -u " + shell_quote(o.user) + " " +
              shell_quote("mbox:" + dir.string() + ":INDEX=MEMORY") + " '' mailbox " + shell_quote(folder));
  // "Bench messages=200 unseen=200"
  const std::string status = folder_status(t, o.user, folder);
  if (!ends_with(status, "messages=" + std::to_string(count) + " unseen=" + std::to_string(count))) {
    die("corpus: expected " + std::to_string(count) + " unseen messages in " + folder + ", Dovecot says: " + status);
  }
  if (!keep_dir) fs::remove_all(dir);
}

// Deterministic corpus: sizes 5..50 KB, every third message multipart with an attachment.
// Written as one mbox file (no body line starts with "From ") and imported with one
// `doveadm import` (one `doveadm save` per message costs ~45 ms each here). Returns bytes.
std::uint64_t plant_corpus(const options& o, const testbed& t) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(t.state_dir) / "mailbox-bench-corpus";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937 rng(20261126);
  static const char* words[] = {"invoice", "order", "report", "delivery", "payment", "status", "quarter",
                                "review",  "please", "attached", "kind",    "regards", "the",    "and"};
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::ofstream mbox(dir / o.folder, std::ios::binary);
  std::uint64_t total = 0;
  for (int i = 1; i <= o.messages; ++i) {
    const std::size_t target = 5000 + rng() % 45001;
    std::string m = "From bench@example.org Thu Nov 26 09:00:00 2026\n";
    const std::size_t header_start = m.size();
    m += "From: Sender " + std::to_string(i % 17) + " <sender" + std::to_string(i % 17) + "@example.org>\n";
    m += "To: " + o.user + "@example.org\n";
    m += "Subject: Bench message " + std::to_string(i) + " " + words[rng() % 14] + "\n";
    m += "Date: Thu, 26 Nov 2026 " + std::to_string(10 + i % 10) + ":" + std::to_string(10 + i % 50) + ":00 +0000\n";
    m += "Message-ID: <bench-" + std::to_string(i) + "@example.org>\nMIME-Version: 1.0\n";
    const bool attachment = i % 3 == 0;
    if (attachment) {
      m += "Content-Type: multipart/mixed; boundary=bench-b\n\n--bench-b\nContent-Type: text/plain; charset=utf-8\n\n"
           "See the attached file.\n--bench-b\nContent-Type: application/pdf; name=doc" +
           std::to_string(i) + ".pdf\nContent-Disposition: attachment; filename=doc" + std::to_string(i) +
           ".pdf\nContent-Transfer-Encoding: base64\n\n";
      while (m.size() - header_start < target) {
        for (int k = 0; k < 76; ++k) m += b64[rng() % 64];
        m += '\n';
      }
      m += "--bench-b--\n";
    } else {
      m += "Content-Type: text/plain; charset=utf-8\n\n";
      while (m.size() - header_start < target) {
        std::string line;
        while (line.size() < 70) line += std::string(words[rng() % 14]) + " ";
        m += line + "\n";
      }
    }
    total += m.size() - header_start;
    mbox << m << "\n";
  }
  mbox.close();
  // --folders K: the same corpus in K folders, one doveadm import each.
  for (int k = 1; k < o.folders; ++k) {
    const std::string other = folder_of(o, k);
    fs::copy_file(dir / o.folder, dir / other);
    import_mbox(o, t, dir, other, o.messages, true);
  }
  import_mbox(o, t, dir, o.folder, o.messages);
  return total;
}

// Claim corpus: COUNT small messages "Job 1".."Job COUNT" (as `dovecot.sh deliver-many`
// appends, but one doveadm import instead of ~4 s of APPENDs per 1000), all unread.
void plant_jobs(const options& o, const testbed& t, const std::string& folder, int count) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(t.state_dir) / "mailbox-bench-jobs";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream mbox(dir / folder, std::ios::binary);
  for (int i = 1; i <= count; ++i) {
    mbox << "From jobs@example.org Thu Nov 26 09:00:00 2026\nFrom: jobs@example.org\nTo: " << o.user
         << "@example.org\nSubject: Job " << i << "\nMessage-ID: <job-" << i << "@bench>\n\nWork item " << i
         << ".\n\n";
  }
  mbox.close();
  import_mbox(o, t, dir, folder, count);
}

struct bot_result {
  std::int64_t start = 0, end = 0, cpu_us = 0;
  std::size_t listed = 0, read = 0;
  std::uint64_t bytes = 0;
  int newest_first = 0;
};

struct round_result {
  double wall_ms = 0;
  double bots_cpu_ms = 0;    // every bot's CPU time during its work, summed
  double daemon_cpu_ms = -1;  // mailbrokerd's CPU time from release to the last bot's end (-1: not asked)
  std::vector<double> bot_ms;
  int newest_first = 0;  // bots whose page came highest uid first
  std::string who;  // held rounds: Dovecot's IMAP connections of the user, bots held
  std::vector<std::string> other;  // claim mode: the bots' M and Q lines
};

class round_runner {
 public:
  round_runner(const options& o, std::string self) : o_(o), self_(std::move(self)) {}

  // `bots` bot processes (0 = --bots); claim mode: `folder` instead of --folder.
  round_result run(const std::string& mode, bool hold, int bots = 0, const std::string& folder = {}) {
    n_ = bots > 0 ? bots : o_.bots;
    other_.clear();
    int barrier[2], results[2], holdp[2];
    if (::pipe2(barrier, O_CLOEXEC) != 0 || ::pipe2(results, O_CLOEXEC) != 0 || ::pipe2(holdp, O_CLOEXEC) != 0) {
      die(std::string("pipe2: ") + std::strerror(errno));
    }
    // Move them above the fixed bot fds so that dup2 below never hits its own source.
    for (int* fd : {&barrier[0], &barrier[1], &results[0], &results[1], &holdp[0], &holdp[1]}) {
      const int moved = ::fcntl(*fd, F_DUPFD_CLOEXEC, 10);
      ::close(*fd);
      *fd = moved;
    }
    std::vector<std::vector<std::string>> args;
    for (int i = 0; i < n_; ++i) {
      args.push_back({self_, "--bot", mode, "--index", std::to_string(i), "--target", o_.target, "--testbed-env",
                      o_.env_path, "--user", o_.user, "--folder", folder.empty() ? folder_of(o_, i) : folder, "--list",
                      std::to_string(o_.list), "--read", std::to_string(o_.read), "--hold", hold ? "1" : "0",
                      "--claim-max", std::to_string(o_.claim_max), "--claim-action", o_.claim_action, "--session",
                      o_.session, "--port", std::to_string(o_.port), "--patience", std::to_string(o_.patience),
                      "--max-connections", std::to_string(o_.max_connections), "--read-ahead",
                      std::to_string(o_.read_ahead)});
    }
    std::fflush(nullptr);
    pids_.clear();
    for (int i = 0; i < n_; ++i) {
      std::vector<char*> argv;
      for (auto& a : args[static_cast<std::size_t>(i)]) argv.push_back(a.data());
      argv.push_back(nullptr);
      const pid_t pid = ::fork();
      if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
      if (pid == 0) {  // only async-signal-safe calls until exec
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no bot outlives a killed benchmark
        if (::dup2(barrier[0], barrier_fd) < 0 || ::dup2(results[1], results_fd) < 0 || ::dup2(holdp[0], hold_fd) < 0) {
          ::_exit(127);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      pids_.push_back(pid);
    }
    ::close(barrier[0]);
    ::close(results[1]);
    ::close(holdp[0]);
    results_fd_ = results[0];

    expect('R', "ready");
    const std::int64_t daemon_cpu_start = o_.daemon_pid > 0 ? cpu_us_of(o_.daemon_pid) : -1;
    const std::int64_t released = now_ns();
    ::close(barrier[1]);
    round_result out;
    if (hold) {
      expect('H', "holding");
      out.who = run_command(o_.dovecot_sh + " who " + shell_quote(state_dir_) + " " + shell_quote(o_.user));
    }
    ::close(holdp[1]);
    auto done = expect('D', "done");
    daemon_cpu_delta_us_ = daemon_cpu_start >= 0 ? cpu_us_of(o_.daemon_pid) - daemon_cpu_start : -1;
    ::close(results_fd_);
    for (pid_t pid : pids_) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("bot process " + std::to_string(pid) + " failed");
    }
    pids_.clear();
    std::int64_t last = released;
    for (const auto& line : done) {
      std::istringstream in(line.substr(2));
      int index;
      bot_result b;
      in >> index >> b.start >> b.end >> b.listed >> b.read >> b.bytes >> b.newest_first >> b.cpu_us;
      out.bots_cpu_ms += static_cast<double>(b.cpu_us) / 1e3;
      if (mode != "claim" && (b.listed != static_cast<std::size_t>(std::min(o_.list, o_.messages)) ||
                              b.read != static_cast<std::size_t>(o_.read))) {
        die(mode + " bot " + std::to_string(index) + " listed " + std::to_string(b.listed) + " and read " +
            std::to_string(b.read) + " messages");
      }
      last = std::max(last, b.end);
      out.bot_ms.push_back(static_cast<double>(b.end - b.start) / 1e6);
      out.newest_first += b.newest_first;
      if (mode != "claim") bytes_read_ = b.bytes;
    }
    out.wall_ms = static_cast<double>(last - released) / 1e6;
    if (daemon_cpu_delta_us_ >= 0) out.daemon_cpu_ms = static_cast<double>(daemon_cpu_delta_us_) / 1e3;
    out.other = std::move(other_);
    other_.clear();
    return out;
  }

  void set_state_dir(std::string dir) { state_dir_ = std::move(dir); }
  std::uint64_t last_bytes_read() const { return bytes_read_; }

 private:
  // Reads lines from the bots until each one sent `kind`; an "E" line or a dead bot ends
  // the benchmark (the other bots are killed).
  std::vector<std::string> expect(char kind, const char* what) {
    std::vector<std::string> lines;
    // The bots' own deadlines are --patience; this guards against a hung bot.
    const auto deadline = clock_type::now() + std::chrono::seconds(o_.patience + 30);
    while (lines.size() < static_cast<std::size_t>(n_)) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        if (!line.empty() && line[0] == 'E') fail("bot " + line.substr(2));
        if (!line.empty() && line[0] == kind) lines.push_back(line);
        else if (!line.empty()) other_.push_back(std::move(line));
        continue;
      }
      if (clock_type::now() > deadline) {
        fail(std::string("bots not ") + what + " after " + std::to_string(o_.patience + 30) + " s");
      }
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
    die(why);
  }

  const options& o_;
  std::string self_, state_dir_, buffer_;
  std::vector<pid_t> pids_;
  std::vector<std::string> other_;  // lines other than the awaited kind (claim mode: M, Q)
  int n_ = 0;
  int results_fd_ = -1;
  std::uint64_t bytes_read_ = 0;
  std::int64_t daemon_cpu_delta_us_ = -1;  // of the round being read
};

struct stats {
  double median, p95, min, max;
};

stats summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]; };
  return {at(0.5), at(0.95), v.front(), v.back()};
}

struct claim_result {
  int bots = 0;
  double wall_ms = 0, per_s = 0;
  stats ack_ms{}, claim_ms{};
  std::size_t claim_calls = 0, min_per_bot = 0, max_per_bot = 0;
  std::string problem;  // empty: every message processed exactly once, folder drained
  std::string status;   // Dovecot's view of the folder afterwards
};

// One drain: `bots` claim bots released together on a folder planted with o.claims
// "Job i" messages. Checks from the bots' reports that every uid and every subject "Job
// 1".."Job N" was acked exactly once, and from Dovecot that the folder is drained.
claim_result run_claim_drain(const options& o, const testbed& t, round_runner& runner, int bots,
                             const std::string& folder) {
  plant_jobs(o, t, folder, o.claims);
  const auto r = runner.run("claim", false, bots, folder);
  claim_result out;
  out.bots = bots;
  out.wall_ms = r.wall_ms;
  std::vector<double> ack_ms, claim_ms;
  std::map<std::uint32_t, int> uids;
  std::map<std::string, int> subjects;
  std::map<int, std::size_t> per_bot;
  for (const auto& line : r.other) {
    std::istringstream in(line.substr(2));
    int index = 0;
    if (line[0] == 'M') {
      std::uint32_t uid = 0;
      std::int64_t us = 0;
      in >> index >> uid >> us;
      std::string subject;
      std::getline(in, subject);
      if (!subject.empty() && subject[0] == ' ') subject.erase(0, 1);
      ++uids[uid];
      ++subjects[subject];
      ++per_bot[index];
      ack_ms.push_back(static_cast<double>(us) / 1e3);
    } else if (line[0] == 'Q') {
      std::int64_t us = 0;
      in >> index >> us;
      claim_ms.push_back(static_cast<double>(us) / 1e3);
    }
  }
  const auto n = static_cast<std::size_t>(o.claims);
  std::size_t processed = ack_ms.size(), duplicates = 0, missing = 0, strange = 0;
  for (const auto& [uid, k] : uids) duplicates += static_cast<std::size_t>(k - 1);
  for (int i = 1; i <= o.claims; ++i) {
    auto it = subjects.find("Job " + std::to_string(i));
    if (it == subjects.end()) ++missing;
    else if (it->second > 1) duplicates += static_cast<std::size_t>(it->second - 1);
  }
  for (const auto& [subject, k] : subjects) {
    if (subject.rfind("Job ", 0) != 0) strange += static_cast<std::size_t>(k);
  }
  out.status = folder_status(t, o.user, folder);
  const std::string drained = o.claim_action == "read" ? "messages=" + std::to_string(o.claims) + " unseen=0"
                                                       : "messages=0 unseen=0";
  std::ostringstream problem;
  if (processed != n || uids.size() != n || duplicates || missing || strange) {
    problem << processed << " acks for " << n << " messages: " << uids.size() << " distinct uids, " << duplicates
            << " duplicates, " << missing << " subjects missing, " << strange << " unexpected subjects; ";
  }
  if (!ends_with(out.status, drained)) problem << "Dovecot says " << out.status << ", expected " << drained;
  out.problem = problem.str();
  out.per_s = out.wall_ms > 0 ? static_cast<double>(processed) / (out.wall_ms / 1e3) : 0;
  if (!ack_ms.empty()) out.ack_ms = summarise(ack_ms);
  if (!claim_ms.empty()) out.claim_ms = summarise(claim_ms);
  out.claim_calls = claim_ms.size();
  if (!per_bot.empty()) {
    out.min_per_bot = bots > static_cast<int>(per_bot.size()) ? 0 : std::numeric_limits<std::size_t>::max();
    for (const auto& [index, k] : per_bot) {
      out.min_per_bot = std::min(out.min_per_bot, k);
      out.max_per_bot = std::max(out.max_per_bot, k);
    }
  }
  std::fprintf(stderr, "  claim drain %2d bot(s) wall %8.1f ms\n", bots, out.wall_ms);
  return out;
}

void print_claim_result(const claim_result& c) {
  std::printf("  %2d bot process%s (%2d lease%s): wall %8.1f ms = %6.0f messages/s   per ack median %6.2f ms  p95 "
              "%6.2f ms   per claim median %6.2f ms  p95 %6.2f ms (%zu calls)   acks per bot %zu..%zu\n",
              c.bots, c.bots == 1 ? "   " : "es", c.bots, c.bots == 1 ? " " : "s", c.wall_ms, c.per_s, c.ack_ms.median,
              c.ack_ms.p95, c.claim_ms.median, c.claim_ms.p95, c.claim_calls, c.min_per_bot, c.max_per_bot);
  std::printf("      exactly once: %s; afterwards Dovecot: %s\n", c.problem.empty() ? "yes (uids + subjects)" : "NO",
              c.status.c_str());
}

int who(const options& o, const testbed& t) {
  return std::stoi(run_command(o.dovecot_sh + " who " + shell_quote(t.state_dir) + " " + shell_quote(o.user)));
}

// A delay_proxy child process in front of Dovecot's IMAPS port, for the lifetime of this
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
    // "port N\n", then nothing more is written.
    std::string line;
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

// Forces the session's connection closed (through `lease`) and waits until the daemon
// says so and Dovecot has no IMAP connection of the user left.
void log_out(client::broker_client& broker, const options& o, const testbed& t, const std::string& lease) {
  {
    pb::DisconnectResponse d;
    broker.disconnect(lease, true, &d);
  }
  for (int i = 0;; ++i) {
    pb::StatusResponse st;
    auto s = broker.status(o.session, &st);
    const bool closed = s.ok() && st.sessions_size() == 1 && st.sessions(0).state() != pb::SESSION_STATE_READY;
    if (closed && who(o, t) == 0) return;
    if (i > 150) die("the session " + o.session + " did not close after a forced Disconnect");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

struct delay_result {
  int delay_ms = 0, rounds = 0;
  stats wall_daemon{}, wall_direct{}, bot_daemon{}, bot_direct{}, bot_cold{};
  // CPU per round (medians, ms): the bots' own, and mailbrokerd's (-1: no --daemon-pid).
  stats cpu_bots_daemon{}, cpu_bots_direct{}, cpu_daemon_daemon{}, cpu_daemon_direct{};
  double cold_wall_ms = 0;
  std::string who_daemon;         // Dovecot's connections, daemon bots held
  int who_direct = 0, idle = 0;   // direct bots held, minus `idle` (the daemon's own)
  int newest_first = 0, bots = 0;  // daemon bots (held round) whose page came newest first
  std::uint64_t bytes_read = 0;
  std::vector<claim_result> claims;
};

// Every measurement at one delay: a delay_proxy in front of Dovecot, a session of its own
// (mailbox-bench-dD) pointing at it, both variants through it. The session is logged out
// again at the end so the next delay starts from nothing.
delay_result run_delay(const options& base, const testbed& t, const std::string& self, int delay, bool claims) {
  proxy_process proxy(base.delay_proxy, t.port, delay);
  options o = base;
  o.session = session_prefix + std::to_string(delay);
  o.port = proxy.port();
  o.rounds = delay >= 40 ? std::min(base.rounds, base.far_rounds) : base.rounds;
  // Through one connection, a round is ~bots x (read + 2) round trips: allow 3x that.
  o.patience = 120 + o.bots * (o.read + 2) * 2 * delay * 3 / 1000;
  std::fprintf(stderr, "one-way delay %d ms: delay_proxy on port %u, session %s, %d rounds per mode\n", delay,
               proxy.port(), o.session.c_str(), o.rounds);

  // The session is live before the timed rounds (the product's premise): this lease
  // keeps it so between rounds; the list selects the folder and checks the corpus.
  auto channel = client::make_channel(o.target);
  client::broker_client broker(channel);
  auto mailbox = pb::Mailbox::NewStub(channel);
  const auto request = connect_request(o, t, "mailbox_bench");
  auto attach = [&]() {
    pb::ConnectResponse r;
    auto s = broker.connect(request, &r, std::chrono::seconds(o.patience));
    if (!s.ok()) die("Connect (" + o.session + ") failed: " + s.error_message());
    return r.lease_id();
  };
  std::string lease = attach();
  {
    pb::ListMessagesRequest list;
    list.set_lease_id(lease);
    list.set_folder(o.folder);
    list.set_read(pb::READ_FILTER_UNREAD);
    pb::ListMessagesResponse page;
    grpc::ClientContext context;
    context.set_deadline(rpc_deadline(o));
    auto s = mailbox->ListMessages(&context, list, &page);
    if (!s.ok()) die("ListMessages failed: " + s.error_message());
    if (page.total_matching() != static_cast<std::uint32_t>(o.messages)) {
      die("ListMessages sees " + std::to_string(page.total_matching()) + " unread messages, expected " +
          std::to_string(o.messages));
    }
  }

  round_runner runner(o, self);
  runner.set_state_dir(t.state_dir);
  delay_result out;
  out.delay_ms = delay;
  out.rounds = o.rounds;
  out.bots = o.bots;
  // Untimed: warm-up (page cache, Dovecot's indexes, the daemon's allocator) and the
  // connection count with every bot held just before it lets go.
  // The parent's lease keeps the daemon's one connection logged in throughout.
  out.idle = who(o, t);
  const auto held_daemon = runner.run("daemon", true);
  const auto held_direct = runner.run("direct", true);
  out.who_daemon = held_daemon.who;
  out.who_direct = std::stoi(held_direct.who) - out.idle;
  out.newest_first = held_daemon.newest_first;

  std::vector<double> wall_daemon, wall_direct, bots_daemon, bots_direct;
  std::vector<double> cpu_bots[2], cpu_daemon[2];  // [0] daemon mode, [1] direct
  for (int r = 0; r < o.rounds; ++r) {
    for (const char* mode : {"daemon", "direct"}) {
      const auto res = runner.run(mode, false);
      const bool d = std::string(mode) == "daemon";
      (d ? wall_daemon : wall_direct).push_back(res.wall_ms);
      auto& bots = d ? bots_daemon : bots_direct;
      bots.insert(bots.end(), res.bot_ms.begin(), res.bot_ms.end());
      cpu_bots[d ? 0 : 1].push_back(res.bots_cpu_ms);
      cpu_daemon[d ? 0 : 1].push_back(res.daemon_cpu_ms);
      std::fprintf(stderr, "  %2d ms round %d %-6s wall %8.1f ms\n", delay, r + 1, mode, res.wall_ms);
    }
  }
  out.bytes_read = runner.last_bytes_read();

  // Cold: log the session out, then one round in which the first Connect creates it
  // (login over the delayed link) and the other bots wait for READY.
  log_out(broker, o, t, lease);
  const auto cold = runner.run("daemon", false);
  std::fprintf(stderr, "  %2d ms cold   daemon wall %8.1f ms\n", delay, cold.wall_ms);
  // The claim + ack drains run on the live session (this lease keeps it), then it is
  // logged out (the bots left it lingering).
  lease = attach();
  if (claims) {
    out.claims.push_back(run_claim_drain(o, t, runner, o.bots, "Claims-" + std::to_string(o.bots)));
    if (o.bots > 1) out.claims.push_back(run_claim_drain(o, t, runner, 1, "Claims-1"));
  }
  log_out(broker, o, t, lease);

  out.wall_daemon = summarise(wall_daemon);
  out.wall_direct = summarise(wall_direct);
  out.bot_daemon = summarise(bots_daemon);
  out.bot_direct = summarise(bots_direct);
  out.cold_wall_ms = cold.wall_ms;
  out.bot_cold = summarise(cold.bot_ms);
  out.cpu_bots_daemon = summarise(cpu_bots[0]);
  out.cpu_bots_direct = summarise(cpu_bots[1]);
  out.cpu_daemon_daemon = summarise(cpu_daemon[0]);
  out.cpu_daemon_direct = summarise(cpu_daemon[1]);
  return out;
}

// "daemon 3.10x faster" / "daemon 2.40x slower" from the ratio direct/daemon.
std::string verdict(double direct_over_daemon) {
  char buf[64];
  if (direct_over_daemon >= 1) std::snprintf(buf, sizeof buf, "daemon %.2fx faster", direct_over_daemon);
  else std::snprintf(buf, sizeof buf, "daemon %.2fx slower", 1 / direct_over_daemon);
  return buf;
}

int run_parent(const options& o) {
  const testbed t = load_testbed(o);
  std::string self(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size());
  if (n <= 0) die("readlink /proc/self/exe failed");
  self.resize(static_cast<std::size_t>(n));
  options opts = o;
  if (opts.delay_proxy.empty()) opts.delay_proxy = std::filesystem::path(self).parent_path() / "delay_proxy";
  if (::access(opts.delay_proxy.c_str(), X_OK) != 0) die("no delay_proxy at " + opts.delay_proxy + " (--delay-proxy)");

  const auto p0 = clock_type::now();
  const std::uint64_t corpus_bytes = plant_corpus(opts, t);
  const double plant_ms = std::chrono::duration<double, std::milli>(clock_type::now() - p0).count();

  // The claim + ack drains run once, at the smallest delay (0 by default): they measure
  // the lease book, not the link.
  const int claim_delay = *std::min_element(opts.delays.begin(), opts.delays.end());
  std::vector<delay_result> results;
  for (int delay : opts.delays) {
    const bool claims = opts.claims > 0 && delay == claim_delay && (results.empty() || results.back().claims.empty());
    results.push_back(run_delay(opts, t, self, delay, claims));
  }

  std::printf("corpus: %d messages, %.1f MB (5-50 KB each, 1/3 with an attachment), all unread, in '%s' of %s; "
              "planted in %.0f ms (one doveadm import)\n",
              o.messages, static_cast<double>(corpus_bytes) / 1e6, o.folder.c_str(), o.user.c_str(), plant_ms);
  if (o.folders > 1) {
    std::printf("the same corpus in %d folders ('%s', '%s-1', ...): bot i works in folder i mod %d; the session may hold "
                "%d IMAP connection(s) (SessionSpec.max_connections)\n",
                o.folders, o.folder.c_str(), o.folder.c_str(), o.folders, std::max(1, o.max_connections));
  }
  if (o.read_ahead > 0) {
    std::printf("the session reads ahead: after a listing the daemon fetches up to %ld bytes of the page's bodies in "
                "one command (SessionSpec.read_ahead_bytes)\n",
                o.read_ahead);
  }
  std::printf("%d bot processes at once, each: summaries of the %d newest unread messages + read %d of them (~%.0f KB);"
              " modes alternate round by round\n",
              o.bots, o.list, o.read, static_cast<double>(results.back().bytes_read) / 1e3);
  std::printf("  daemon: Connect (attach to the live session), ListMessages(UNREAD, NEWEST_FIRST, limit %d), %d x "
              "GetMessage, Disconnect\n",
              o.list, o.read);
  std::printf("  direct: connect + TLS + LOGIN, SELECT, UID SEARCH UNSEEN, UID FETCH (summary items) of the %d highest "
              "uids, %d x UID FETCH BODY.PEEK[], LOGOUT\n",
              o.list, o.read);
  std::printf("both through delay_proxy in front of Dovecot: a connection opens 2*D after connect(), every chunk "
              "arrives D later, each way; Dovecot connections: `dovecot.sh who` with all bots held just before "
              "Disconnect / LOGOUT\n");
  const auto& first = results.front();
  if (first.newest_first == first.bots) {
    std::printf("daemon pages came newest first (ListMessagesRequest.order honoured)\n");
  } else {
    std::printf("NOTE: %d of %d daemon pages came newest first: this mailbrokerd ignores ListMessagesRequest.order "
                "and lists the oldest %d; its bots read from that page\n",
                first.newest_first, first.bots, o.list);
  }
  for (const auto& r : results) {
    std::printf("one-way delay %d ms (%d rounds per mode):\n", r.delay_ms, r.rounds);
    std::printf("  through mailbrokerd (1 live session):  wall median %8.1f ms (min %.1f, max %.1f)   per bot median "
                "%7.1f ms  p95 %7.1f ms   Dovecot connections: %s\n",
                r.wall_daemon.median, r.wall_daemon.min, r.wall_daemon.max, r.bot_daemon.median, r.bot_daemon.p95,
                r.who_daemon.c_str());
    std::printf("  own IMAPS connection per bot:          wall median %8.1f ms (min %.1f, max %.1f)   per bot median "
                "%7.1f ms  p95 %7.1f ms   Dovecot connections: %d (+%d: the daemon's, idle)\n",
                r.wall_direct.median, r.wall_direct.min, r.wall_direct.max, r.bot_direct.median, r.bot_direct.p95,
                r.who_direct, r.idle);
    std::printf("  cold, through mailbrokerd (1st bot's Connect logs in, n=1): wall %8.1f ms   per bot median %7.1f ms  "
                "p95 %7.1f ms\n",
                r.cold_wall_ms, r.bot_cold.median, r.bot_cold.p95);
    std::printf("  CPU per round (medians): through mailbrokerd: bots %.1f ms", r.cpu_bots_daemon.median);
    if (r.cpu_daemon_daemon.median >= 0) std::printf(" + mailbrokerd %.1f ms", r.cpu_daemon_daemon.median);
    std::printf("; own connection: bots %.1f ms", r.cpu_bots_direct.median);
    if (r.cpu_daemon_direct.median >= 0) std::printf(" (mailbrokerd meanwhile %.1f ms)", r.cpu_daemon_direct.median);
    std::printf(" (Dovecot not counted)\n");
    // With every core busy a round cannot end sooner than its CPU time spread over them: a
    // wall time near this floor is bound by CPU (the bot processes' own, mostly), not by the
    // daemon's design or the link.
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const double floor_ms = (r.cpu_bots_daemon.median + std::max(0.0, r.cpu_daemon_daemon.median)) / cores;
    std::printf("  CPU floor of a round through mailbrokerd on %u cores: (bots + mailbrokerd) / %u = %.1f ms "
                "(wall median %.1f ms)\n",
                cores, cores, floor_ms, r.wall_daemon.median);
    const double ratio = r.wall_direct.median / r.wall_daemon.median;
    std::printf("  ratio own-connection/mailbrokerd (wall medians): %.2fx = %s\n", ratio, verdict(ratio).c_str());
  }
  std::printf("summary (%d bots; wall time per round, medians):\n", o.bots);
  std::printf("  %8s | %13s | %13s | %-27s | %s\n", "delay", "daemon", "direct", "direct/daemon",
              "Dovecot connections daemon/direct");
  for (const auto& r : results) {
    const double ratio = r.wall_direct.median / r.wall_daemon.median;
    char ratio_text[64];
    std::snprintf(ratio_text, sizeof ratio_text, "%5.2f (%s)", ratio, verdict(ratio).c_str());
    std::printf("  %5d ms | %10.1f ms | %10.1f ms | %-27s | %s / %d\n", r.delay_ms, r.wall_daemon.median,
                r.wall_direct.median, ratio_text, r.who_daemon.c_str(), r.who_direct);
  }

  std::vector<claim_result> claim_results;
  for (const auto& r : results) claim_results.insert(claim_results.end(), r.claims.begin(), r.claims.end());
  if (claim_results.empty()) {
    std::printf("(claim + ack: skipped, --claims 0)\n");
    return 0;
  }
  std::printf("claim + ack through 1 live session, at one-way delay %d ms only: %d small unread messages ('Job i', "
              "one doveadm import) per drain; each bot: Connect, then ClaimMessages(max %d, UNREAD) -> AckMessage(%s) "
              "of each, until a claim is empty\n",
              claim_delay, o.claims, o.claim_max, o.claim_action == "read" ? "MARK_READ" : "DELETE");
  bool ok = true;
  for (const auto& c : claim_results) {
    print_claim_result(c);
    ok = ok && c.problem.empty();
  }
  if (claim_results.size() == 2 && claim_results[1].per_s > 0) {
    std::printf("ratio %d leases / 1 lease (messages/s): %.2fx\n", claim_results[0].bots,
                claim_results[0].per_s / claim_results[1].per_s);
  }
  std::fflush(stdout);
  for (const auto& c : claim_results) {
    if (!c.problem.empty()) std::fprintf(stderr, "mailbox_bench: claim drain with %d bot(s): %s\n", c.bots, c.problem.c_str());
  }
  return ok ? 0 : 1;
}

// "0,10,40" -> {0, 10, 40}; an empty or negative entry gives an empty list (usage error).
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
  std::string dovecot_sh;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--target") o.target = v;
    else if (k == "--testbed-env") o.env_path = v;
    else if (k == "--dovecot-sh") o.dovecot_sh = v;
    else if (k == "--bots") o.bots = std::stoi(v);
    else if (k == "--rounds") o.rounds = std::stoi(v);
    else if (k == "--daemon-pid") o.daemon_pid = std::stoi(v);
    else if (k == "--folders") o.folders = std::stoi(v);
    else if (k == "--max-connections") o.max_connections = std::stoi(v);
    else if (k == "--read-ahead") o.read_ahead = std::stol(v);
    else if (k == "--messages") o.messages = std::stoi(v);
    else if (k == "--list") o.list = std::stoi(v);
    else if (k == "--read") o.read = std::stoi(v);
    else if (k == "--user") o.user = v;
    else if (k == "--folder") o.folder = v;
    else if (k == "--bot") o.bot_mode = v;
    else if (k == "--index") o.index = std::stoi(v);
    else if (k == "--hold") o.hold = v == "1";
    else if (k == "--claims") o.claims = std::stoi(v);
    else if (k == "--claim-max") o.claim_max = std::stoi(v);
    else if (k == "--claim-action") o.claim_action = v;
    else if (k == "--delays") o.delays = parse_delays(v);
    else if (k == "--far-rounds") o.far_rounds = std::stoi(v);
    else if (k == "--delay-proxy") o.delay_proxy = v;
    else if (k == "--session") o.session = v;
    else if (k == "--port") o.port = std::stoi(v);
    else if (k == "--patience") o.patience = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.target.empty() || o.env_path.empty() || o.bots < 1 || o.folders < 1 || o.max_connections < 0 || o.read_ahead < 0 ||
      o.read_ahead > (16L << 20) || o.rounds < 1 ||
      o.messages < 1 || o.list < 1 ||
      o.list > 1000 || o.read < 1 || (o.bot_mode.empty() && o.dovecot_sh.empty()) || o.claims < 0 ||
      o.claim_max < 1 || o.claim_max > 100 || (o.claim_action != "delete" && o.claim_action != "read") ||
      o.delays.empty() || o.far_rounds < 1 || o.port < 0 || o.port > 65535 || o.patience < 1) {
    std::fprintf(stderr,
                 "usage: mailbox_bench --target unix:/path --testbed-env FILE --dovecot-sh PATH [--bots 20] [--rounds 5]\n"
                 "                     [--messages 200] [--list 100] [--read 10] [--user alice] [--folder Bench]\n"
                 "                     [--claims 1000] [--claim-max 10] [--claim-action delete|read]\n"
                 "                     [--delays 0,10,40] [--far-rounds 3] [--delay-proxy PATH] [--daemon-pid PID]\n"
                 "                     [--folders 1] [--max-connections 0] [--read-ahead 0]\n");
    return 2;
  }
  if (o.bot_mode == "daemon") return run_bot<daemon_bot>(o);
  if (o.bot_mode == "direct") return run_bot<direct_bot>(o);
  if (o.bot_mode == "claim") return run_claim_bot(o);
  if (!o.bot_mode.empty()) {
    std::fprintf(stderr, "--bot daemon|direct|claim\n");
    return 2;
  }
  return run_parent(o);
}
