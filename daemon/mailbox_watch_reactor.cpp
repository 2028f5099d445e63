// Mailbox.WatchMessages: a server stream fed by a session::watcher. The session polls
// the folder (mailbox::folder_watch) and pushes events; the reactor writes them one at a
// time, queueing the rest.
#include <deque>
#include <memory>
#include <mutex>

#include "daemon/mailbox_convert.hpp"
#include "daemon/mailbox_service.hpp"
#include "mailbox/watch.hpp"

namespace mailbroker::daemon {
namespace {

pb::MessageEvent to_proto(const mailbox::watch_event& ev) {
  pb::MessageEvent out;
  out.set_uid_validity(ev.uid_validity);
  if (ev.type == mailbox::watch_event::kind::watching) {
    out.set_kind(pb::MESSAGE_EVENT_KIND_WATCHING);
    out.set_last_uid(ev.last_uid);
    out.set_mode(ev.mode);
  } else {
    out.set_kind(pb::MESSAGE_EVENT_KIND_NEW_MESSAGE);
    daemon::to_proto(ev.message, out.mutable_message(), ev.uid_validity);
  }
  return out;
}

class watch_reactor final : public grpc::ServerWriteReactor<pb::MessageEvent> {
 public:
  // What the session's closures hold: they may outlive the reactor.
  struct link {
    std::mutex mutex;
    watch_reactor* reactor = nullptr;
  };

  watch_reactor(session::session_registry& registry, const pb::WatchMessagesRequest& request, stream_budget::slot slot,
                std::shared_ptr<mailbox::watch_positions> positions)
      : link_(std::make_shared<link>()), slot_(std::move(slot)) {
    link_->reactor = this;
    if (request.lease_id().empty()) {
      finish({errc::invalid_argument, "lease_id is required (returned by Connect)"});
      return;
    }
    auto wire = mailbox::wire_name(request.folder(), "folder");
    if (!wire) {
      finish(wire.err());
      return;
    }
    // The session's name keys its saved watch positions (a lease that is gone fails in
    // add_watcher below).
    auto owner = registry.session_of_lease(request.lease_id());
    std::string session_name = owner ? owner->name() : std::string();
    if (session_name.empty()) positions = nullptr;
    auto watch = std::make_shared<mailbox::folder_watch>(
        request.folder(),
        [l = link_](mailbox::watch_event ev) {
          std::lock_guard lock(l->mutex);
          if (l->reactor) l->reactor->push(to_proto(ev));
        },
        std::move(positions), std::move(session_name));
    session::watcher w;
    w.lease_id = request.lease_id();
    w.folder_wire = wire.value();
    w.poll = [watch](session::connection_context& ctx) -> awaitable<error> { co_return co_await watch->poll(ctx); };
    w.on_end = [l = link_](const error& why) {
      std::lock_guard lock(l->mutex);
      if (l->reactor) l->reactor->finish(why);
    };
    auto handle = registry.add_watcher(request.lease_id(), std::move(w));
    if (!handle) {
      finish(handle.err());
      return;
    }
    handle_ = handle.value();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mutex_);
    writing_ = false;
    if (!ok) {
      finish_locked({errc::cancelled, "the client went away"});
      return;
    }
    queue_.pop_front();
    write_next_locked();
  }

  void OnCancel() override {
    handle_.remove();
    finish({errc::cancelled, "the client cancelled the watch"});
  }

  void OnDone() override {
    handle_.remove();
    {
      std::lock_guard lock(link_->mutex);
      link_->reactor = nullptr;
    }
    delete this;
  }

 private:
  void push(pb::MessageEvent ev) {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    queue_.push_back(std::move(ev));
    write_next_locked();
  }

  void finish(const error& why) {
    std::lock_guard lock(mutex_);
    finish_locked(why);
  }

  void write_next_locked() {
    if (writing_ || queue_.empty()) {
      if (!writing_ && finish_pending_) finish_now_locked();
      return;
    }
    writing_ = true;
    StartWrite(&queue_.front());
  }

  // Events already queued are written before the stream ends.
  void finish_locked(const error& why) {
    if (finished_) return;
    finished_ = true;
    final_status_ = to_grpc_status(why);
    finish_pending_ = true;
    if (!writing_) finish_now_locked();
  }
  void finish_now_locked() {
    if (!finish_pending_) return;
    finish_pending_ = false;
    Finish(final_status_);
  }

  std::shared_ptr<link> link_;
  stream_budget::slot slot_;  // this stream's place in the budget, until the reactor goes
  session::session_registry::watch_handle handle_;
  std::mutex mutex_;
  std::deque<pb::MessageEvent> queue_;
  bool writing_ = false;
  bool finished_ = false;
  bool finish_pending_ = false;
  grpc::Status final_status_;
};

}  // namespace

grpc::ServerWriteReactor<pb::MessageEvent>* mailbox_service::WatchMessages(grpc::CallbackServerContext* context,
                                                                           const pb::WatchMessagesRequest* request) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::watch, "WatchMessages"); !e.ok()) {
    return new failed_write_reactor<pb::MessageEvent>(e);
  }
  auto who = gate_.identify(*context);  // known good: authorize() identified it
  auto slot = streams_.acquire(who ? who->id() : std::string());
  if (!slot) return new failed_write_reactor<pb::MessageEvent>(slot.err());
  return new watch_reactor(registry_, *request, std::move(slot.value()), positions_);
}

}  // namespace mailbroker::daemon
