#include "session/lease_table.hpp"

#include "common/random.hpp"

namespace mailbroker::session {

const lease& lease_table::add(std::string client_name, std::chrono::seconds ttl, steady_time now) {
  lease l{random_hex(16), std::move(client_name), ttl, now + ttl};
  auto [it, inserted] = leases_.emplace(l.id, l);
  (void)inserted;  // 128 random bits: a collision is not a case to handle
  return it->second;
}

std::optional<steady_time> lease_table::renew(const std::string& id, steady_time now) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  it->second.expires_at = now + it->second.ttl;
  return it->second.expires_at;
}

bool lease_table::remove(const std::string& id) { return leases_.erase(id) != 0; }

std::vector<lease> lease_table::expire(steady_time now) {
  std::vector<lease> gone;
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.expires_at <= now) {
      gone.push_back(std::move(it->second));
      it = leases_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

std::optional<steady_time> lease_table::next_expiry() const {
  std::optional<steady_time> earliest;
  for (const auto& [id, l] : leases_) {
    if (!earliest || l.expires_at < *earliest) earliest = l.expires_at;
  }
  return earliest;
}

std::vector<std::string> lease_table::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, l] : leases_) out.push_back(id);
  return out;
}

}  // namespace mailbroker::session
