#include "daemon/message_reader.hpp"

#include <memory>

#include "daemon/mailbox_convert.hpp"
#include "mailbox/backend.hpp"

namespace mailbroker::daemon {
namespace {

struct read_state : std::enable_shared_from_this<read_state> {
  session::session_registry& registry;
  std::string lease_id, folder;
  mailbox::message_ref ref;
  std::function<void(result<std::string>)> done;
  std::string data;

  read_state(session::session_registry& r, std::string lease, std::string f, mailbox::message_ref m,
             std::function<void(result<std::string>)> d)
      : registry(r), lease_id(std::move(lease)), folder(std::move(f)), ref(std::move(m)), done(std::move(d)) {}

  void next() {
    auto e = registry.enqueue(lease_id, [self = shared_from_this()](session::connection_context* ctx,
                                                                      error why_not) -> awaitable<void> {
      if (ctx == nullptr) {
        self->done(why_not);
        co_return;
      }
      co_await self->step(*ctx);
    }, reads_in(folder));
    if (!e.ok()) done(e);
  }

  awaitable<void> step(session::connection_context& ctx) {
    const auto& mailbox = mailbox::backend_of(ctx);
    if (!mailbox.partial_reads()) {
      auto raw = co_await mailbox.read_whole(ctx, folder, ref, mailbox::max_whole_message_bytes);
      if (!raw) {
        done(raw.err());
      } else {
        done(std::move(raw.value()));
      }
      co_return;
    }
    auto c = co_await mailbox.read_chunk(ctx, folder, ref, data.size(), mailbox::max_chunk_bytes);
    if (!c) {
      done(c.err());
      co_return;
    }
    if (c->total_size > mailbox::max_whole_message_bytes) {
      done(error{errc::failed_precondition,
                 "the message is " + std::to_string(c->total_size) + " bytes; at most " +
                     std::to_string(mailbox::max_whole_message_bytes) +
                     " can be parsed (GetMessage streams the raw bytes of any size)"});
      co_return;
    }
    data += c->data;
    if (c->data.empty() || data.size() >= c->total_size) {
      done(std::move(data));
      co_return;
    }
    next();
  }
};

}  // namespace

void read_whole_message(session::session_registry& registry, std::string lease_id, std::string folder,
                        mailbox::message_ref ref, std::function<void(result<std::string>)> done) {
  if (ref.empty()) {
    done(error{errc::invalid_argument, "uid (or ref) is required"});
    return;
  }
  auto state = std::make_shared<read_state>(registry, std::move(lease_id), std::move(folder), std::move(ref),
                                            std::move(done));
  state->next();
}

}  // namespace mailbroker::daemon
