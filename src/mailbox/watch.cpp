#include "mailbox/watch.hpp"

#include "session/session_metrics.hpp"

namespace mailbroker::mailbox {

awaitable<error> folder_watch::poll(session::connection_context& ctx) {
  co_return co_await backend_of(ctx).poll_watch(ctx, folder_, cursor_, [this](watch_event ev) {
    session::metrics_hooks::watch_event(ev.type == watch_event::kind::new_message);
    emit_(std::move(ev));
  });
}

}  // namespace mailbroker::mailbox
