#include "mailbox/imap_mailbox.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <regex>
#include <vector>

#include "mailbox/imap_read_ahead.hpp"
#include "mime/header_text.hpp"
#include "protocol/imap/client.hpp"
#include "protocol/imap/command.hpp"
#include "session/inflight_lists.hpp"

namespace mailbroker::mailbox {
namespace {

using imap::command_result;

error invalid(std::string message) { return {errc::invalid_argument, std::move(message)}; }

// A NO/BAD answer as an error; `what` says which operation, for the message.
error refused(const command_result& r, const std::string& what) {
  const std::string detail = (r.code.empty() ? "" : "[" + r.code + "] ") + r.text;
  if (r.code == "NONEXISTENT" || r.code == "TRYCREATE") return {errc::not_found, what + ": " + detail};
  if (r.status == "BAD") return {errc::internal, what + ": the server called the command bad: " + detail};
  return {errc::failed_precondition, what + ": " + detail};
}

awaitable<result<command_result>> run(session::connection_context& ctx, std::string command) {
  co_return co_await ctx.imap->execute(std::move(command), ctx.command_timeout);
}

// The UIDVALIDITY a SELECT answered with; 0 if none.
std::uint32_t uid_validity_of(const command_result& selected) {
  std::uint32_t v = 0;
  for (const auto& u : selected.untagged) {
    if (u.code == "UIDVALIDITY") v = static_cast<std::uint32_t>(std::strtoul(u.code_text.c_str(), nullptr, 10));
  }
  return v;
}

}  // namespace

result<std::string> wire_name(const std::string& folder, const char* field) {
  auto encoded = imap::encode_mailbox_name(folder.empty() ? "INBOX" : folder);
  if (!encoded) return invalid(std::string(field) + ": " + encoded.err().message);
  auto quoted = imap::astring(encoded.value());
  if (!quoted) return invalid(std::string(field) + " cannot be sent to the server");
  return *quoted;
}

std::string select_command(const session::connection_context& ctx, const std::string& folder_wire) {
  // CONDSTORE makes the answer carry HIGHESTMODSEQ (and enables it for the connection, so
  // FETCH answers carry MODSEQ, which the parsers skip): see list_messages.
  const bool condstore = imap::has_capability(ctx.imap->capabilities(), "CONDSTORE");
  return "SELECT " + folder_wire + (condstore ? " (CONDSTORE)" : "");
}

awaitable<error> select_folder(session::connection_context& ctx, const std::string& folder,
                               imap::selected_state* state) {
  auto name = wire_name(folder, "folder");
  if (!name) co_return name.err();
  if (ctx.selected_mailbox == name.value()) co_return error::none();
  ctx.selected_mailbox.clear();
  std::string command = select_command(ctx, name.value());
  auto r = co_await run(ctx, std::move(command));
  if (!r) co_return r.err();
  if (r->status != "OK") {
    auto e = refused(r.value(), "folder '" + folder + "'");
    // Dovecot answers an unknown mailbox with NO [NONEXISTENT]; others with a bare NO.
    if (e.code == errc::failed_precondition) e.code = errc::not_found;
    e.message += " (does the folder exist? ListFolders shows them)";
    co_return e;
  }
  ctx.uid_validity = uid_validity_of(r.value());
  if (state != nullptr) *state = imap::parse_selected_state(r->untagged);
  ctx.selected_mailbox = name.value();
  ctx.cache.selected(ctx.selected_mailbox, ctx.uid_validity);
  co_return error::none();
}

namespace {

error check_uids(const std::vector<std::uint32_t>& uids) {
  if (uids.empty()) return invalid("uids: at least one uid is required");
  if (uids.size() > max_uids_per_call) {
    return invalid("uids: at most " + std::to_string(max_uids_per_call) + " per call (got " +
                   std::to_string(uids.size()) + ")");
  }
  if (std::find(uids.begin(), uids.end(), 0u) != uids.end()) return invalid("uids: 0 is not a uid");
  return error::none();
}

// Pipelined before a mutation of `set`: the uids of it that exist, as the mutation sees
// them (the server runs the two in order; RFC 3501 5.5 allows UID commands together).
std::string existence_search(const std::string& set) { return "UID SEARCH UID " + set; }

// not_found naming the uids of `asked` that the SEARCH did not find, or none.
// `others_done` says what happened to the rest, e.g. "moved to 'Archive'".
error missing_uids(const command_result& searched, const std::vector<std::uint32_t>& asked,
                   const std::string& folder, const std::string& others_done) {
  if (searched.status != "OK") return refused(searched, "SEARCH for the uids in '" + folder + "'");
  auto found = imap::parse_search_response(searched.untagged);
  std::sort(found.begin(), found.end());
  std::vector<std::uint32_t> missing;
  for (auto uid : asked) {
    if (!std::binary_search(found.begin(), found.end(), uid) &&
        std::find(missing.begin(), missing.end(), uid) == missing.end()) {
      missing.push_back(uid);
    }
  }
  if (missing.empty()) return error::none();
  std::sort(missing.begin(), missing.end());
  std::string list;
  for (auto uid : missing) list += (list.empty() ? "" : ", ") + std::to_string(uid);
  std::size_t unique_asked = asked.size();
  {
    auto sorted = asked;
    std::sort(sorted.begin(), sorted.end());
    unique_asked = static_cast<std::size_t>(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
  }
  const std::size_t others = unique_asked - missing.size();
  std::string message = std::string(missing.size() == 1 ? "uid " : "uids ") + list + " " +
                        (missing.size() == 1 ? "is" : "are") + " not in folder '" +
                        (folder.empty() ? "INBOX" : folder) + "' (deleted, moved, or from another uidvalidity)";
  message += others == 0 ? "; nothing was changed"
                         : "; the other " + std::to_string(others) + (others == 1 ? " was " : " were ") + others_done;
  return {errc::not_found, message};
}

address to_address(const imap::fetched_summary::address& a) {
  return {mime::decode_phrase(a.name_raw), a.host.empty() ? a.mailbox : a.mailbox + "@" + a.host};
}

void set_flags_of(message_summary& m, std::vector<std::string> flags) {
  m.seen = std::any_of(flags.begin(), flags.end(), [](const std::string& s) {
    return s.size() == 5 && std::equal(s.begin(), s.end(), "\\seen", [](char a, char b) { return std::tolower(a) == b; });
  });
  m.flags = std::move(flags);
}

message_summary to_summary(const imap::fetched_summary& f) {
  message_summary m;
  m.uid = f.uid;
  m.message_id = f.message_id;
  for (const auto& a : f.from) m.from.push_back(to_address(a));
  for (const auto& a : f.to) m.to.push_back(to_address(a));
  for (const auto& a : f.cc) m.cc.push_back(to_address(a));
  m.subject = mime::decode_header_text(f.subject_raw);
  m.date = f.date;
  m.internal_date = f.internal_date;
  m.size = f.size;
  set_flags_of(m, f.flags);
  m.has_attachments = f.has_attachments;
  m.summary_incomplete = f.summary_incomplete;
  return m;
}

// Where a listing waiting to start (until an identical one in flight ends) is found by
// the identical calls that will share it: '\x04' + the listing's key (no IMAP wire name
// starts with it; read-ahead uses '\x02' and '\x03', EWS '\x01').
std::string next_listing_key(const std::string& key) { return '\x04' + key; }

// Holds `mine` in `table` as the next listing under `key` while it waits its turn. Once
// promoted it goes on as the running listing (its waiters keep waiting); otherwise (the
// coroutine destroyed while waiting) its waiters are woken and ask for themselves.
struct queued_listing {
  queued_listing(session::inflight_lists& t, std::string k, std::shared_ptr<session::inflight_list> m)
      : table(t), key(std::move(k)), mine(std::move(m)) {
    table[key] = mine;
  }
  ~queued_listing() {
    if (auto it = table.find(key); it != table.end() && it->second == mine) table.erase(it);
    if (!promoted) mine->done.cancel();
  }
  queued_listing(const queued_listing&) = delete;
  queued_listing& operator=(const queued_listing&) = delete;

  session::inflight_lists& table;
  const std::string key;
  const std::shared_ptr<session::inflight_list> mine;
  bool promoted = false;
};

// Until `listing` ends, however it ends (its `done` is cancelled then).
awaitable<void> wait_for_end(std::shared_ptr<session::inflight_list> listing) {
  error_code ignored;
  co_await listing->done.async_wait(asio::redirect_error(use_awaitable, ignored));
}

// Everything that makes two list calls the same question (the cache's coalescing key).
std::string list_key(const std::string& folder_wire, const list_query& q) {
  const auto& c = q.criteria;
  auto day = [](const std::optional<std::chrono::sys_days>& d) {
    return d ? std::to_string(d->time_since_epoch().count()) : std::string("-");
  };
  std::string key = folder_wire;
  for (const std::string& part :
       {std::to_string(static_cast<int>(c.read)), c.from_contains, c.subject_contains, day(c.since), day(c.before),
        std::to_string(c.after_uid), std::to_string(q.limit), std::to_string(static_cast<int>(q.order)),
        std::to_string(q.before_uid)}) {
    key += '\0';
    key += part;
  }
  return key;
}

}  // namespace

awaitable<result<std::vector<folder>>> list_folders(session::connection_context& ctx, std::string pattern,
                                                    std::string regex) {
  std::optional<std::regex> filter;
  if (!regex.empty()) {
    try {
      filter.emplace(regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      co_return invalid(std::string("regex: not a valid ECMAScript regular expression: ") + e.what());
    }
  }
  auto encoded = imap::encode_mailbox_name(pattern.empty() ? "*" : pattern);
  if (!encoded) co_return invalid("pattern: " + encoded.err().message);
  auto quoted = imap::quote(encoded.value());
  if (!quoted) co_return invalid("pattern cannot be sent to the server");
  std::string command = "LIST \"\" " + *quoted;
  auto r = co_await run(ctx, std::move(command));
  if (!r) co_return r.err();
  if (r->status != "OK") co_return refused(r.value(), "LIST");
  std::vector<folder> out;
  for (const auto& u : r->untagged) {
    if (u.name != "LIST") continue;
    auto entry = imap::parse_list_response(u);
    if (!entry) continue;  // one unreadable name must not hide the others
    if (filter && !std::regex_search(entry->name_utf8, *filter)) continue;
    out.push_back({std::move(entry->name_utf8), std::move(entry->delimiter), std::move(entry->attributes)});
  }
  co_return out;
}

namespace {

struct searched {
  std::vector<std::uint32_t> uids;  // ascending, unique
  imap::selected_state state;       // of the SELECT sent with the SEARCH
};

awaitable<result<searched>> select_and_search(session::connection_context& ctx, const std::string& folder,
                                              const imap::search_criteria& criteria) {
  auto wire = wire_name(folder, "folder");
  if (!wire) co_return wire.err();
  searched out;
  const bool just_selected = ctx.selected_mailbox != wire.value();
  if (auto e = co_await select_folder(ctx, folder, &out.state); !e.ok()) co_return e;
  const bool literal_plus = imap::has_capability(ctx.imap->capabilities(), "LITERAL+");
  auto search = imap::build_uid_search(criteria, literal_plus);
  if (!search) co_return search.err();
  // A server shows a selected mailbox's news (new mail, expunges by others) only when a
  // command synchronises it, and Dovecot answers a SEARCH pipelined behind a NOOP before
  // the NOOP's news. A SELECT of the same folder pipelined before the SEARCH does it in one
  // round trip, so the call sees the mailbox as of the call. A fresh SELECT needs none.
  std::vector<std::string> commands;
  if (!just_selected) commands.push_back(select_command(ctx, wire.value()));
  commands.push_back(std::move(search.value()));
  auto r = co_await ctx.imap->execute_all(std::move(commands), ctx.command_timeout);
  if (!r) co_return r.err();
  if (!just_selected) {
    const auto& reselected = r->front();
    if (reselected.status != "OK") {
      ctx.selected_mailbox.clear();
      co_return error{errc::not_found, "folder '" + folder + "': " + reselected.text + " (was it deleted?)"};
    }
    if (const auto v = uid_validity_of(reselected); v != ctx.uid_validity) {
      ctx.uid_validity = v;
      ctx.cache.selected(ctx.selected_mailbox, v);  // drops what the old UIDVALIDITY named
    }
    out.state = imap::parse_selected_state(reselected.untagged);
  }
  const auto& answer = r->back();
  if (answer.status != "OK") co_return refused(answer, "SEARCH in '" + folder + "'");
  auto& uids = out.uids;
  uids = imap::parse_search_response(answer.untagged);
  // "n:*" also matches the highest uid when it is below n: drop those.
  std::erase_if(uids, [&](std::uint32_t u) { return u <= criteria.after_uid; });
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  co_return out;
}

}  // namespace

awaitable<result<std::vector<std::uint32_t>>> search_uids(session::connection_context& ctx, const std::string& folder,
                                                          const imap::search_criteria& criteria) {
  auto found = co_await select_and_search(ctx, folder, criteria);
  if (!found) co_return found.err();
  co_return std::move(found->uids);
}

awaitable<result<message_page>> list_messages(session::connection_context& ctx, list_query query) {
  if (query.limit == 0) query.limit = 100;
  if (query.limit > max_list_limit) co_return invalid("limit: at most " + std::to_string(max_list_limit));
  auto folder_wire = wire_name(query.folder, "folder");
  if (!folder_wire) co_return folder_wire.err();
  // A call that arrived before an identical one started asks nothing new of the server.
  const std::string key = list_key(folder_wire.value(), query);
  const auto executor = co_await asio::this_coro::executor;
  // This call's own listing, made only once it asks the server (queued or at once).
  const auto new_listing = [&executor] {
    return std::make_shared<session::inflight_list>(executor, std::chrono::steady_clock::time_point::max());
  };
  std::shared_ptr<session::inflight_list> mine;
  if (query.arrived) {
    if (auto reused = ctx.cache.list_since(key, *query.arrived)) co_return std::move(*reused);
    // One running that started after this call was made answers it. One that started
    // before may answer with the mailbox as it was before the call, and this call's SEARCH
    // could not be in flight beside it anyway (command_routing.hpp: two SEARCHes wait for
    // each other). So the call takes the next identical listing, which starts as the
    // running one ends and answers every identical call that arrives until then: N bots
    // listing at once cost two round trips, not N one after another.
    auto running = ctx.lists_in_flight.find(key);
    auto next = ctx.lists_in_flight.find(next_listing_key(key));
    std::shared_ptr<session::inflight_list> awaited;
    if (running != ctx.lists_in_flight.end() && running->second->started >= *query.arrived) {
      awaited = running->second;
    } else if (next != ctx.lists_in_flight.end()) {
      awaited = next->second;  // it has not started yet, so it starts after this call
    }
    if (awaited) {
      co_await wait_for_end(awaited);
      if (auto reused = ctx.cache.list_since(key, *query.arrived)) co_return std::move(*reused);
      // It failed (or the cache is off): ask the server ourselves.
    } else if (running != ctx.lists_in_flight.end()) {
      mine = new_listing();
      queued_listing queued(ctx.lists_in_flight, next_listing_key(key), mine);
      co_await wait_for_end(running->second);
      queued.promoted = true;  // the calls that joined it wait on, for this listing's end
    }
  }
  if (!mine) mine = new_listing();
  mine->started = std::chrono::steady_clock::now();
  const auto started = mine->started;
  std::vector<std::string> keys{key};
  session::inflight_registration registered(ctx.lists_in_flight, std::move(keys), mine);
  auto found = co_await select_and_search(ctx, query.folder, query.criteria);
  if (!found) co_return found.err();
  // The mailbox at the version this query was last listed at: nothing in it changed
  // since (no arrival, expunge or flag change: see imap::selected_state), so that page is
  // this call's answer as of now, and the listing ends in this one round trip.
  const std::string version = found->state.version();
  if (auto unchanged = ctx.cache.list_at_version(key, version, started)) co_return std::move(*unchanged);
  auto& uids = found->uids;
  if (query.order == list_order::newest_first && query.before_uid != 0) {
    std::erase_if(uids, [&](std::uint32_t u) { return u >= query.before_uid; });
  }

  message_page page;
  page.uid_validity = ctx.uid_validity;
  page.total_matching = static_cast<std::uint32_t>(uids.size());
  if (query.order == list_order::newest_first) {
    // The highest `limit` uids; the older ones' summaries are never fetched.
    if (uids.size() > query.limit) {
      uids.erase(uids.begin(), uids.end() - query.limit);
      page.next_before_uid = uids.front();
    }
  } else if (uids.size() > query.limit) {
    uids.resize(query.limit);
    page.next_after_uid = uids.back();
  }
  if (!uids.empty()) {
    auto summaries = co_await fetch_summaries(ctx, std::move(uids));
    if (!summaries) co_return summaries.err();
    page.messages = std::move(summaries.value());
    if (query.order == list_order::newest_first) std::reverse(page.messages.begin(), page.messages.end());
  }
  ctx.cache.put_list(key, started, page, version);
  co_return page;
}

awaitable<result<std::vector<message_summary>>> fetch_summaries(session::connection_context& ctx,
                                                                std::vector<std::uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  std::vector<message_summary> out;
  if (uids.empty()) co_return out;
  // What never changes comes from the cache; flags are always asked for.
  const std::string folder = ctx.selected_mailbox;
  const std::uint32_t validity = ctx.uid_validity;
  std::vector<std::uint32_t> missing;
  std::map<std::uint32_t, message_summary> known;
  for (auto uid : uids) {
    if (auto cached = ctx.cache.summary(folder, validity, uid)) {
      known.emplace(uid, *cached);
    } else {
      missing.push_back(uid);
    }
  }
  std::vector<std::string> commands;
  if (!missing.empty()) {
    commands.push_back("UID FETCH " + imap::format_uid_set(missing) +
                       " (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)");
  }
  if (!known.empty()) {
    std::vector<std::uint32_t> cached;
    for (const auto& [uid, m] : known) cached.push_back(uid);
    commands.push_back("UID FETCH " + imap::format_uid_set(cached) + " (UID FLAGS)");
  }
  std::map<std::uint32_t, std::vector<std::string>> flags;
  // Disjoint uid sets: both FETCHes go out together (one round trip).
  auto answers = co_await ctx.imap->execute_all(std::move(commands), ctx.command_timeout);
  if (!answers) co_return answers.err();
  for (auto& f : answers.value()) {
    if (f.status != "OK") co_return refused(f, "FETCH");
    for (const auto& u : f.untagged) {
      if (u.name != "FETCH") continue;
      auto s = imap::parse_fetch_summary(u);
      if (!s) continue;
      if (!std::binary_search(uids.begin(), uids.end(), s->uid)) continue;
      if (std::binary_search(missing.begin(), missing.end(), s->uid) && !s->internal_date &&
          !s->summary_incomplete) {
        flags[s->uid] = s->flags;  // an unsolicited FLAGS update for a message not yet described
        continue;
      }
      if (!known.contains(s->uid)) {
        auto m = to_summary(s.value());
        ctx.cache.put_summary(folder, validity, m);
        known.emplace(s->uid, std::move(m));
      }
      flags[s->uid] = std::move(s->flags);
    }
  }
  // A uid with no FLAGS in the answers no longer exists: it is left out (and forgotten).
  std::vector<std::uint32_t> gone;
  for (auto& [uid, m] : known) {
    auto it = flags.find(uid);
    if (it == flags.end()) {
      gone.push_back(uid);
      continue;
    }
    set_flags_of(m, std::move(it->second));
    out.push_back(std::move(m));
  }
  if (!gone.empty()) ctx.cache.forget(folder, validity, gone);
  co_return out;
}

chunk slice_of(const std::string& body, std::uint64_t offset, std::uint64_t max_bytes) {
  chunk c;
  c.offset = offset;
  c.total_size = body.size();
  if (offset < body.size()) c.data = body.substr(offset, max_bytes);
  return c;
}

awaitable<result<chunk>> fetch_chunk(session::connection_context& ctx, std::string folder, std::uint32_t uid,
                                     std::uint64_t offset, std::uint64_t max_bytes) {
  if (uid == 0) co_return invalid("uid is required");
  max_bytes = std::clamp<std::uint64_t>(max_bytes, 1, max_chunk_bytes);
  if (auto e = co_await select_folder(ctx, folder); !e.ok()) co_return e;
  const std::string& wire = ctx.selected_mailbox;
  const std::uint32_t validity = ctx.uid_validity;
  if (auto body = ctx.cache.body(wire, validity, uid)) co_return slice_of(*body, offset, max_bytes);
  // Being read ahead (imap_read_ahead.hpp): that FETCH brings it; wait for it rather than
  // fetch the same bytes.
  if (auto pending = read_ahead_in_flight(ctx, wire, uid)) {
    error_code ignored;
    co_await pending->done.async_wait(asio::redirect_error(use_awaitable, ignored));
    if (auto body = ctx.cache.body(wire, validity, uid)) co_return slice_of(*body, offset, max_bytes);
  }

  // Bodies other callers wait for in this folder, known to be small, come along in the
  // same command: one round trip instead of one each.
  std::vector<std::uint32_t> batch{uid};
  if (offset == 0) {
    for (auto wanted : ctx.cache.take_wanted(wire, max_batched_bodies)) {
      if (wanted == uid || ctx.cache.contains_body(wire, validity, wanted)) continue;
      auto known = ctx.cache.summary(wire, validity, wanted);
      if (!known || known->size > ctx.cache.limits().max_body_bytes) continue;
      batch.push_back(wanted);
    }
    std::sort(batch.begin(), batch.end());
  }
  std::string command = "UID FETCH " + imap::format_uid_set(batch) + " (RFC822.SIZE BODY.PEEK[]<" +
                        std::to_string(offset) + "." + std::to_string(max_bytes) + ">)";
  auto r = co_await run(ctx, std::move(command));
  if (!r) co_return r.err();
  if (r->status != "OK") co_return refused(r.value(), "FETCH of uid " + std::to_string(uid));
  std::optional<chunk> out;
  std::optional<std::uint64_t> size;
  for (auto& u : r->untagged) {
    if (u.name != "FETCH") continue;
    for (auto candidate : batch) {
      auto c = imap::parse_fetch_body_chunk(u, candidate);
      if (!c) continue;
      const bool whole = c->offset == 0 && c->total_size && *c->total_size == c->data.size();
      if (candidate == uid) {
        if (c->total_size) size = c->total_size;
        if (!out) {
          if (whole) ctx.cache.put_body(wire, validity, uid, c->data);
          out = chunk{c->offset, std::move(c->data), 0};
        }
      } else if (whole) {
        ctx.cache.put_body(wire, validity, candidate, std::move(c->data));
      }
      break;
    }
  }
  if (!out) {
    co_return error{errc::not_found, "uid " + std::to_string(uid) + " is not in folder '" +
                                         (folder.empty() ? "INBOX" : folder) + "' (deleted, or from another uidvalidity)"};
  }
  out->total_size = size.value_or(out->offset + out->data.size());
  co_return *out;
}

awaitable<error> set_flags(session::connection_context& ctx, std::string folder, std::vector<std::uint32_t> uids,
                           std::optional<bool> seen, std::optional<bool> flagged) {
  if (auto e = check_uids(uids); !e.ok()) co_return e;
  if (!seen && !flagged) co_return invalid("seen or flagged: say what to change");
  if (auto e = co_await select_folder(ctx, folder); !e.ok()) co_return e;
  const std::string set = imap::format_uid_set(uids);
  std::string add, remove;
  auto append = [](std::string& list, const char* flag) { list += (list.empty() ? "" : " ") + std::string(flag); };
  if (seen) append(*seen ? add : remove, "\\Seen");
  if (flagged) append(*flagged ? add : remove, "\\Flagged");
  // Built before the co_await (g++ 12 and temporaries in co_await operands).
  std::vector<std::string> commands{existence_search(set)};
  if (!add.empty()) commands.push_back("UID STORE " + set + " +FLAGS.SILENT (" + add + ")");
  if (!remove.empty()) commands.push_back("UID STORE " + set + " -FLAGS.SILENT (" + remove + ")");
  ctx.cache.forget_lists();
  // One round trip: the SEARCH tells which uids exist, the STOREs change those that do.
  auto r = co_await ctx.imap->execute_all(std::move(commands), ctx.command_timeout);
  if (!r) co_return r.err();
  for (std::size_t i = 1; i < r->size(); ++i) {
    if ((*r)[i].status != "OK") co_return refused((*r)[i], "STORE");
  }
  co_return missing_uids(r->front(), uids, folder, "changed");
}

awaitable<result<std::vector<std::uint32_t>>> copy_messages(session::connection_context& ctx, std::string folder,
                                                            std::vector<std::uint32_t> uids, std::string target,
                                                            bool move) {
  if (auto e = check_uids(uids); !e.ok()) co_return e;
  if (target.empty()) co_return invalid("target_folder is required");
  auto target_name = wire_name(target, "target_folder");
  if (!target_name) co_return target_name.err();
  const auto& caps = ctx.imap->capabilities();
  const bool has_move = imap::has_capability(caps, "MOVE");
  const bool has_uidplus = imap::has_capability(caps, "UIDPLUS");
  if (move && !has_move && !has_uidplus) {
    co_return error{errc::failed_precondition,
                    "the server offers neither MOVE nor UIDPLUS, so a move of just these uids is not possible "
                    "(CopyMessages then DeleteMessages would expunge other flagged messages too)"};
  }
  if (auto e = co_await select_folder(ctx, folder); !e.ok()) co_return e;
  const std::string set = imap::format_uid_set(uids);
  if (move) ctx.cache.forget(ctx.selected_mailbox, ctx.uid_validity, uids);
  ctx.cache.forget_lists();
  std::string command = std::string(move && has_move ? "UID MOVE " : "UID COPY ") + set + " " + target_name.value();
  std::vector<std::string> commands{existence_search(set), std::move(command)};
  auto answers = co_await ctx.imap->execute_all(std::move(commands), ctx.command_timeout);
  if (!answers) co_return answers.err();
  const command_result searched = std::move(answers->front());
  result<command_result> r = std::move(answers->back());
  if (r->status != "OK") {
    auto e = refused(r.value(), std::string(move ? "MOVE" : "COPY") + " to '" + target + "'");
    if (e.code == errc::not_found) e.message += " (the target folder does not exist)";
    co_return e;
  }
  // COPYUID arrives in the tagged OK (COPY) or an untagged OK (MOVE, RFC 6851).
  std::optional<imap::copyuid> mapping;
  if (r->code == "COPYUID") {
    if (auto m = imap::parse_copyuid(r->code_text); m) mapping = m.value();
  }
  for (const auto& u : r->untagged) {
    if (u.code == "COPYUID") {
      if (auto m = imap::parse_copyuid(u.code_text); m) mapping = m.value();
    }
  }
  if (move && !has_move) {
    std::string store = "UID STORE " + set + " +FLAGS.SILENT (\\Deleted)";
    auto del = co_await run(ctx, std::move(store));
    if (!del) co_return del.err();
    std::string expunge = "UID EXPUNGE " + set;
    auto ex = co_await run(ctx, std::move(expunge));
    if (!ex) co_return ex.err();
    if (ex->status != "OK") co_return refused(ex.value(), "EXPUNGE after COPY (the copies exist in the target)");
  }
  if (auto e = missing_uids(searched, uids, folder, std::string(move ? "moved" : "copied") + " to '" + target + "'");
      !e.ok()) {
    co_return e;
  }
  std::vector<std::uint32_t> out;
  if (mapping) {
    for (auto uid : uids) {
      auto it = std::find(mapping->source.begin(), mapping->source.end(), uid);
      if (it == mapping->source.end()) {
        out.clear();
        break;
      }
      out.push_back(mapping->dest[static_cast<std::size_t>(it - mapping->source.begin())]);
    }
  }
  co_return out;
}

awaitable<error> delete_messages(session::connection_context& ctx, std::string folder, std::vector<std::uint32_t> uids) {
  if (auto e = check_uids(uids); !e.ok()) co_return e;
  if (!imap::has_capability(ctx.imap->capabilities(), "UIDPLUS")) {
    co_return error{errc::failed_precondition,
                    "the server lacks UIDPLUS: deleting just these uids would need an EXPUNGE that also removes "
                    "messages other clients flagged \\Deleted; refused"};
  }
  if (auto e = co_await select_folder(ctx, folder); !e.ok()) co_return e;
  const std::string set = imap::format_uid_set(uids);
  ctx.cache.forget(ctx.selected_mailbox, ctx.uid_validity, uids);
  std::vector<std::string> commands{existence_search(set), "UID STORE " + set + " +FLAGS.SILENT (\\Deleted)"};
  auto r = co_await ctx.imap->execute_all(std::move(commands), ctx.command_timeout);
  if (!r) co_return r.err();
  if (r->back().status != "OK") co_return refused(r->back(), "STORE \\Deleted");
  std::string expunge = "UID EXPUNGE " + set;
  auto ex = co_await run(ctx, std::move(expunge));
  if (!ex) co_return ex.err();
  if (ex->status != "OK") co_return refused(ex.value(), "UID EXPUNGE");
  co_return missing_uids(r->front(), uids, folder, "deleted");
}

}  // namespace mailbroker::mailbox
