#pragma once
// Claim / ack work distribution (Mailbox.ClaimMessages / AckMessage / ReleaseMessages)
// on top of the session's claim_table. Each runs as one operation on the session's
// queue, so claims and acks of all bots are serialised: no message is ever held by two
// leases at once. Written once for every protocol over mailbox::backend. See the proto
// for the guarantee across restarts.
#include <chrono>
#include <string>
#include <vector>

#include "mailbox/backend.hpp"

namespace mailbroker::mailbox {

struct claim_query {
  std::string folder = "INBOX";
  imap::search_criteria criteria;  // after_uid is ignored
  std::uint32_t max = 10;          // 1..max_claim
  std::chrono::seconds ttl{300};   // 1..max_claim_ttl
};
inline constexpr std::uint32_t max_claim = 100;
inline constexpr std::chrono::seconds max_claim_ttl{3600};

struct claimed {
  message_summary summary;
  time_point expires_at;
};

struct claim_batch {
  std::vector<claimed> messages;
  std::uint32_t uid_validity = 0;
};

enum class ack_action { mark_read, move, remove, none };

awaitable<result<claim_batch>> claim_messages(session::connection_context& ctx, std::string lease, claim_query query);

// Errors: failed_precondition when `lease` does not hold the claim (expired, never
// claimed, another lease's); the action's errors (the claim then stays).
awaitable<error> ack_message(session::connection_context& ctx, std::string lease, std::string folder,
                             message_ref ref, ack_action action, std::string target_folder);

// Ends this lease's claims on `refs`; returns how many it held.
awaitable<result<std::uint32_t>> release_messages(session::connection_context& ctx, std::string lease,
                                                  std::string folder, std::vector<message_ref> refs);

}  // namespace mailbroker::mailbox
