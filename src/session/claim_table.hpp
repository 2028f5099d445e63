#pragma once
// Which lease holds which message of a session's mailbox (Mailbox.ClaimMessages), and
// which messages were acked. Keys are (folder, UIDVALIDITY, uid) — or (folder, item id)
// for EWS — so a recreated folder's new messages never collide with old claims. Expired claims and claims of
// leases that are gone are simply claimable again: no timers, checked when asked.
//
// Memory only (see the proto for what that means across restarts). Bounded: at most
// max_acked acked keys are remembered (oldest forgotten first) and at most max_claims
// live claims exist. Threading: none; the session's operations use it on its strand.
#include <chrono>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mailbroker::session {

struct claim_key {
  std::string folder;
  std::uint32_t uid_validity = 0;
  std::uint32_t uid = 0;
  std::string item_id;  // EWS (uid and uid_validity 0): the item's id in `folder`
  auto operator<=>(const claim_key&) const = default;
};

class claim_table {
 public:
  using clock = std::chrono::steady_clock;
  using lease_alive_fn = std::function<bool(const std::string& lease_id)>;
  static constexpr std::size_t max_claims = 100000;
  static constexpr std::size_t max_acked = 1000000;

  // True when `key` may be handed to `lease`: not acked, and not held (unexpired, by a
  // live lease) by anyone, this lease included.
  bool claimable(const claim_key& key, clock::time_point now, const lease_alive_fn& alive) const;

  // Records the claim; false when max_claims live claims exist already.
  bool claim(const claim_key& key, const std::string& lease, clock::time_point expires);

  enum class holder { this_lease, nobody, other_lease, expired };
  holder check(const claim_key& key, const std::string& lease, clock::time_point now) const;

  // Ends the claim and remembers the key as acked.
  void acked(const claim_key& key);
  // Ends the claims of `lease` on `keys`; returns how many it held.
  std::size_t release(const std::string& lease, const std::vector<claim_key>& keys);
  // Drops expired claims and those of leases that are gone.
  void purge(clock::time_point now, const lease_alive_fn& alive);

  std::size_t claims() const { return claims_.size(); }
  bool is_acked(const claim_key& key) const { return acked_.count(key) != 0; }

 private:
  struct holding {
    std::string lease;
    clock::time_point expires;
  };
  std::map<claim_key, holding> claims_;
  std::set<claim_key> acked_;
  std::deque<claim_key> acked_order_;  // to forget the oldest beyond max_acked
};

}  // namespace mailbroker::session
