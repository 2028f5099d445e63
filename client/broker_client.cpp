#include "client/broker_client.hpp"

#include "common/paths.hpp"

namespace mailbroker::client {
namespace {

void set_deadline(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace

std::string default_target() { return "unix:" + default_socket_path(); }

std::shared_ptr<grpc::Channel> make_channel(const std::string& target) {
  return grpc::CreateChannel(target.empty() ? default_target() : target, grpc::InsecureChannelCredentials());
}

broker_client::broker_client(std::shared_ptr<grpc::Channel> channel)
    : stub_(pb::SessionBroker::NewStub(std::move(channel))) {}

grpc::Status broker_client::connect(const pb::ConnectRequest& request, pb::ConnectResponse* response,
                                    std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  set_deadline(context, timeout);
  return stub_->Connect(&context, request, response);
}

grpc::Status broker_client::disconnect(const std::string& lease_id, bool force, pb::DisconnectResponse* response,
                                       std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  set_deadline(context, timeout);
  pb::DisconnectRequest request;
  request.set_lease_id(lease_id);
  request.set_force(force);
  return stub_->Disconnect(&context, request, response);
}

grpc::Status broker_client::renew(const std::string& lease_id, pb::RenewLeaseResponse* response,
                                  std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  set_deadline(context, timeout);
  pb::RenewLeaseRequest request;
  request.set_lease_id(lease_id);
  return stub_->RenewLease(&context, request, response);
}

grpc::Status broker_client::status(const std::string& session, pb::StatusResponse* response,
                                   std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  set_deadline(context, timeout);
  pb::StatusRequest request;
  request.set_session(session);
  return stub_->Status(&context, request, response);
}

grpc::Status broker_client::status(const pb::StatusRequest& request, pb::StatusResponse* response,
                                   std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  set_deadline(context, timeout);
  return stub_->Status(&context, request, response);
}

std::unique_ptr<grpc::ClientReader<pb::SessionEvent>> broker_client::watch(const std::string& session,
                                                                           grpc::ClientContext& context) {
  pb::WatchStatusRequest request;
  request.set_session(session);
  return stub_->WatchStatus(&context, request);
}

}  // namespace mailbroker::client
