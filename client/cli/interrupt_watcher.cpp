#include "client/cli/interrupt_watcher.hpp"

#include <pthread.h>

#include <ctime>

namespace mailbroker::cli {

interrupt_watcher::interrupt_watcher() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

void interrupt_watcher::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void interrupt_watcher::cancel_on_signal(grpc::ClientContext& context) {
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

}  // namespace mailbroker::cli
