// SessionBroker.TestConnection: authorized like Connect (identify, `connect` on the name,
// the spec normalised, its secret destinations checked), then a connection test
// (session/connection_probe.hpp) on the daemon's io_context; the reply is the report.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "daemon/session_broker_service.hpp"
#include "session/connection_probe.hpp"

namespace mailbroker::daemon {
namespace {

void to_proto(const session::probe_report& report, pb::TestConnectionResponse* out) {
  out->set_ok(report.ok());
  for (const auto& s : report.steps) {
    auto* step = out->add_steps();
    step->set_name(s.name);
    step->set_ok(s.ok);
    step->set_duration_us(static_cast<std::uint64_t>(s.duration.count()));
    step->set_detail(s.detail);
    if (!s.ok) step->set_error(std::string(errc_name(s.failure.code)) + ": " + s.failure.message);
  }
  if (const auto* failed = report.failed()) {
    out->set_failed_step(failed->name);
    out->set_fix(failed->fix);
  }
}

// The test's time: the caller's deadline less a margin to send the reply in (a tenth,
// at most 1 s), and never more than max_test_duration.
result<std::chrono::milliseconds> test_budget(const grpc::CallbackServerContext& context) {
  using std::chrono::milliseconds;
  const auto left = std::chrono::duration_cast<milliseconds>(context.deadline() - std::chrono::system_clock::now());
  const auto budget = std::min(left - std::min(milliseconds(1000), left / 10),
                               milliseconds(session_broker_service::max_test_duration));
  if (budget.count() <= 0) {
    return error{errc::deadline_exceeded, "TestConnection: the call's deadline leaves no time for a test"};
  }
  return budget;
}

}  // namespace

result<session::session_spec> session_broker_service::authorize_test(const trust::principal& who,
                                                                     const pb::TestConnectionRequest& request) {
  // The same conversion and checks as Connect, creating (a test logs in like a new session).
  pb::ConnectRequest as_connect;
  as_connect.set_session(request.session());
  *as_connect.mutable_spec() = request.spec();
  auto converted = from_proto(as_connect);
  if (!converted) return converted.err();
  if (auto e = session::validate_session_name(converted->name); !e.ok()) return e;
  if (auto e = gate_.require(who, trust::permission::connect, converted->name, "TestConnection"); !e.ok()) return e;
  auto spec = registry_.normalise_spec(std::move(converted->spec), converted->raw_port);
  if (!spec) return spec.err();
  if (session::uses_autodiscover(spec.value())) {
    // The probe reports steps of one known server; Autodiscover's many requests (and their
    // run-time destination checks) belong to a session.
    return error{errc::unimplemented, "TestConnection: spec.ews.autodiscover_email: the connection test does not run "
                                      "Autodiscover; Connect runs it (Status shows the URL found as EwsUrl=...), then "
                                      "test with spec.ews.url set to that URL"};
  }
  if (auto e = gate_.check_spec(who, converted->name, spec.value(), /*creating=*/true, "TestConnection"); !e.ok()) {
    return e;
  }
  return spec;
}

grpc::ServerUnaryReactor* session_broker_service::TestConnection(grpc::CallbackServerContext* context,
                                                                 const pb::TestConnectionRequest* request,
                                                                 pb::TestConnectionResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto who = gate_.identify(*context);
  if (!who) return finish_unary_on(reactor, who.err());
  auto spec = authorize_test(*who, *request);
  if (!spec) return finish_unary_on(reactor, spec.err());
  auto budget = test_budget(*context);
  if (!budget) return finish_unary_on(reactor, budget.err());
  if (tests_running_.fetch_add(1) >= max_concurrent_tests) {
    tests_running_.fetch_sub(1);
    return finish_unary_on(reactor, error{errc::resource_exhausted,
                                          "TestConnection: " + std::to_string(max_concurrent_tests) +
                                              " connection tests are already running (the daemon's limit): retry "
                                              "in a moment"});
  }

  session::probe_settings settings;
  const auto& session_settings = registry_.settings().session;
  settings.credentials = {session_settings.tokens.get(), session_settings.vault.get()};
  settings.session_name = request->session();
  settings.imap_limits = session_settings.imap_limits;
  settings.command_timeout = session_settings.command_timeout;
  settings.deadline = std::chrono::steady_clock::now() + budget.value();
  // A strand of its own: the protocol clients run a reader beside the test.
  auto strand = asio::make_strand(registry_.executor());
  asio::co_spawn(strand, session::probe_connection(std::move(spec.value()), std::move(settings)),
                 [this, reactor, response, who = std::move(who.value()), name = request->session()](
                     std::exception_ptr e, session::probe_report report) {
                   tests_running_.fetch_sub(1);
                   if (e) {
                     spdlog::error("TestConnection '{}': the test ended by an exception", name);
                     reactor->Finish(to_grpc_status(error{errc::internal, "TestConnection: the test failed "
                                                                          "unexpectedly (see the daemon's log)"}));
                     return;
                   }
                   const auto* failed = report.failed();
                   gate_.note(who, "TestConnection", name, trust::permission::connect, "allowed",
                              failed ? "failed at " + failed->name + " (" +
                                           std::string(errc_name(failed->failure.code)) + ")"
                                     : std::string("ok"));
                   to_proto(report, response);
                   reactor->Finish(grpc::Status::OK);
                 });
  return reactor;
}

}  // namespace mailbroker::daemon
