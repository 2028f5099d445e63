#pragma once
// The audit log: one JSON line per decision that matters — connect, attach, force,
// replace, mutations, sends, vault changes, every denial — with who, what, which session
// and the outcome. Never a secret (specs are not written; secret references only by
// name). A file of its own (mode 0600), separate from the operational log.
//
// Line format (one object per line, keys in this order):
//   {"time":"2026-12-06T10:00:00.123Z","principal":"uid:1000","pid":4242,
//    "call":"Connect","session":"bots-1","permission":"connect","outcome":"allowed",
//    "detail":"created"}
// outcome is "allowed", "denied" (PERMISSION_DENIED / UNAUTHENTICATED) or "failed"
// (an allowed call that failed later: detail holds the error code).
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "trust/principal.hpp"

namespace mailbroker::daemon {

class audit_log {
 public:
  // "" = no audit log; "-" = the operational log (logger "audit"); else a file path,
  // appended to (created 0600). Errors: failed_precondition when the file cannot open.
  static result<std::unique_ptr<audit_log>> open(const std::string& path);

  void record(const trust::principal& who, std::string_view call, std::string_view session,
              std::string_view permission, std::string_view outcome, std::string_view detail = {});

 private:
  audit_log() = default;
  std::mutex mutex_;
  int fd_ = -1;  // -1: to spdlog
 public:
  ~audit_log();
};

}  // namespace mailbroker::daemon
