#include "daemon/mailbox_service.hpp"

#include <mutex>
#include <optional>
#include <regex>

#include "mailbox/claims.hpp"
#include "daemon/mailbox_convert.hpp"
#include "mailbox/imap_read_ahead.hpp"
#include "mailbox/backend.hpp"

namespace mailbroker::daemon {
namespace {

using session::connection_context;

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
    auto ref = ref_of(request_.uid(), request_.has_ref(), request_.ref());
    if (!ref) {
      finish(ref.err());
      return;
    }
    ref_ = std::move(ref.value());
    if (serve_from_cache()) return;
    queue_next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return finish({errc::cancelled, "the client went away"});
    if (next_offset_ >= total_size_) return finish(error::none());
    if (cached_) return write_cached();
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
      result<mailbox::chunk> c = co_await next_chunk(*ctx);
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
    }, reads_in(request_.folder()));
    if (!e.ok()) {
      {
        std::lock_guard lock(mutex_);
        op_pending_ = false;
      }
      finish(e);
    }
  }

  // A message in the session's cache is answered here, on the gRPC thread, without a
  // turn in the queue. IMAP: the folder must be the one selected on the live connection
  // (so its UIDVALIDITY is current). EWS and Graph: the ref must carry a change key (one version
  // of the item, whose bytes never change) and the session must still be usable.
  // Otherwise the message is marked wanted, so the fetch that serves another caller
  // first can bring it along.
  bool serve_from_cache() {
    auto s = registry_.session_of_lease(request_.lease_id());
    if (!s) return false;
    auto& cache = *s->cache();
    std::shared_ptr<const std::string> body;
    if (ref_.is_item()) {
      const bool ews = s->spec().proto == session::protocol::ews;
      if ((!ews && s->spec().proto != session::protocol::graph) || ref_.change_key.empty() || !s->accepting()) {
        return false;
      }
      body = cache.item_body(ref_.item_id, ref_.change_key);
      if (!body) {
        if (ews) cache.want_item(ref_.item_id, ref_.change_key);  // EWS batches bodies others wait for
        return false;
      }
    } else {
      if (s->spec().proto != session::protocol::imap) return false;
      auto wire = mailbox::wire_name(request_.folder(), "folder");
      if (!wire) return false;
      const auto validity = cache.selected_uid_validity(wire.value());
      if (validity && ref_.uid_validity != 0 && ref_.uid_validity != *validity) return false;  // the queue reports it
      body = validity ? cache.body(wire.value(), *validity, ref_.uid) : nullptr;
      if (!body) {
        cache.want(wire.value(), ref_.uid);
        return false;
      }
    }
    if (!s->touch_lease(request_.lease_id())) return false;  // queue_next() reports the lease
    cached_ = std::move(body);
    total_size_ = cached_->size();
    if (total_size_ == 0) {
      finish(error::none());
      return true;
    }
    write_cached();
    return true;
  }

  void write_cached() {
    const auto n = std::min<std::uint64_t>(mailbox::max_chunk_bytes, total_size_ - next_offset_);
    chunk_.set_offset(next_offset_);
    chunk_.set_total_size(total_size_);
    chunk_.set_data(cached_->substr(next_offset_, n));
    next_offset_ += n;
    write_chunk();
  }

  // The last chunk goes out with the status in one batch (a small message is one chunk):
  // one pass through gRPC's call machinery and one completion instead of two (~1 context
  // switch less per call, bench/run.sh attach). Used on the cache path (gRPC threads);
  // chunks read in a queue turn (mail I/O thread) keep StartWrite + Finish from
  // OnWriteDone until that path is measured on a quiet machine.
  void write_chunk() {
    if (next_offset_ < total_size_) return StartWrite(&chunk_);
    {
      std::lock_guard lock(mutex_);
      if (finished_) return;
      finished_ = true;
    }
    StartWriteAndFinish(&chunk_, grpc::WriteOptions(), grpc::Status::OK);
  }

  // A backend that reads byte ranges (IMAP) serves one chunk per queue turn. Others
  // (POP3 RETR, EWS MimeContent) read all of the message in the first turn (up to
  // mailbox::max_whole_message_bytes) and later chunks come from memory.
  awaitable<result<mailbox::chunk>> next_chunk(connection_context& ctx) {
    const auto& mailbox = mailbox::backend_of(ctx);
    if (mailbox.partial_reads()) {
      co_return co_await mailbox.read_chunk(ctx, request_.folder(), ref_, next_offset_, mailbox::max_chunk_bytes);
    }
    if (!whole_) {
      auto raw = co_await mailbox.read_whole(ctx, request_.folder(), ref_, mailbox::max_whole_message_bytes);
      if (!raw) co_return raw.err();
      whole_ = std::move(raw.value());
    }
    mailbox::chunk c;
    c.offset = next_offset_;
    c.total_size = whole_->size();
    if (next_offset_ < whole_->size()) c.data = whole_->substr(next_offset_, mailbox::max_chunk_bytes);
    co_return c;
  }

  void finish(const error& e) {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    Finish(to_grpc_status(e));
  }

  session::session_registry& registry_;
  const pb::GetMessageRequest request_;
  mailbox::message_ref ref_;
  pb::MessageChunk chunk_;  // the chunk being written; untouched until OnWriteDone (the last: OnDone)
  std::uint64_t next_offset_ = 0;
  std::uint64_t total_size_ = 0;
  std::optional<std::string> whole_;  // backends without partial reads
  std::shared_ptr<const std::string> cached_;  // served from the session's message cache
  std::mutex mutex_;
  bool op_pending_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace

error mailbox_service::authorize(grpc::CallbackServerContext* context, const std::string& lease_id,
                                 trust::permission what, std::string_view call) {
  auto who = gate_.identify(*context);
  if (!who) return who.err();
  auto holder = gate_.check_lease(registry_, *who, lease_id, what, call);
  if (!holder) return holder.err();
  if (what == trust::permission::modify || what == trust::permission::send) {
    gate_.note(*who, call, holder->s->name(), what, "allowed");
  }
  return error::none();
}

grpc::ServerUnaryReactor* mailbox_service::ListFolders(grpc::CallbackServerContext* context,
                                                       const pb::ListFoldersRequest* request,
                                                       pb::ListFoldersResponse* response) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::read, "ListFolders"); !e.ok()) {
    return finish_unary(context, e);
  }
  return run_unary(registry_, context, request->lease_id(),
                   [request, response](connection_context& ctx) -> awaitable<error> {
                     auto folders =
                         co_await mailbox::backend_of(ctx).list_folders(ctx, request->pattern(), request->regex());
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
  if (auto e = authorize(context, request->lease_id(), trust::permission::read, "ListMessages"); !e.ok()) {
    return finish_unary(context, e);
  }
  mailbox::list_query query;
  query.folder = request->folder().empty() ? "INBOX" : request->folder();
  query.limit = request->limit();
  query.criteria.read = read_state_of(request->read());
  query.criteria.from_contains = request->from_contains();
  query.criteria.subject_contains = request->subject_contains();
  if (request->has_since()) query.criteria.since = day_of(request->since());
  if (request->has_before()) query.criteria.before = day_of(request->before());
  query.criteria.after_uid = request->after_uid();
  query.order = request->order() == pb::LIST_ORDER_NEWEST_FIRST ? mailbox::list_order::newest_first
                                                                : mailbox::list_order::oldest_first;
  query.before_uid = request->before_uid();
  query.page_token = request->page_token();
  query.arrived = std::chrono::steady_clock::now();
  const std::string folder = query.folder;
  return run_unary(registry_, context, request->lease_id(),
                   [this, lease = request->lease_id(), query = std::move(query),
                    response](connection_context& ctx) -> awaitable<error> {
                     auto page = co_await mailbox::backend_of(ctx).list_messages(ctx, query);
                     if (!page) co_return page.err();
                     if (ctx.spec.read_ahead_bytes > 0) {
                       auto executor = co_await asio::this_coro::executor;
                       read_ahead(ctx, std::move(executor), lease, query.folder, page.value());
                     }
                     response->set_uid_validity(page->uid_validity);
                     response->set_next_after_uid(page->next_after_uid);
                     response->set_next_before_uid(page->next_before_uid);
                     response->set_total_matching(page->total_matching);
                     response->set_next_page_token(page->next_page_token);
                     for (const auto& m : page->messages) to_proto(m, response->add_messages(), page->uid_validity);
                     co_return error::none();
                   },
                   reads_in(folder));
}

// SessionSpec.read_ahead_bytes: the page's bodies, fetched in a turn of the same lease
// queued now, so it runs after this listing is answered (mailbox/imap_read_ahead.hpp).
void mailbox_service::read_ahead(connection_context& ctx, asio::any_io_executor executor, const std::string& lease,
                                 const std::string& folder, const mailbox::message_page& page) {
  auto plan = mailbox::plan_read_ahead(ctx, std::move(executor), folder, page, ctx.spec.read_ahead_bytes);
  if (!plan) return;
  // Not queued (the lease just ended): the plan is dropped and its marks go stale.
  (void)registry_.enqueue(
      lease,
      [plan](connection_context* c, error /*why_not*/) -> awaitable<void> { return mailbox::read_ahead(c, plan); },
      reads_in(folder));
}

grpc::ServerWriteReactor<pb::MessageChunk>* mailbox_service::GetMessage(grpc::CallbackServerContext* context,
                                                                        const pb::GetMessageRequest* request) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::read, "GetMessage"); !e.ok()) {
    return new failed_write_reactor<pb::MessageChunk>(e);
  }
  return new get_message_reactor(registry_, *request);
}

grpc::ServerUnaryReactor* mailbox_service::SetFlags(grpc::CallbackServerContext* context,
                                                    const pb::SetFlagsRequest* request,
                                                    pb::SetFlagsResponse* /*response*/) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::modify, "SetFlags"); !e.ok()) {
    return finish_unary(context, e);
  }
  std::optional<bool> seen, flagged;
  if (request->has_seen()) seen = request->seen();
  if (request->has_flagged()) flagged = request->flagged();
  auto refs = refs_of(request->uids(), request->refs());
  if (!refs) return finish_unary(context, refs.err());
  return run_unary(registry_, context, request->lease_id(),
                   [folder = request->folder(), refs = std::move(refs.value()), seen,
                    flagged](connection_context& ctx) -> awaitable<error> {
                     co_return co_await mailbox::backend_of(ctx).set_flags(ctx, folder, refs, seen, flagged);
                   });
}

grpc::ServerUnaryReactor* mailbox_service::move_or_copy(grpc::CallbackServerContext* context,
                                                        const pb::MoveMessagesRequest* request,
                                                        pb::MoveMessagesResponse* response, bool move) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::modify, (move ? "MoveMessages" : "CopyMessages")); !e.ok()) {
    return finish_unary(context, e);
  }
  auto refs = refs_of(request->uids(), request->refs());
  if (!refs) return finish_unary(context, refs.err());
  return run_unary(registry_, context, request->lease_id(),
                   [folder = request->folder(), refs = std::move(refs.value()), target = request->target_folder(),
                    response, move](connection_context& ctx) -> awaitable<error> {
                     auto moved = co_await mailbox::backend_of(ctx).copy_messages(ctx, folder, refs, target, move);
                     if (!moved) co_return moved.err();
                     for (const auto& r : moved.value()) {
                       if (r.uid != 0) response->add_target_uids(r.uid);
                       to_proto(r, response->add_target_refs());
                     }
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
  if (auto e = authorize(context, request->lease_id(), trust::permission::modify, "DeleteMessages"); !e.ok()) {
    return finish_unary(context, e);
  }
  auto refs = refs_of(request->uids(), request->refs());
  if (!refs) return finish_unary(context, refs.err());
  return run_unary(registry_, context, request->lease_id(),
                   [folder = request->folder(), refs = std::move(refs.value()),
                    permanent = request->permanent()](connection_context& ctx) -> awaitable<error> {
                     co_return co_await mailbox::backend_of(ctx).delete_messages(ctx, folder, refs, permanent);
                   });
}

grpc::ServerUnaryReactor* mailbox_service::ClaimMessages(grpc::CallbackServerContext* context,
                                                         const pb::ClaimMessagesRequest* request,
                                                         pb::ClaimMessagesResponse* response) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::claim, "ClaimMessages"); !e.ok()) {
    return finish_unary(context, e);
  }
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
                       to_proto(c.summary, out->mutable_summary(), batch->uid_validity);
                       daemon::to_proto(c.expires_at, out->mutable_claim_expires_at());
                     }
                     co_return error::none();
                   });
}

grpc::ServerUnaryReactor* mailbox_service::AckMessage(grpc::CallbackServerContext* context,
                                                      const pb::AckMessageRequest* request,
                                                      pb::AckMessageResponse* /*response*/) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::claim, "AckMessage"); !e.ok()) {
    return finish_unary(context, e);
  }
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
  auto ref = ref_of(request->uid(), request->has_ref(), request->ref());
  if (!ref) return finish_unary(context, ref.err());
  return run_unary(registry_, context, request->lease_id(),
                   [lease = request->lease_id(), folder = request->folder(), ref = std::move(ref.value()), action,
                    target = request->target_folder()](connection_context& ctx) -> awaitable<error> {
                     co_return co_await mailbox::ack_message(ctx, lease, folder, ref, action, target);
                   });
}

grpc::ServerUnaryReactor* mailbox_service::ReleaseMessages(grpc::CallbackServerContext* context,
                                                           const pb::ReleaseMessagesRequest* request,
                                                           pb::ReleaseMessagesResponse* response) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::claim, "ReleaseMessages"); !e.ok()) {
    return finish_unary(context, e);
  }
  auto refs = refs_of(request->uids(), request->refs());
  if (!refs) return finish_unary(context, refs.err());
  return run_unary(registry_, context, request->lease_id(),
                   [lease = request->lease_id(), folder = request->folder(), refs = std::move(refs.value()),
                    response](connection_context& ctx) -> awaitable<error> {
                     auto n = co_await mailbox::release_messages(ctx, lease, folder, refs);
                     if (!n) co_return n.err();
                     response->set_released(n.value());
                     co_return error::none();
                   });
}

}  // namespace mailbroker::daemon
