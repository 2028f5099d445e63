#pragma once
// What mailbox operations return: folders, message summaries and pages. Plain structs
// with no dependencies, so the session's message cache can hold them too.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mailbroker::mailbox {

using time_point = std::chrono::system_clock::time_point;

struct folder {
  std::string name;
  std::string delimiter;
  std::vector<std::string> attributes;
};

struct address {
  std::string name;     // decoded to UTF-8
  std::string address;  // local@domain
};

// A message, named the way its protocol names it: IMAP and POP3 by uid (meaningful with
// uid_validity), EWS and Graph by an opaque item id (EWS adds a change key, which the
// server checks on changes). An item id changes when the item moves.
struct message_ref {
  std::uint32_t uid = 0;
  std::uint32_t uid_validity = 0;  // 0: not checked
  std::string item_id;
  std::string change_key;

  bool is_item() const { return !item_id.empty(); }
  bool empty() const { return uid == 0 && item_id.empty(); }
};

struct message_summary {
  std::uint32_t uid = 0;           // IMAP / POP3; 0 for item-id protocols
  std::string item_id;             // EWS / Graph; "" for IMAP / POP3
  std::string change_key;          // EWS
  std::string message_id;
  std::vector<address> from, to, cc;
  std::string subject;  // decoded to UTF-8
  std::optional<time_point> date, internal_date;
  std::uint64_t size = 0;
  std::vector<std::string> flags;
  bool seen = false;
  bool has_attachments = false;
  // The server's description could not be fully read (IMAP: ENVELOPE, BODYSTRUCTURE or
  // INTERNALDATE nested too deeply or malformed): addresses, subject, dates and
  // has_attachments may be empty or partial; uid, size and flags are exact.
  bool summary_incomplete = false;
  std::string unique_id;  // POP3: the UIDL
};

struct message_page {
  std::vector<message_summary> messages;
  std::uint32_t uid_validity = 0;
  std::uint32_t next_after_uid = 0;   // oldest first: 0 when there is no further page
  std::uint32_t next_before_uid = 0;  // newest first: 0 when there is no further page
  std::uint32_t total_matching = 0;
  // Item-id protocols (EWS, Graph) page by an opaque token instead of uids: pass it back
  // as list_query::page_token; "" when there is no further page.
  std::string next_page_token;
};

// What a watch reports (Mailbox.WatchMessages).
struct watch_event {
  enum class kind { watching, new_message };
  kind type = kind::watching;
  std::uint32_t uid_validity = 0;
  std::uint32_t last_uid = 0;  // watching: uids above it will be reported (IMAP / POP3)
  std::string mode;            // watching: "IDLE", "POLL", "POP3_POLL" or "EWS_PULL"
  message_summary message;     // new_message
};

}  // namespace mailbroker::mailbox
