#include "session/claim_table.hpp"

namespace mailbroker::session {

bool claim_table::claimable(const claim_key& key, clock::time_point now, const lease_alive_fn& alive) const {
  if (acked_.count(key) != 0) return false;
  auto it = claims_.find(key);
  if (it == claims_.end()) return true;
  return it->second.expires <= now || !alive(it->second.lease);
}

bool claim_table::claim(const claim_key& key, const std::string& lease, clock::time_point expires) {
  if (claims_.size() >= max_claims && claims_.count(key) == 0) return false;
  claims_[key] = {lease, expires};
  return true;
}

claim_table::holder claim_table::check(const claim_key& key, const std::string& lease, clock::time_point now) const {
  auto it = claims_.find(key);
  if (it == claims_.end()) return holder::nobody;
  if (it->second.lease != lease) return holder::other_lease;
  if (it->second.expires <= now) return holder::expired;
  return holder::this_lease;
}

void claim_table::acked(const claim_key& key) {
  claims_.erase(key);
  if (acked_.insert(key).second) {
    acked_order_.push_back(key);
    if (acked_order_.size() > max_acked) {
      acked_.erase(acked_order_.front());
      acked_order_.pop_front();
    }
  }
}

std::size_t claim_table::release(const std::string& lease, const std::vector<claim_key>& keys) {
  std::size_t n = 0;
  for (const auto& key : keys) {
    auto it = claims_.find(key);
    if (it != claims_.end() && it->second.lease == lease) {
      claims_.erase(it);
      ++n;
    }
  }
  return n;
}

void claim_table::purge(clock::time_point now, const lease_alive_fn& alive) {
  std::erase_if(claims_, [&](const auto& c) { return c.second.expires <= now || !alive(c.second.lease); });
}

}  // namespace mailbroker::session
