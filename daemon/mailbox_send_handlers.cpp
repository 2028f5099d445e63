// Mailbox.SendMessage / ReplyToMessage / ForwardMessage: build the MIME message
// (mime/message_builder) and submit it over the session's SMTP leg — or through the
// mailbox itself when its backend submits (EWS CreateItem) — as one operation on the
// session queue. Replies and forwards read the original first (message_reader), unless
// the backend makes them on the server (EWS ReplyToItem / ForwardItem keep the
// conversation).
#include <memory>

#include "daemon/mailbox_convert.hpp"
#include "daemon/mailbox_service.hpp"
#include "daemon/message_reader.hpp"
#include "mailbox/backend.hpp"
#include "mime/message_builder.hpp"
#include "mime/message_parts.hpp"
#include "session/smtp_sender.hpp"

namespace mailbroker::daemon {
namespace {

using session::connection_context;

mime::mailbox_address from_proto(const pb::Address& a) { return {a.name(), a.address()}; }

std::vector<mime::mailbox_address> from_proto(const google::protobuf::RepeatedPtrField<pb::Address>& list) {
  std::vector<mime::mailbox_address> out;
  for (const auto& a : list) out.push_back(from_proto(a));
  return out;
}

std::vector<mime::attachment_data> from_proto(const google::protobuf::RepeatedPtrField<pb::OutgoingAttachment>& list) {
  std::vector<mime::attachment_data> out;
  for (const auto& a : list) {
    out.push_back({a.filename(), a.content_type().empty() ? "application/octet-stream" : a.content_type(), a.data()});
  }
  return out;
}

// The sender: as given, else the session's user name when it is an address (EWS: the
// impersonated or shared mailbox first — a Windows account name is no address).
result<mime::mailbox_address> sender_of(const connection_context& ctx, mime::mailbox_address from) {
  if (!from.address.empty()) return from;
  if (ctx.spec.ews && !ctx.spec.ews->impersonate.empty()) return mime::mailbox_address{from.name, ctx.spec.ews->impersonate};
  if (ctx.spec.ews && !ctx.spec.ews->mailbox.empty()) return mime::mailbox_address{from.name, ctx.spec.ews->mailbox};
  const auto& user = ctx.spec.smtp && ctx.spec.smtp->own_credentials ? ctx.spec.smtp->username : ctx.spec.username;
  if (user.find('@') == std::string::npos) {
    return error{errc::invalid_argument,
                 "from.address is required: the session's user name '" + user + "' is not an email address"};
  }
  from.address = user;
  return from;
}

error no_smtp_leg() {
  return {errc::failed_precondition,
          "this session has no SMTP leg: Connect with spec.smtp (server and, optionally, its own credentials) to send"};
}

bool can_send(const connection_context& ctx) {
  return ctx.smtp != nullptr || mailbox::backend_of(ctx).submits_itself();
}

// Submits `request` (from already resolved) and fills the response.
awaitable<error> submit(connection_context& ctx, mime::compose_request request, pb::SendMessageResponse* response) {
  auto built = mime::build_message(request, std::chrono::system_clock::now());
  if (!built) co_return built.err();
  if (ctx.smtp == nullptr) {  // the mailbox submits (and saves a copy in Sent Items)
    const auto size = built->raw.size();
    auto sent = co_await mailbox::backend_of(ctx).submit(ctx, std::move(built->raw));
    if (!sent) co_return sent.err();
    response->set_message_id(built->message_id);
    response->set_size(size);
    response->set_server_reply(sent->server_reply);
    co_return error::none();
  }
  smtp::envelope env;
  env.from = request.from.address;
  env.recipients = built->envelope_recipients;
  const auto size = built->raw.size();
  auto sent = co_await ctx.smtp->send(std::move(env), std::move(built->raw));
  if (!sent) co_return sent.err();
  response->set_message_id(built->message_id);
  response->set_size(size);
  response->set_server_reply(sent->data_text);
  for (const auto& r : sent->recipients) {
    auto* out = response->add_recipients();
    out->set_address(r.address);
    out->set_accepted(r.accepted);
    out->set_code(static_cast<std::uint32_t>(r.code));
    out->set_enhanced_code(r.enhanced_code);
    out->set_text(r.text);
  }
  co_return error::none();
}

// Reads the original message, lets `compose` turn it into a request, then sends that in
// a second turn on the queue.
using compose_fn = std::function<result<mime::compose_request>(const connection_context& ctx, const std::string& raw,
                                                               const mime::parsed_message& original)>;

void answer_original(session::session_registry& registry, grpc::ServerUnaryReactor* reactor, std::string lease_id,
                     std::string folder, mailbox::message_ref ref, compose_fn compose,
                     pb::SendMessageResponse* response) {
  read_whole_message(
      registry, lease_id, std::move(folder), std::move(ref),
      [&registry, reactor, lease_id, compose = std::move(compose), response](result<std::string> raw) {
        if (!raw) return reactor->Finish(to_grpc_status(raw.err()));
        auto original = mime::parse_message(raw.value());
        if (!original) return reactor->Finish(to_grpc_status(original.err()));
        auto shared_raw = std::make_shared<std::string>(std::move(raw.value()));
        auto shared_original = std::make_shared<mime::parsed_message>(std::move(original.value()));
        auto e = registry.enqueue(lease_id, [reactor, compose, response, shared_raw, shared_original](
                                                connection_context* ctx, error why_not) -> awaitable<void> {
          if (ctx == nullptr) {
            reactor->Finish(to_grpc_status(why_not));
            co_return;
          }
          if (!can_send(*ctx)) {
            reactor->Finish(to_grpc_status(no_smtp_leg()));
            co_return;
          }
          auto request = compose(*ctx, *shared_raw, *shared_original);
          if (!request) {
            reactor->Finish(to_grpc_status(request.err()));
            co_return;
          }
          error outcome = co_await submit(*ctx, std::move(request.value()), response);
          reactor->Finish(to_grpc_status(outcome));
        });
        if (!e.ok()) reactor->Finish(to_grpc_status(e));
      });
}

// Whether the lease's session makes replies and forwards on the server (EWS).
bool responds_itself(session::session_registry& registry, const std::string& lease_id) {
  auto s = registry.session_of_lease(lease_id);
  return s && mailbox::backend_for(s->spec().proto).responds_itself();
}

void respond_on_server(session::session_registry& registry, grpc::ServerUnaryReactor* reactor,
                       const std::string& lease_id, std::string folder, mailbox::message_ref ref,
                       mailbox::response_request made, pb::SendMessageResponse* response) {
  auto e = registry.enqueue(lease_id, [reactor, folder = std::move(folder), ref = std::move(ref),
                                       made = std::move(made), response](connection_context* ctx,
                                                                         error why_not) -> awaitable<void> {
    if (ctx == nullptr) {
      reactor->Finish(to_grpc_status(why_not));
      co_return;
    }
    auto sent = co_await mailbox::backend_of(*ctx).respond(*ctx, folder, ref, made);
    if (!sent) {
      reactor->Finish(to_grpc_status(sent.err()));
      co_return;
    }
    response->set_server_reply(sent->server_reply);
    reactor->Finish(grpc::Status::OK);
  });
  if (!e.ok()) reactor->Finish(to_grpc_status(e));
}

}  // namespace

grpc::ServerUnaryReactor* mailbox_service::SendMessage(grpc::CallbackServerContext* context,
                                                       const pb::SendMessageRequest* request,
                                                       pb::SendMessageResponse* response) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::send, "SendMessage"); !e.ok()) {
    return finish_unary(context, e);
  }
  mime::compose_request compose;
  compose.from = from_proto(request->from());
  compose.to = from_proto(request->to());
  compose.cc = from_proto(request->cc());
  compose.bcc = from_proto(request->bcc());
  compose.reply_to = from_proto(request->reply_to());
  compose.subject = request->subject();
  compose.text_body = request->text_body();
  compose.html_body = request->html_body();
  compose.attachments = from_proto(request->attachments());
  return run_unary(registry_, context, request->lease_id(),
                   [compose = std::move(compose), response](connection_context& ctx) -> awaitable<error> {
                     if (!can_send(ctx)) co_return no_smtp_leg();
                     auto from = sender_of(ctx, compose.from);
                     if (!from) co_return from.err();
                     mime::compose_request message = compose;
                     message.from = from.value();
                     co_return co_await submit(ctx, std::move(message), response);
                   });
}

grpc::ServerUnaryReactor* mailbox_service::ReplyToMessage(grpc::CallbackServerContext* context,
                                                          const pb::ReplyToMessageRequest* request,
                                                          pb::SendMessageResponse* response) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::send, "ReplyToMessage"); !e.ok()) {
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
  if (responds_itself(registry_, request->lease_id())) {
    mailbox::response_request made;
    made.type = request->reply_all() ? mailbox::response_request::kind::reply_all : mailbox::response_request::kind::reply;
    made.text_body = request->text_body();
    if (!request->html_body().empty() || request->attachments_size() > 0) {
      reactor->Finish(to_grpc_status({errc::invalid_argument,
                                      "html_body, attachments: this session's server makes the reply itself "
                                      "(keeping the conversation) from text_body only"}));
      return reactor;
    }
    respond_on_server(registry_, reactor, request->lease_id(), request->folder(), ref.value(), std::move(made), response);
    return reactor;
  }
  compose_fn compose = [from = from_proto(request->from()), reply_all = request->reply_all(),
                        text = request->text_body(), html = request->html_body(),
                        attachments = from_proto(request->attachments())](
                           const connection_context& ctx, const std::string& /*raw*/,
                           const mime::parsed_message& original) -> result<mime::compose_request> {
    auto me = sender_of(ctx, from);
    if (!me) return me.err();
    auto r = mime::make_reply(original, me.value(), reply_all, text, html);
    r.attachments = attachments;
    return r;
  };
  answer_original(registry_, reactor, request->lease_id(), request->folder(), ref.value(), std::move(compose),
                  response);
  return reactor;
}

grpc::ServerUnaryReactor* mailbox_service::ForwardMessage(grpc::CallbackServerContext* context,
                                                          const pb::ForwardMessageRequest* request,
                                                          pb::SendMessageResponse* response) {
  if (auto e = authorize(context, request->lease_id(), trust::permission::send, "ForwardMessage"); !e.ok()) {
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
  if (responds_itself(registry_, request->lease_id())) {
    mailbox::response_request made;
    made.type = mailbox::response_request::kind::forward;
    made.text_body = request->text_body();
    for (const auto& a : request->to()) made.to.push_back({a.name(), a.address()});
    for (const auto& a : request->cc()) made.cc.push_back({a.name(), a.address()});
    respond_on_server(registry_, reactor, request->lease_id(), request->folder(), ref.value(), std::move(made), response);
    return reactor;
  }
  compose_fn compose = [from = from_proto(request->from()), to = from_proto(request->to()),
                        cc = from_proto(request->cc()), text = request->text_body()](
                           const connection_context& ctx, const std::string& raw,
                           const mime::parsed_message& original) -> result<mime::compose_request> {
    auto me = sender_of(ctx, from);
    if (!me) return me.err();
    auto r = mime::make_forward(original, raw, me.value(), to, text);
    r.cc = cc;
    return r;
  };
  answer_original(registry_, reactor, request->lease_id(), request->folder(), ref.value(), std::move(compose),
                  response);
  return reactor;
}

}  // namespace mailbroker::daemon
