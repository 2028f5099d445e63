#pragma once
// Which pipelined command an untagged response belongs to. With several commands in
// flight on one connection (RFC 3501 5.5), untagged data carries no tag: a "* SEARCH"
// answers the UID SEARCH, a "* 7 FETCH (UID 42 ...)" the UID FETCH whose set holds 42,
// "* OK [UIDVALIDITY ...]" the SELECT. The server runs commands whose answers would be
// ambiguous one after another (5.5), so the oldest command that asks for a response is
// the one it belongs to; a response nobody asks for (EXISTS, an unsolicited FLAGS
// change, an EXPUNGE announced by another client's action) goes to the oldest command,
// as it would with one command at a time.
//
// Pure: no I/O, unit-tested on parsed responses.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/imap/response.hpp"

namespace mailbroker::imap {

struct command_route {
  enum class kind { other, select, search, fetch, list, copy_or_move };
  kind type = kind::other;
  // fetch: the uid ranges asked for, each [first, last]; "*" is the largest uid.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> uids;

  bool asks_for(const response& r) const;
};

// What `command` (without tag) collects, e.g. "UID FETCH 1:3,7 (FLAGS)" → fetch {1-3, 7}.
command_route route_of(std::string_view command);

// True when two commands in flight together could both ask for the same untagged
// response (two SEARCHes, two SELECTs, two LISTs, two COPY/MOVEs, or FETCHes whose uid
// sets overlap): the client then waits for the first to end before sending the second,
// so every response has exactly one owner.
bool answers_could_mix(const command_route& a, const command_route& b);

// The UID item of a FETCH response, if any.
std::optional<std::uint32_t> fetch_uid(const response& r);

// Index into `in_flight` (send order, oldest first; not empty) of the command `r`
// belongs to.
std::size_t route_response(const response& r, const std::vector<const command_route*>& in_flight);

}  // namespace mailbroker::imap
