#pragma once
// A small synchronous C++ client for mailbrokerd, used by the CLI, the tests and the
// benchmarks. Bots in other languages use the .proto directly.
#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "mailbroker/v1/session_broker.grpc.pb.h"

namespace mailbroker::client {

namespace pb = ::mailbroker::v1;

// "unix:" + the daemon's default socket path.
std::string default_target();

// A channel to `target` ("unix:/path", "unix:///path" or "host:port"; empty =
// default_target()). Insecure credentials: the unix socket's permissions are the guard.
std::shared_ptr<grpc::Channel> make_channel(const std::string& target);

class broker_client {
 public:
  explicit broker_client(std::shared_ptr<grpc::Channel> channel);

  // Each call is bounded by `timeout` (the gRPC deadline the daemon sees).
  grpc::Status connect(const pb::ConnectRequest& request, pb::ConnectResponse* response,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));
  grpc::Status disconnect(const std::string& lease_id, bool force, pb::DisconnectResponse* response,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
  grpc::Status renew(const std::string& lease_id, pb::RenewLeaseResponse* response,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // One session, or the first page of all (see status(request) to filter and page).
  grpc::Status status(const std::string& session, pb::StatusResponse* response,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  grpc::Status status(const pb::StatusRequest& request, pb::StatusResponse* response,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Opens the event stream; read with reader->Read(&event) until it returns false,
  // then reader->Finish(). Cancel with context.TryCancel().
  std::unique_ptr<grpc::ClientReader<pb::SessionEvent>> watch(const std::string& session,
                                                              grpc::ClientContext& context);

  pb::SessionBroker::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<pb::SessionBroker::Stub> stub_;
};

}  // namespace mailbroker::client
