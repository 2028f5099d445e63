#pragma once
// File-descriptor budget of this process: how many are open, the soft RLIMIT_NOFILE,
// raising it at start-up, and telling "out of file descriptors" apart from other
// failures. Each upstream mail connection costs one descriptor (an IMAP/POP3 session
// with an SMTP leg: two); gRPC clients, the store, logs and Asio's own epoll/eventfd/
// timerfd need a few more (fd_budget::reserve).
//
// Admission check for whoever creates sessions (the registry), before it opens anything:
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

// Open descriptors of this process, counted exactly from /proc/self/fd (one directory
// read; cost measured in the report of issue #9, roughly linear in the count). Returns
// limit() when the directory cannot be opened for lack of descriptors (the table is
// full), 0 when /proc is not mounted.
std::size_t open_fds();

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
