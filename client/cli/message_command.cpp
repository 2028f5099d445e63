// `mailbroker show` / `mailbroker save-attachments`: one message, parsed by the daemon
// (Mailbox.GetMessageParts), and its attachments (Mailbox.GetAttachment).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <google/protobuf/struct.pb.h>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"
#include "client/cli/mail_helpers.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"

namespace mailbroker::cli {
namespace {

constexpr auto parts_timeout = std::chrono::seconds(30);
// A download of up to 32 MiB through the session's one connection, shared with others.
constexpr auto download_timeout = std::chrono::seconds(120);
// Past this many " (N)" candidates something is wrong (or someone is playing games).
constexpr std::size_t max_name_candidates = 1000;

// Fetches the parsed message; an exit code after reporting a failure.
std::optional<int> get_parts(const invocation& inv, daemon_link& link, pb::Mailbox::Stub& stub,
                             const pb::GetMessageRequest& request, pb::MessageParts* parts) {
  grpc::ClientContext context;
  set_call_deadline(context, inv, parts_timeout);
  if (auto st = stub.GetMessageParts(&context, request, parts); !st.ok()) return link.fail(st);
  return std::nullopt;
}

void print_attachment_list(const pb::MessageParts& parts) {
  if (parts.attachments().empty()) return;
  std::cout << "\nAttachments:\n";
  for (const auto& a : parts.attachments()) {
    std::cout << "  " << printable(a.part_id()) << "  "
              << (a.filename().empty() ? std::string("(no name)") : printable(a.filename())) << "  "
              << printable(a.content_type()) << "  " << format_bytes(a.size()) << (a.is_inline() ? "  inline" : "")
              << '\n';
  }
}

// A file that did not exist before, opened for writing: "name", else "name (2)", ...
// O_EXCL makes "never overwrite" hold even against a file created meanwhile.
struct created_file {
  int fd = -1;
  std::filesystem::path path;
};

result<created_file> create_unique(const std::filesystem::path& dir, const std::string& name) {
  for (std::size_t n = 1; n <= max_name_candidates; ++n) {
    created_file out;
    out.path = dir / numbered_filename(name, n);
    out.fd = ::open(out.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out.fd >= 0) return out;
    if (errno != EEXIST) {
      return error{errc::failed_precondition, "cannot create " + out.path.string() + ": " + std::strerror(errno)};
    }
  }
  return error{errc::failed_precondition, "too many files named like " + (dir / name).string()};
}

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Streams one attachment into a new file in `dir`. The file is removed again when the
// download fails half-way, so what is left in DIR is always complete.
int save_one(const invocation& inv, daemon_link& link, pb::Mailbox::Stub& stub, const pb::GetMessageRequest& message,
             const pb::AttachmentInfo& info, const std::filesystem::path& dir) {
  auto file = create_unique(dir, safe_filename(info.filename(), info.part_id()));
  if (!file) {
    std::cerr << "mailbroker: " << file.err().message << '\n';
    return exit_internal;
  }
  pb::GetAttachmentRequest request;
  request.set_lease_id(message.lease_id());
  request.set_folder(message.folder());
  *request.mutable_ref() = message.ref();
  request.set_part_id(info.part_id());
  grpc::ClientContext context;
  set_call_deadline(context, inv, download_timeout);
  auto reader = stub.GetAttachment(&context, request);

  std::uint64_t written = 0;
  std::string local_error;
  pb::MessageChunk chunk;
  while (local_error.empty() && reader->Read(&chunk)) {
    if (chunk.offset() != written) {
      local_error = "the daemon sent a chunk at offset " + std::to_string(chunk.offset()) + ", expected " +
                    std::to_string(written);
    } else if (!write_all(file->fd, chunk.data())) {
      local_error = "cannot write " + file->path.string() + ": " + std::strerror(errno);
    }
    written += chunk.data().size();
  }
  if (!local_error.empty()) {
    context.TryCancel();
    while (reader->Read(&chunk)) {
    }
  }
  const grpc::Status status = reader->Finish();
  const bool closed = ::close(file->fd) == 0;
  if (local_error.empty() && !closed) local_error = "cannot write " + file->path.string() + ": " + std::strerror(errno);
  if (local_error.empty() && status.ok() && chunk.total_size() != 0 && written != chunk.total_size()) {
    local_error = "the attachment ended after " + std::to_string(written) + " of " +
                  std::to_string(chunk.total_size()) + " bytes";
  }
  if (!local_error.empty() || !status.ok()) {
    std::error_code ignored;
    std::filesystem::remove(file->path, ignored);
    if (!local_error.empty()) {
      std::cerr << "mailbroker: part " << info.part_id() << ": " << local_error << '\n';
      return exit_internal;
    }
    return link.fail(status);
  }

  if (inv.globals.json) {
    google::protobuf::Struct line;
    auto& fields = *line.mutable_fields();
    fields["part_id"].set_string_value(info.part_id());
    fields["filename"].set_string_value(info.filename());
    fields["content_type"].set_string_value(info.content_type());
    fields["path"].set_string_value(file->path.string());
    fields["size"].set_number_value(static_cast<double>(written));
    return print_json(line) ? exit_ok : exit_internal;
  }
  std::cout << file->path.string() << "  (" << format_bytes(written) << ")\n";
  return exit_ok;
}

}  // namespace

int run_show(const invocation& inv) {
  auto args = positionals(inv, 2, 2, "LEASE_ID MESSAGE");
  if (!args) return exit_usage;
  auto ref = message_argument(inv, (*args)[1]);
  if (!ref) return exit_usage;
  pb::GetMessageRequest request;
  request.set_lease_id((*args)[0]);
  request.set_folder(inv.args.value("--folder").value_or("INBOX"));
  *request.mutable_ref() = *ref;

  daemon_link link(inv.globals);
  auto stub = pb::Mailbox::NewStub(link.channel);
  pb::MessageParts parts;
  if (auto rc = get_parts(inv, link, *stub, request, &parts)) return *rc;
  if (inv.globals.json) return print_json(parts) ? exit_ok : exit_internal;

  const auto& s = parts.summary();
  std::cout << "From:    " << format_addresses(s.from()) << '\n';
  std::cout << "To:      " << format_addresses(s.to()) << '\n';
  if (!s.cc().empty()) std::cout << "Cc:      " << format_addresses(s.cc()) << '\n';
  std::cout << "Subject: " << printable(s.subject()) << '\n';
  std::cout << "Date:    " << (s.has_date() ? format_time(s.date()) : std::string("-")) << '\n';
  if (!parts.text_body().empty()) {
    std::cout << '\n' << printable(parts.text_body(), true);
    if (!parts.text_body().ends_with('\n')) std::cout << '\n';
  } else if (!parts.html_body().empty()) {
    // Shown as it is: rendering HTML is a browser's job, and the markup is the truth.
    std::cout << "\n[no text part; the HTML part follows]\n" << printable(parts.html_body(), true);
    if (!parts.html_body().ends_with('\n')) std::cout << '\n';
  } else {
    std::cout << "\n[no text or HTML body]\n";
  }
  print_attachment_list(parts);
  return exit_ok;
}

int run_save_attachments(const invocation& inv) {
  auto args = positionals(inv, 2, 2, "LEASE_ID MESSAGE");
  if (!args) return exit_usage;
  auto ref = message_argument(inv, (*args)[1]);
  if (!ref) return exit_usage;
  const auto dir_text = inv.args.value("--dir");
  if (!dir_text || dir_text->empty()) return usage_error("save-attachments", "save-attachments needs --dir DIR");
  const auto only_part = inv.args.value("--part");

  const std::filesystem::path dir(*dir_text);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir, ec)) {
    std::cerr << "mailbroker: --dir: " << *dir_text << " is not a directory I can create or use"
              << (ec ? ": " + ec.message() : std::string()) << '\n';
    return exit_usage;
  }

  pb::GetMessageRequest request;
  request.set_lease_id((*args)[0]);
  request.set_folder(inv.args.value("--folder").value_or("INBOX"));
  *request.mutable_ref() = *ref;
  daemon_link link(inv.globals);
  auto stub = pb::Mailbox::NewStub(link.channel);
  pb::MessageParts parts;
  if (auto rc = get_parts(inv, link, *stub, request, &parts)) return *rc;

  int rc = exit_ok;
  bool found = false;
  for (const auto& info : parts.attachments()) {
    if (only_part && info.part_id() != *only_part) continue;
    found = true;
    // Go on after a failed part: the others may still be wanted; the exit code tells.
    if (const int one = save_one(inv, link, *stub, request, info, dir); one != exit_ok && rc == exit_ok) rc = one;
  }
  if (only_part && !found) {
    // Not in the list (e.g. a body part): ask anyway, the daemon knows what it serves
    // and answers NOT_FOUND for a part that does not exist.
    pb::AttachmentInfo info;
    info.set_part_id(*only_part);
    return save_one(inv, link, *stub, request, info, dir);
  }
  if (!found && !inv.globals.json) std::cout << "no attachments\n";
  return rc;
}

}  // namespace mailbroker::cli
