// Mailbox.GetMessageParts and GetAttachment: the message is read whole through the
// session queue (message_reader), parsed with GMime (mime/message_parts) and answered
// from memory.
#include <deque>
#include <mutex>

#include "daemon/mailbox_convert.hpp"
#include "daemon/mailbox_service.hpp"
#include "daemon/message_reader.hpp"
#include "mime/message_parts.hpp"

namespace mailbroker::daemon {
namespace {

void to_proto(const mime::mailbox_address& a, pb::Address* out) {
  out->set_name(a.name);
  out->set_address(a.address);
}

void to_proto(const mailbox::message_ref& ref, const std::string& raw, const mime::parsed_message& m,
              pb::MessageParts* out) {
  auto* s = out->mutable_summary();
  s->set_uid(ref.uid);
  daemon::to_proto(ref, s->mutable_ref());
  s->set_message_id(m.message_id);
  for (const auto& a : m.from) to_proto(a, s->add_from());
  for (const auto& a : m.to) to_proto(a, s->add_to());
  for (const auto& a : m.cc) to_proto(a, s->add_cc());
  s->set_subject(m.subject);
  if (m.date) daemon::to_proto(*m.date, s->mutable_date());
  s->set_size(raw.size());
  s->set_has_attachments(!m.attachments.empty());
  for (const auto& h : m.headers) {
    auto* header = out->add_headers();
    header->set_name(h.name);
    header->set_value(h.value);
  }
  out->set_text_body(m.text_body);
  out->set_html_body(m.html_body);
  for (const auto& a : m.attachments) {
    auto* info = out->add_attachments();
    info->set_part_id(a.part_id);
    info->set_filename(a.filename);
    info->set_content_type(a.content_type);
    info->set_size(a.size);
    info->set_content_id(a.content_id);
    info->set_is_inline(a.is_inline);
  }
  for (const auto& r : m.references) out->add_references(r);
  out->set_in_reply_to(m.in_reply_to);
}

// Streams chunks prepared in memory; deletes itself when gRPC is done with it.
class memory_stream_reactor final : public grpc::ServerWriteReactor<pb::MessageChunk> {
 public:
  // Called once the chunks (or the error) are known; from any thread.
  void deliver(result<std::deque<pb::MessageChunk>> chunks) {
    std::lock_guard lock(mutex_);
    if (done_) return;
    if (!chunks) return finish_locked(chunks.err());
    chunks_ = std::move(chunks.value());
    write_next_locked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mutex_);
    if (!ok) return finish_locked({errc::cancelled, "the client went away"});
    chunks_.pop_front();
    write_next_locked();
  }

  void OnDone() override {
    std::unique_lock lock(mutex_);
    done_ = true;
    if (!delivered_) return;  // the producer still holds us: release_producer() says it deletes
    lock.unlock();
    delete this;
  }

  // The producer drops its claim on the reactor; true when it must delete it.
  bool release_producer() {
    std::lock_guard lock(mutex_);
    delivered_ = true;
    return done_;
  }

 private:
  void write_next_locked() {
    if (chunks_.empty()) return finish_locked(error::none());
    StartWrite(&chunks_.front());
  }
  void finish_locked(const error& e) {
    if (finished_) return;
    finished_ = true;
    Finish(to_grpc_status(e));
  }

  std::mutex mutex_;
  std::deque<pb::MessageChunk> chunks_;
  bool finished_ = false;
  bool done_ = false;
  bool delivered_ = false;
};

}  // namespace

grpc::ServerUnaryReactor* mailbox_service::GetMessageParts(grpc::CallbackServerContext* context,
                                                           const pb::GetMessageRequest* request,
                                                           pb::MessageParts* response) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::read, "GetMessageParts"); !e.ok()) {
    return finish_unary(context, e);
  }
  auto* reactor = context->DefaultReactor();
  if (request->lease_id().empty()) {
    reactor->Finish(to_grpc_status({errc::invalid_argument, "lease_id is required (returned by Connect)"}));
    return reactor;
  }
  auto ref = ref_of(request->uid(), request->has_ref(), request->ref());
  if (!ref) {
    reactor->Finish(to_grpc_status(ref.err()));
    return reactor;
  }
  read_whole_message(registry_, request->lease_id(), request->folder(), ref.value(),
                     [reactor, response, ref = ref.value()](result<std::string> raw) {
                       if (!raw) return reactor->Finish(to_grpc_status(raw.err()));
                       auto parsed = mime::parse_message(raw.value());
                       if (!parsed) return reactor->Finish(to_grpc_status(parsed.err()));
                       to_proto(ref, raw.value(), parsed.value(), response);
                       reactor->Finish(grpc::Status::OK);
                     });
  return reactor;
}

grpc::ServerWriteReactor<pb::MessageChunk>* mailbox_service::GetAttachment(grpc::CallbackServerContext* context,
                                                                           const pb::GetAttachmentRequest* request) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::read, "GetAttachment"); !e.ok()) {
    return new failed_write_reactor<pb::MessageChunk>(e);
  }
  auto* reactor = new memory_stream_reactor();
  if (request->lease_id().empty() || request->part_id().empty()) {
    reactor->deliver(error{errc::invalid_argument, request->lease_id().empty()
                                                        ? "lease_id is required (returned by Connect)"
                                                        : "part_id is required (from GetMessageParts.attachments)"});
    if (reactor->release_producer()) delete reactor;
    return reactor;
  }
  auto ref = ref_of(request->uid(), request->has_ref(), request->ref());
  if (!ref) {
    reactor->deliver(ref.err());
    if (reactor->release_producer()) delete reactor;
    return reactor;
  }
  read_whole_message(
      registry_, request->lease_id(), request->folder(), ref.value(),
      [reactor, part_id = request->part_id()](result<std::string> raw) {
        result<std::deque<pb::MessageChunk>> chunks = std::deque<pb::MessageChunk>{};
        if (!raw) {
          chunks = raw.err();
        } else {
          std::deque<pb::MessageChunk> out;
          std::uint64_t offset = 0;
          auto e = mime::extract_attachment(raw.value(), part_id, mailbox::max_chunk_bytes,
                                            [&out, &offset](std::string_view bytes) {
                                              pb::MessageChunk c;
                                              c.set_offset(offset);
                                              c.set_data(std::string(bytes));
                                              offset += bytes.size();
                                              out.push_back(std::move(c));
                                              return error::none();
                                            });
          for (auto& c : out) c.set_total_size(offset);
          if (e.ok()) {
            chunks = std::move(out);
          } else {
            chunks = e;
          }
        }
        reactor->deliver(std::move(chunks));
        if (reactor->release_producer()) delete reactor;
      });
  return reactor;
}

}  // namespace mailbroker::daemon
