#pragma once
// Ctrl-C for the streaming commands (watch, watch-mail): ends the call cleanly.
#include <signal.h>

#include <atomic>
#include <thread>

#include <grpcpp/grpcpp.h>

namespace mailbroker::cli {

// Turns SIGINT/SIGTERM into a clean cancellation of the call. A signal handler may
// not touch gRPC, so the signals are blocked and a thread collects them with
// sigtimedwait. The mask is inherited, so this must exist before gRPC starts its own
// threads, i.e. before the channel is created.
class interrupt_watcher {
 public:
  interrupt_watcher();
  interrupt_watcher(const interrupt_watcher&) = delete;
  interrupt_watcher& operator=(const interrupt_watcher&) = delete;

  // The mask stays blocked afterwards: the process is about to exit 0, and a second
  // Ctrl-C must not turn that into death by signal.
  ~interrupt_watcher() { stop(); }

  // Must run before the context given to cancel_on_signal() goes away.
  void stop();

  // Starts the thread that cancels `context` on SIGINT/SIGTERM.
  void cancel_on_signal(grpc::ClientContext& context);

  bool interrupted() const { return interrupted_; }

 private:
  sigset_t signals_{};
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> interrupted_{false};
};

}  // namespace mailbroker::cli
