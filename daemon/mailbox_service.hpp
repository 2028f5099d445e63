#pragma once
// gRPC Mailbox service (callback API): each call becomes one operation on the session
// that holds its lease (session::enqueue: fair, bounded, on the strand) and finishes
// from there. GetMessage queues one operation per 1 MiB chunk, so other bots' calls
// interleave with a long download.
#include "daemon/access_gate.hpp"
#include "daemon/proto_convert.hpp"
#include "daemon/stream_budget.hpp"
#include "mailbox/watch_positions.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "session/session_registry.hpp"

namespace mailbroker::daemon {

class mailbox_service final : public pb::Mailbox::CallbackService {
 public:
  // Every call is identified and its lease checked by `gate` first (the lease must be the
  // caller's, or the caller an admin of its session, and the call's permission granted).
  // `positions` (nullptr: none, state-dir none) lets Graph watches resume after a restart.
  mailbox_service(session::session_registry& registry, access_gate& gate, stream_budget& streams,
                  std::shared_ptr<mailbox::watch_positions> positions = nullptr)
      : registry_(registry), gate_(gate), streams_(streams), positions_(std::move(positions)) {}

  grpc::ServerUnaryReactor* ListFolders(grpc::CallbackServerContext* context, const pb::ListFoldersRequest* request,
                                        pb::ListFoldersResponse* response) override;
  grpc::ServerUnaryReactor* ListMessages(grpc::CallbackServerContext* context, const pb::ListMessagesRequest* request,
                                         pb::ListMessagesResponse* response) override;
  grpc::ServerWriteReactor<pb::MessageChunk>* GetMessage(grpc::CallbackServerContext* context,
                                                         const pb::GetMessageRequest* request) override;
  grpc::ServerUnaryReactor* SetFlags(grpc::CallbackServerContext* context, const pb::SetFlagsRequest* request,
                                     pb::SetFlagsResponse* response) override;
  grpc::ServerUnaryReactor* MoveMessages(grpc::CallbackServerContext* context, const pb::MoveMessagesRequest* request,
                                         pb::MoveMessagesResponse* response) override;
  grpc::ServerUnaryReactor* CopyMessages(grpc::CallbackServerContext* context, const pb::MoveMessagesRequest* request,
                                         pb::MoveMessagesResponse* response) override;
  grpc::ServerUnaryReactor* DeleteMessages(grpc::CallbackServerContext* context,
                                           const pb::DeleteMessagesRequest* request,
                                           pb::DeleteMessagesResponse* response) override;

  grpc::ServerUnaryReactor* ClaimMessages(grpc::CallbackServerContext* context,
                                          const pb::ClaimMessagesRequest* request,
                                          pb::ClaimMessagesResponse* response) override;
  grpc::ServerUnaryReactor* AckMessage(grpc::CallbackServerContext* context, const pb::AckMessageRequest* request,
                                       pb::AckMessageResponse* response) override;
  grpc::ServerUnaryReactor* ReleaseMessages(grpc::CallbackServerContext* context,
                                            const pb::ReleaseMessagesRequest* request,
                                            pb::ReleaseMessagesResponse* response) override;

  // mailbox_parts_handlers.cpp
  grpc::ServerUnaryReactor* GetMessageParts(grpc::CallbackServerContext* context, const pb::GetMessageRequest* request,
                                            pb::MessageParts* response) override;
  grpc::ServerWriteReactor<pb::MessageChunk>* GetAttachment(grpc::CallbackServerContext* context,
                                                            const pb::GetAttachmentRequest* request) override;
  // mailbox_watch_reactor.cpp
  grpc::ServerWriteReactor<pb::MessageEvent>* WatchMessages(grpc::CallbackServerContext* context,
                                                            const pb::WatchMessagesRequest* request) override;
  // mailbox_send_handlers.cpp
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* context, const pb::SendMessageRequest* request,
                                        pb::SendMessageResponse* response) override;
  grpc::ServerUnaryReactor* ReplyToMessage(grpc::CallbackServerContext* context,
                                           const pb::ReplyToMessageRequest* request,
                                           pb::SendMessageResponse* response) override;
  grpc::ServerUnaryReactor* ForwardMessage(grpc::CallbackServerContext* context,
                                           const pb::ForwardMessageRequest* request,
                                           pb::SendMessageResponse* response) override;

 private:
  grpc::ServerUnaryReactor* move_or_copy(grpc::CallbackServerContext* context, const pb::MoveMessagesRequest* request,
                                         pb::MoveMessagesResponse* response, bool move);
  // SessionSpec.read_ahead_bytes: queues the read-ahead of `page` for `lease` (on the
  // strand, inside the ListMessages turn that listed it).
  void read_ahead(session::connection_context& ctx, asio::any_io_executor executor, const std::string& lease,
                  const std::string& folder, const mailbox::message_page& page);

  // Identifies the caller and checks `lease_id` against `what` (see access_gate::check_lease);
  // mutations and sends are audited. Errors: unauthenticated, invalid_argument,
  // not_found, permission_denied.
  error authorize(grpc::CallbackServerContext* context, const std::string& lease_id, trust::permission what,
                  std::string_view call);

  session::session_registry& registry_;
  access_gate& gate_;
  stream_budget& streams_;
  std::shared_ptr<mailbox::watch_positions> positions_;
};

}  // namespace mailbroker::daemon
