// `mailbroker test`: the connect flags, sent as SessionBroker.TestConnection; prints one
// line per step and the fix when a step failed.
#include <cstdio>
#include <iostream>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/printable.hpp"

namespace mailbroker::cli {

namespace pb = ::mailbroker::v1;

namespace {

// The daemon gives a test at most 60 s and answers a little before the deadline.
constexpr auto default_test_timeout = std::chrono::seconds(65);

// "ok   tls              12.3 ms  TLSv1.3, CN=..."
std::string step_line(const pb::TestStep& step) {
  char duration[32];
  std::snprintf(duration, sizeof duration, "%9.1f ms", static_cast<double>(step.duration_us()) / 1000.0);
  std::string name = printable(step.name());
  if (name.size() < 14) name.resize(14, ' ');
  std::string line = std::string(step.ok() ? "ok   " : "FAIL ") + name + duration;
  if (!step.detail().empty()) line += "  " + printable(step.detail());
  return line;
}

}  // namespace

int run_test(const invocation& inv) {
  pb::ConnectRequest connect;
  if (auto rc = build_connect_request(inv, connect)) return *rc;
  pb::TestConnectionRequest request;
  request.set_session(connect.session());
  request.mutable_spec()->Swap(connect.mutable_spec());
  connect.Clear();

  daemon_link link(inv.globals);
  pb::TestConnectionResponse response;
  const auto st = link.client.test_connection(request, &response, inv.globals.timeout.value_or(default_test_timeout));
  request.Clear();  // the spec may hold the password inline
  if (!st.ok()) return link.fail(st);

  // A failing server is the daemon's answer, not a call error: exit 3 like a Connect
  // the server refused, so scripts branch the same way.
  const int rc = response.ok() ? exit_ok : exit_rpc_error;
  if (inv.globals.json) return print_json(response) ? rc : exit_internal;
  for (const auto& step : response.steps()) {
    std::cout << step_line(step) << '\n';
    if (!step.ok() && !step.error().empty()) std::cout << "     error: " << printable(step.error()) << '\n';
  }
  if (response.ok()) {
    std::cout << "connection test passed\n";
  } else {
    std::cout << "connection test FAILED at " << printable(response.failed_step()) << '\n'
              << "fix: " << printable(response.fix()) << '\n';
  }
  return rc;
}

}  // namespace mailbroker::cli
