// registry_bench: what 10,000 sessions cost the daemon itself, without a mail server.
//
// An in-process mailbrokerd (the broker_server main() runs, own temp state dir) whose
// sessions aim at a TCP listener that never accepts: the login gate admits
// login-concurrency-per-host of them (their handshakes hang) and the rest wait for a
// slot, CONNECTING. Measures:
//   restore  — daemon start with N session records in the store, until all N are listed;
//   create   — N more sessions through the registry's Connect path (sessions/s);
//   status   — Status of everything over gRPC, paged: wall (median of 7) and CPU ms, also
//              per 10,000, the client parsing onto the heap and into an arena, in both
//              views (FULL, BRIEF), with the reply bytes per 1000 sessions;
//   convert  — the view-dependent part for READY sessions (these never log in): N READY
//              statuses with Dovecot's 37 capabilities converted, serialized and parsed
//              in-process, FULL vs BRIEF;
//   watch    — WatchStatus(all): time until every current state has arrived;
//   store    — N session-record writes from 32 threads each waiting for durability,
//              through the group-commit writer (commits vs writes), against one
//              put_session (one fsync) per write for a sample.
//
// Usage: registry_bench [--sessions N]   (default 10000)
// 2N sessions are created, each counted against the fd budget (net/fd_budget.hpp: one
// descriptor per IMAP session, 256 kept in reserve): with a hard `ulimit -n` of 20,000,
// N = 10,000 lists 19,744 (the create line reports the refused ones; Status and watch
// figures are also given per 10,000).
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "client/broker_client.hpp"
#include "daemon/broker_server.hpp"
#include "daemon/proto_convert.hpp"
#include "store/secret_key.hpp"
#include "store/session_record_writer.hpp"
#include "store/state_store.hpp"

namespace {

using namespace mailbroker;
namespace pb = ::mailbroker::v1;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

int silent_listener(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(fd, 4096);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

pb::ConnectRequest silent_request(const std::string& name, std::uint16_t port) {
  pb::ConnectRequest r;
  r.set_session(name);
  r.set_client_name("bench");
  auto* spec = r.mutable_spec();
  spec->set_protocol(pb::PROTOCOL_IMAP);
  spec->set_connect_timeout_ms(300000);
  auto* server = spec->mutable_server();
  server->set_host("127.0.0.1");
  server->set_port(port);
  server->set_tls_mode(pb::TLS_MODE_IMPLICIT);
  server->mutable_tls()->set_insecure_skip_verify(true);
  auto* basic = spec->mutable_auth()->mutable_basic();
  basic->set_username("bench");
  basic->mutable_password()->set_inline_value("bench");
  return r;
}

// CPU time of this process (every thread), ms.
double cpu_ms() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1000 + static_cast<double>(t.tv_usec) / 1000; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

std::size_t listed(client::broker_client& c) {
  pb::StatusRequest req;
  req.set_page_size(1);
  pb::StatusResponse resp;
  return c.status(req, &resp).ok() ? resp.total_sessions() : 0;
}

// What Status costs per READY session in each view, without gRPC or a registry: the
// sessions above never log in, so they have no greeting or capabilities and both views
// send the same bytes. Here N READY IMAP statuses carrying Dovecot's greeting and its 37
// post-login capabilities (the testbed's) are converted as the Status handler does
// (pages of 1000 into an arena, each sized for the 2 MiB bound), serialized, and parsed
// by a client onto the heap; median of 7 rounds.
void convert_ready_statuses(int n) {
  static constexpr const char* dovecot_capabilities[] = {
      "IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "SORT", "SORT=DISPLAY", "THREAD=REFERENCES",
      "THREAD=REFS", "THREAD=ORDEREDSUBJECT", "MULTIAPPEND", "URL-PARTIAL", "CATENATE", "UNSELECT", "CHILDREN",
      "NAMESPACE", "UIDPLUS", "LIST-EXTENDED", "I18NLEVEL=1", "CONDSTORE", "QRESYNC", "ESEARCH", "ESORT", "SEARCHRES",
      "WITHIN", "CONTEXT=SEARCH", "LIST-STATUS", "BINARY", "MOVE", "SNIPPET=FUZZY", "PREVIEW=FUZZY", "PREVIEW",
      "STATUS=SIZE", "SAVEDATE", "LITERAL+", "NOTIFY"};
  std::vector<session::status_snapshot> statuses(static_cast<std::size_t>(n));
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < n; ++i) {
    auto& s = statuses[static_cast<std::size_t>(i)];
    s.name = "scale-" + std::to_string(10000 + i);
    s.state = session::session_state::ready;
    s.state_since = now;
    s.host = "127.0.0.1";
    s.port = 993;
    s.tls_verified = true;
    s.greeting = "Dovecot (Debian) ready.";
    s.capabilities.assign(std::begin(dovecot_capabilities), std::end(dovecot_capabilities));
    s.auth_mode = "basic";
    s.username = "alice";
    s.connected_since = now;
    s.lease_count = 1;
    s.counters = {.commands_sent = 3, .bytes_in = 1432, .bytes_out = 118, .connects = 1};
    s.imap.emplace().open = 1;
  }
  for (const auto detail : {daemon::status_detail::full, daemon::status_detail::brief}) {
    std::vector<double> walls;
    std::size_t bytes = 0;
    for (int round = 0; round < 7; ++round) {
      bytes = 0;
      const auto t0 = clock_type::now();
      for (std::size_t first = 0; first < statuses.size(); first += 1000) {
        std::string wire;
        {
          google::protobuf::Arena arena;
          auto* page = google::protobuf::Arena::CreateMessage<pb::StatusResponse>(&arena);
          auto& sessions = *page->mutable_sessions();
          sessions.Reserve(1000);
          for (std::size_t i = first; i < std::min(first + 1000, statuses.size()); ++i) {
            auto* out = sessions.Add();
            daemon::to_proto(statuses[i], out, detail);
            (void)out->ByteSizeLong();  // the handler sizes each one for the 2 MiB bound
          }
          page->SerializeToString(&wire);
        }
        pb::StatusResponse parsed;
        if (!parsed.ParseFromString(wire)) return;
        bytes += wire.size();
      }
      walls.push_back(ms_since(t0));
    }
    std::sort(walls.begin(), walls.end());
    std::printf("convert %s: %d READY statuses (37 capabilities each), no gRPC: to_proto + serialize + client parse "
                "median %.1f ms (min %.1f); per 10,000: %.1f ms; %.1f KiB per 1000 sessions\n",
                detail == daemon::status_detail::brief ? "BRIEF" : "FULL ", n, walls[3], walls[0],
                walls[3] * 10000 / n, static_cast<double>(bytes) * 1000 / n / 1024);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int n = 10000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--sessions") n = std::stoi(argv[++i]);
  }
  spdlog::set_level(spdlog::level::warn);
  std::string dir = (std::filesystem::temp_directory_path() / "mb-registry-bench-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) return 1;
  std::uint16_t port = 0;
  const int listener = silent_listener(port);

  daemon::daemon_config config;
  config.socket_path = dir + "/d.sock";
  config.state_dir = dir + "/state";
  std::filesystem::create_directories(config.state_dir);
  config.registry.max_sessions = static_cast<std::size_t>(2 * n + 10);
  config.registry.session.default_linger = std::chrono::seconds(3600);
  std::printf("sessions: %d, login gate: %zu per host at once, %.0f/s\n", n,
              config.registry.logins.concurrency_per_host, config.registry.logins.rate_per_host);

  // ---- store: group commit vs one fsync per write, then N records for the restore.
  {
    auto key = store::load_or_create_key_file(daemon::effective_vault_key_file(config));
    auto st = store::state_store::open(daemon::effective_store_path(config), std::move(key.value()));
    std::shared_ptr<store::state_store> s(std::move(st.value()));
    constexpr int sample = 200;
    auto t0 = clock_type::now();
    for (int i = 0; i < sample; ++i) (void)s->put_session("single-" + std::to_string(i), "x");
    const double single_ms = ms_since(t0) / sample;
    for (int i = 0; i < sample; ++i) (void)s->delete_session("single-" + std::to_string(i));

    store::session_record_writer writer(s);
    std::atomic<int> next{0};
    std::vector<double> waits(static_cast<std::size_t>(n));
    t0 = clock_type::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < 32; ++t) {
      threads.emplace_back([&] {
        for (int i; (i = next++) < n;) {
          auto req = silent_request("restored-" + std::to_string(100000 + i), port);
          std::string bytes;
          req.spec().SerializeToString(&bytes);
          std::promise<void> durable;
          const auto started = clock_type::now();
          writer.put(req.session(), bytes, [&durable](error) { durable.set_value(); });
          durable.get_future().wait();
          waits[static_cast<std::size_t>(i)] = ms_since(started);
        }
      });
    }
    for (auto& t : threads) t.join();
    const double total_ms = ms_since(t0);
    std::sort(waits.begin(), waits.end());
    const auto c = writer.counters();
    std::printf("store: one put_session (own fsync): %.2f ms each; group commit, 32 writers: %d writes in %.0f ms "
                "(%.0f/s), %llu commits (largest batch %zu), wait median %.2f ms p99 %.2f ms\n",
                single_ms, n, total_ms, n / (total_ms / 1000), static_cast<unsigned long long>(c.commits),
                c.largest_batch, waits[waits.size() / 2], waits[waits.size() * 99 / 100]);
  }

  // ---- restore at start
  auto t0 = clock_type::now();
  auto server = std::make_unique<daemon::broker_server>(config);
  if (auto e = server->start(); !e.ok()) {
    std::fprintf(stderr, "start: %s\n", e.message.c_str());
    return 1;
  }
  const double start_ms = ms_since(t0);
  client::broker_client c(client::make_channel(server->unix_target()));
  // The daemon admits (soft fd limit - fd_budget::reserve) / fds per session sessions; more
  // records than that are refused at restore: give up instead of waiting forever.
  for (auto [seen, since] = std::pair{std::size_t{0}, clock_type::now()}; seen < static_cast<std::size_t>(n);) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (const auto now_listed = listed(c); now_listed != seen) {
      seen = now_listed;
      since = clock_type::now();
    } else if (ms_since(since) > 10000) {
      std::fprintf(stderr, "restore: stuck at %zu of %d sessions for 10 s (fd limit? see the daemon's log)\n", seen, n);
      return 1;
    }
  }
  std::printf("restore: start() returned after %.0f ms; %d sessions listed after %.0f ms\n", start_ms, n, ms_since(t0));

  // ---- create N more
  t0 = clock_type::now();
  int refused = 0;
  std::string first_refusal;
  for (int i = 0; i < n; ++i) {
    auto converted = daemon::from_proto(silent_request("new-" + std::to_string(100000 + i), port));
    std::promise<void> answered;
    server->registry().connect(std::move(converted.value()), clock_type::now(),
                               [&](result<session::connect_outcome> r) {
                                 // The session stays unless admission refused it (the call's
                                 // own deadline, already passed, answers DEADLINE_EXCEEDED).
                                 if (!r && r.err().code == errc::resource_exhausted && refused++ == 0) {
                                   first_refusal = r.err().message;
                                 }
                                 answered.set_value();
                               });
    answered.get_future().wait();
  }
  const double create_ms = ms_since(t0);
  std::printf("create: %d new sessions (with %d present) in %.0f ms: %.0f sessions/s; %d refused%s%s\n", n, n,
              create_ms, n / (create_ms / 1000), refused, refused > 0 ? ": " : "", first_refusal.c_str());

  // ---- Status, paged: wall time (median of 7) and this process's CPU time (daemon and
  // client together; on a loaded machine the wall time also counts waits for a core).
  // The client parses each reply onto the heap (as a plain generated stub does), then
  // into a protobuf arena (what a client listing thousands of sessions should do: ~12
  // allocations per session fewer). Each in both views, FULL then BRIEF, and the reply
  // bytes per 1000 sessions of each (these sessions never logged in, so they have no
  // greeting or capabilities: the two views differ little here; scale_bench measures
  // READY sessions).
  for (const bool arena_client : {false, true}) {
    for (std::uint32_t page_size : {500u, 1000u}) {
      for (const auto view : {pb::STATUS_VIEW_FULL, pb::STATUS_VIEW_BRIEF}) {
        int pages = 0;
        std::size_t seen = 0, largest = 0, bytes = 0;
        std::vector<double> walls, cpus;
        for (int round = 0; round < 7; ++round) {
          pb::StatusRequest req;
          req.set_page_size(page_size);
          req.set_view(view);
          pages = 0;
          seen = 0;
          bytes = 0;
          const double cpu0 = cpu_ms();
          t0 = clock_type::now();
          for (;;) {
            google::protobuf::Arena arena;
            pb::StatusResponse heap_resp;
            auto& resp = arena_client ? *google::protobuf::Arena::CreateMessage<pb::StatusResponse>(&arena) : heap_resp;
            if (!c.status(req, &resp, std::chrono::seconds(30)).ok()) return 1;
            ++pages;
            seen += static_cast<std::size_t>(resp.sessions_size());
            const std::size_t size = resp.ByteSizeLong();
            bytes += size;
            largest = std::max(largest, size);
            if (resp.next_page_token().empty()) break;
            req.set_page_token(resp.next_page_token());
          }
          walls.push_back(ms_since(t0));
          cpus.push_back(cpu_ms() - cpu0);
        }
        std::sort(walls.begin(), walls.end());
        std::sort(cpus.begin(), cpus.end());
        std::printf("status %s (client parses %s): %zu sessions in %d pages of %u: median %.1f ms in total (min %.1f), "
                    "CPU %.1f ms (client + daemon); per 10,000: %.1f ms, CPU %.1f ms; %.1f KiB per 1000 sessions, "
                    "largest reply %.0f KiB\n",
                    view == pb::STATUS_VIEW_BRIEF ? "BRIEF" : "FULL ", arena_client ? "into an arena" : "onto the heap",
                    seen, pages, page_size, walls[3], walls[0], cpus[3], walls[3] * 10000 / static_cast<double>(seen),
                    cpus[3] * 10000 / static_cast<double>(seen),
                    static_cast<double>(bytes) * 1000 / static_cast<double>(seen) / 1024,
                    static_cast<double>(largest) / 1024);
      }
    }
  }

  convert_ready_statuses(n);

  // ---- WatchStatus(all): every session listed (fewer than 2N when the fd budget
  // refused some of the created ones; waiting for 2N would then never end).
  {
    const std::size_t expected = listed(c);
    grpc::ClientContext context;
    t0 = clock_type::now();
    auto reader = c.watch("", context);
    std::set<std::string> current;
    pb::SessionEvent ev;
    while (current.size() < expected && reader->Read(&ev)) {
      if (ev.reason() == "current state") current.insert(ev.status().name());
    }
    std::printf("watch: %zu of %zu current states delivered in %.0f ms\n", current.size(), expected, ms_since(t0));
    context.TryCancel();
    (void)reader->Finish();
  }

  server->shutdown(std::chrono::seconds(30));
  server.reset();
  ::close(listener);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
