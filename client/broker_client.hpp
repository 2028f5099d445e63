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

// How to reach a daemon's TCP listener (TLS, issue #10). The unix socket needs none of it:
// the daemon asks the kernel who is calling.
struct channel_security {
  std::string ca_file;     // CA of the daemon's certificate ("" = the system trust store)
  std::string cert_file;   // client certificate chain (mTLS identity), PEM
  std::string key_file;    // its key, PEM
  std::string token_file;  // a bearer token (first line), for clients without a certificate
  bool plaintext = false;  // only for an insecure-tcp daemon on loopback
};

// A channel to `target` with `security`. TCP targets use TLS unless `plaintext`;
// a token goes as "authorization: Bearer ..." (over TLS only). `max_receive_bytes` 0 =
// gRPC's default. Errors (nullptr + `error_r`): a file that cannot be read.
std::shared_ptr<grpc::Channel> make_channel(const std::string& target, const channel_security& security,
                                            std::string& error_r, int max_receive_bytes = 0);

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
  // SessionBroker.TestConnection: a failing server is an OK status with response->ok()
  // false; the status is an error only for the call itself (bad spec, permission).
  // The daemon answers a little before `timeout` and never takes more than 60 s.
  grpc::Status test_connection(const pb::TestConnectionRequest& request, pb::TestConnectionResponse* response,
                               std::chrono::milliseconds timeout = std::chrono::seconds(65));
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
