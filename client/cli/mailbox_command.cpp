// `mailbroker folders` / `mailbroker messages`: look into a session's mailbox through
// the daemon (the Mailbox service), with a lease from `connect`.
#include <iomanip>
#include <iostream>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"

namespace mailbroker::cli {
namespace {

constexpr auto mailbox_timeout = std::chrono::seconds(30);

std::string first_address(const google::protobuf::RepeatedPtrField<pb::Address>& list) {
  return list.empty() ? std::string() : format_address(list.Get(0));
}

}  // namespace

int run_folders(const invocation& inv) {
  auto args = positionals(inv, 1, 1, "exactly one LEASE_ID");
  if (!args) return exit_usage;
  daemon_link link(inv.globals);
  auto stub = pb::Mailbox::NewStub(link.channel);
  pb::ListFoldersRequest request;
  request.set_lease_id((*args)[0]);
  request.set_pattern(inv.args.value("--pattern").value_or(""));
  request.set_regex(inv.args.value("--regex").value_or(""));
  pb::ListFoldersResponse response;
  grpc::ClientContext context;
  set_call_deadline(context, inv, mailbox_timeout);
  if (auto st = stub->ListFolders(&context, request, &response); !st.ok()) return link.fail(st);
  if (inv.globals.json) return print_json(response) ? exit_ok : exit_internal;
  for (const auto& f : response.folders()) std::cout << printable(f.name()) << '\n';
  return exit_ok;
}

int run_messages(const invocation& inv) {
  auto args = positionals(inv, 1, 1, "exactly one LEASE_ID");
  if (!args) return exit_usage;
  pb::ListMessagesRequest request;
  request.set_lease_id((*args)[0]);
  request.set_folder(inv.args.value("--folder").value_or("INBOX"));
  if (inv.args.has("--unread")) request.set_read(pb::READ_FILTER_UNREAD);
  request.set_from_contains(inv.args.value("--from").value_or(""));
  request.set_subject_contains(inv.args.value("--subject").value_or(""));
  if (auto limit = inv.args.value("--limit")) {
    auto n = parse_uint(*limit, 1000);
    if (!n) return usage_error("messages", "--limit: '" + *limit + "' is not a whole number in 1..1000");
    request.set_limit(*n);
  }
  daemon_link link(inv.globals);
  auto stub = pb::Mailbox::NewStub(link.channel);
  pb::ListMessagesResponse response;
  grpc::ClientContext context;
  set_call_deadline(context, inv, mailbox_timeout);
  if (auto st = stub->ListMessages(&context, request, &response); !st.ok()) return link.fail(st);
  if (inv.globals.json) return print_json(response) ? exit_ok : exit_internal;
  for (const auto& m : response.messages()) {
    std::cout << std::setw(6) << (m.uid() != 0 ? std::to_string(m.uid()) : printable(m.ref().item_id())) << (m.seen() ? "   " : " * ") << (m.has_attachments() ? "@ " : "  ")
              << format_time(m.date()) << "  " << first_address(m.from()) << "  " << printable(m.subject()) << '\n';
  }
  std::cout << response.messages_size() << " of " << response.total_matching() << " message(s)"
            << (response.next_after_uid() != 0 ? " (more: --after-uid is in the API)" : "") << '\n';
  return exit_ok;
}

}  // namespace mailbroker::cli
