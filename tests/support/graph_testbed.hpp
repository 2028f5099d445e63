#pragma once
// The fake Microsoft Graph v1.0 mail API (scripts/testbed/graph.sh, scripts/testbed/graph/
// server.mjs) for integration tests: started in a fresh temporary state dir by the
// constructor (loopback, random ports, the testbed CA of that dir, users alice bob carol dave
// erin and the shared mailbox shared, all @testlab.test), stopped by the destructor. Control
// calls go to its plain-HTTP control port (never the Graph port). Not thread-safe: call from
// one thread at a time. Every call throws std::runtime_error (with curl's or the script's
// output) on failure, including a control-API error answer.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mailbroker::testing {

class graph_testbed {
 public:
  // `script_env` is prepended to the start command: the knobs at the top of
  // scripts/testbed/graph.sh, e.g. "MB_GRAPH_CONCURRENCY=2 " or
  // "MB_GRAPH_OAUTH2_INTROSPECT_URL=http://id:secret@127.0.0.1:PORT/token/introspection ".
  explicit graph_testbed(std::string script_env = {});
  ~graph_testbed();
  graph_testbed(const graph_testbed&) = delete;
  graph_testbed& operator=(const graph_testbed&) = delete;

  // https://127.0.0.1:PORT (no version: what GraphLeg.base_url takes; "/v1.0" is appended).
  std::string base_url() const { return env_.at("GRAPH_BASE_URL"); }
  // https://127.0.0.1:PORT/v1.0
  std::string graph_url() const { return env_.at("GRAPH_URL"); }
  std::uint16_t port() const { return static_cast<std::uint16_t>(std::stoi(env_.at("GRAPH_PORT"))); }
  // http://127.0.0.1:PORT/_control
  std::string control_url() const { return env_.at("CONTROL_URL"); }
  // PEM CA that signed the server certificate (localhost, 127.0.0.1, ::1).
  std::string ca_file() const { return env_.at("CA_FILE"); }
  // "testlab.test": a user's address is user@testlab.test.
  std::string mail_domain() const { return env_.at("GRAPH_MAIL_DOMAIN"); }
  std::string address(const std::string& user) const { return user + "@" + mail_domain(); }
  // Requests in flight per app and mailbox before a 429, and that 429's Retry-After (s).
  int concurrency() const { return std::stoi(env_.at("GRAPH_CONCURRENCY")); }
  int retry_after_seconds() const { return std::stoi(env_.at("GRAPH_RETRY_AFTER")); }
  const std::string& env(const std::string& key) const { return env_.at(key); }
  const std::string& state_dir() const { return state_dir_; }
  std::string log_file() const { return env_.at("GRAPH_LOG"); }

  // Puts the RFC 5322 message in `file` into `folder` of `user` (alice, bob, ...). `folder`
  // is a path as the daemon names folders: "INBOX" (any case: the Inbox), "INBOX/Sub",
  // "Archive", "Sent Items", "Deleted Items", "Projects/2026"; missing folders are made
  // (control API). `received` (ISO 8601, e.g. "2026-11-26T09:00:00Z") sets
  // receivedDateTime, else now; `read` delivers it as read. Returns the control API's
  // JSON {"id", "folder_id", "conversation_id"}. The stored bytes are the file's, as is.
  nlohmann::json deliver(const std::string& user, const std::string& file, const std::string& folder = "INBOX",
                         const std::optional<std::string>& received = std::nullopt, bool read = false) const;
  // The id of `path` (as for deliver) in `user`'s mailbox, made if missing.
  std::string folder_id(const std::string& user, const std::string& path) const;
  // Makes a folder `name` under `parent_id` (an id or a well-known name, e.g. "inbox",
  // "msgfolderroot"); returns its id.
  std::string create_folder(const std::string& user, const std::string& name,
                            const std::string& parent_id = "msgfolderroot") const;

  // The fake's view of `user`'s mailbox: {"user", "seq", "folders": [{"id", "name",
  // "wellKnownName" (null for user folders), "parent", "path" (added here: "INBOX",
  // "INBOX/Sub", "Sent Items"; "" for the root), "messages": [{"id", "subject", "isRead",
  // "flag": {"flagStatus"}, "conversationId", "internetMessageId", "@odata.etag"}]}]}.
  nlohmann::json mailbox(const std::string& user) const;
  // The messages in Sent Items of `user` (what sendMail / reply / forward saved).
  std::vector<nlohmann::json> sent_items(const std::string& user) const;

  // Every recorded Graph request (JSON array, oldest first, at most 10000): "method",
  // "path" (e.g. "/v1.0/users/alice@testlab.test/messages"), "query" (decoded), "status",
  // "user" (who the token acts for), "ms", "error" (Graph error code) when failed,
  // "injected" (fail mode) when injected, "batch": [{"method", "path", "query", "status"}]
  // for $batch requests.
  nlohmann::json requests() const;
  // The numeric counters: requests, connections, throttled, introspections, batches,
  // batch_requests, sent, delivered, messages_listed, mime_bytes, delta_items,
  // injected_failures, unauthorized.
  std::map<std::string, long> counters() const;
  // Everything the counters call answers, nested objects included: "status" {code: n},
  // "max_in_flight" {user: n}, "in_flight" {client|user: n}, "settings".
  nlohmann::json counters_json() const;
  // The most requests `user`'s mailbox had in flight at once since the last reset (0: none).
  long max_in_flight(const std::string& user) const;

  // Every mailbox request is held `ms` before it is answered, inside its concurrency slot.
  void set_delay(int ms) const;
  // Per-mailbox concurrency and Retry-After (s) until the next reset.
  void set_limits(int concurrency, int retry_after_seconds) const;
  // The next `count` Graph requests (any mailbox, any client) fail: "html502" (an HTML 502
  // page), "truncated" (half a JSON body, then the connection is cut), "huge" (a JSON body
  // of `huge_bytes`, default 32 MiB, without Content-Length), "throttle" (a 429 with
  // Retry-After `retry_after_seconds`, default the fake's setting).
  void fail(const std::string& mode, int count = 1, std::optional<long> huge_bytes = std::nullopt,
            std::optional<int> retry_after_seconds = std::nullopt) const;
  // A static bearer token the fake accepts (no OAuth2 server involved): delegated for
  // `user`, or app-only with mint_app_token. `permissions` empty = Mail.Read,
  // Mail.ReadWrite and Mail.Send.
  std::string mint_token(const std::string& user, const std::vector<std::string>& permissions = {}) const;
  std::string mint_app_token(const std::vector<std::string>& permissions = {}) const;
  // GET https://.../v1.0`path_and_query` with `token` (a minted one): the body; throws on
  // an HTTP error. For reading what the daemon cannot show, e.g. a message's MIME.
  std::string graph_get(const std::string& token, const std::string& path_and_query) const;
  // Empties every mailbox and forgets requests, counters, injections, delay and limits.
  void reset() const;

 private:
  std::string control(const std::string& method, const std::string& path_and_query) const;

  std::string state_dir_;
  std::map<std::string, std::string> env_;
  bool running_ = false;
};

}  // namespace mailbroker::testing
