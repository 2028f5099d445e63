#pragma once
// A session's cache of what the server never changes, so twenty bots listing and reading
// one folder cost one fetch of each message:
// - IMAP: a message's summary (envelope, size, dates, structure) and its raw bytes are
//   fixed for a given (folder, UIDVALIDITY, uid) (RFC 3501 2.3.1.1). Flags change: they
//   are never answered from here (list calls fetch them fresh, see imap_mailbox.cpp).
// - EWS: an item's MimeContent is fixed for a given (item id, ChangeKey): any change to
//   the item (flags included) gives it a new ChangeKey, so a body is kept under both and
//   a ref naming that version gets those bytes (item_body; ews_reads.hpp).
// Staleness, the same for both: a message deleted (expunged) by another client may still
// be read from here by a ref naming it (its bytes are the ones it had), until the entry is
// evicted or the message is moved or deleted through this session; every list asks the
// server, so a list never shows it again.
//
// Also kept here, because every caller of a session meets here:
// - the folder selected on the live connection and its UIDVALIDITY. A body is served
//   from the cache outside the operation queue (on a gRPC thread) only for that
//   folder, so a UIDVALIDITY change can never hand out another message's bytes;
// - "wanted" bodies: uids (items) that callers asked for and that are waiting in the
//   queue, so the first fetch can bring several of them in one command (batching);
// - the last result of each recent list query with the time its commands started, so a
//   list call that arrived before that time can take the result instead of asking the
//   server again (a call never sees the mailbox older than when it was made), and the
//   version of the mailbox it was listed at (IMAP with CONDSTORE: imap::selected_state),
//   so a listing that finds the mailbox at the same version takes the page without
//   fetching anything.
//
// Memory is bounded twice: per session (limits.session_bytes, LRU) and across the
// daemon (a shared cache_budget); bodies above limits.max_body_bytes are not kept.
// Remembered list results count against the same budgets.
//
// Threading: every member is thread-safe (one mutex; nothing blocks under it).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mailbox/message_types.hpp"

namespace mailbroker::session {

// Bytes held by every session's cache together.
class cache_budget {
 public:
  explicit cache_budget(std::size_t limit_bytes) : limit_(limit_bytes) {}
  // Takes `n` bytes if they fit under the limit.
  bool try_take(std::size_t n);
  void give_back(std::size_t n) { used_.fetch_sub(n); }
  std::size_t used() const { return used_.load(); }
  std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

struct cache_limits {
  std::size_t session_bytes = 32u << 20;  // per session
  std::size_t max_body_bytes = 256u << 10;  // larger messages are read from the server each time
  std::size_t max_wanted = 1024;  // wanted uids remembered per session (and as many wanted items)
  std::size_t max_list_results = 16;  // list queries remembered per session
};

// A wanted item whose id + version are longer than this is not remembered (Exchange item
// ids are ~150 bytes, change keys ~40): the wanted list stays small whatever callers send.
inline constexpr std::size_t max_wanted_item_bytes = 1024;

struct cache_stats {
  std::uint64_t body_hits = 0, body_misses = 0, summary_hits = 0, summary_misses = 0, list_reuses = 0,
                list_unchanged = 0;  // listings answered at an unchanged mailbox version
  std::size_t bytes = 0, entries = 0;
};

class message_cache {
 public:
  using clock = std::chrono::steady_clock;

  message_cache(cache_limits limits, std::shared_ptr<cache_budget> budget);
  ~message_cache();
  message_cache(const message_cache&) = delete;
  message_cache& operator=(const message_cache&) = delete;

  // The live connection selected `folder_wire` with `uid_validity`. Entries of that folder
  // under any other UIDVALIDITY are dropped.
  void selected(const std::string& folder_wire, std::uint32_t uid_validity);
  // The connection is gone (or not yet there): nothing is selected.
  void connection_reset();
  // UIDVALIDITY of `folder_wire` if it is the folder selected on the live connection.
  std::optional<std::uint32_t> selected_uid_validity(const std::string& folder_wire) const;

  std::shared_ptr<const std::string> body(const std::string& folder_wire, std::uint32_t uid_validity,
                                          std::uint32_t uid);
  bool contains_body(const std::string& folder_wire, std::uint32_t uid_validity, std::uint32_t uid) const;
  // Kept only when body.size() <= limits.max_body_bytes and the budgets allow.
  void put_body(const std::string& folder_wire, std::uint32_t uid_validity, std::uint32_t uid, std::string body);

  // The summary as first fetched: its flags/seen are stale, callers replace them.
  std::shared_ptr<const mailbox::message_summary> summary(const std::string& folder_wire, std::uint32_t uid_validity,
                                                          std::uint32_t uid);
  void put_summary(const std::string& folder_wire, std::uint32_t uid_validity, mailbox::message_summary summary);

  // Messages moved or deleted through this session.
  void forget(const std::string& folder_wire, std::uint32_t uid_validity, const std::vector<std::uint32_t>& uids);

  // A caller waits in the queue for this body: the next fetch in the folder may bring it.
  void want(const std::string& folder_wire, std::uint32_t uid);
  // Up to `max` wanted uids of `folder_wire` (oldest first), removed from the wanted set.
  std::vector<std::uint32_t> take_wanted(const std::string& folder_wire, std::size_t max);

  // ---- Items named by an id and a version (EWS item id + ChangeKey) ----
  // Kept apart from uid-named messages; an empty id or version is never kept (a body
  // without its version could be any version of the item).
  std::shared_ptr<const std::string> item_body(const std::string& item_id, const std::string& version);
  bool contains_item_body(const std::string& item_id, const std::string& version) const;
  // Kept only when body.size() <= limits.max_body_bytes and the budgets allow.
  void put_item_body(const std::string& item_id, const std::string& version, std::string body);
  // The size a listing reported for this version: lets a fetch tell which wanted bodies are
  // small enough to bring along (an entry of its own, evicted like the others).
  void put_item_size(const std::string& item_id, const std::string& version, std::uint64_t size);
  std::optional<std::uint64_t> item_size(const std::string& item_id, const std::string& version) const;
  // Items moved or deleted through this session: every version of each id goes, and the
  // remembered lists with them.
  void forget_items(const std::vector<std::string>& item_ids);
  // A caller waits in the queue for this version's body (bounded by limits.max_wanted and
  // max_wanted_item_bytes).
  void want_item(const std::string& item_id, const std::string& version);
  // Up to `max` wanted (item id, version) pairs, oldest first, removed from the wanted set.
  std::vector<std::pair<std::string, std::string>> take_wanted_items(std::size_t max);

  // Coalescing of identical list queries (`key` says everything about the query).
  // `version` names the mailbox state the page was listed at ("" = unknown); a page is
  // replaced only by one whose commands started later.
  void put_list(const std::string& key, clock::time_point started, mailbox::message_page page,
                std::string version = {});
  // The page of `key` whose commands started at or after `arrived`, if any.
  std::optional<mailbox::message_page> list_since(const std::string& key, clock::time_point arrived);
  // The page of `key` listed at mailbox version `version` (never for ""), if any; it is
  // then remembered as started at `started` too, so calls arriving up to then take it.
  std::optional<mailbox::message_page> list_at_version(const std::string& key, const std::string& version,
                                                       clock::time_point started);
  // Any change made through this session (flags, moves, deletes) makes remembered lists stale.
  void forget_lists();

  cache_stats stats() const;
  const cache_limits& limits() const { return limits_; }

 private:
  struct entry;
  struct key_hash {
    std::size_t operator()(const std::string& k) const { return std::hash<std::string>()(k); }
  };
  static std::string key_of(const std::string& folder_wire, std::uint32_t uid_validity, std::uint32_t uid);
  // Starts with '\x01', which no folder's wire name does: item keys never meet uid keys.
  static std::string item_key_of(const std::string& item_id, const std::string& version);

  entry* find_locked(const std::string& key);  // and marks it recently used
  entry& get_or_add_locked(const std::string& key, const std::string& folder_wire, std::uint32_t uid_validity);
  entry& get_or_add_item_locked(const std::string& key, const std::string& item_id);
  // Makes room for `n` more bytes (evicting least recently used entries); false if impossible.
  bool reserve_locked(std::size_t n);
  void erase_locked(std::list<entry>::iterator it);

  const cache_limits limits_;
  const std::shared_ptr<cache_budget> budget_;

  mutable std::mutex mutex_;
  std::list<entry> lru_;  // front = most recently used
  std::unordered_map<std::string, std::list<entry>::iterator, key_hash> index_;
  std::size_t bytes_ = 0;
  std::string selected_folder_;
  std::uint32_t selected_uid_validity_ = 0;
  std::list<std::pair<std::string, std::uint32_t>> wanted_;  // (folder_wire, uid), oldest first
  std::list<std::pair<std::string, std::string>> wanted_items_;  // (item id, version), oldest first
  struct list_result {
    clock::time_point started;
    mailbox::message_page page;
    std::string version;  // "" = unknown
    std::size_t bytes = 0;  // held against both budgets, like entries
  };
  void clear_lists_locked();
  void erase_list_locked(std::map<std::string, list_result>::iterator it);
  std::map<std::string, list_result> lists_;
  cache_stats stats_;
};

}  // namespace mailbroker::session
