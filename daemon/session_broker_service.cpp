#include "daemon/session_broker_service.hpp"

#include <list>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>

#include "daemon/arena_message_allocator.hpp"
#include "daemon/session_journal.hpp"

namespace mailbroker::daemon {
namespace {

// Streams status events to one watcher. Owns itself: deleted in OnDone. gRPC allows one
// write in flight, so the next message is chosen when the previous one is done:
//  1. the current state of every session that matched at registration, its snapshot
//     taken just before it is written (flow-controlled: nothing is queued or dropped,
//     however many sessions there are);
//  2. then live events, in order. When more than merge_after wait (a slow reader), a new
//     event of a session that already has one waiting is merged into it (latest status
//     and reason, the older previous_state), so the queue stays bounded by the number of
//     sessions and no session's latest state is lost.
class watch_reactor final : public grpc::ServerWriteReactor<pb::SessionEvent> {
 public:
  static constexpr std::size_t merge_after = 1024;

  // `visible` says which sessions' events this watcher may see (trust policy); `slot`
  // holds its place in the stream budget until OnDone.
  watch_reactor(session::session_registry& registry, std::string name, std::function<bool(const std::string&)> visible,
                stream_budget::slot slot)
      : registry_(registry), visible_(std::move(visible)), slot_(std::move(slot)) {
    // No lock held here: push() may run (under the registry's watcher lock) before this returns.
    auto start = registry_.watch_paced(std::move(name), [this](const session::status_event& ev) { push(ev); });
    std::lock_guard lock(mutex_);
    watch_id_ = start.id;
    initial_ = std::move(start.current);
    std::erase_if(initial_, [this](const std::shared_ptr<session::session>& s) { return !visible_(s->name()); });
    started_ = true;
    write_next_locked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mutex_);
    writing_ = false;
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
  using pending_list = std::list<session::status_event>;

  void push(const session::status_event& ev) {
    if (!visible_(ev.status.name)) return;
    std::lock_guard lock(mutex_);
    if (finished_) return;
    if (pending_.size() >= merge_after) {
      if (auto it = latest_.find(ev.status.name); it != latest_.end()) {
        auto& waiting = *it->second;
        waiting.status = ev.status;
        waiting.reason = ev.reason;
        waiting.at = ev.at;
        ++merged_;
        return;
      }
    }
    pending_.push_back(ev);
    latest_[ev.status.name] = std::prev(pending_.end());
    if (started_ && !writing_) write_next_locked();
  }

  void write_next_locked() {
    if (finished_ || writing_) return;
    if (next_initial_ < initial_.size()) {
      auto s = std::move(initial_[next_initial_++]);
      if (next_initial_ == initial_.size()) std::vector<std::shared_ptr<session::session>>().swap(initial_);
      // Converted under the session's own lock instead of copying its status first.
      message_.Clear();
      s->read_snapshot([this](const session::status_snapshot& status) { to_proto(status, message_.mutable_status()); });
      message_.set_previous_state(message_.status().state());
      message_.set_reason("current state");
      to_proto(std::chrono::system_clock::now(), message_.mutable_at());
      writing_ = true;
      StartWrite(&message_);
      return;
    }
    if (pending_.empty()) return;
    auto head = pending_.begin();
    if (auto it = latest_.find(head->status.name); it != latest_.end() && it->second == head) latest_.erase(it);
    const auto ev = std::move(*head);
    pending_.pop_front();
    start_write_locked(ev);
  }

  void start_write_locked(const session::status_event& ev) {
    message_.Clear();
    to_proto(ev, &message_);
    writing_ = true;
    StartWrite(&message_);
  }

  void finish_locked(grpc::Status status) {
    if (finished_) return;
    finished_ = true;
    if (merged_ > 0) spdlog::info("WatchStatus: merged {} events for a slow watcher", merged_);
    Finish(std::move(status));
  }

  session::session_registry& registry_;
  std::function<bool(const std::string&)> visible_;
  stream_budget::slot slot_;
  std::uint64_t watch_id_ = 0;
  std::mutex mutex_;
  bool started_ = false;  // initial_ is set: writing may begin
  std::vector<std::shared_ptr<session::session>> initial_;
  std::size_t next_initial_ = 0;
  pending_list pending_;
  std::unordered_map<std::string, pending_list::iterator> latest_;  // each name's newest waiting event
  pb::SessionEvent message_;  // the one being written
  bool writing_ = false;
  bool finished_ = false;
  std::uint64_t merged_ = 0;
};

std::optional<session::session_state> state_from_proto(int s) {
  switch (s) {
    case pb::SESSION_STATE_CONNECTING: return session::session_state::connecting;
    case pb::SESSION_STATE_AUTHENTICATING: return session::session_state::authenticating;
    case pb::SESSION_STATE_READY: return session::session_state::ready;
    case pb::SESSION_STATE_BACKOFF: return session::session_state::backoff;
    case pb::SESSION_STATE_FAILED: return session::session_state::failed;
    case pb::SESSION_STATE_CLOSED: return session::session_state::closed;
    default: return std::nullopt;
  }
}

// Page tokens carry the last name of the previous page behind a version tag, so the
// format can change without clients noticing (they must treat it as opaque).
constexpr std::string_view page_token_tag = "n1:";
std::string make_page_token(const std::string& last_name) { return std::string(page_token_tag) + last_name; }

result<session::session_registry::status_query> status_query_from_proto(const pb::StatusRequest& request) {
  session::session_registry::status_query q;
  if (request.page_size() > session_broker_service::max_status_page) {
    return error{errc::invalid_argument, "page_size: at most " + std::to_string(session_broker_service::max_status_page) +
                                             " (0 = " + std::to_string(session_broker_service::default_status_page) +
                                             ")"};
  }
  q.limit = request.page_size() == 0 ? session_broker_service::default_status_page : request.page_size();
  for (const int st : request.states()) {
    auto state = state_from_proto(st);
    if (!state) return error{errc::invalid_argument, "states: " + std::to_string(st) + " is not a session state"};
    q.states.push_back(*state);
  }
  switch (request.protocol()) {
    case pb::PROTOCOL_UNSPECIFIED: break;
    case pb::PROTOCOL_IMAP: q.proto = session::protocol::imap; break;
    case pb::PROTOCOL_POP3: q.proto = session::protocol::pop3; break;
    default:
      return error{errc::invalid_argument, "protocol: only PROTOCOL_IMAP or PROTOCOL_POP3 (or unset: any) filter sessions"};
  }
  q.name_prefix = request.name_prefix();
  if (const auto& token = request.page_token(); !token.empty()) {
    const bool ours = token.rfind(page_token_tag, 0) == 0 &&
                      session::validate_session_name(token.substr(page_token_tag.size())).ok();
    if (!ours) return error{errc::invalid_argument, "page_token: not a next_page_token from a StatusResponse"};
    q.after = token.substr(page_token_tag.size());
  }
  return q;
}

}  // namespace

session_broker_service::session_broker_service(session::session_registry& registry, access_gate& gate,
                                               stream_budget& streams, std::chrono::milliseconds max_connect_wait)
    : registry_(registry),
      gate_(gate),
      streams_(streams),
      max_connect_wait_(max_connect_wait),
      // A page of 1,000 sessions is ~10,000 strings and sub-messages: one arena per call.
      status_allocator_(std::make_unique<arena_message_allocator<pb::StatusRequest, pb::StatusResponse>>()) {
  SetMessageAllocatorFor_Status(status_allocator_.get());
}

session_broker_service::~session_broker_service() = default;

grpc::ServerUnaryReactor* session_broker_service::Connect(grpc::CallbackServerContext* context,
                                                          const pb::ConnectRequest* request,
                                                          pb::ConnectResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto who = gate_.identify(*context);
  if (!who) {
    reactor->Finish(to_grpc_status(who.err()));
    return reactor;
  }
  auto converted = from_proto(*request);
  if (!converted) {
    reactor->Finish(to_grpc_status(converted.err()));
    return reactor;
  }
  if (auto e = authorize_connect(*who, converted.value()); !e.ok()) {
    reactor->Finish(to_grpc_status(e));
    return reactor;
  }
  converted->owner = who->id();
  // The call's deadline, as a steady-clock point, capped for callers that set none.
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(context->deadline() -
                                                                                std::chrono::system_clock::now());
  const auto deadline = std::chrono::steady_clock::now() + std::min(remaining, max_connect_wait_);
  registry_.connect(std::move(converted.value()), deadline,
                    [this, who = std::move(who.value()), reactor, request, response,
                     journal = journal_](result<session::connect_outcome> outcome) {
                      if (!outcome) {
                        gate_.note(who, "Connect", request->session(), trust::permission::attach, "failed",
                                   std::string(errc_name(outcome.err().code)));
                        reactor->Finish(to_grpc_status(outcome.err()));
                        return;
                      }
                      gate_.note(who, "Connect", request->session(),
                                 outcome->created ? trust::permission::connect : trust::permission::attach, "allowed",
                                 outcome->created ? (request->replace() ? "created (replace)" : "created") : "attached");
                      response->set_lease_id(outcome->grant.lease_id);
                      response->set_created(outcome->created);
                      to_proto(outcome->grant.expires_at, response->mutable_lease_expires_at());
                      to_proto(outcome->grant.status, response->mutable_session());
                      // A created session is answered once its record is durable; the
                      // writer thread commits many at once, off this (mail I/O) thread.
                      if (outcome->created && journal != nullptr) {
                        journal->remember(request->session(), request->spec(),
                                          [reactor] { reactor->Finish(grpc::Status::OK); });
                        return;
                      }
                      reactor->Finish(grpc::Status::OK);
                    });
  return reactor;
}

grpc::ServerUnaryReactor* session_broker_service::Disconnect(grpc::CallbackServerContext* context,
                                                             const pb::DisconnectRequest* request,
                                                             pb::DisconnectResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto who = gate_.identify(*context);
  if (!who) return finish_unary_on(reactor, who.err());
  auto holder = gate_.check_lease(registry_, *who, request->lease_id(), trust::permission::attach, "Disconnect");
  if (!holder) return finish_unary_on(reactor, holder.err());
  if (request->force()) {
    if (auto e = gate_.require(*who, trust::permission::admin, holder->s->name(), "Disconnect(force)"); !e.ok()) {
      return finish_unary_on(reactor, e);
    }
    gate_.note(*who, "Disconnect(force)", holder->s->name(), trust::permission::admin, "allowed");
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
  auto who = gate_.identify(*context);
  if (!who) return finish_unary_on(reactor, who.err());
  if (auto holder = gate_.check_lease(registry_, *who, request->lease_id(), trust::permission::attach, "RenewLease");
      !holder) {
    return finish_unary_on(reactor, holder.err());
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
  auto who = gate_.identify(*context);
  if (!who) return finish_unary_on(reactor, who.err());
  const auto detail = status_detail_from_proto(request->view());
  if (!detail) return finish_unary_on(reactor, detail.err());
  if (!request->session().empty()) {
    if (auto e = session::validate_session_name(request->session()); !e.ok()) return finish_unary_on(reactor, e);
    if (auto e = gate_.require(*who, trust::permission::watch, request->session(), "Status"); !e.ok()) {
      return finish_unary_on(reactor, e);
    }
    auto sessions = registry_.status(request->session());
    if (!sessions) {
      reactor->Finish(to_grpc_status(sessions.err()));
      return reactor;
    }
    for (const auto& s : sessions.value()) to_proto(s, response->add_sessions(), detail.value());
  } else {
    auto query = status_query_from_proto(*request);
    if (!query) {
      reactor->Finish(to_grpc_status(query.err()));
      return reactor;
    }
    // Each session's status goes into the reply under its own lock, not copied first
    // (the reply lives in an arena: arena_message_allocator).
    std::size_t bytes = 0;
    bool cut = false;
    auto& sessions = *response->mutable_sessions();
    sessions.Reserve(static_cast<int>(query->limit));
    // One policy for the whole page (rules are swapped whole on reload), rather than a
    // lock and a reference count per session through gate_.may().
    const auto rules = gate_.rules();
    const auto next_after = registry_.visit_status_page(
        query.value(),
        // Sessions the caller may not watch are left out (the page may come out short).
        [&rules, &who](const std::string& name) { return rules->policy.allows(*who, trust::permission::watch, name); },
        [&](const session::status_snapshot& s) {
          auto* out = sessions.Add();
          to_proto(s, out, detail.value());
          bytes += out->ByteSizeLong() + 8;  // + tag and length
          if (bytes > max_status_page_bytes && sessions.size() > 1) {
            sessions.RemoveLast();
            cut = true;
            return false;
          }
          return true;
        });
    if (cut) {
      response->set_next_page_token(make_page_token(sessions.Get(sessions.size() - 1).name()));
    } else if (!next_after.empty()) {
      response->set_next_page_token(make_page_token(next_after));
    }
  }
  const auto counts = registry_.counts();
  response->set_total_sessions(static_cast<std::uint32_t>(counts.listed));
  response->set_live_sessions(static_cast<std::uint32_t>(counts.live));
  response->set_max_sessions(
      static_cast<std::uint32_t>(std::min<std::size_t>(registry_.settings().max_sessions, UINT32_MAX)));
  auto& by_state = *response->mutable_sessions_by_state();
  for (std::size_t i = 0; i < std::size(counts.by_state); ++i) {
    if (counts.by_state[i] == 0) continue;
    by_state[pb::SessionState_Name(static_cast<pb::SessionState>(i + 1))] = static_cast<std::uint32_t>(counts.by_state[i]);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<pb::SessionEvent>* session_broker_service::WatchStatus(
    grpc::CallbackServerContext* context, const pb::WatchStatusRequest* request) {
  auto who = gate_.identify(*context);
  if (!who) return new failed_write_reactor<pb::SessionEvent>(who.err());
  if (!request->session().empty()) {
    if (auto e = session::validate_session_name(request->session()); !e.ok()) {
      return new failed_write_reactor<pb::SessionEvent>(e);
    }
    if (auto e = gate_.require(*who, trust::permission::watch, request->session(), "WatchStatus"); !e.ok()) {
      return new failed_write_reactor<pb::SessionEvent>(e);
    }
  }
  auto slot = streams_.acquire(who->id());
  if (!slot) return new failed_write_reactor<pb::SessionEvent>(slot.err());
  auto visible = [this, who = std::move(who.value())](const std::string& name) {
    return gate_.may(who, trust::permission::watch, name);
  };
  return new watch_reactor(registry_, request->session(), std::move(visible), std::move(slot.value()));
}

error session_broker_service::authorize_connect(const trust::principal& who, const session::connect_request& request) {
  using trust::permission;
  // A malformed name is refused as such before it reaches a denial message or the audit log.
  if (auto e = session::validate_session_name(request.name); !e.ok()) return e;
  if (request.replace) {
    if (auto e = gate_.require(who, permission::admin, request.name, "Connect(replace)"); !e.ok()) return e;
  } else if (!gate_.may(who, permission::connect, request.name) && !gate_.may(who, permission::attach, request.name)) {
    // The same answer whether or not the session exists: no existence oracle.
    return gate_.require(who, permission::attach, request.name, "Connect");
  }
  auto existing = registry_.status(request.name);
  const bool live = existing && !existing->empty() && existing->front().state != session::session_state::closed &&
                    existing->front().state != session::session_state::failed;
  if (!request.replace) {
    if (auto e = gate_.require(who, live ? permission::attach : permission::connect, request.name, "Connect"); !e.ok()) {
      return e;
    }
  }
  auto spec = registry_.normalise_spec(request.spec, request.raw_port);
  if (!spec) return spec.err();  // the registry would refuse it the same way
  return gate_.check_spec(who, request.name, spec.value(), request.replace || !live, "Connect");
}

}  // namespace mailbroker::daemon
