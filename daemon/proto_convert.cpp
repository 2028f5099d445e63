#include "daemon/proto_convert.hpp"

#include <algorithm>
#include <cstdint>

namespace mailbroker::daemon {
namespace {

grpc::StatusCode to_grpc_code(errc c) {
  switch (c) {
    case errc::ok: return grpc::StatusCode::OK;
    case errc::invalid_argument: return grpc::StatusCode::INVALID_ARGUMENT;
    case errc::failed_precondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case errc::unauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    case errc::unavailable: return grpc::StatusCode::UNAVAILABLE;
    case errc::deadline_exceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case errc::not_found: return grpc::StatusCode::NOT_FOUND;
    case errc::resource_exhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case errc::cancelled: return grpc::StatusCode::CANCELLED;
    case errc::unimplemented: return grpc::StatusCode::UNIMPLEMENTED;
    case errc::permission_denied: return grpc::StatusCode::PERMISSION_DENIED;
    case errc::aborted: return grpc::StatusCode::ABORTED;
    case errc::internal: return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::UNKNOWN;
}

pb::SessionState to_proto(session::session_state s) {
  using S = session::session_state;
  switch (s) {
    case S::connecting: return pb::SESSION_STATE_CONNECTING;
    case S::authenticating: return pb::SESSION_STATE_AUTHENTICATING;
    case S::ready: return pb::SESSION_STATE_READY;
    case S::backoff: return pb::SESSION_STATE_BACKOFF;
    case S::failed: return pb::SESSION_STATE_FAILED;
    case S::closed: return pb::SESSION_STATE_CLOSED;
  }
  return pb::SESSION_STATE_UNSPECIFIED;
}

pb::Protocol to_proto(session::protocol p) {
  switch (p) {
    case session::protocol::imap: return pb::PROTOCOL_IMAP;
    case session::protocol::pop3: return pb::PROTOCOL_POP3;
    case session::protocol::smtp: return pb::PROTOCOL_SMTP;
    case session::protocol::ews: return pb::PROTOCOL_EWS;
    case session::protocol::graph: return pb::PROTOCOL_GRAPH;
  }
  return pb::PROTOCOL_UNSPECIFIED;
}

pb::TlsMode to_proto(session::tls_mode m) {
  switch (m) {
    case session::tls_mode::implicit: return pb::TLS_MODE_IMPLICIT;
    case session::tls_mode::starttls: return pb::TLS_MODE_STARTTLS;
    case session::tls_mode::plain: return pb::TLS_MODE_PLAIN;
  }
  return pb::TLS_MODE_UNSPECIFIED;
}

error invalid(std::string message) { return {errc::invalid_argument, std::move(message)}; }

}  // namespace

const std::string_view implicit_grant_refusal =
    "spec.auth.oauth2_implicit: the implicit grant is not supported: it issues no refresh token, so the session "
    "would fail when its first access token expires (about an hour) and need a person at a browser again, and "
    "Microsoft and RFC 9700 advise against it. Use oauth2_authorization_code (authorization code + PKCE: a user "
    "authorizes once with `mailbroker authorize SESSION`, then the daemon refreshes tokens itself) or, for "
    "app-only access, oauth2_client_credentials";

grpc::Status to_grpc_status(const error& e) { return grpc::Status(to_grpc_code(e.code), e.message); }

void to_proto(session::system_time t, google::protobuf::Timestamp* out) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<std::int32_t>(ns % 1000000000));
}

secrets::secret_ref from_proto(const pb::SecretRef& ref) {
  using src = secrets::secret_ref::source;
  switch (ref.source_case()) {
    case pb::SecretRef::kInlineValue: return {src::inline_value, ref.inline_value()};
    case pb::SecretRef::kEnv: return {src::env, ref.env()};
    case pb::SecretRef::kFile: return {src::file, ref.file()};
    case pb::SecretRef::kVault: return {src::vault, ref.vault()};
    case pb::SecretRef::SOURCE_NOT_SET: break;
  }
  return {};
}

namespace {

// Provider and cloud of an OAuth2 message; `f` is the field prefix for errors.
template <class Message>
error oauth2_common_from_proto(const Message& m, const std::string& f, session::oauth2_settings& o) {
  switch (m.provider()) {
    case pb::OAUTH2_PROVIDER_UNSPECIFIED: o.provider = session::oauth2_provider::unspecified; break;
    case pb::OAUTH2_PROVIDER_MICROSOFT: o.provider = session::oauth2_provider::microsoft; break;
    case pb::OAUTH2_PROVIDER_GOOGLE: o.provider = session::oauth2_provider::google; break;
    case pb::OAUTH2_PROVIDER_YAHOO: o.provider = session::oauth2_provider::yahoo; break;
    case pb::OAUTH2_PROVIDER_MSN: o.provider = session::oauth2_provider::msn; break;
    case pb::OAUTH2_PROVIDER_CUSTOM: o.provider = session::oauth2_provider::custom; break;
    default: return invalid(f + "provider: unknown value");
  }
  switch (m.cloud()) {
    case pb::AZURE_CLOUD_UNSPECIFIED:
    case pb::AZURE_CLOUD_GLOBAL: o.cloud = session::azure_cloud::global; break;
    case pb::AZURE_CLOUD_US_GCC_HIGH: o.cloud = session::azure_cloud::us_gcc_high; break;
    default: return invalid(f + "cloud: unknown value");
  }
  o.tenant_id = m.tenant_id();
  o.client_id = m.client_id();
  o.token_url = m.token_url();
  o.token_ca_file = m.token_ca_file();
  for (const auto& scope : m.scopes()) o.scopes.push_back(scope);
  o.client_secret = from_proto(m.client_secret());
  return error::none();
}

result<session::tls_mode> tls_mode_from_proto(int mode, const std::string& field) {
  switch (mode) {
    case pb::TLS_MODE_UNSPECIFIED:
    case pb::TLS_MODE_IMPLICIT: return session::tls_mode::implicit;
    case pb::TLS_MODE_STARTTLS: return session::tls_mode::starttls;
    case pb::TLS_MODE_PLAIN: return session::tls_mode::plain;
    default: return invalid(field + ": unknown value " + std::to_string(mode));
  }
}

}  // namespace

error from_proto(const pb::AuthSpec& auth, session::session_spec& s) {
  switch (auth.method_case()) {
    case pb::AuthSpec::kBasic:
      s.auth = session::auth_method::basic;
      s.username = auth.basic().username();
      s.password = from_proto(auth.basic().password());
      break;
    case pb::AuthSpec::kOauth2ClientCredentials: {
      const auto& cc = auth.oauth2_client_credentials();
      s.auth = session::auth_method::oauth2_client_credentials;
      s.username = cc.username();
      if (auto e = oauth2_common_from_proto(cc, "spec.auth.oauth2_client_credentials.", s.oauth2); !e.ok()) return e;
      break;
    }
    case pb::AuthSpec::kOauth2AuthorizationCode: {
      const auto& ac = auth.oauth2_authorization_code();
      s.auth = session::auth_method::oauth2_authorization_code;
      s.username = ac.username();
      if (auto e = oauth2_common_from_proto(ac, "spec.auth.oauth2_authorization_code.", s.oauth2); !e.ok()) return e;
      s.oauth2.authorize_url = ac.authorize_url();
      s.oauth2.redirect_uri = ac.redirect_uri();
      s.oauth2.refresh_token = from_proto(ac.refresh_token());
      break;
    }
    case pb::AuthSpec::kOauth2Managed:
      s.auth = session::auth_method::oauth2_managed;
      s.username = auth.oauth2_managed().username();
      s.oauth2.connection = auth.oauth2_managed().connection();
      break;
    case pb::AuthSpec::kOauth2Password: {
      const auto& p = auth.oauth2_password();
      s.auth = session::auth_method::oauth2_password;
      s.username = p.username();
      s.password = from_proto(p.password());
      if (auto e = oauth2_common_from_proto(p, "spec.auth.oauth2_password.", s.oauth2); !e.ok()) return e;
      break;
    }
    case pb::AuthSpec::kOauth2Implicit:
      return invalid(std::string(implicit_grant_refusal));
    case pb::AuthSpec::METHOD_NOT_SET: break;
  }
  return error::none();
}

grpc::ServerUnaryReactor* finish_unary(grpc::CallbackServerContext* context, const error& e) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(to_grpc_status(e));
  return reactor;
}

result<session::connect_request> from_proto(const pb::ConnectRequest& request) {
  session::connect_request out;
  out.name = request.session();
  out.replace = request.replace();
  out.lease_ttl = std::chrono::seconds(request.lease_ttl_seconds());
  out.client_name = request.client_name().empty() ? "anonymous" : request.client_name().substr(0, 128);
  if (!request.has_spec()) return invalid("spec is required");
  const auto& spec = request.spec();
  auto& s = out.spec;

  switch (spec.protocol()) {
    case pb::PROTOCOL_UNSPECIFIED:
    case pb::PROTOCOL_IMAP: s.proto = session::protocol::imap; break;
    case pb::PROTOCOL_POP3: s.proto = session::protocol::pop3; break;
    case pb::PROTOCOL_SMTP: s.proto = session::protocol::smtp; break;
    case pb::PROTOCOL_EWS: s.proto = session::protocol::ews; break;
    case pb::PROTOCOL_GRAPH: s.proto = session::protocol::graph; break;
    default: return invalid("spec.protocol: unknown value " + std::to_string(spec.protocol()));
  }
  // EWS and Graph take host and port from their leg; `server` only adds TLS options.
  if (!spec.has_server() && spec.protocol() != pb::PROTOCOL_EWS && spec.protocol() != pb::PROTOCOL_GRAPH) {
    return invalid("spec.server is required (host, port, tls_mode)");
  }
  const auto& server = spec.server();
  s.host = server.host();
  out.raw_port = server.port();
  auto tls = tls_mode_from_proto(server.tls_mode(), "spec.server.tls_mode");
  if (!tls) return tls.err();
  s.tls = tls.value();
  s.ca_file = server.tls().ca_file();
  s.insecure_skip_verify = server.tls().insecure_skip_verify();
  s.tls_server_name = server.tls().server_name();
  s.allow_plaintext = server.allow_plaintext();

  if (auto e = from_proto(spec.auth(), s); !e.ok()) return e;
  if (spec.has_smtp()) {
    const auto& leg = spec.smtp();
    auto& l = s.smtp.emplace();
    const auto& ep = leg.server();
    l.host = ep.host();
    l.port = ep.port();
    auto leg_tls = tls_mode_from_proto(ep.tls_mode(), "spec.smtp.server.tls_mode");
    if (!leg_tls) return leg_tls.err();
    l.tls = leg_tls.value();
    l.ca_file = ep.tls().ca_file();
    l.insecure_skip_verify = ep.tls().insecure_skip_verify();
    l.tls_server_name = ep.tls().server_name();
    l.allow_plaintext = ep.allow_plaintext();
    if (leg.has_basic()) {
      l.own_credentials = true;
      l.username = leg.basic().username();
      l.password = from_proto(leg.basic().password());
    }
  }
  if (spec.has_ews()) {
    const auto& leg = spec.ews();
    auto& l = s.ews.emplace();
    l.url = leg.url();
    l.autodiscover_email = leg.autodiscover_email();
    l.version = leg.version();
    switch (leg.auth_scheme()) {
      case pb::EWS_AUTH_SCHEME_UNSPECIFIED: break;
      case pb::EWS_AUTH_SCHEME_NTLM: l.auth = session::ews_auth::ntlm; l.auth_given = true; break;
      case pb::EWS_AUTH_SCHEME_BASIC: l.auth = session::ews_auth::basic; l.auth_given = true; break;
      default: return invalid("spec.ews.auth_scheme: unknown value " + std::to_string(leg.auth_scheme()));
    }
    l.domain = leg.domain();
    l.mailbox = leg.mailbox();
    l.impersonate = leg.impersonate();
    l.timeout = std::chrono::seconds(leg.timeout_seconds());
  }
  if (spec.has_graph()) {
    const auto& leg = spec.graph();
    auto& l = s.graph.emplace();
    switch (leg.cloud()) {
      case pb::GRAPH_CLOUD_UNSPECIFIED: break;
      case pb::GRAPH_CLOUD_GLOBAL: l.cloud = session::graph_cloud::global; l.cloud_given = true; break;
      case pb::GRAPH_CLOUD_US_GCC_HIGH: l.cloud = session::graph_cloud::us_gcc_high; l.cloud_given = true; break;
      case pb::GRAPH_CLOUD_CUSTOM: l.cloud = session::graph_cloud::custom; l.cloud_given = true; break;
      default: return invalid("spec.graph.cloud: unknown value " + std::to_string(leg.cloud()));
    }
    l.base_url = leg.base_url();
    l.mailbox = leg.mailbox();
    l.timeout = std::chrono::seconds(leg.timeout_seconds());
    l.max_concurrent_requests = leg.max_concurrent_requests();
  }
  s.poll_interval = std::chrono::seconds(spec.poll_interval_seconds());
  s.max_connections = spec.max_connections();
  s.read_ahead_bytes = spec.read_ahead_bytes();
  s.keepalive = std::chrono::seconds(spec.keepalive_seconds());
  s.connect_timeout = std::chrono::milliseconds(spec.connect_timeout_ms());
  if (spec.has_linger_seconds()) s.linger = std::chrono::seconds(spec.linger_seconds());
  return out;
}

result<status_detail> status_detail_from_proto(int view) {
  switch (view) {
    case pb::STATUS_VIEW_UNSPECIFIED:
    case pb::STATUS_VIEW_FULL: return status_detail::full;
    case pb::STATUS_VIEW_BRIEF: return status_detail::brief;
    default:
      return invalid("view: unknown value " + std::to_string(view) +
                     " (STATUS_VIEW_FULL, STATUS_VIEW_BRIEF, or unset for FULL)");
  }
}

void to_proto(const session::status_snapshot& s, pb::SessionStatus* out, status_detail detail) {
  out->set_name(s.name);
  out->set_state(to_proto(s.state));
  to_proto(s.state_since, out->mutable_state_since());
  auto* server = out->mutable_server();
  server->set_host(s.host);
  server->set_port(s.port);
  server->set_protocol(to_proto(s.proto));
  server->set_tls_mode(to_proto(s.tls));
  server->set_tls_verified(s.tls_verified);
  if (detail == status_detail::full) {
    server->set_greeting(s.greeting);
    // One allocation for the list instead of regrowing it (~45 entries for Dovecot, and
    // Status of all converts them for every session).
    server->mutable_capabilities()->Reserve(static_cast<int>(s.capabilities.size()));
    for (const auto& cap : s.capabilities) server->add_capabilities(cap);
  }
  out->set_auth_mode(s.auth_mode);
  out->set_username(s.username);
  if (s.connected_since) to_proto(*s.connected_since, out->mutable_connected_since());
  out->set_reconnect_count(s.reconnect_count);
  if (s.last_error) {
    auto* e = out->mutable_last_error();
    e->set_code(std::string(errc_name(s.last_error->code)));
    e->set_message(s.last_error->message);
    to_proto(s.last_error->at, e->mutable_at());
  }
  out->set_lease_count(s.lease_count);
  auto* c = out->mutable_counters();
  c->set_commands_sent(s.counters.commands_sent);
  c->set_bytes_in(s.counters.bytes_in);
  c->set_bytes_out(s.counters.bytes_out);
  c->set_connects(s.counters.connects);
  out->set_close_reason(s.close_reason);
  if (s.linger_until) to_proto(*s.linger_until, out->mutable_linger_until());
  if (s.token) {
    auto* t = out->mutable_token();
    t->set_token_url(s.token->token_url);
    t->set_mechanism(s.token->mechanism);
    t->set_refresh_count(s.token->refresh_count);
    if (s.token->valid_until) to_proto(*s.token->valid_until, t->mutable_valid_until());
    if (s.token->last_refresh) to_proto(*s.token->last_refresh, t->mutable_last_refresh());
    if (s.token->last_refresh_error) {
      auto* e = t->mutable_last_refresh_error();
      e->set_code(std::string(errc_name(s.token->last_refresh_error->code)));
      e->set_message(s.token->last_refresh_error->message);
      to_proto(s.token->last_refresh_error->at, e->mutable_at());
    }
  }
  if (s.smtp) {
    auto* m = out->mutable_smtp();
    m->set_host(s.smtp->host);
    m->set_port(s.smtp->port);
    m->set_connected(s.smtp->connected);
    m->set_messages_sent(s.smtp->messages_sent);
    m->set_send_failures(s.smtp->send_failures);
    if (s.smtp->last_error) {
      auto* e = m->mutable_last_error();
      e->set_code(std::string(errc_name(s.smtp->last_error->code)));
      e->set_message(s.smtp->last_error->message);
      to_proto(s.smtp->last_error->at, e->mutable_at());
    }
  }
  out->set_watch_count(s.watch_count);
  if (s.waiting_for_login) {
    auto* w = out->mutable_login_wait();
    w->set_ahead(static_cast<std::uint32_t>(std::min<std::size_t>(s.waiting_for_login->ahead, UINT32_MAX)));
    to_proto(s.waiting_for_login->since, w->mutable_since());
  }
  if (s.imap) {
    auto* pool = out->mutable_imap();
    pool->set_open(s.imap->open);
    pool->set_max(s.imap->max);
    pool->set_in_flight(s.imap->in_flight);
    pool->set_extra_logins(s.imap->extra_logins);
    if (s.imap->last_extra_error) {
      auto* e = pool->mutable_last_extra_error();
      e->set_code(std::string(errc_name(s.imap->last_extra_error->code)));
      e->set_message(s.imap->last_extra_error->message);
      to_proto(s.imap->last_extra_error->at, e->mutable_at());
    }
  }
  if (s.http) {
    auto* h = out->mutable_http();
    h->set_connections(s.http->connections);
    h->set_max_in_flight(s.http->max_in_flight);
    h->set_in_flight(s.http->in_flight);
    h->set_waiting(s.http->waiting);
    h->set_requests(s.http->requests);
    h->set_throttled(s.http->throttled);
    const auto retry_ms = std::max<std::int64_t>(0, s.http->last_retry_after.count());
    h->set_last_retry_after_ms(static_cast<std::uint32_t>(std::min<std::int64_t>(retry_ms, UINT32_MAX)));
    if (s.http->throttled_until) to_proto(*s.http->throttled_until, h->mutable_throttled_until());
    h->set_mailbox(s.http->mailbox);
  }
}

void to_proto(const session::status_event& e, pb::SessionEvent* out) {
  to_proto(e.status, out->mutable_status());
  out->set_previous_state(to_proto(e.previous_state));
  out->set_reason(e.reason);
  to_proto(e.at, out->mutable_at());
}

}  // namespace mailbroker::daemon
