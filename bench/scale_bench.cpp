// scale_bench: N live IMAPS sessions on one real mailbrokerd against the real Dovecot
// testbed (issue 9, goals 3, 4, 6). Starts the daemon itself (so it can read its
// /proc entries, stop it with SIGTERM and start it again on the same state dir) and
// prints, for N sessions (each a distinct name, the same IMAPS spec, basic login as
// the testbed users in turn):
//   ramp    — Connects per second while creating N live sessions (several client
//             threads, each Connect answered once its session is READY);
//   memory  — daemon RSS per idle READY session: (VmRSS after - VmRSS before) / N;
//   status  — Status of all N, paged (page_size 1000), wall time, median of several, in
//             both views (FULL, BRIEF), the client parsing onto the heap and into an
//             arena; the daemon's CPU per listing and the reply bytes per 1000 sessions;
//   idle    — daemon CPU (utime + stime of /proc/PID/stat) over a window with all N idle
//             (opened a keepalive period after the ramp: every session's NOOPs are in
//             their steady rhythm), the keepalive used and the NOOPs sent meanwhile
//             (Status counters);
//   restart — SIGTERM, wait for the exit, start again on the same state dir (sessions
//             come back from the store): time until all N are READY, and the BACKOFFs on
//             the way (WatchStatus events, by error code; DEADLINE_EXCEEDED ones are
//             handshake/login timeouts), with the login gate settings used.
//
// Trust: the testbed CA is not in the system trust store, so
//   --trust ca_file  (default) the spec names the testbed CA file (spec.server.tls.ca_file);
//   --trust system   the spec names no CA (the default trust store, the normal case against
//                    public servers); the daemon runs with SSL_CERT_FILE = the system bundle
//                    + the testbed CA, so every session loads the whole system store.
//
// Usage: scale_bench --mailbrokerd PATH --testbed-env FILE [--sessions 10000]
//          [--threads 64] [--trust ca_file|system] [--keepalive 60] [--idle-seconds 30]
//          [--login-concurrency 32] [--login-rate 100] [--io-threads 2]
//          [--status-rounds 7] [--restart-timeout 900] [--work-dir DIR]
// The daemon's soft fd limit is raised by the daemon from --max-sessions (set to N +
// 100 here); Dovecot must be started with enough room (bench/run.sh scale does that).
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/broker_client.hpp"

extern char** environ;

namespace {

using namespace mailbroker;
namespace pb = ::mailbroker::v1;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "scale_bench: %s\n", why.c_str());
  std::exit(1);
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
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
  std::string mailbrokerd, env_path, work_dir, trust = "ca_file";
  int sessions = 10000, threads = 64, keepalive = 60, idle_seconds = 30, status_rounds = 7;
  int login_concurrency = 32, login_rate = 100, io_threads = 2, restart_timeout = 900;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) die("option " + k + " needs a value");
    const std::string v = argv[++i];
    auto number = [&] {
      try {
        return std::stoi(v);
      } catch (const std::exception&) {
        die(k + ": not a number: " + v);
      }
    };
    if (k == "--mailbrokerd") o.mailbrokerd = v;
    else if (k == "--testbed-env") o.env_path = v;
    else if (k == "--work-dir") o.work_dir = v;
    else if (k == "--trust") o.trust = v;
    else if (k == "--sessions") o.sessions = number();
    else if (k == "--threads") o.threads = number();
    else if (k == "--keepalive") o.keepalive = number();
    else if (k == "--idle-seconds") o.idle_seconds = number();
    else if (k == "--status-rounds") o.status_rounds = number();
    else if (k == "--login-concurrency") o.login_concurrency = number();
    else if (k == "--login-rate") o.login_rate = number();
    else if (k == "--io-threads") o.io_threads = number();
    else if (k == "--restart-timeout") o.restart_timeout = number();
    else die("unknown option " + k);
  }
  if (o.mailbrokerd.empty() || o.env_path.empty()) {
    die("usage: scale_bench --mailbrokerd PATH --testbed-env FILE [--sessions N] [--trust ca_file|system] ...");
  }
  if (o.trust != "ca_file" && o.trust != "system") die("--trust: ca_file or system");
  if (o.sessions < 1 || o.threads < 1 || o.status_rounds < 1) die("--sessions, --threads, --status-rounds: >= 1");
  return o;
}

// ---- the daemon process

struct proc_sample {
  long rss_kib = 0;
  double cpu_seconds = 0;  // utime + stime
};

proc_sample sample_of(pid_t pid) {
  proc_sample s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::atol(line.c_str() + 6);
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start at state (field 3).
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::vector<std::string> f;
  for (std::string x; rest >> x;) f.push_back(x);
  if (f.size() > 12) {
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;  // fields 14 and 15
  }
  return s;
}

class daemon_process {
 public:
  daemon_process(const options& o, std::string dir, std::string cert_bundle)
      : o_(o), dir_(std::move(dir)), cert_bundle_(std::move(cert_bundle)) {}
  ~daemon_process() { stop(); }

  std::string target() const { return "unix:" + dir_ + "/d.sock"; }
  pid_t pid() const { return pid_; }

  void start() {
    const std::string sock = dir_ + "/d.sock";
    ::unlink(sock.c_str());
    std::vector<std::string> args = {o_.mailbrokerd,
                                     "--socket", sock,
                                     "--state-dir", dir_ + "/state",
                                     "--log-level", "warn",
                                     "--max-sessions", std::to_string(o_.sessions + 100),
                                     "--login-concurrency-per-host", std::to_string(o_.login_concurrency),
                                     "--login-rate-per-host", std::to_string(o_.login_rate),
                                     "--io-threads", std::to_string(o_.io_threads)};
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "SSL_CERT_FILE=", 14) != 0) env.emplace_back(*e);
    }
    if (!cert_bundle_.empty()) env.push_back("SSL_CERT_FILE=" + cert_bundle_);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = dir_ + "/mailbrokerd.log";
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) die("cannot start " + o_.mailbrokerd + ": " + std::strerror(rc));
    for (int i = 0; i < 600; ++i) {
      struct stat st {};
      if (::stat(sock.c_str(), &st) == 0) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        die("mailbrokerd exited at start; see " + log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    die("mailbrokerd did not create its socket in 30 s; see " + log);
  }

  // SIGTERM (every session logs out), SIGKILL after `patience`. Returns seconds taken.
  double stop(std::chrono::seconds patience = std::chrono::seconds(120)) {
    if (pid_ <= 0) return 0;
    const auto t0 = clock_type::now();
    ::kill(pid_, SIGTERM);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (clock_type::now() - t0 > patience) {
        std::fprintf(stderr, "scale_bench: mailbrokerd did not stop in %llds; SIGKILL\n",
                     static_cast<long long>(patience.count()));
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return seconds_since(t0);
  }

 private:
  const options& o_;
  std::string dir_, cert_bundle_;
  pid_t pid_ = -1;
};

// ---- gRPC helpers

std::shared_ptr<grpc::Channel> channel_number(const std::string& target, int i) {
  grpc::ChannelArguments args;
  args.SetInt("mailbroker.scale_bench.channel", i);  // distinct args: a connection of its own
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

std::map<std::string, std::uint32_t> state_counts(client::broker_client& c, std::uint32_t* total_r = nullptr) {
  pb::StatusRequest req;
  req.set_page_size(1);
  pb::StatusResponse resp;
  if (!c.status(req, &resp).ok()) return {};
  if (total_r != nullptr) *total_r = resp.total_sessions();
  return {resp.sessions_by_state().begin(), resp.sessions_by_state().end()};
}

std::uint32_t count_of(const std::map<std::string, std::uint32_t>& m, const char* state) {
  auto it = m.find(state);
  return it == m.end() ? 0 : it->second;
}

std::string describe(const std::map<std::string, std::uint32_t>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : ", ") + k.substr(std::strlen("SESSION_STATE_")) + " " + std::to_string(v);
  return out.empty() ? "(none)" : out;
}

// Every session, paged, in `view`. Returns the number listed; adds up commands_sent into
// `commands_r`, keeps the largest reply's size in `largest_r` and adds every reply's size
// into `bytes_r`.
std::size_t status_all(client::broker_client& c, std::uint64_t* commands_r = nullptr, std::size_t* largest_r = nullptr,
                       pb::StatusView view = pb::STATUS_VIEW_FULL, std::size_t* bytes_r = nullptr,
                       bool arena_client = false) {
  pb::StatusRequest req;
  req.set_page_size(1000);
  req.set_view(view);
  std::size_t seen = 0;
  for (;;) {
    google::protobuf::Arena arena;
    pb::StatusResponse heap_resp;
    auto& resp = arena_client ? *google::protobuf::Arena::CreateMessage<pb::StatusResponse>(&arena) : heap_resp;
    if (auto s = c.status(req, &resp, std::chrono::seconds(60)); !s.ok()) die("Status: " + s.error_message());
    seen += static_cast<std::size_t>(resp.sessions_size());
    const std::size_t size = resp.ByteSizeLong();
    if (largest_r != nullptr) *largest_r = std::max(*largest_r, size);
    if (bytes_r != nullptr) *bytes_r += size;
    if (commands_r != nullptr) {
      for (const auto& s : resp.sessions()) *commands_r += s.counters().commands_sent();
    }
    if (resp.next_page_token().empty()) return seen;
    req.set_page_token(resp.next_page_token());
  }
}

std::string session_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "scale-%05d", i);
  return buf;
}

// ---- phases

struct testbed {
  std::string host, ca_file;
  std::uint16_t port = 0;
  std::vector<std::pair<std::string, std::string>> users;  // name, password
};

testbed load_testbed(const std::string& path) {
  const auto env = read_env(path);
  testbed t;
  t.host = need(env, "HOST");
  t.port = static_cast<std::uint16_t>(std::stoi(need(env, "IMAPS_PORT")));
  t.ca_file = need(env, "CA_FILE");
  std::istringstream names(need(env, "TESTBED_USERS"));
  for (std::string u; names >> u;) {
    std::string key = u;
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char ch) { return std::toupper(ch); });
    t.users.emplace_back(u, need(env, key + "_PASSWORD"));
  }
  if (t.users.empty()) die("testbed.env lists no TESTBED_USERS");
  return t;
}

pb::ConnectRequest request_for(const options& o, const testbed& t, int i) {
  pb::ConnectRequest r;
  r.set_session(session_name(i));
  r.set_client_name("scale_bench");
  r.set_lease_ttl_seconds(86400);
  auto* spec = r.mutable_spec();
  spec->set_protocol(pb::PROTOCOL_IMAP);
  spec->set_keepalive_seconds(static_cast<std::uint32_t>(o.keepalive));
  spec->set_linger_seconds(86400);  // restored sessions (no lease after a restart) stay
  auto* server = spec->mutable_server();
  server->set_host(t.host);
  server->set_port(t.port);
  server->set_tls_mode(pb::TLS_MODE_IMPLICIT);
  if (o.trust == "ca_file") server->mutable_tls()->set_ca_file(t.ca_file);
  const auto& [user, password] = t.users[static_cast<std::size_t>(i) % t.users.size()];
  auto* basic = spec->mutable_auth()->mutable_basic();
  basic->set_username(user);
  basic->mutable_password()->set_inline_value(password);
  return r;
}

void ramp(const options& o, const testbed& t, const std::string& target) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 4; ++i) channels.push_back(channel_number(target, i));
  std::atomic<int> next{0}, failed{0};
  std::mutex first_error_mutex;
  std::string first_error;
  std::vector<double> latencies(static_cast<std::size_t>(o.sessions));
  const auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (int th = 0; th < o.threads; ++th) {
    threads.emplace_back([&, th] {
      client::broker_client c(channels[static_cast<std::size_t>(th) % channels.size()]);
      for (int i; (i = next++) < o.sessions;) {
        const auto started = clock_type::now();
        pb::ConnectResponse resp;
        auto s = c.connect(request_for(o, t, i), &resp, std::chrono::seconds(600));
        latencies[static_cast<std::size_t>(i)] = seconds_since(started) * 1000;
        if (!s.ok()) {
          ++failed;
          std::lock_guard lock(first_error_mutex);
          if (first_error.empty()) first_error = session_name(i) + ": " + s.error_message();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const double took = seconds_since(t0);
  std::sort(latencies.begin(), latencies.end());
  std::printf("ramp: %d Connects (%d client threads) in %.1f s: %.0f sessions/s; Connect median %.0f ms, p99 %.0f ms; "
              "%d failed%s%s\n",
              o.sessions, o.threads, took, o.sessions / took, latencies[latencies.size() / 2],
              latencies[latencies.size() * 99 / 100], failed.load(), first_error.empty() ? "" : " (first: ",
              first_error.empty() ? "" : (first_error + ")").c_str());
}

void wait_until_ready(client::broker_client& c, int n, const char* phase) {
  const auto t0 = clock_type::now();
  std::map<std::string, std::uint32_t> counts;
  while (seconds_since(t0) < 120) {
    counts = state_counts(c);
    if (count_of(counts, "SESSION_STATE_READY") >= static_cast<std::uint32_t>(n)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::printf("%s: not all READY after 120 s more: %s\n", phase, describe(counts).c_str());
}

// WatchStatus(all) during a restart: every entry into BACKOFF, by error code.
class backoff_watch {
 public:
  explicit backoff_watch(const std::string& target) : client_(channel_number(target, 100)) {
    thread_ = std::thread([this] { run(); });
  }
  ~backoff_watch() { stop(); }
  void stop() {
    context_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }
  std::size_t backoffs() const {
    std::lock_guard lock(mutex_);
    return backoffs_;
  }
  std::string by_code() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [code, n] : by_code_) out += (out.empty() ? "" : ", ") + code + " " + std::to_string(n);
    for (const auto& m : samples_) out += "; e.g. \"" + m + "\"";
    return out.empty() ? "none" : out;
  }
  std::size_t timeouts() const {
    std::lock_guard lock(mutex_);
    auto it = by_code_.find("DEADLINE_EXCEEDED");
    return it == by_code_.end() ? 0 : it->second;
  }

 private:
  void run() {
    auto reader = client_.watch("", context_);
    pb::SessionEvent ev;
    while (reader->Read(&ev)) {
      if (ev.status().state() != pb::SESSION_STATE_BACKOFF || ev.previous_state() == pb::SESSION_STATE_BACKOFF) continue;
      std::lock_guard lock(mutex_);
      ++backoffs_;
      const std::string code = ev.status().has_last_error() ? ev.status().last_error().code() : "none";
      if (++by_code_[code] == 1 && samples_.size() < 3) samples_.push_back(ev.status().last_error().message());
    }
    (void)reader->Finish();
  }

  client::broker_client client_;
  grpc::ClientContext context_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::size_t backoffs_ = 0;
  std::map<std::string, std::size_t> by_code_;
  std::vector<std::string> samples_;
};

// A bundle of the system store + the testbed CA, for --trust system.
std::string system_bundle_with(const std::string& dir, const std::string& ca_file, int& certs_r) {
  const std::string path = dir + "/system-plus-testbed.pem";
  std::ifstream sys("/etc/ssl/certs/ca-certificates.crt"), ca(ca_file);
  if (!sys || !ca) die("cannot read /etc/ssl/certs/ca-certificates.crt or " + ca_file);
  std::ostringstream all;
  all << sys.rdbuf() << "\n" << ca.rdbuf();
  const std::string text = all.str();
  certs_r = 0;
  for (std::size_t at = 0; (at = text.find("BEGIN CERTIFICATE", at)) != std::string::npos; ++at) ++certs_r;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows as it happens when piped
  const options o = parse(argc, argv);
  const testbed t = load_testbed(o.env_path);
  std::string dir = o.work_dir;
  bool remove_dir = false;
  if (dir.empty()) {
    dir = (std::filesystem::temp_directory_path() / "mb-scale-bench-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) die("mkdtemp failed");
    remove_dir = true;
  }
  std::filesystem::create_directories(dir + "/state");
  std::string bundle;
  int bundle_certs = 0;
  if (o.trust == "system") bundle = system_bundle_with(dir, t.ca_file, bundle_certs);

  std::printf("sessions: %d IMAPS to %s:%u as %zu users; trust: %s; login gate: %d per host at once, %d/s; "
              "keepalive %d s; io threads %d\n",
              o.sessions, t.host.c_str(), t.port, t.users.size(),
              o.trust == "ca_file" ? "spec ca_file (the testbed CA, one certificate)"
                                   : ("default trust store (SSL_CERT_FILE: system bundle + testbed CA, " +
                                      std::to_string(bundle_certs) + " certificates)").c_str(),
              o.login_concurrency, o.login_rate, o.keepalive, o.io_threads);

  daemon_process daemon(o, dir, bundle);
  daemon.start();
  client::broker_client c(channel_number(daemon.target(), 99));
  (void)state_counts(c);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const auto before = sample_of(daemon.pid());

  ramp(o, t, daemon.target());
  const auto ramp_end = clock_type::now();
  wait_until_ready(c, o.sessions, "ramp");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto after = sample_of(daemon.pid());
  std::printf("memory: daemon RSS %.1f MiB idle, %.1f MiB with %d READY: %.1f KiB per session (%s)\n",
              before.rss_kib / 1024.0, after.rss_kib / 1024.0, o.sessions,
              static_cast<double>(after.rss_kib - before.rss_kib) / o.sessions, describe(state_counts(c)).c_str());

  {
    // Both views in the same run, each with the client parsing onto the heap (as a plain
    // generated stub does) and into an arena; the rounds interleaved so a change in the
    // machine's load falls on all alike. The daemon's CPU time (/proc, 10 ms ticks, summed
    // over the rounds) tells its share of the wall time from the client's.
    struct view_runs {
      pb::StatusView view;
      bool arena_client;
      std::vector<double> walls;
      double daemon_cpu_s = 0;
      std::size_t listed = 0, largest = 0, bytes = 0;
    };
    view_runs runs[] = {{pb::STATUS_VIEW_FULL, false, {}, 0, 0, 0, 0},
                        {pb::STATUS_VIEW_BRIEF, false, {}, 0, 0, 0, 0},
                        {pb::STATUS_VIEW_FULL, true, {}, 0, 0, 0, 0},
                        {pb::STATUS_VIEW_BRIEF, true, {}, 0, 0, 0, 0}};
    for (int r = 0; r < o.status_rounds; ++r) {
      for (auto& run : runs) {
        run.bytes = 0;
        const auto cpu0 = sample_of(daemon.pid()).cpu_seconds;
        const auto t0 = clock_type::now();
        run.listed = status_all(c, nullptr, &run.largest, run.view, &run.bytes, run.arena_client);
        run.walls.push_back(seconds_since(t0) * 1000);
        run.daemon_cpu_s += sample_of(daemon.pid()).cpu_seconds - cpu0;
      }
    }
    for (auto& run : runs) {
      std::sort(run.walls.begin(), run.walls.end());
      std::printf("status %s (client parses %s): all %zu sessions, pages of 1000: median %.1f ms (min %.1f, max "
                  "%.1f, %d rounds), daemon CPU %.1f ms per listing; %.1f KiB per 1000 sessions, largest reply "
                  "%.0f KiB\n",
                  run.view == pb::STATUS_VIEW_BRIEF ? "BRIEF" : "FULL ", run.arena_client ? "into an arena" : "onto the heap",
                  run.listed, run.walls[run.walls.size() / 2], run.walls.front(), run.walls.back(), o.status_rounds,
                  run.daemon_cpu_s * 1000 / o.status_rounds,
                  static_cast<double>(run.bytes) * 1000 / static_cast<double>(std::max<std::size_t>(run.listed, 1)) / 1024,
                  static_cast<double>(run.largest) / 1024);
    }
  }

  {
    // A session's first keepalive NOOP is due ~keepalive after it became READY: the window
    // opens once the last session created has had that long, so it sees the steady state.
    const auto steady = ramp_end + std::chrono::seconds(o.keepalive);
    if (clock_type::now() < steady) {
      std::printf("idle: waiting %.0f s (a keepalive period after the ramp) for the steady state\n",
                  std::chrono::duration<double>(steady - clock_type::now()).count());
      std::fflush(stdout);
      std::this_thread::sleep_until(steady);
    }
    std::uint64_t commands0 = 0, commands1 = 0;
    status_all(c, &commands0);
    const auto s0 = sample_of(daemon.pid());
    const auto t0 = clock_type::now();
    std::this_thread::sleep_for(std::chrono::seconds(o.idle_seconds));
    const auto s1 = sample_of(daemon.pid());
    const double window = seconds_since(t0);
    status_all(c, &commands1);
    std::printf("idle: daemon CPU %.2f s over %.1f s with %d idle sessions = %.1f %% of one core; keepalive %d s, "
                "%llu commands (NOOPs) in the window = %.0f/s (%.0f/s expected)\n",
                s1.cpu_seconds - s0.cpu_seconds, window, o.sessions, 100 * (s1.cpu_seconds - s0.cpu_seconds) / window,
                o.keepalive, static_cast<unsigned long long>(commands1 - commands0), (commands1 - commands0) / window,
                static_cast<double>(o.sessions) / o.keepalive);
  }

  {
    const double stop_s = daemon.stop();
    const auto t0 = clock_type::now();
    daemon.start();
    const double socket_s = seconds_since(t0);
    backoff_watch watch(daemon.target());
    client::broker_client rc(channel_number(daemon.target(), 98));
    std::map<std::string, std::uint32_t> counts;
    std::uint32_t most_backoff = 0;
    double all_ready = -1;
    while (seconds_since(t0) < o.restart_timeout) {
      counts = state_counts(rc);
      most_backoff = std::max(most_backoff, count_of(counts, "SESSION_STATE_BACKOFF"));
      if (count_of(counts, "SESSION_STATE_READY") >= static_cast<std::uint32_t>(o.sessions)) {
        all_ready = seconds_since(t0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    watch.stop();
    if (all_ready < 0) {
      std::printf("restart: NOT all READY after %d s: %s\n", o.restart_timeout, describe(counts).c_str());
    } else {
      std::printf("restart: SIGTERM stop took %.1f s; started again (socket after %.2f s); all %d READY %.1f s after "
                  "the start; login gate %d at once, %d/s per host\n",
                  stop_s, socket_s, o.sessions, all_ready, o.login_concurrency, o.login_rate);
    }
    std::printf("restart: %zu entries into BACKOFF (most at once %u), %zu handshake/login timeouts; by code: %s\n",
                watch.backoffs(), most_backoff, watch.timeouts(), watch.by_code().c_str());
  }
  daemon.stop();
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
