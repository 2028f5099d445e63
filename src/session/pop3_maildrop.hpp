#pragma once
// What a POP3 session remembers about its maildrop across connections. POP3 message
// numbers change with every login and UIDLs are strings of up to 70 characters, so the
// daemon numbers each UIDL (in the order it first sees them) to give bots the same
// uint32 uid + uid_validity they use with IMAP.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace mailbroker::session {

struct pop3_listing_entry {
  std::uint32_t number = 0;  // message number on the current connection
  std::uint64_t size = 0;
  std::string unique_id;
  std::uint32_t uid = 0;     // the daemon's number for unique_id
};

class pop3_maildrop {
 public:
  explicit pop3_maildrop(std::uint32_t uid_validity) : uid_validity_(uid_validity) {}

  std::uint32_t uid_validity() const { return uid_validity_; }

  // The daemon uid of `unique_id`, assigned on first sight.
  std::uint32_t uid_of(const std::string& unique_id) {
    auto [it, added] = uids_.try_emplace(unique_id, next_uid_);
    if (added) ++next_uid_;
    return it->second;
  }

  // The listing of the current connection (LIST + UIDL), uids assigned; none after
  // forget_listing() (a new connection: message numbers changed).
  const std::optional<std::vector<pop3_listing_entry>>& listing() const { return listing_; }
  std::chrono::steady_clock::time_point listed_at() const { return listed_at_; }
  bool connection_used() const { return connection_used_; }  // this connection already listed

  void set_listing(std::vector<pop3_listing_entry> entries, std::chrono::steady_clock::time_point at) {
    by_uid_.clear();
    for (std::size_t i = 0; i < entries.size(); ++i) by_uid_.emplace(entries[i].uid, i);
    listing_ = std::move(entries);
    listed_at_ = at;
    connection_used_ = true;
  }
  void forget_listing() {
    listing_.reset();
    by_uid_.clear();
    connection_used_ = false;
  }

  const pop3_listing_entry* find(std::uint32_t uid) const {
    auto it = by_uid_.find(uid);
    return it == by_uid_.end() ? nullptr : &(*listing_)[it->second];
  }

  // Header blocks (TOP n 0) by unique id: they never change, so each is read once.
  // Bounded: cleared when it grows past max_cached_headers.
  static constexpr std::size_t max_cached_headers = 10000;
  std::unordered_map<std::string, std::string> headers;

 private:
  std::uint32_t uid_validity_;
  std::uint32_t next_uid_ = 1;
  std::optional<std::vector<pop3_listing_entry>> listing_;
  std::unordered_map<std::uint32_t, std::size_t> by_uid_;  // uid → index in listing_
  std::chrono::steady_clock::time_point listed_at_{};
  bool connection_used_ = false;
  std::map<std::string, std::uint32_t> uids_;
};

}  // namespace mailbroker::session
