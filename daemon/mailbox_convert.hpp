#pragma once
// What the Mailbox service's handler files share: running a call as one operation on
// the lease's session, and core ↔ proto conversions of mailbox types.
#include <chrono>
#include <cstdint>
#include <vector>

#include "daemon/proto_convert.hpp"
#include "mailbox/backend.hpp"
#include "mailbox/imap_mailbox.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "session/session_registry.hpp"

namespace mailbroker::daemon {

// Queues `body` (a coroutine run with the live connection that returns the call's
// status) on the lease's session; the reactor finishes with whatever comes first: the
// refusal to queue, the why-not, or the body's status.
template <class Body>
grpc::ServerUnaryReactor* run_unary(session::session_registry& registry, grpc::CallbackServerContext* context,
                                    const std::string& lease_id, Body body,
                                    session::operation_traits traits = {}) {
  auto* reactor = context->DefaultReactor();
  if (lease_id.empty()) {
    reactor->Finish(to_grpc_status({errc::invalid_argument, "lease_id is required (returned by Connect)"}));
    return reactor;
  }
  auto e = registry.enqueue(lease_id, [reactor, body = std::move(body)](session::connection_context* ctx,
                                                                          error why_not) -> awaitable<void> {
    if (ctx == nullptr) {
      reactor->Finish(to_grpc_status(why_not));
      co_return;
    }
    error outcome = co_await body(*ctx);
    reactor->Finish(to_grpc_status(outcome));
  }, std::move(traits));
  if (!e.ok()) reactor->Finish(to_grpc_status(e));
  return reactor;
}

// Traits of a call that only reads in `folder`: it may be pipelined with other reads of
// that folder (session::enqueue). An unusable name gives none (the call then reports it).
inline session::operation_traits reads_in(const std::string& folder) {
  session::operation_traits traits;
  if (auto wire = mailbox::wire_name(folder, "folder")) traits.shared_folder = std::move(wire.value());
  return traits;
}

inline mailbox::message_ref from_proto(const pb::MessageRef& r) {
  return {r.uid(), r.uid_validity(), r.item_id(), r.change_key()};
}

inline void to_proto(const mailbox::message_ref& r, pb::MessageRef* out) {
  out->set_uid(r.uid);
  out->set_uid_validity(r.uid_validity);
  out->set_item_id(r.item_id);
  out->set_change_key(r.change_key);
}

// The one message a request names, by its old uid field or by ref (not both).
inline result<mailbox::message_ref> ref_of(std::uint32_t uid, bool has_ref, const pb::MessageRef& ref) {
  if (uid != 0 && has_ref) return error{errc::invalid_argument, "uid and ref: name the message by one of them"};
  if (has_ref) {
    auto r = from_proto(ref);
    if (r.empty()) return error{errc::invalid_argument, "ref: set uid (IMAP, POP3) or item_id (EWS)"};
    if (r.uid != 0 && r.is_item()) return error{errc::invalid_argument, "ref: set uid or item_id, not both"};
    return r;
  }
  if (uid == 0) return error{errc::invalid_argument, "uid (or ref) is required"};
  return mailbox::message_ref{uid, 0, {}, {}};
}

// The messages a request names, by its old uids field or by refs (not both).
inline result<std::vector<mailbox::message_ref>> refs_of(const google::protobuf::RepeatedField<std::uint32_t>& uids,
                                                         const google::protobuf::RepeatedPtrField<pb::MessageRef>& refs) {
  if (!uids.empty() && !refs.empty()) return error{errc::invalid_argument, "uids and refs: use one of them"};
  std::vector<mailbox::message_ref> out;
  if (refs.empty()) return mailbox::refs_of({uids.begin(), uids.end()});
  out.reserve(refs.size());
  for (int i = 0; i < refs.size(); ++i) {
    auto r = from_proto(refs[i]);
    if (r.empty() || (r.uid != 0 && r.is_item())) {
      return error{errc::invalid_argument, "refs[" + std::to_string(i) + "]: set uid (IMAP, POP3) or item_id (EWS)"};
    }
    out.push_back(std::move(r));
  }
  return out;
}

inline std::chrono::sys_days day_of(const google::protobuf::Timestamp& t) {
  return std::chrono::floor<std::chrono::days>(std::chrono::sys_seconds(std::chrono::seconds(t.seconds())));
}

inline void to_proto(const mailbox::address& a, pb::Address* out) {
  out->set_name(a.name);
  out->set_address(a.address);
}

// `uid_validity`: of the folder the summary was read in (0 when not known), put in its ref.
inline void to_proto(const mailbox::message_summary& m, pb::MessageSummary* out, std::uint32_t uid_validity = 0) {
  out->set_uid(m.uid);
  to_proto(mailbox::message_ref{m.uid, m.item_id.empty() ? uid_validity : 0, m.item_id, m.change_key},
           out->mutable_ref());
  out->set_message_id(m.message_id);
  for (const auto& a : m.from) to_proto(a, out->add_from());
  for (const auto& a : m.to) to_proto(a, out->add_to());
  for (const auto& a : m.cc) to_proto(a, out->add_cc());
  out->set_subject(m.subject);
  if (m.date) daemon::to_proto(*m.date, out->mutable_date());
  if (m.internal_date) daemon::to_proto(*m.internal_date, out->mutable_internal_date());
  out->set_size(m.size);
  for (const auto& f : m.flags) out->add_flags(f);
  out->set_seen(m.seen);
  out->set_has_attachments(m.has_attachments);
  out->set_summary_incomplete(m.summary_incomplete);
  out->set_unique_id(m.unique_id);
}

}  // namespace mailbroker::daemon
