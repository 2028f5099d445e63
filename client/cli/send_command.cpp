// `mailbroker send` / `reply` / `forward`: outgoing mail over the session's SMTP leg
// (Mailbox.SendMessage, ReplyToMessage, ForwardMessage). The daemon builds the MIME
// message; the CLI only gathers addresses, bodies and attachment bytes.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"
#include "client/cli/mail_helpers.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"

namespace mailbroker::cli {
namespace {

// The SMTP round trips plus the upload of up to 48 MiB.
constexpr auto send_timeout = std::chrono::seconds(60);
// The daemon takes requests up to 48 MiB; leave room for the rest of the request.
constexpr std::uintmax_t max_request_payload = 47ull * 1024 * 1024;

using address_list = google::protobuf::RepeatedPtrField<pb::Address>;

// Reads a whole file (or stdin for "-"); an error message naming the option otherwise.
result<std::string> read_input(std::string_view option, const std::string& path) {
  auto fail = [&](const std::string& why) {
    return error{errc::invalid_argument, std::string(option) + ": " + why};
  };
  if (path == "-") {
    std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) return fail("cannot read stdin");
    return data;
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return fail("cannot read " + path + ": " + ec.message());
  if (size > max_request_payload) return fail(path + " is larger than a request may carry (47 MiB)");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read " + path + ": " + std::strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return fail("cannot read " + path + ": " + std::strerror(errno));
  return data;
}

// Parses every value of `option` into `out`; an exit code after a usage error.
std::optional<int> add_addresses(const invocation& inv, std::string_view option, address_list* out) {
  for (const auto& text : inv.args.values(option)) {
    auto parsed = parse_address(text);
    if (!parsed) return usage_error(inv.args.command, std::string(option) + ": " + parsed.err().message);
    auto* a = out->Add();
    a->set_name(parsed->name);
    a->set_address(parsed->address);
  }
  return std::nullopt;
}

std::optional<int> fill_from(const invocation& inv, pb::Address* from) {
  auto text = inv.args.value("--from");
  if (!text) return std::nullopt;  // the daemon uses the session's user name
  auto parsed = parse_address(*text);
  if (!parsed) return usage_error(inv.args.command, "--from: " + parsed.err().message);
  from->set_name(parsed->name);
  from->set_address(parsed->address);
  return std::nullopt;
}

// --text TEXT or --text-file PATH (not both) into `text`, --html-file into `html`
// (when given; nullptr for commands without it).
std::optional<int> fill_bodies(const invocation& inv, std::string* text, std::string* html) {
  const auto inline_text = inv.args.value("--text");
  const auto text_file = inv.args.value("--text-file");
  if (inline_text && text_file) return usage_error(inv.args.command, "give --text or --text-file, not both");
  if (inline_text) *text = *inline_text;
  if (text_file) {
    auto data = read_input("--text-file", *text_file);
    if (!data) return usage_error(inv.args.command, data.err().message);
    *text = std::move(data.value());
  }
  if (html == nullptr) return std::nullopt;
  if (auto html_file = inv.args.value("--html-file")) {
    if (*html_file == "-" && text_file && *text_file == "-") {
      return usage_error(inv.args.command, "stdin can feed --text-file or --html-file, not both");
    }
    auto data = read_input("--html-file", *html_file);
    if (!data) return usage_error(inv.args.command, data.err().message);
    *html = std::move(data.value());
  }
  return std::nullopt;
}

// Every --attach PATH, named by its last path component, typed by its extension.
std::optional<int> add_attachments(const invocation& inv, std::size_t already,
                                   google::protobuf::RepeatedPtrField<pb::OutgoingAttachment>* out) {
  std::uintmax_t total = already;
  for (const auto& path : inv.args.values("--attach")) {
    auto data = read_input("--attach", path);
    if (!data) return usage_error(inv.args.command, data.err().message);
    total += data->size();
    if (total > max_request_payload) {
      return usage_error(inv.args.command, "--attach: the attachments add up to more than one request may carry "
                                           "(47 MiB); send them in several messages");
    }
    auto* a = out->Add();
    a->set_filename(std::filesystem::path(path).filename().string());
    a->set_content_type(guess_content_type(path));
    a->set_data(std::move(data.value()));
  }
  return std::nullopt;
}

// Prints the outcome; exit_partial when the server refused some recipient.
int report_sent(const invocation& inv, const pb::SendMessageResponse& response) {
  bool refused = false;
  for (const auto& r : response.recipients()) refused = refused || !r.accepted();
  if (inv.globals.json) {
    if (!print_json(response)) return exit_internal;
    return refused ? exit_partial : exit_ok;
  }
  std::cout << "sent " << response.message_id() << " (" << format_bytes(response.size()) << ")";
  if (!response.server_reply().empty()) std::cout << ": " << printable(response.server_reply());
  std::cout << '\n';
  for (const auto& r : response.recipients()) {
    std::cout << "  " << (r.accepted() ? "accepted " : "REFUSED  ") << printable(r.address()) << "  " << r.code();
    if (!r.enhanced_code().empty()) std::cout << ' ' << printable(r.enhanced_code());
    if (!r.text().empty()) std::cout << ' ' << printable(r.text());
    std::cout << '\n';
  }
  if (refused) std::cerr << "mailbroker: the server refused some recipients (exit " << exit_partial << ")\n";
  return refused ? exit_partial : exit_ok;
}

// Makes one of the three sending calls (`rpc` is the stub method) and reports it.
template <class Request>
int submit(const invocation& inv, const Request& request,
           grpc::Status (pb::Mailbox::Stub::*rpc)(grpc::ClientContext*, const Request&, pb::SendMessageResponse*)) {
  daemon_link link(inv.globals);
  auto stub = pb::Mailbox::NewStub(link.channel);
  grpc::ClientContext context;
  set_call_deadline(context, inv, send_timeout);
  pb::SendMessageResponse response;
  if (auto st = ((*stub).*rpc)(&context, request, &response); !st.ok()) return link.fail(st);
  return report_sent(inv, response);
}

}  // namespace

int run_send(const invocation& inv) {
  auto args = positionals(inv, 1, 1, "exactly one LEASE_ID");
  if (!args) return exit_usage;
  if (!inv.args.has("--to") && !inv.args.has("--cc") && !inv.args.has("--bcc")) {
    return usage_error("send", "send needs at least one recipient (--to, --cc or --bcc ADDR)");
  }
  const auto subject = inv.args.value("--subject");
  if (!subject) return usage_error("send", "send needs --subject TEXT (it may be \"\")");

  pb::SendMessageRequest request;
  request.set_lease_id((*args)[0]);
  request.set_subject(*subject);
  if (auto rc = add_addresses(inv, "--to", request.mutable_to())) return *rc;
  if (auto rc = add_addresses(inv, "--cc", request.mutable_cc())) return *rc;
  if (auto rc = add_addresses(inv, "--bcc", request.mutable_bcc())) return *rc;
  if (auto rc = add_addresses(inv, "--reply-to", request.mutable_reply_to())) return *rc;
  if (auto rc = fill_from(inv, request.mutable_from())) return *rc;
  if (auto rc = fill_bodies(inv, request.mutable_text_body(), request.mutable_html_body())) return *rc;
  if (auto rc = add_attachments(inv, request.text_body().size() + request.html_body().size(),
                                request.mutable_attachments())) {
    return *rc;
  }

  return submit(inv, request, &pb::Mailbox::Stub::SendMessage);
}

int run_reply(const invocation& inv) {
  auto args = positionals(inv, 2, 2, "LEASE_ID MESSAGE");
  if (!args) return exit_usage;
  auto ref = message_argument(inv, (*args)[1]);
  if (!ref) return exit_usage;

  pb::ReplyToMessageRequest request;
  request.set_lease_id((*args)[0]);
  request.set_folder(inv.args.value("--folder").value_or("INBOX"));
  *request.mutable_ref() = *ref;
  request.set_reply_all(inv.args.has("--all"));
  if (auto rc = fill_from(inv, request.mutable_from())) return *rc;
  if (auto rc = fill_bodies(inv, request.mutable_text_body(), request.mutable_html_body())) return *rc;
  if (auto rc = add_attachments(inv, request.text_body().size() + request.html_body().size(),
                                request.mutable_attachments())) {
    return *rc;
  }

  return submit(inv, request, &pb::Mailbox::Stub::ReplyToMessage);
}

int run_forward(const invocation& inv) {
  auto args = positionals(inv, 2, 2, "LEASE_ID MESSAGE");
  if (!args) return exit_usage;
  auto ref = message_argument(inv, (*args)[1]);
  if (!ref) return exit_usage;
  if (!inv.args.has("--to")) return usage_error("forward", "forward needs --to ADDR");

  pb::ForwardMessageRequest request;
  request.set_lease_id((*args)[0]);
  request.set_folder(inv.args.value("--folder").value_or("INBOX"));
  *request.mutable_ref() = *ref;
  if (auto rc = add_addresses(inv, "--to", request.mutable_to())) return *rc;
  if (auto rc = add_addresses(inv, "--cc", request.mutable_cc())) return *rc;
  if (auto rc = fill_from(inv, request.mutable_from())) return *rc;
  if (auto rc = fill_bodies(inv, request.mutable_text_body(), nullptr)) return *rc;

  return submit(inv, request, &pb::Mailbox::Stub::ForwardMessage);
}

}  // namespace mailbroker::cli
