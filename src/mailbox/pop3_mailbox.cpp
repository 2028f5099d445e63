#include "mailbox/pop3_mailbox.hpp"

#include <algorithm>

#include "mime/message_parts.hpp"
#include "protocol/pop3/client.hpp"

namespace mailbroker::mailbox::pop3_ops {
namespace {

std::string ascii_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool contains_folded(const std::string& haystack, const std::string& needle) {
  return needle.empty() || ascii_lower(haystack).find(ascii_lower(needle)) != std::string::npos;
}

std::string addresses_text(const std::vector<address>& list) {
  std::string out;
  for (const auto& a : list) out += a.name + " <" + a.address + "> ";
  return out;
}

address from_mime(const mime::mailbox_address& a) { return {a.name, a.address}; }

// has_attachments from the header block alone: multipart/mixed, or a single part that is
// not text. (IMAP reads the body structure; POP3 has only TOP.)
bool looks_like_attachments(const mime::parsed_message& headers) {
  for (const auto& h : headers.headers) {
    if (ascii_lower(h.name) != "content-type") continue;
    const auto type = ascii_lower(h.value);
    if (type.rfind("multipart/mixed", 0) == 0) return true;
    return type.rfind("text/", 0) != 0 && type.rfind("multipart/", 0) != 0;
  }
  return false;
}

bool matches(const message_summary& m, const imap::search_criteria& c) {
  if (!contains_folded(addresses_text(m.from), c.from_contains)) return false;
  if (!contains_folded(m.subject, c.subject_contains)) return false;
  if (c.since || c.before) {
    if (!m.date) return false;
    const auto day = std::chrono::floor<std::chrono::days>(*m.date);
    if (c.since && day < *c.since) return false;
    if (c.before && day >= *c.before) return false;
  }
  return true;
}

}  // namespace

error unsupported(const std::string& what) {
  return {errc::unimplemented, what + " is not possible on a POP3 session (POP3 has no flags, folders or server-side "
                                      "search); use an IMAP session for it"};
}

error check_folder(const std::string& folder) {
  if (folder.empty() || ascii_lower(folder) == "inbox") return error::none();
  return {errc::not_found, "folder '" + folder + "': a POP3 session has only INBOX"};
}

awaitable<result<std::vector<session::pop3_listing_entry>>> listing(session::connection_context& ctx,
                                                                     std::chrono::seconds max_age) {
  auto& drop = *ctx.maildrop;
  const auto now = std::chrono::steady_clock::now();
  if (drop.listing() && now - drop.listed_at() < max_age) co_return *drop.listing();
  if (drop.connection_used()) {
    // This connection's view is stale: log in again to see what arrived since.
    if (auto e = co_await ctx.reopen(); !e.ok()) co_return e;
  }
  auto entries = co_await ctx.pop3->list(ctx.command_timeout);
  if (!entries) co_return entries.err();
  std::vector<session::pop3_listing_entry> out;
  out.reserve(entries->size());
  for (const auto& e : entries.value()) {
    out.push_back({e.number, e.size, e.unique_id, drop.uid_of(e.unique_id)});
  }
  drop.set_listing(out, std::chrono::steady_clock::now());
  co_return out;
}

awaitable<result<message_summary>> summary(session::connection_context& ctx, session::pop3_listing_entry entry) {
  auto& cache = ctx.maildrop->headers;
  auto it = cache.find(entry.unique_id);
  if (it == cache.end()) {
    auto top = co_await ctx.pop3->top(entry.number, 0, ctx.command_timeout);
    if (!top) co_return top.err();
    if (cache.size() >= session::pop3_maildrop::max_cached_headers) cache.clear();
    it = cache.emplace(entry.unique_id, std::move(top.value())).first;
  }
  message_summary m;
  m.uid = entry.uid;
  m.unique_id = entry.unique_id;
  m.size = entry.size;
  auto parsed = mime::parse_message(it->second);
  if (parsed) {
    m.message_id = parsed->message_id;
    m.subject = parsed->subject;
    for (const auto& a : parsed->from) m.from.push_back(from_mime(a));
    for (const auto& a : parsed->to) m.to.push_back(from_mime(a));
    for (const auto& a : parsed->cc) m.cc.push_back(from_mime(a));
    m.date = parsed->date;
    m.has_attachments = looks_like_attachments(parsed.value());
  }
  co_return m;
}

awaitable<result<std::vector<std::uint32_t>>> search_uids(session::connection_context& ctx,
                                                          imap::search_criteria criteria) {
  if (criteria.read != imap::search_criteria::read_state::all) {
    co_return error{errc::unimplemented,
                    "read: POP3 has no read/unread state; use READ_FILTER_ALL (and delete or track what you processed)"};
  }
  auto entries = co_await listing(ctx, ctx.spec.poll_interval);
  if (!entries) co_return entries.err();
  const bool filtered = !criteria.from_contains.empty() || !criteria.subject_contains.empty() || criteria.since ||
                        criteria.before;
  std::vector<std::uint32_t> uids;
  for (const auto& e : entries.value()) {
    if (e.uid <= criteria.after_uid) continue;
    if (filtered) {
      auto m = co_await summary(ctx, e);
      if (!m) co_return m.err();
      if (!matches(m.value(), criteria)) continue;
    }
    uids.push_back(e.uid);
  }
  std::sort(uids.begin(), uids.end());
  co_return uids;
}

awaitable<result<message_page>> list_messages(session::connection_context& ctx, list_query query) {
  if (auto e = check_folder(query.folder); !e.ok()) co_return e;
  if (query.limit == 0) query.limit = 100;
  if (query.limit > max_list_limit) co_return error{errc::invalid_argument, "limit: at most " + std::to_string(max_list_limit)};
  auto uids = co_await search_uids(ctx, query.criteria);
  if (!uids) co_return uids.err();
  message_page page;
  page.uid_validity = ctx.maildrop->uid_validity();
  page.total_matching = static_cast<std::uint32_t>(uids->size());
  if (uids->size() > query.limit) {
    uids->resize(query.limit);
    page.next_after_uid = uids->back();
  }
  for (auto uid : uids.value()) {
    const auto* entry = ctx.maildrop->find(uid);
    if (entry == nullptr) continue;
    auto m = co_await summary(ctx, *entry);
    if (!m) co_return m.err();
    page.messages.push_back(std::move(m.value()));
  }
  co_return page;
}

awaitable<result<std::string>> retrieve(session::connection_context& ctx, std::uint32_t uid, std::uint64_t max_bytes) {
  auto entries = co_await listing(ctx, ctx.spec.poll_interval);
  if (!entries) co_return entries.err();
  const auto* entry = ctx.maildrop->find(uid);
  if (entry == nullptr) co_return error{errc::not_found, "uid " + std::to_string(uid) + ": no such message in the maildrop"};
  if (entry->size > max_bytes) {
    co_return error{errc::failed_precondition, "uid " + std::to_string(uid) + " is " + std::to_string(entry->size) +
                                                   " bytes; at most " + std::to_string(max_bytes) + " are read at once"};
  }
  std::string message;
  message.reserve(entry->size);
  auto e = co_await ctx.pop3->retrieve(
      entry->number,
      [&message, max_bytes](std::string_view chunk) -> error {
        if (message.size() + chunk.size() > max_bytes + 1024 * 1024) {
          return error{errc::failed_precondition, "message larger than announced by LIST"};
        }
        message.append(chunk);
        return error::none();
      },
      ctx.command_timeout);
  if (!e.ok()) co_return e;
  co_return message;
}

awaitable<error> delete_messages(session::connection_context& ctx, std::vector<std::uint32_t> uids) {
  auto entries = co_await listing(ctx, ctx.spec.poll_interval);
  if (!entries) co_return entries.err();
  // As on IMAP: the uids that exist are deleted, then NOT_FOUND names the others.
  std::vector<std::uint32_t> numbers;
  std::string missing;
  std::size_t missing_count = 0;
  for (auto uid : uids) {
    const auto* entry = ctx.maildrop->find(uid);
    if (entry == nullptr) {
      missing += (missing.empty() ? "" : ", ") + std::to_string(uid);
      ++missing_count;
      continue;
    }
    if (std::find(numbers.begin(), numbers.end(), entry->number) == numbers.end()) numbers.push_back(entry->number);
  }
  for (auto n : numbers) {
    if (auto e = co_await ctx.pop3->dele(n, ctx.command_timeout); !e.ok()) {
      // Nothing is committed before QUIT: RSET keeps the maildrop as it was.
      if (ctx.pop3->is_open()) (void)co_await ctx.pop3->rset(ctx.command_timeout);
      co_return e;
    }
  }
  if (!numbers.empty()) {
    if (auto e = co_await ctx.reopen(); !e.ok()) {
      if (e.code == errc::aborted) co_return e;
      co_return error{errc::unavailable, "the deletion may not be committed: " + e.message};
    }
  }
  if (missing_count > 0) {
    co_return error{errc::not_found,
                    std::string(missing_count == 1 ? "uid " : "uids ") + missing +
                        (missing_count == 1 ? " is" : " are") + " not in the maildrop" +
                        (numbers.empty() ? "; nothing was changed"
                                         : "; the other " + std::to_string(numbers.size()) +
                                               (numbers.size() == 1 ? " was" : " were") + " deleted")};
  }
  co_return error::none();
}

}  // namespace mailbroker::mailbox::pop3_ops
