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

struct message_summary {
  std::uint32_t uid = 0;
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
};

}  // namespace mailbroker::mailbox
