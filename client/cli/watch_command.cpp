// `mailbroker watch`: prints the event stream until Ctrl-C, --until-state or --timeout.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <ctime>
#include <iostream>
#include <thread>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"

namespace mailbroker::cli {
namespace {

// Turns SIGINT/SIGTERM into a clean cancellation of the call. A signal handler may
// not touch gRPC, so the signals are blocked and a thread collects them with
// sigtimedwait. The mask is inherited, so this must exist before gRPC starts its own
// threads, i.e. before the channel is created.
class interrupt_watcher {
 public:
  interrupt_watcher() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  }
  interrupt_watcher(const interrupt_watcher&) = delete;
  interrupt_watcher& operator=(const interrupt_watcher&) = delete;

  // The mask stays blocked afterwards: the process is about to exit 0, and a second
  // Ctrl-C must not turn that into death by signal.
  ~interrupt_watcher() { stop(); }

  // Must run before the context given to cancel_on_signal() goes away.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  void cancel_on_signal(grpc::ClientContext& context) {
    thread_ = std::thread([this, &context] {
      // Polling keeps shutdown simple: the destructor only has to set a flag.
      const timespec tick{0, 100'000'000};
      while (!stop_) {
        const int sig = sigtimedwait(&signals_, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
          interrupted_ = true;
          context.TryCancel();
          return;
        }
      }
    });
  }

  bool interrupted() const { return interrupted_; }

 private:
  sigset_t signals_{};
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> interrupted_{false};
};

}  // namespace

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

}  // namespace mailbroker::cli
