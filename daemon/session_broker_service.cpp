#include "daemon/session_broker_service.hpp"

#include <deque>
#include <mutex>

#include <spdlog/spdlog.h>

#include "daemon/session_journal.hpp"

namespace mailbroker::daemon {
namespace {

// Streams status events to one watcher. Owns itself: deleted in OnDone. Events are
// queued (bounded: a watcher that does not read loses the oldest events, never
// memory) and written one at a time, as gRPC requires.
class watch_reactor final : public grpc::ServerWriteReactor<pb::SessionEvent> {
 public:
  static constexpr std::size_t max_queued = 1024;

  watch_reactor(session::session_registry& registry, std::string name) : registry_(registry) {
    watch_id_ = registry_.watch(std::move(name), [this](const session::status_event& ev) { push(ev); });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mutex_);
    queue_.pop_front();
    if (!ok) {
      finish_locked(grpc::Status::CANCELLED);
      return;
    }
    write_next_locked();
  }

  void OnCancel() override {
    std::lock_guard lock(mutex_);
    finish_locked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    registry_.unwatch(watch_id_);  // after this, push() is never called again
    delete this;
  }

 private:
  void push(const session::status_event& ev) {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    if (queue_.size() >= max_queued) {
      // Keep the one being written (front); drop the oldest waiting event.
      queue_.erase(queue_.begin() + 1);
      ++dropped_;
    }
    pb::SessionEvent msg;
    to_proto(ev, &msg);
    queue_.push_back(std::move(msg));
    if (!writing_) write_next_locked();
  }

  void write_next_locked() {
    writing_ = !queue_.empty() && !finished_;
    if (writing_) StartWrite(&queue_.front());
  }

  void finish_locked(grpc::Status status) {
    if (finished_) return;
    finished_ = true;
    if (dropped_ > 0) spdlog::warn("WatchStatus: a slow watcher lost {} events", dropped_);
    Finish(std::move(status));
  }

  session::session_registry& registry_;
  std::uint64_t watch_id_ = 0;
  std::mutex mutex_;
  std::deque<pb::SessionEvent> queue_;
  bool writing_ = false;
  bool finished_ = false;
  std::uint64_t dropped_ = 0;
};

}  // namespace

session_broker_service::session_broker_service(session::session_registry& registry,
                                               std::chrono::milliseconds max_connect_wait)
    : registry_(registry), max_connect_wait_(max_connect_wait) {}

grpc::ServerUnaryReactor* session_broker_service::Connect(grpc::CallbackServerContext* context,
                                                          const pb::ConnectRequest* request,
                                                          pb::ConnectResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto converted = from_proto(*request);
  if (!converted) {
    reactor->Finish(to_grpc_status(converted.err()));
    return reactor;
  }
  // The call's deadline, as a steady-clock point, capped for callers that set none.
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(context->deadline() -
                                                                                std::chrono::system_clock::now());
  const auto deadline = std::chrono::steady_clock::now() + std::min(remaining, max_connect_wait_);
  registry_.connect(std::move(converted.value()), deadline,
                    [reactor, request, response, journal = journal_](result<session::connect_outcome> outcome) {
                      if (!outcome) {
                        reactor->Finish(to_grpc_status(outcome.err()));
                        return;
                      }
                      if (outcome->created && journal != nullptr) journal->remember(request->session(), request->spec());
                      response->set_lease_id(outcome->grant.lease_id);
                      response->set_created(outcome->created);
                      to_proto(outcome->grant.expires_at, response->mutable_lease_expires_at());
                      to_proto(outcome->grant.status, response->mutable_session());
                      reactor->Finish(grpc::Status::OK);
                    });
  return reactor;
}

grpc::ServerUnaryReactor* session_broker_service::Disconnect(grpc::CallbackServerContext* context,
                                                             const pb::DisconnectRequest* request,
                                                             pb::DisconnectResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (request->lease_id().empty()) {
    reactor->Finish(to_grpc_status({errc::invalid_argument, "lease_id is required (returned by Connect)"}));
    return reactor;
  }
  registry_.disconnect(request->lease_id(), request->force(),
                       [reactor, response](result<session::status_snapshot> r) {
                         if (!r) return reactor->Finish(to_grpc_status(r.err()));
                         to_proto(r.value(), response->mutable_session());
                         reactor->Finish(grpc::Status::OK);
                       });
  return reactor;
}

grpc::ServerUnaryReactor* session_broker_service::RenewLease(grpc::CallbackServerContext* context,
                                                             const pb::RenewLeaseRequest* request,
                                                             pb::RenewLeaseResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (request->lease_id().empty()) {
    reactor->Finish(to_grpc_status({errc::invalid_argument, "lease_id is required (returned by Connect)"}));
    return reactor;
  }
  registry_.renew(request->lease_id(), [reactor, response](result<session::system_time> r) {
    if (!r) return reactor->Finish(to_grpc_status(r.err()));
    to_proto(r.value(), response->mutable_lease_expires_at());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* session_broker_service::Status(grpc::CallbackServerContext* context,
                                                         const pb::StatusRequest* request,
                                                         pb::StatusResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto sessions = registry_.status(request->session());
  if (!sessions) {
    reactor->Finish(to_grpc_status(sessions.err()));
    return reactor;
  }
  for (const auto& s : sessions.value()) to_proto(s, response->add_sessions());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<pb::SessionEvent>* session_broker_service::WatchStatus(
    grpc::CallbackServerContext* /*context*/, const pb::WatchStatusRequest* request) {
  return new watch_reactor(registry_, request->session());
}

}  // namespace mailbroker::daemon
