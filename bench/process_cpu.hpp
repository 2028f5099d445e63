#pragma once
// CPU time of another process, for benchmarks that charge the daemon's CPU to the calls
// they make: utime + stime from /proc/PID/stat (all threads, exited ones included), in
// nanoseconds. The kernel counts in clock ticks (usually 10 ms): divide a delta by
// thousands of calls, not by ten.
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace mailbroker::bench {

// utime + stime in clock ticks from the text of /proc/PID/stat, or nothing when it does
// not parse. The command name (field 2) may hold spaces and parentheses: fields are
// counted from the last ')'.
inline std::optional<std::uint64_t> cpu_ticks_of_proc_stat(const std::string& stat) {
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  // After ')': field 3 (state) ... field 14 utime, field 15 stime.
  for (int i = 3; i <= 13; ++i) {
    if (!(in >> field)) return std::nullopt;
  }
  std::uint64_t utime = 0, stime = 0;
  if (!(in >> utime >> stime)) return std::nullopt;
  return utime + stime;
}

// CPU time used so far by process `pid` (ns), or nothing when it cannot be read.
inline std::optional<std::uint64_t> process_cpu_ns(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  const auto ticks = cpu_ticks_of_proc_stat(stat);
  if (!ticks) return std::nullopt;
  static const long per_second = ::sysconf(_SC_CLK_TCK);
  return *ticks * (1000000000ull / static_cast<std::uint64_t>(per_second));
}

// Context switches (voluntary + involuntary) of the live threads of process `pid`: a
// thread that sleeps and is woken again counts one. Threads that have exited are not
// counted (gRPC's and Asio's threads live as long as the daemon).
inline std::optional<std::uint64_t> process_context_switches(pid_t pid) {
  std::error_code ec;
  std::filesystem::directory_iterator tasks("/proc/" + std::to_string(pid) + "/task", ec);
  if (ec) return std::nullopt;
  std::uint64_t total = 0;
  for (const auto& task : tasks) {
    std::ifstream in(task.path() / "status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        total += std::stoull(line.substr(line.find(':') + 1));
      }
    }
  }
  return total;
}

// The pid of the process listening on the unix socket `path` (SO_PEERCRED of a
// connection to it), or nothing.
inline std::optional<pid_t> listener_pid(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return std::nullopt;
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  std::optional<pid_t> pid;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) {
    pid = cred.pid;
  }
  ::close(fd);
  return pid;
}

}  // namespace mailbroker::bench
