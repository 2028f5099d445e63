// `mailbroker watch`: prints the event stream until Ctrl-C, --until-state or --timeout.
#include <iostream>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"
#include "client/cli/interrupt_watcher.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"

namespace mailbroker::cli {

int run_watch(const invocation& inv) {
  auto args = positionals(inv, 0, 1, "at most one SESSION");
  if (!args) return exit_usage;
  const std::string session = args->empty() ? std::string() : (*args)[0];

  std::optional<pb::SessionState> until;
  if (auto text = inv.args.value("--until-state")) {
    until = parse_state(*text);
    if (!until) {
      return usage_error("watch", "--until-state: '" + *text +
                                      "' is not a state (CONNECTING, AUTHENTICATING, READY, BACKOFF, FAILED, CLOSED)");
    }
    if (session.empty()) return usage_error("watch", "--until-state needs a SESSION to watch");
  }

  interrupt_watcher interrupts;  // before the channel: see the class comment
  daemon_link link(inv.globals);
  grpc::ClientContext context;
  // No default deadline: watching is open-ended unless --timeout bounds it.
  if (inv.globals.timeout) context.set_deadline(std::chrono::system_clock::now() + *inv.globals.timeout);
  interrupts.cancel_on_signal(context);

  auto reader = link.client.watch(session, context);
  pb::SessionEvent event;
  bool reached = false;
  bool output_failed = false;
  while (!reached && !output_failed && reader->Read(&event)) {
    if (inv.globals.json) {
      output_failed = !print_json(event);
    } else {
      std::cout << event_line(event) << '\n' << std::flush;
    }
    output_failed = output_failed || !std::cout;
    reached = until && event.status().name() == session && event.status().state() == *until;
  }
  if (reached || output_failed) {
    context.TryCancel();
    while (reader->Read(&event)) {
    }
  }
  const grpc::Status status = reader->Finish();
  interrupts.stop();

  if (output_failed) return exit_internal;  // stdout is gone (e.g. `| head`); nobody to tell
  if (reached || interrupts.interrupted()) return exit_ok;
  if (status.ok()) return exit_ok;  // the daemon ended the stream
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && inv.globals.timeout) {
    std::cerr << "mailbroker: DEADLINE_EXCEEDED: --timeout passed";
    if (until) std::cerr << " before session " << session << " reached " << state_name(*until);
    std::cerr << '\n';
    return exit_deadline;
  }
  return link.fail(status);
}

int run_watch_mail(const invocation& inv) {
  auto args = positionals(inv, 1, 1, "exactly one LEASE_ID");
  if (!args) return exit_usage;
  pb::WatchMessagesRequest request;
  request.set_lease_id((*args)[0]);
  request.set_folder(inv.args.value("--folder").value_or("INBOX"));

  interrupt_watcher interrupts;  // before the channel: see the class comment
  daemon_link link(inv.globals);
  auto stub = pb::Mailbox::NewStub(link.channel);
  grpc::ClientContext context;
  if (inv.globals.timeout) context.set_deadline(std::chrono::system_clock::now() + *inv.globals.timeout);
  interrupts.cancel_on_signal(context);

  auto reader = stub->WatchMessages(&context, request);
  pb::MessageEvent event;
  bool output_failed = false;
  while (!output_failed && reader->Read(&event)) {
    if (inv.globals.json) {
      output_failed = !print_json(event);
    } else {
      std::cout << message_event_line(event, request.folder()) << '\n' << std::flush;
    }
    output_failed = output_failed || !std::cout;
  }
  if (output_failed) {
    context.TryCancel();
    while (reader->Read(&event)) {
    }
  }
  const grpc::Status status = reader->Finish();
  interrupts.stop();

  if (output_failed) return exit_internal;
  if (interrupts.interrupted() || status.ok()) return exit_ok;
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && inv.globals.timeout) {
    std::cerr << "mailbroker: DEADLINE_EXCEEDED: --timeout passed\n";
    return exit_deadline;
  }
  // The lease ending (NOT_FOUND) or the session closing (CANCELLED) end the stream too.
  return link.fail(status);
}

}  // namespace mailbroker::cli
