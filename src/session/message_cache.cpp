#include "session/message_cache.hpp"

#include <algorithm>
#include <unordered_set>

namespace mailbroker::session {

bool cache_budget::try_take(std::size_t n) {
  std::size_t used = used_.load();
  do {
    if (used + n > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + n));
  return true;
}

struct message_cache::entry {
  std::string key;
  std::string folder_wire;  // uid-named messages
  std::uint32_t uid_validity = 0;
  std::string item_id;  // item-named messages ("" for uid-named ones)
  std::optional<std::uint64_t> item_size;  // as a listing reported it
  std::shared_ptr<const std::string> body;
  std::shared_ptr<const mailbox::message_summary> summary;
  std::size_t bytes = 0;  // what this entry holds against both budgets
};

namespace {

// What a summary costs in memory, roughly: its strings plus the struct itself.
std::size_t cost_of(const mailbox::message_summary& s) {
  std::size_t n = sizeof(s) + s.message_id.size() + s.subject.size() + s.unique_id.size();
  for (const auto* list : {&s.from, &s.to, &s.cc}) {
    for (const auto& a : *list) n += sizeof(a) + a.name.size() + a.address.size();
  }
  for (const auto& f : s.flags) n += sizeof(f) + f.size();
  return n;
}

constexpr std::size_t entry_overhead = 160;  // list node, index slot, key

}  // namespace

message_cache::message_cache(cache_limits limits, std::shared_ptr<cache_budget> budget)
    : limits_(limits), budget_(std::move(budget)) {}

message_cache::~message_cache() {
  if (budget_) budget_->give_back(bytes_);
}

void message_cache::erase_list_locked(std::map<std::string, list_result>::iterator it) {
  bytes_ -= it->second.bytes;
  if (budget_) budget_->give_back(it->second.bytes);
  lists_.erase(it);
}

void message_cache::clear_lists_locked() {
  while (!lists_.empty()) erase_list_locked(lists_.begin());
}

std::string message_cache::key_of(const std::string& folder_wire, std::uint32_t uid_validity, std::uint32_t uid) {
  std::string key = folder_wire;
  key += '\0';
  key += std::to_string(uid_validity);
  key += '/';
  key += std::to_string(uid);
  return key;
}

std::string message_cache::item_key_of(const std::string& item_id, const std::string& version) {
  std::string key = "\x01";
  key += item_id;
  key += '\0';
  key += version;
  return key;
}

void message_cache::selected(const std::string& folder_wire, std::uint32_t uid_validity) {
  std::lock_guard lock(mutex_);
  selected_folder_ = folder_wire;
  selected_uid_validity_ = uid_validity;
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->item_id.empty() && it->folder_wire == folder_wire && it->uid_validity != uid_validity) erase_locked(it);
    it = next;
  }
}

void message_cache::connection_reset() {
  std::lock_guard lock(mutex_);
  selected_folder_.clear();
  selected_uid_validity_ = 0;
  clear_lists_locked();  // a new connection may see another UIDVALIDITY
}

std::optional<std::uint32_t> message_cache::selected_uid_validity(const std::string& folder_wire) const {
  std::lock_guard lock(mutex_);
  if (selected_folder_.empty() || selected_folder_ != folder_wire || selected_uid_validity_ == 0) return std::nullopt;
  return selected_uid_validity_;
}

message_cache::entry* message_cache::find_locked(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &*it->second;
}

message_cache::entry& message_cache::get_or_add_locked(const std::string& key, const std::string& folder_wire,
                                                       std::uint32_t uid_validity) {
  if (auto* e = find_locked(key)) return *e;
  lru_.push_front(entry{key, folder_wire, uid_validity, {}, std::nullopt, nullptr, nullptr, 0});
  index_.emplace(key, lru_.begin());
  return lru_.front();
}

message_cache::entry& message_cache::get_or_add_item_locked(const std::string& key, const std::string& item_id) {
  if (auto* e = find_locked(key)) return *e;
  lru_.push_front(entry{key, {}, 0, item_id, std::nullopt, nullptr, nullptr, 0});
  index_.emplace(key, lru_.begin());
  return lru_.front();
}

void message_cache::erase_locked(std::list<entry>::iterator it) {
  bytes_ -= it->bytes;
  if (budget_) budget_->give_back(it->bytes);
  index_.erase(it->key);
  lru_.erase(it);
}

bool message_cache::reserve_locked(std::size_t n) {
  if (n > limits_.session_bytes) return false;
  while (bytes_ + n > limits_.session_bytes && !lru_.empty()) erase_locked(std::prev(lru_.end()));
  if (!budget_) return true;
  while (!budget_->try_take(n)) {
    if (lru_.empty()) return false;  // other sessions hold the daemon's budget
    erase_locked(std::prev(lru_.end()));
  }
  return true;
}

std::shared_ptr<const std::string> message_cache::body(const std::string& folder_wire, std::uint32_t uid_validity,
                                                       std::uint32_t uid) {
  std::lock_guard lock(mutex_);
  auto* e = find_locked(key_of(folder_wire, uid_validity, uid));
  if (e == nullptr || !e->body) {
    ++stats_.body_misses;
    return nullptr;
  }
  ++stats_.body_hits;
  return e->body;
}

bool message_cache::contains_body(const std::string& folder_wire, std::uint32_t uid_validity,
                                  std::uint32_t uid) const {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key_of(folder_wire, uid_validity, uid));
  return it != index_.end() && it->second->body != nullptr;
}

void message_cache::put_body(const std::string& folder_wire, std::uint32_t uid_validity, std::uint32_t uid,
                             std::string body) {
  if (body.size() > limits_.max_body_bytes || uid_validity == 0) return;
  const std::string key = key_of(folder_wire, uid_validity, uid);
  std::lock_guard lock(mutex_);
  if (auto* e = find_locked(key); e != nullptr && e->body) return;
  const std::size_t n = body.size() + entry_overhead;
  if (!reserve_locked(n)) return;
  auto& e = get_or_add_locked(key, folder_wire, uid_validity);
  e.body = std::make_shared<const std::string>(std::move(body));
  e.bytes += n;
  bytes_ += n;
}

std::shared_ptr<const mailbox::message_summary> message_cache::summary(const std::string& folder_wire,
                                                                       std::uint32_t uid_validity, std::uint32_t uid) {
  std::lock_guard lock(mutex_);
  auto* e = find_locked(key_of(folder_wire, uid_validity, uid));
  if (e == nullptr || !e->summary) {
    ++stats_.summary_misses;
    return nullptr;
  }
  ++stats_.summary_hits;
  return e->summary;
}

void message_cache::put_summary(const std::string& folder_wire, std::uint32_t uid_validity,
                                mailbox::message_summary summary) {
  if (uid_validity == 0) return;
  const std::string key = key_of(folder_wire, uid_validity, summary.uid);
  const std::size_t n = cost_of(summary) + entry_overhead;
  std::lock_guard lock(mutex_);
  if (auto* e = find_locked(key); e != nullptr && e->summary) return;
  if (!reserve_locked(n)) return;
  auto& e = get_or_add_locked(key, folder_wire, uid_validity);
  e.summary = std::make_shared<const mailbox::message_summary>(std::move(summary));
  e.bytes += n;
  bytes_ += n;
}

void message_cache::forget(const std::string& folder_wire, std::uint32_t uid_validity,
                           const std::vector<std::uint32_t>& uids) {
  std::lock_guard lock(mutex_);
  for (auto uid : uids) {
    if (auto it = index_.find(key_of(folder_wire, uid_validity, uid)); it != index_.end()) erase_locked(it->second);
  }
  clear_lists_locked();
}

void message_cache::want(const std::string& folder_wire, std::uint32_t uid) {
  std::lock_guard lock(mutex_);
  for (const auto& [f, u] : wanted_) {
    if (u == uid && f == folder_wire) return;
  }
  if (wanted_.size() >= limits_.max_wanted) wanted_.pop_front();
  wanted_.emplace_back(folder_wire, uid);
}

std::vector<std::uint32_t> message_cache::take_wanted(const std::string& folder_wire, std::size_t max) {
  std::lock_guard lock(mutex_);
  std::vector<std::uint32_t> out;
  for (auto it = wanted_.begin(); it != wanted_.end() && out.size() < max;) {
    if (it->first == folder_wire) {
      out.push_back(it->second);
      it = wanted_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::shared_ptr<const std::string> message_cache::item_body(const std::string& item_id, const std::string& version) {
  std::lock_guard lock(mutex_);
  auto* e = item_id.empty() || version.empty() ? nullptr : find_locked(item_key_of(item_id, version));
  if (e == nullptr || !e->body) {
    ++stats_.body_misses;
    return nullptr;
  }
  ++stats_.body_hits;
  return e->body;
}

bool message_cache::contains_item_body(const std::string& item_id, const std::string& version) const {
  std::lock_guard lock(mutex_);
  auto it = index_.find(item_key_of(item_id, version));
  return it != index_.end() && it->second->body != nullptr;
}

void message_cache::put_item_body(const std::string& item_id, const std::string& version, std::string body) {
  if (body.size() > limits_.max_body_bytes || item_id.empty() || version.empty()) return;
  const std::string key = item_key_of(item_id, version);
  std::lock_guard lock(mutex_);
  if (auto* e = find_locked(key); e != nullptr && e->body) return;
  const std::size_t n = body.size() + key.size() + entry_overhead;
  if (!reserve_locked(n)) return;
  auto& e = get_or_add_item_locked(key, item_id);
  e.item_size = body.size();
  e.body = std::make_shared<const std::string>(std::move(body));
  e.bytes += n;
  bytes_ += n;
}

void message_cache::put_item_size(const std::string& item_id, const std::string& version, std::uint64_t size) {
  if (item_id.empty() || version.empty()) return;
  const std::string key = item_key_of(item_id, version);
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(key); it != index_.end()) {
    if (!it->second->item_size) it->second->item_size = size;  // a body's own size stays
    return;
  }
  const std::size_t n = key.size() + entry_overhead;
  if (!reserve_locked(n)) return;
  auto& e = get_or_add_item_locked(key, item_id);
  e.item_size = size;
  e.bytes += n;
  bytes_ += n;
}

std::optional<std::uint64_t> message_cache::item_size(const std::string& item_id, const std::string& version) const {
  std::lock_guard lock(mutex_);
  auto it = index_.find(item_key_of(item_id, version));
  if (it == index_.end()) return std::nullopt;
  return it->second->item_size;
}

void message_cache::forget_items(const std::vector<std::string>& item_ids) {
  std::unordered_set<std::string> gone(item_ids.begin(), item_ids.end());
  gone.erase(std::string());
  std::lock_guard lock(mutex_);
  if (!gone.empty()) {
    // One walk whatever the number of ids (each may have several versions).
    for (auto it = lru_.begin(); it != lru_.end();) {
      auto next = std::next(it);
      if (!it->item_id.empty() && gone.contains(it->item_id)) erase_locked(it);
      it = next;
    }
    wanted_items_.remove_if([&](const auto& w) { return gone.contains(w.first); });
  }
  clear_lists_locked();
}

void message_cache::want_item(const std::string& item_id, const std::string& version) {
  if (item_id.empty() || item_id.size() + version.size() > max_wanted_item_bytes) return;
  std::lock_guard lock(mutex_);
  for (const auto& [id, v] : wanted_items_) {
    if (id == item_id && v == version) return;
  }
  if (wanted_items_.size() >= limits_.max_wanted) wanted_items_.pop_front();
  wanted_items_.emplace_back(item_id, version);
}

std::vector<std::pair<std::string, std::string>> message_cache::take_wanted_items(std::size_t max) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::string>> out;
  while (!wanted_items_.empty() && out.size() < max) {
    out.push_back(std::move(wanted_items_.front()));
    wanted_items_.pop_front();
  }
  return out;
}

void message_cache::put_list(const std::string& key, clock::time_point started, mailbox::message_page page,
                             std::string version) {
  std::size_t n = sizeof(page) + key.size() + version.size() + entry_overhead;
  for (const auto& m : page.messages) n += cost_of(m);
  std::lock_guard lock(mutex_);
  if (auto it = lists_.find(key); it != lists_.end()) {
    if (it->second.started > started) return;  // a newer listing is already here
    erase_list_locked(it);
  }
  if (lists_.size() >= limits_.max_list_results) {
    auto oldest = std::min_element(lists_.begin(), lists_.end(), [](const auto& a, const auto& b) {
      return a.second.started < b.second.started;
    });
    erase_list_locked(oldest);
  }
  if (!reserve_locked(n)) return;
  bytes_ += n;
  lists_.emplace(key, list_result{started, std::move(page), std::move(version), n});
}

std::optional<mailbox::message_page> message_cache::list_since(const std::string& key, clock::time_point arrived) {
  std::lock_guard lock(mutex_);
  auto it = lists_.find(key);
  if (it == lists_.end() || it->second.started < arrived) return std::nullopt;
  ++stats_.list_reuses;
  return it->second.page;
}

std::optional<mailbox::message_page> message_cache::list_at_version(const std::string& key, const std::string& version,
                                                                    clock::time_point started) {
  if (version.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = lists_.find(key);
  if (it == lists_.end() || it->second.version != version) return std::nullopt;
  it->second.started = std::max(it->second.started, started);
  ++stats_.list_unchanged;
  return it->second.page;
}

void message_cache::forget_lists() {
  std::lock_guard lock(mutex_);
  clear_lists_locked();
}

cache_stats message_cache::stats() const {
  std::lock_guard lock(mutex_);
  cache_stats out = stats_;
  out.bytes = bytes_;
  out.entries = lru_.size();
  return out;
}

}  // namespace mailbroker::session
