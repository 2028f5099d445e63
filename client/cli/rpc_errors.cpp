#include "client/cli/rpc_errors.hpp"

#include <iostream>
#include <string>

#include "client/broker_client.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/printable.hpp"

namespace mailbroker::cli {
namespace {

// UNAVAILABLE means two different things here: the daemon itself cannot be reached
// (no socket, nothing listening), or the daemon answered that the mail server cannot
// be reached. The daemon's own messages never use gRPC's transport wording, and after
// a transport failure the channel is not READY, whereas a channel that just carried an
// answer is.
bool daemon_unreachable(const grpc::Status& status, grpc::Channel& channel) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
  const std::string& msg = status.error_message();
  if (msg.find("failed to connect to all addresses") != std::string::npos) return true;
  return channel.GetState(false) != GRPC_CHANNEL_READY;
}

// The command that would start a daemon on `target`, so the hint can be pasted as is.
std::string start_command(std::string_view target) {
  if (target == client::default_target()) return "mailbrokerd";
  if (target.starts_with("unix:")) {
    std::string_view path = target.substr(5);
    if (path.starts_with("//")) path.remove_prefix(2);  // unix:///abs/path
    return "mailbrokerd --socket " + std::string(path);
  }
  return "mailbrokerd --listen " + std::string(target);
}

}  // namespace

std::string_view code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::DO_NOT_USE: break;
  }
  return "UNKNOWN";
}

int report_rpc_failure(const grpc::Status& status, grpc::Channel& channel, std::string_view target) {
  if (daemon_unreachable(status, channel)) {
    std::cerr << "mailbroker: mailbrokerd at " << target << " is not reachable: " << printable(status.error_message())
              << "\n  Is mailbrokerd running? Start it with `" << start_command(target)
              << "`, or point the CLI at a running one with --target or MAILBROKER_TARGET.\n";
    return exit_unreachable;
  }
  std::cerr << "mailbroker: " << code_name(status.error_code()) << ": " << printable(status.error_message()) << '\n';
  return status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? exit_deadline : exit_rpc_error;
}

}  // namespace mailbroker::cli
