#include "daemon/mailbox_service.hpp"

#include <mutex>

#include "mailbox/claims.hpp"
#include "mailbox/imap_mailbox.hpp"

namespace mailbroker::daemon {
namespace {

using session::connection_context;

// Queues `body` (a coroutine run with the live connection that returns the call's
// status) on the lease's session; the reactor finishes with whatever comes first: the
// refusal to queue, the why-not, or the body's status.
template <class Body>
grpc::ServerUnaryReactor* run_unary(session::session_registry& registry, grpc::CallbackServerContext* context,
                                    const std::string& lease_id, Body body) {
  auto* reactor = context->DefaultReactor();
  if (lease_id.empty()) {
    reactor->Finish(to_grpc_status({errc::invalid_argument, "lease_id is required (returned by Connect)"}));
    return reactor;
  }
  auto e = registry.enqueue(lease_id, [reactor, body = std::move(body)](connection_context* ctx,
                                                                          error why_not) -> awaitable<void> {
    if (ctx == nullptr) {
      reactor->Finish(to_grpc_status(why_not));
      co_return;
    }
    error outcome = co_await body(*ctx);
    reactor->Finish(to_grpc_status(outcome));
  });
  if (!e.ok()) reactor->Finish(to_grpc_status(e));
  return reactor;
}

std::vector<std::uint32_t> uids_of(const google::protobuf::RepeatedField<std::uint32_t>& uids) {
  return {uids.begin(), uids.end()};
}

std::chrono::sys_days day_of(const google::protobuf::Timestamp& t) {
  return std::chrono::floor<std::chrono::days>(std::chrono::sys_seconds(std::chrono::seconds(t.seconds())));
}

void to_proto(const mailbox::address& a, pb::Address* out) {
  out->set_name(a.name);
  out->set_address(a.address);
}

void to_proto(const mailbox::message_summary& m, pb::MessageSummary* out) {
  out->set_uid(m.uid);
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
}

imap::search_criteria::read_state read_state_of(pb::ReadFilter f) {
  switch (f) {
    case pb::READ_FILTER_UNREAD: return imap::search_criteria::read_state::unread;
    case pb::READ_FILTER_READ: return imap::search_criteria::read_state::read;
    default: return imap::search_criteria::read_state::all;
  }
}

// Streams one message in chunks; deletes itself once gRPC is done with it and no chunk
// operation still refers to it.
class get_message_reactor final : public grpc::ServerWriteReactor<pb::MessageChunk> {
 public:
  get_message_reactor(session::session_registry& registry, pb::GetMessageRequest request)
      : registry_(registry), request_(std::move(request)) {
    if (request_.lease_id().empty()) {
      finish({errc::invalid_argument, "lease_id is required (returned by Connect)"});
      return;
    }
    if (request_.uid() == 0) {
      finish({errc::invalid_argument, "uid is required"});
      return;
    }
    queue_next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return finish({errc::cancelled, "the client went away"});
    if (next_offset_ >= total_size_) return finish(error::none());
    queue_next();
  }

  void OnCancel() override {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
  }

  void OnDone() override {
    std::unique_lock lock(mutex_);
    done_ = true;
    if (op_pending_) return;  // the queued chunk operation deletes us when it runs
    lock.unlock();
    delete this;
  }

 private:
  void queue_next() {
    {
      std::lock_guard lock(mutex_);
      op_pending_ = true;
    }
    auto e = registry_.enqueue(request_.lease_id(), [this](connection_context* ctx, error why_not) -> awaitable<void> {
      {
        std::unique_lock lock(mutex_);
        op_pending_ = false;
        if (done_) {
          lock.unlock();
          delete this;
          co_return;
        }
        if (cancelled_) co_return;
      }
      if (ctx == nullptr) {
        finish(why_not);
        co_return;
      }
      auto c = co_await mailbox::fetch_chunk(*ctx, request_.folder(), request_.uid(), next_offset_,
                                             mailbox::max_chunk_bytes);
      if (!c) {
        finish(c.err());
        co_return;
      }
      total_size_ = c->total_size;
      if (c->data.empty()) {
        // Past the end (or an empty message): nothing more to send.
        finish(error::none());
        co_return;
      }
      chunk_.set_offset(c->offset);
      chunk_.set_total_size(c->total_size);
      chunk_.set_data(std::move(c->data));
      next_offset_ = c->offset + chunk_.data().size();
      StartWrite(&chunk_);
    });
    if (!e.ok()) {
      {
        std::lock_guard lock(mutex_);
        op_pending_ = false;
      }
      finish(e);
    }
  }

  void finish(const error& e) {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    Finish(to_grpc_status(e));
  }

  session::session_registry& registry_;
  const pb::GetMessageRequest request_;
  pb::MessageChunk chunk_;  // the chunk being written; untouched until OnWriteDone
  std::uint64_t next_offset_ = 0;
  std::uint64_t total_size_ = 0;
  std::mutex mutex_;
  bool op_pending_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace

grpc::ServerUnaryReactor* mailbox_service::ListFolders(grpc::CallbackServerContext* context,
                                                       const pb::ListFoldersRequest* request,
                                                       pb::ListFoldersResponse* response) {
  return run_unary(registry_, context, request->lease_id(),
                   [request, response](connection_context& ctx) -> awaitable<error> {
                     auto folders = co_await mailbox::list_folders(ctx, request->pattern(), request->regex());
                     if (!folders) co_return folders.err();
                     for (const auto& f : folders.value()) {
                       auto* out = response->add_folders();
                       out->set_name(f.name);
                       out->set_delimiter(f.delimiter);
                       for (const auto& a : f.attributes) out->add_attributes(a);
                     }
                     co_return error::none();
                   });
}

grpc::ServerUnaryReactor* mailbox_service::ListMessages(grpc::CallbackServerContext* context,
                                                        const pb::ListMessagesRequest* request,
                                                        pb::ListMessagesResponse* response) {
  mailbox::list_query query;
  query.folder = request->folder().empty() ? "INBOX" : request->folder();
  query.limit = request->limit();
  query.criteria.read = read_state_of(request->read());
  query.criteria.from_contains = request->from_contains();
  query.criteria.subject_contains = request->subject_contains();
  if (request->has_since()) query.criteria.since = day_of(request->since());
  if (request->has_before()) query.criteria.before = day_of(request->before());
  query.criteria.after_uid = request->after_uid();
  return run_unary(registry_, context, request->lease_id(),
                   [query = std::move(query), response](connection_context& ctx) -> awaitable<error> {
                     auto page = co_await mailbox::list_messages(ctx, query);
                     if (!page) co_return page.err();
                     response->set_uid_validity(page->uid_validity);
                     response->set_next_after_uid(page->next_after_uid);
                     response->set_total_matching(page->total_matching);
                     for (const auto& m : page->messages) to_proto(m, response->add_messages());
                     co_return error::none();
                   });
}

grpc::ServerWriteReactor<pb::MessageChunk>* mailbox_service::GetMessage(grpc::CallbackServerContext* /*context*/,
                                                                        const pb::GetMessageRequest* request) {
  return new get_message_reactor(registry_, *request);
}

grpc::ServerUnaryReactor* mailbox_service::SetFlags(grpc::CallbackServerContext* context,
                                                    const pb::SetFlagsRequest* request,
                                                    pb::SetFlagsResponse* /*response*/) {
  std::optional<bool> seen, flagged;
  if (request->has_seen()) seen = request->seen();
  if (request->has_flagged()) flagged = request->flagged();
  return run_unary(registry_, context, request->lease_id(),
                   [folder = request->folder(), uids = uids_of(request->uids()), seen,
                    flagged](connection_context& ctx) -> awaitable<error> {
                     co_return co_await mailbox::set_flags(ctx, folder, uids, seen, flagged);
                   });
}

grpc::ServerUnaryReactor* mailbox_service::move_or_copy(grpc::CallbackServerContext* context,
                                                        const pb::MoveMessagesRequest* request,
                                                        pb::MoveMessagesResponse* response, bool move) {
  return run_unary(registry_, context, request->lease_id(),
                   [folder = request->folder(), uids = uids_of(request->uids()), target = request->target_folder(),
                    response, move](connection_context& ctx) -> awaitable<error> {
                     auto moved = co_await mailbox::copy_messages(ctx, folder, uids, target, move);
                     if (!moved) co_return moved.err();
                     for (auto uid : moved.value()) response->add_target_uids(uid);
                     co_return error::none();
                   });
}

grpc::ServerUnaryReactor* mailbox_service::MoveMessages(grpc::CallbackServerContext* context,
                                                        const pb::MoveMessagesRequest* request,
                                                        pb::MoveMessagesResponse* response) {
  return move_or_copy(context, request, response, true);
}

grpc::ServerUnaryReactor* mailbox_service::CopyMessages(grpc::CallbackServerContext* context,
                                                        const pb::MoveMessagesRequest* request,
                                                        pb::MoveMessagesResponse* response) {
  return move_or_copy(context, request, response, false);
}

grpc::ServerUnaryReactor* mailbox_service::DeleteMessages(grpc::CallbackServerContext* context,
                                                          const pb::DeleteMessagesRequest* request,
                                                          pb::DeleteMessagesResponse* /*response*/) {
  return run_unary(registry_, context, request->lease_id(),
                   [folder = request->folder(), uids = uids_of(request->uids())](connection_context& ctx)
                       -> awaitable<error> { co_return co_await mailbox::delete_messages(ctx, folder, uids); });
}

grpc::ServerUnaryReactor* mailbox_service::ClaimMessages(grpc::CallbackServerContext* context,
                                                         const pb::ClaimMessagesRequest* request,
                                                         pb::ClaimMessagesResponse* response) {
  mailbox::claim_query query;
  query.folder = request->folder();
  query.criteria.read = read_state_of(request->read());
  query.criteria.from_contains = request->from_contains();
  query.criteria.subject_contains = request->subject_contains();
  query.max = request->max();
  query.ttl = std::chrono::seconds(request->claim_ttl_seconds());
  return run_unary(registry_, context, request->lease_id(),
                   [lease = request->lease_id(), query = std::move(query),
                    response](connection_context& ctx) -> awaitable<error> {
                     auto batch = co_await mailbox::claim_messages(ctx, lease, query);
                     if (!batch) co_return batch.err();
                     response->set_uid_validity(batch->uid_validity);
                     for (const auto& c : batch->messages) {
                       auto* out = response->add_messages();
                       to_proto(c.summary, out->mutable_summary());
                       daemon::to_proto(c.expires_at, out->mutable_claim_expires_at());
                     }
                     co_return error::none();
                   });
}

grpc::ServerUnaryReactor* mailbox_service::AckMessage(grpc::CallbackServerContext* context,
                                                      const pb::AckMessageRequest* request,
                                                      pb::AckMessageResponse* /*response*/) {
  mailbox::ack_action action;
  switch (request->action()) {
    case pb::ACK_ACTION_MARK_READ: action = mailbox::ack_action::mark_read; break;
    case pb::ACK_ACTION_MOVE: action = mailbox::ack_action::move; break;
    case pb::ACK_ACTION_DELETE: action = mailbox::ack_action::remove; break;
    case pb::ACK_ACTION_NONE: action = mailbox::ack_action::none; break;
    default: {
      auto* reactor = context->DefaultReactor();
      reactor->Finish(to_grpc_status(
          {errc::invalid_argument, "action: one of ACK_ACTION_MARK_READ, ACK_ACTION_MOVE, ACK_ACTION_DELETE, ACK_ACTION_NONE"}));
      return reactor;
    }
  }
  return run_unary(registry_, context, request->lease_id(),
                   [lease = request->lease_id(), folder = request->folder(), uid = request->uid(), action,
                    target = request->target_folder()](connection_context& ctx) -> awaitable<error> {
                     co_return co_await mailbox::ack_message(ctx, lease, folder, uid, action, target);
                   });
}

grpc::ServerUnaryReactor* mailbox_service::ReleaseMessages(grpc::CallbackServerContext* context,
                                                           const pb::ReleaseMessagesRequest* request,
                                                           pb::ReleaseMessagesResponse* response) {
  return run_unary(registry_, context, request->lease_id(),
                   [lease = request->lease_id(), folder = request->folder(), uids = uids_of(request->uids()),
                    response](connection_context& ctx) -> awaitable<error> {
                     auto n = co_await mailbox::release_messages(ctx, lease, folder, uids);
                     if (!n) co_return n.err();
                     response->set_released(n.value());
                     co_return error::none();
                   });
}

}  // namespace mailbroker::daemon
