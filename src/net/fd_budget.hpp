#pragma once
// File-descriptor budget of this process: how many are open, the soft RLIMIT_NOFILE,
// raising it at start-up, and telling "out of file descriptors" apart from other
// failures. Each upstream mail connection costs one descriptor (an IMAP/POP3 session
// with an SMTP leg: two); gRPC clients, the store, logs and Asio's own epoll/eventfd/
// timerfd need a few more (fd_budget::reserve).
//
// Admission, for whoever creates sessions (the registry), before it creates one — O(1),
// and it counts sessions that are admitted but not connected yet:
//
//   const auto cap = std::min(settings_.max_sessions, net::fd_budget::session_capacity());
//   if (live_count >= cap) return error{errc::resource_exhausted, ...};
//
// and, rarely (e.g. when live_count is within 10% of cap, or on a timer), the exact
// check, which counts every open descriptor (~1-2 ms at a 20,000 limit):
//
//   if (auto e = net::fd_budget::check(net::fd_budget::per_session); !e.ok()) return e;
//     // e.code == errc::resource_exhausted, e.message names open / limit and the fix
//
// Thread-safe: every function only reads process state (or, raise_soft_limit, sets it).
#include <cstddef>
#include <string>

#include "common/error.hpp"
#include "net/asio.hpp"

namespace mailbroker::net::fd_budget {

// Descriptors one session may hold at once: the mail connection plus its SMTP leg.
inline constexpr std::size_t per_session = 2;
// Descriptors kept free for everything that is not a session: gRPC listeners and
// clients, the SQLite store (db, -wal, -shm), logs, Asio's reactor, the resolver, CA
// files being read.
inline constexpr std::size_t reserve = 256;

// Open descriptors of this process, counted exactly with one poll() over every number
// below limit() (opens nothing; ~1-2 ms at a 20,000 limit, linear in the limit). Above
// a limit of 2^20 it reads /proc/self/fd instead (~6 µs per open descriptor); then it
// returns limit() when the directory cannot be opened for lack of descriptors, and 0
// when /proc is not mounted.
std::size_t open_fds();

// Sessions the current soft limit allows: (limit() - reserve) / per_session. O(1).
std::size_t session_capacity();

// The soft RLIMIT_NOFILE (the limit open() and socket() enforce); SIZE_MAX when
// unlimited.
std::size_t limit();

// What `max_sessions` sessions need: per_session each plus the reserve.
std::size_t needed_for_sessions(std::size_t max_sessions);

// ok when open_fds() + `needed` + reserve/2 stays within limit(); else
// resource_exhausted: "out of file descriptors: N open, limit M; raise LimitNOFILE or
// lower max-sessions". Costs one open_fds(). Keeping half the reserve free leaves room
// for gRPC clients and the store after the last session is admitted.
error check(std::size_t needed);

// True for EMFILE (process limit) and ENFILE (system-wide table full), in whatever
// category the error arrived (system, generic).
bool is_exhaustion(const error_code& ec);
bool is_exhaustion_errno(int err);

// "out of file descriptors (EMFILE): N open, limit M; raise LimitNOFILE or lower
// max-sessions" (ENFILE: "the system's file table is full (ENFILE)..."). `err` is
// EMFILE or ENFILE. Counts open descriptors, so call it only on the failure path.
std::string exhaustion_message(int err);

// Raises the soft RLIMIT_NOFILE to min(`wanted`, hard limit) if it is lower; never
// lowers it. Call once at start-up, before threads open descriptors.
struct adjustment {
  std::size_t before = 0;  // soft limit found
  std::size_t after = 0;   // soft limit now
  std::size_t hard = 0;    // hard limit (SIZE_MAX: unlimited)
  std::size_t wanted = 0;
  bool enough() const { return after >= wanted; }
  std::string failure;  // setrlimit's error, if it failed ("" otherwise)
};
adjustment raise_soft_limit(std::size_t wanted);

}  // namespace mailbroker::net::fd_budget
