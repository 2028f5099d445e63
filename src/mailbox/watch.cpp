#include "mailbox/watch.hpp"

#include "mailbox/folder_paths.hpp"
#include "session/session_metrics.hpp"

namespace mailbroker::mailbox {

void watch_position_keeper::seed(watch_cursor& cursor) {
  if (seeded_) return;
  seeded_ = true;
  if (!positions_) return;
  auto saved = positions_->take_saved(session_, folder_);
  if (!saved || saved->empty()) return;
  cursor.delta_link = *saved;
  cursor.delta_news = true;
  cursor.armed = false;
  last_saved_ = std::move(*saved);
}

void watch_position_keeper::save_if_moved(const watch_cursor& cursor) {
  if (!positions_ || !cursor.delta_news || cursor.delta_link.empty() || cursor.delta_link == last_saved_) return;
  positions_->save(session_, folder_, cursor.delta_link);
  last_saved_ = cursor.delta_link;
}

folder_watch::folder_watch(std::string folder, std::function<void(watch_event)> emit,
                           std::shared_ptr<watch_positions> positions, std::string session)
    : folder_(folder.empty() ? "INBOX" : std::move(folder)),
      emit_(std::move(emit)),
      // "inbox" and "INBOX" are one folder: one saved position.
      keeper_(std::move(positions), std::move(session), folder_paths::canonical(folder_)) {}

awaitable<error> folder_watch::poll(session::connection_context& ctx) {
  const bool graph = ctx.spec.proto == session::protocol::graph;
  if (graph) keeper_.seed(cursor_);
  auto e = co_await backend_of(ctx).poll_watch(ctx, folder_, cursor_, [this](watch_event ev) {
    session::metrics_hooks::watch_event(ev.type == watch_event::kind::new_message);
    emit_(std::move(ev));
  });
  // Also after an error: pages read before it were emitted and the cursor moved past them.
  if (graph) keeper_.save_if_moved(cursor_);
  co_return e;
}

}  // namespace mailbroker::mailbox
