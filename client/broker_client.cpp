#include "client/broker_client.hpp"

#include <fstream>
#include <sstream>

#include "common/paths.hpp"

namespace mailbroker::client {
namespace {

void set_deadline(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}

}  // namespace

std::shared_ptr<grpc::Channel> make_channel(const std::string& target, const channel_security& security,
                                            std::string& error_r, int max_receive_bytes) {
  const std::string t = target.empty() ? default_target() : target;
  grpc::ChannelArguments args;
  if (max_receive_bytes > 0) args.SetMaxReceiveMessageSize(max_receive_bytes);
  if (t.rfind("unix:", 0) == 0 || security.plaintext) {
    return grpc::CreateCustomChannel(t, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions tls;
  if (!security.ca_file.empty() && !read_file(security.ca_file, tls.pem_root_certs)) {
    error_r = "cannot read the CA file " + security.ca_file;
    return nullptr;
  }
  if (security.cert_file.empty() != security.key_file.empty()) {
    error_r = "a client certificate needs both --cert and --key";
    return nullptr;
  }
  if (!security.cert_file.empty() && (!read_file(security.cert_file, tls.pem_cert_chain) ||
                                      !read_file(security.key_file, tls.pem_private_key))) {
    error_r = "cannot read the client certificate " + security.cert_file + " or its key " + security.key_file;
    return nullptr;
  }
  auto credentials = grpc::SslCredentials(tls);
  if (!security.token_file.empty()) {
    std::string token;
    if (!read_file(security.token_file, token)) {
      error_r = "cannot read the token file " + security.token_file;
      return nullptr;
    }
    token = token.substr(0, token.find_first_of("\r\n"));
    credentials = grpc::CompositeChannelCredentials(credentials, grpc::AccessTokenCredentials(token));
  }
  return grpc::CreateCustomChannel(t, credentials, args);
}

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

grpc::Status broker_client::test_connection(const pb::TestConnectionRequest& request,
                                            pb::TestConnectionResponse* response, std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  set_deadline(context, timeout);
  return stub_->TestConnection(&context, request, response);
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
