#pragma once
// The leases of one session: id → holder and expiry. Pure bookkeeping with the clock
// passed in, so expiry is unit-testable without sleeping. Owned by the session's strand.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mailbroker::session {

using steady_time = std::chrono::steady_clock::time_point;

struct lease {
  std::string id;
  std::string client_name;
  std::chrono::seconds ttl{};
  steady_time expires_at{};
};

class lease_table {
 public:
  // Adds a lease with a fresh random id expiring at now + ttl.
  const lease& add(std::string client_name, std::chrono::seconds ttl, steady_time now);
  // Pushes expiry to now + ttl. Returns the new expiry, or nullopt for an unknown id.
  std::optional<steady_time> renew(const std::string& id, steady_time now);
  bool remove(const std::string& id);
  // Removes and returns every lease whose expiry is <= now.
  std::vector<lease> expire(steady_time now);
  std::optional<steady_time> next_expiry() const;
  std::vector<std::string> ids() const;
  bool contains(const std::string& id) const { return leases_.count(id) != 0; }
  std::size_t size() const { return leases_.size(); }
  bool empty() const { return leases_.empty(); }
  void clear() { leases_.clear(); }

 private:
  std::map<std::string, lease> leases_;
};

}  // namespace mailbroker::session
