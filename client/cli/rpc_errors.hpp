#pragma once
// Turns a failed call into a message on stderr and one of the CLI's exit codes.
#include <string_view>

#include <grpcpp/grpcpp.h>

namespace mailbroker::cli {

// "UNAUTHENTICATED", "NOT_FOUND" ...
std::string_view code_name(grpc::StatusCode code);

// Prints `mailbroker: CODE: message` (or, when the daemon was never reached, which
// target failed and how to start mailbrokerd) and returns the exit code.
// `channel` is the one the call used: its state tells a dead daemon from a daemon
// that answered UNAVAILABLE because the *mail server* is down.
int report_rpc_failure(const grpc::Status& status, grpc::Channel& channel, std::string_view target);

}  // namespace mailbroker::cli
