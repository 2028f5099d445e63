#pragma once
// The subcommands: their option tables, and what they share (the daemon connection,
// output and error reporting).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message.h>

#include "client/broker_client.hpp"
#include "mailbroker/v1/mailbox.pb.h"
#include "client/cli/args.hpp"

namespace mailbroker::cli {

struct global_options {
  std::string target;  // resolved: --target, else $MAILBROKER_TARGET, else default_target()
  bool json = false;
  std::optional<std::chrono::milliseconds> timeout;  // --timeout; commands pick their default
  client::channel_security security;  // --daemon-ca-file, --cert, --key, --token-file, --plaintext
};

struct invocation {
  global_options globals;
  parsed_args args;
};

struct command {
  std::string_view name;
  std::string_view summary;  // one line for the global --help
  option_table options;
  int (*run)(const invocation&);
};

std::span<const command> all_commands();
const command* find_command(std::string_view name);

int run_connect(const invocation& inv);
int run_test(const invocation& inv);
int run_disconnect(const invocation& inv);
int run_renew(const invocation& inv);
int run_status(const invocation& inv);
int run_watch(const invocation& inv);
int run_authorize(const invocation& inv);
int run_vault(const invocation& inv);
int run_folders(const invocation& inv);
int run_messages(const invocation& inv);
int run_show(const invocation& inv);
int run_save_attachments(const invocation& inv);
int run_watch_mail(const invocation& inv);
int run_send(const invocation& inv);
int run_reply(const invocation& inv);
int run_forward(const invocation& inv);

// ------------------------------------------------------------ shared by the commands

// One channel per invocation; kept next to the client so a failure can be classified
// by the channel's state (see rpc_errors.hpp).
struct daemon_link {
  std::string target;
  std::shared_ptr<grpc::Channel> channel;
  client::broker_client client;

  explicit daemon_link(const global_options& globals);
  int fail(const grpc::Status& status) const;
};

// The ConnectRequest the connect flags describe (shared by `connect` and `test`, which
// take the same flags); an exit code after reporting a usage error. Reads password
// sources last, so a typo elsewhere never costs a typed password.
std::optional<int> build_connect_request(const invocation& inv, client::pb::ConnectRequest& request);

// Prints `mailbroker: <message>` and the hint to --help; returns the usage exit code.
int usage_error(std::string_view command, std::string_view message);

// The positional arguments of `inv`, checked against [min, max]; nullopt after
// reporting a usage error. `names` is how the help calls them ("LEASE_ID").
std::optional<std::vector<std::string>> positionals(const invocation& inv, std::size_t min, std::size_t max,
                                                    std::string_view names);

// Writes `message` as one JSON line; false (after a message on stderr) if it cannot.
bool print_json(const google::protobuf::Message& message);

// Sets the call's deadline: --timeout, else `fallback`.
void set_call_deadline(grpc::ClientContext& context, const invocation& inv, std::chrono::milliseconds fallback);

// A message named on the command line: a uid (digits) or an EWS item id, as `messages` prints them.
std::optional<::mailbroker::v1::MessageRef> message_argument(const invocation& inv, const std::string& text);

}  // namespace mailbroker::cli
