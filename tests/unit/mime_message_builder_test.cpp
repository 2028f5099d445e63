#include "mime/message_builder.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "common/random.hpp"

namespace mailbroker::mime {
namespace {

using namespace std::string_literals;

const auto nov14 = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));  // Tue, 14 Nov 2023 22:13:20 UTC

std::string binary_bytes(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += static_cast<char>(i < 256 ? i : (i * 131 + 7) % 251);
  return out;
}

compose_request full_request() {
  compose_request r;
  r.from = {"Jörg Müller", "joerg@example.de"};
  r.to = {{"Zoë \"Z\" Adams, PhD", "zoe@example.com"}, {"", "plain@example.com"}};
  r.cc = {{"Карл", "karl@example.ru"}, {"", "ZOE@example.com"}};
  r.bcc = {{"Hidden Person", "secret-bcc@example.net"}};
  r.reply_to = {{"Lists", "list@example.org"}};
  r.subject = "Grüße aus Köln — 日本語 and a rather long tail to make GMime fold the encoded words somewhere";
  r.text_body = "Hallo Zoë,\n\nline with trailing space \nFrom the start\n.\n" + std::string(1500, 'x') + "\nend";
  r.html_body = "<p>Hallo Zo&euml;, " + std::string(1200, 'y') + "</p>";
  r.attachments = {{"résumé März.pdf", "application/pdf", binary_bytes(10000)},
                   {"notes.txt", "text/plain", "line1\r\nline2\nbare\rcr\0nul\n"s},
                   {"", "", "no name, no type"}};
  return r;
}

built_message build_ok(const compose_request& r) {
  auto built = build_message(r, nov14);
  EXPECT_TRUE(built.ok()) << built.err().message;
  return built.ok() ? *built : built_message{};
}

parsed_message parse_ok(const std::string& raw) {
  auto parsed = parse_message(raw);
  EXPECT_TRUE(parsed.ok()) << parsed.err().message;
  return parsed.ok() ? *parsed : parsed_message{};
}

std::string extract_all(const std::string& raw, const std::string& part_id, std::size_t chunk) {
  std::string out;
  const error e = extract_attachment(raw, part_id, chunk, [&out](std::string_view c) {
    out.append(c);
    return error::none();
  });
  EXPECT_TRUE(e.ok()) << e.message;
  return out;
}

// Every line ends in CRLF, is <= 998 octets, and every byte is 7-bit and not NUL.
void expect_wire_safe(const std::string& raw) {
  ASSERT_FALSE(raw.empty());
  EXPECT_TRUE(raw.ends_with("\r\n"));
  std::size_t line = 0, longest = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const unsigned char c = raw[i];
    ASSERT_TRUE(c != 0 && c < 0x80) << "byte " << int(c) << " at " << i;
    if (c == '\n') {
      ASSERT_TRUE(i > 0 && raw[i - 1] == '\r') << "bare LF at " << i;
      line = 0;
    } else if (c == '\r') {
      ASSERT_TRUE(i + 1 < raw.size() && raw[i + 1] == '\n') << "bare CR at " << i;
    } else {
      longest = std::max(longest, ++line);
    }
  }
  EXPECT_LE(longest, 998u);
}

std::string header_value(const parsed_message& m, std::string_view name) {
  for (const header_field& h : m.headers) {
    if (h.name.size() == name.size() && std::equal(h.name.begin(), h.name.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return h.value;
    }
  }
  return "<absent>";
}

TEST(MimeMessageBuilder, RoundTripsThroughTheParser) {
  const compose_request r = full_request();
  const built_message built = build_ok(r);
  expect_wire_safe(built.raw);
  const parsed_message m = parse_ok(built.raw);

  EXPECT_EQ(m.subject, r.subject);
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].name, "Jörg Müller");
  EXPECT_EQ(m.from[0].address, "joerg@example.de");
  ASSERT_EQ(m.to.size(), 2u);
  EXPECT_EQ(m.to[0].name, r.to[0].name);
  EXPECT_EQ(m.to[0].address, "zoe@example.com");
  EXPECT_EQ(m.to[1].address, "plain@example.com");
  ASSERT_EQ(m.cc.size(), 2u);
  EXPECT_EQ(m.cc[0].name, "Карл");
  ASSERT_EQ(m.reply_to.size(), 1u);
  EXPECT_EQ(m.reply_to[0].address, "list@example.org");
  EXPECT_EQ(m.text_body, r.text_body + "\n") << "a final line end is added";
  EXPECT_EQ(m.html_body, r.html_body + "\n");
  EXPECT_EQ(m.message_id, built.message_id);
  ASSERT_TRUE(m.date.has_value());
  EXPECT_EQ(*m.date, nov14);
  EXPECT_EQ(header_value(m, "Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(header_value(m, "MIME-Version"), "1.0");

  ASSERT_EQ(m.attachments.size(), r.attachments.size());
  for (std::size_t i = 0; i < r.attachments.size(); ++i) {
    EXPECT_EQ(m.attachments[i].filename, r.attachments[i].filename) << i;
    EXPECT_EQ(m.attachments[i].content_type, r.attachments[i].content_type.empty() ? "application/octet-stream" : r.attachments[i].content_type);
    EXPECT_EQ(m.attachments[i].size, r.attachments[i].data.size()) << i;
    for (std::size_t chunk : {1u, 1000u, 65536u}) {
      EXPECT_EQ(extract_all(built.raw, m.attachments[i].part_id, chunk), r.attachments[i].data) << i << " chunk " << chunk;
    }
  }
}

TEST(MimeMessageBuilder, BccOnlyInTheEnvelope) {
  const built_message built = build_ok(full_request());
  EXPECT_EQ(built.raw.find("secret-bcc"), std::string::npos);
  EXPECT_EQ(built.raw.find("Hidden Person"), std::string::npos);
  const parsed_message m = parse_ok(built.raw);
  EXPECT_EQ(header_value(m, "Bcc"), "<absent>");
  EXPECT_EQ(built.envelope_recipients,
            (std::vector<std::string>{"zoe@example.com", "plain@example.com", "karl@example.ru", "secret-bcc@example.net"}))
      << "ZOE@example.com in Cc is the same mailbox as zoe@example.com in To";
}

TEST(MimeMessageBuilder, MessageIdAndStructure) {
  compose_request r;
  r.from = {"", "bot@mail.example.org"};
  r.to = {{"", "a@example.com"}};
  r.subject = "plain";
  r.text_body = "short ASCII\n";
  const built_message text_only = build_ok(r);
  EXPECT_TRUE(std::regex_match(text_only.message_id, std::regex("<[0-9a-f]{32}@mail\\.example\\.org>"))) << text_only.message_id;
  EXPECT_NE(text_only.raw.find("Message-Id: " + text_only.message_id + "\r\n"), std::string::npos) << text_only.raw;
  EXPECT_NE(build_ok(r).message_id, text_only.message_id);
  parsed_message m = parse_ok(text_only.raw);
  EXPECT_EQ(header_value(m, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(header_value(m, "Content-Transfer-Encoding"), "7bit");
  EXPECT_TRUE(text_only.raw.ends_with("\r\n\r\nshort ASCII\r\n")) << text_only.raw;

  r.text_body = "non-ASCII: café";
  m = parse_ok(build_ok(r).raw);
  EXPECT_EQ(header_value(m, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(m.text_body, "non-ASCII: café\n");

  r.html_body = "<i>x</i>";
  m = parse_ok(build_ok(r).raw);
  EXPECT_TRUE(header_value(m, "Content-Type").starts_with("multipart/alternative")) << header_value(m, "Content-Type");
  EXPECT_EQ(m.html_body, "<i>x</i>\n");

  r.attachments = {{"a.bin", "application/octet-stream", "abc"}};
  m = parse_ok(build_ok(r).raw);
  EXPECT_TRUE(header_value(m, "Content-Type").starts_with("multipart/mixed")) << header_value(m, "Content-Type");
  EXPECT_EQ(m.text_body, "non-ASCII: café\n");
  EXPECT_EQ(m.html_body, "<i>x</i>\n");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].part_id, "2");

  r.text_body.clear();
  r.attachments.clear();
  m = parse_ok(build_ok(r).raw);
  EXPECT_TRUE(header_value(m, "Content-Type").starts_with("text/html")) << header_value(m, "Content-Type");
}

struct invalid_case {
  const char* field;
  std::function<void(compose_request&)> change;
};

TEST(MimeMessageBuilder, NamesTheInvalidField) {
  const invalid_case cases[] = {
      {"from.address", [](compose_request& r) { r.from.address.clear(); }},
      {"from.address", [](compose_request& r) { r.from.address = "no-at-sign"; }},
      {"from.name", [](compose_request& r) { r.from.name = "Evil\r\nBcc: victim@example.com"; }},
      {"to[1].address", [](compose_request& r) { r.to[1].address = "x@y\r\nBcc: victim@example.com"; }},
      {"to[1].address", [](compose_request& r) { r.to[1].address = ""; }},
      {"to[0].address", [](compose_request& r) { r.to[0].address = "a b@example.com"; }},
      {"to[0].address", [](compose_request& r) { r.to[0].address = "@example.com"; }},
      {"to[0].name", [](compose_request& r) { r.to[0].name = "Z\nX-Injected: 1"; }},
      {"cc[0].address", [](compose_request& r) { r.cc[0].address = "karl"; }},
      {"bcc[0].address", [](compose_request& r) { r.bcc[0].address = "<secret@example.net>"; }},
      {"reply_to[0].address", [](compose_request& r) { r.reply_to[0].address = "list@"; }},
      {"to", [](compose_request& r) { r.to.clear(), r.cc.clear(), r.bcc.clear(); }},
      {"subject", [](compose_request& r) { r.subject = "hi\r\nBcc: victim@example.com"; }},
      {"subject", [](compose_request& r) { r.subject = "nul\0x"s; }},
      {"attachments[1].filename", [](compose_request& r) { r.attachments[1].filename = "a\r\n.txt"; }},
      {"attachments[0].content_type", [](compose_request& r) { r.attachments[0].content_type = "pdf"; }},
      {"attachments[2].content_type", [](compose_request& r) { r.attachments[2].content_type = "text/plain\r\nX: y"; }},
      {"in_reply_to", [](compose_request& r) { r.in_reply_to = "id@example.com"; }},
      {"references[1]", [](compose_request& r) { r.references = {"<a@x>", "<b@x>\r\nX: y"}; }},
  };
  for (const invalid_case& c : cases) {
    compose_request r = full_request();
    c.change(r);
    const auto built = build_message(r, nov14);
    ASSERT_FALSE(built.ok()) << c.field;
    EXPECT_EQ(built.err().code, errc::invalid_argument) << c.field;
    EXPECT_TRUE(built.err().message.starts_with(std::string(c.field) + ": ")) << c.field << " vs " << built.err().message;
  }
  compose_request only_bcc = full_request();
  only_bcc.to.clear();
  only_bcc.cc.clear();
  EXPECT_TRUE(build_message(only_bcc, nov14).ok()) << "Bcc alone is a valid recipient list";
}

const std::string original_raw =
    "From: Alice Example <alice@example.org>\r\n"
    "To: Me <me@example.com>, Bob <bob@example.org>\r\n"
    "Cc: carol@example.org, ME@example.com\r\n"
    "Subject: Status\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "Message-ID: <m2@example.org>\r\n"
    "References: <m0@example.org> <m1@example.org>\r\n"
    "\r\n"
    "line one\r\n\r\nline <three>\r\n";

TEST(MimeMessageBuilder, ReplyAllThreadsAndQuotes) {
  const parsed_message original = parse_ok(original_raw);
  const mailbox_address me{"Me", "me@example.com"};
  const compose_request r = make_reply(original, me, true, "Thanks!", "<p>Thanks!</p>");
  EXPECT_EQ(r.from.address, "me@example.com");
  ASSERT_EQ(r.to.size(), 2u);
  EXPECT_EQ(r.to[0].address, "alice@example.org");
  EXPECT_EQ(r.to[1].address, "bob@example.org");
  ASSERT_EQ(r.cc.size(), 1u) << "me (in any case) is left out";
  EXPECT_EQ(r.cc[0].address, "carol@example.org");
  EXPECT_EQ(r.subject, "Re: Status");
  EXPECT_EQ(r.in_reply_to, "<m2@example.org>");
  EXPECT_EQ(r.references, (std::vector<std::string>{"<m0@example.org>", "<m1@example.org>", "<m2@example.org>"}));
  EXPECT_EQ(r.text_body, "Thanks!\n\nOn Tue, 14 Nov 2023 22:13:20 +0000, Alice Example wrote:\n> line one\n>\n> line <three>\n");
  EXPECT_NE(r.html_body.find("<blockquote type=\"cite\">\nline one<br>\n<br>\nline &lt;three&gt;<br>\n\n</blockquote>"), std::string::npos)
      << r.html_body;

  const built_message built = build_ok(r);
  expect_wire_safe(built.raw);
  const parsed_message reply = parse_ok(built.raw);
  EXPECT_EQ(reply.subject, "Re: Status");
  EXPECT_EQ(reply.in_reply_to, "<m2@example.org>");
  EXPECT_EQ(reply.references, r.references);
  EXPECT_EQ(reply.text_body, r.text_body);

  // The next reply in the thread keeps the chain and does not stack "Re:".
  const compose_request second = make_reply(reply, {"", "alice@example.org"}, false, "ok", "");
  EXPECT_EQ(second.subject, "Re: Status");
  EXPECT_EQ(second.references.size(), 4u);
  EXPECT_EQ(second.references.back(), built.message_id);
  ASSERT_EQ(second.to.size(), 1u);
  EXPECT_EQ(second.to[0].address, "me@example.com");
  EXPECT_TRUE(second.html_body.empty());
}

TEST(MimeMessageBuilder, ReplyRules) {
  parsed_message original = parse_ok(original_raw);
  original.subject = "RE: already";
  original.reply_to = {{"List", "list@example.org"}};
  original.references.clear();
  original.in_reply_to = "<parent@example.org>";
  original.date.reset();
  const compose_request r = make_reply(original, {"", "me@example.com"}, false, "", "");
  EXPECT_EQ(r.subject, "RE: already");
  ASSERT_EQ(r.to.size(), 1u);
  EXPECT_EQ(r.to[0].address, "list@example.org") << "Reply-To wins over From";
  EXPECT_TRUE(r.cc.empty());
  EXPECT_EQ(r.references, (std::vector<std::string>{"<parent@example.org>", "<m2@example.org>"}));
  EXPECT_TRUE(r.text_body.starts_with("\nAlice Example wrote:\n> line one\n")) << r.text_body;

  // Replying to one's own sent message goes to its recipients.
  parsed_message sent = parse_ok(original_raw);
  sent.from = {{"Me", "me@example.com"}};
  const compose_request to_own = make_reply(sent, {"", "me@example.com"}, false, "x", "");
  ASSERT_EQ(to_own.to.size(), 2u);
  EXPECT_EQ(to_own.to[1].address, "bob@example.org");
}

TEST(MimeMessageBuilder, ForwardAttachesTheOriginal) {
  const parsed_message original = parse_ok(original_raw);
  const compose_request r =
      make_forward(original, original_raw, {"Me", "me@example.com"}, {{"Dan", "dan@example.net"}}, "FYI, see below.");
  EXPECT_EQ(r.subject, "Fwd: Status");
  const built_message built = build_ok(r);
  expect_wire_safe(built.raw);
  const parsed_message fwd = parse_ok(built.raw);
  EXPECT_EQ(fwd.subject, "Fwd: Status");
  EXPECT_EQ(fwd.text_body, "FYI, see below.\n");
  ASSERT_EQ(fwd.attachments.size(), 1u);
  EXPECT_EQ(fwd.attachments[0].content_type, "message/rfc822");
  EXPECT_EQ(fwd.attachments[0].filename, "Status.eml");
  EXPECT_EQ(extract_all(built.raw, fwd.attachments[0].part_id, 7), original_raw) << "the original, byte for byte";
  EXPECT_EQ(built.envelope_recipients, std::vector<std::string>{"dan@example.net"});

  parsed_message again = original;
  again.subject = "FW: Status";
  EXPECT_EQ(make_forward(again, original_raw, {"", "me@example.com"}, {}, "").subject, "FW: Status");
}

TEST(MimeMessageBuilder, ForwardOf8BitMessageStays7Bit) {
  const std::string eight_bit =
      "From: Andr\xE9 <andre@example.fr>\r\nSubject: Caf\xE9 cr\xE8me\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xE9 " + std::string(1200, 'z') + "\r\n";
  const parsed_message original = parse_ok(eight_bit);
  EXPECT_EQ(original.subject, "Café crème");
  const built_message built = build_ok(make_forward(original, eight_bit, {"", "me@example.com"}, {{"", "d@example.net"}}, "fwd"));
  expect_wire_safe(built.raw);
  const parsed_message fwd = parse_ok(built.raw);
  EXPECT_EQ(fwd.subject, "Fwd: Café crème");
  ASSERT_EQ(fwd.attachments.size(), 1u);
  const parsed_message inner = parse_ok(extract_all(built.raw, fwd.attachments[0].part_id, 4096));
  EXPECT_EQ(inner.subject, "Café crème");
  ASSERT_EQ(inner.from.size(), 1u);
  EXPECT_EQ(inner.from[0].name, "André");
  EXPECT_EQ(inner.text_body, "Café " + std::string(1200, 'z') + "\n");
}

// A second opinion from a parser that is not GMime: Python's email package.
TEST(MimeMessageBuilder, PythonEmailPackageAgrees) {
  if (std::system("python3 -c 'import email.policy' >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not available";
  const compose_request r = full_request();
  const built_message built = build_ok(r);
  const auto path = std::filesystem::temp_directory_path() / ("mb_mime_" + random_hex(8) + ".eml");
  std::ofstream(path, std::ios::binary) << built.raw;
  const std::string script =
      "import sys, email, hashlib\n"
      "from email import policy\n"
      "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)\n"
      "out = [m['subject'], str(m['from']), str(m['to']), str(m['cc']), str(m.get('bcc'))]\n"
      "out.append(m.get_body(preferencelist=('plain',)).get_content().replace('\\n', '|'))\n"
      "out.append(m.get_body(preferencelist=('html',)).get_content().replace('\\n', '|'))\n"
      "for a in m.iter_attachments():\n"
      "    out.append('%s %s %s' % (a.get_filename(), a.get_content_type(), hashlib.sha256(a.get_payload(decode=True)).hexdigest()))\n"
      "defects = sum(len(p.defects) for p in m.walk())\n"
      "out.append('defects=%d' % defects)\n"
      "sys.stdout.buffer.write('\\n'.join(out).encode('utf-8'))\n";
  const std::string command = "python3 -c \"$MB_PY\" '" + path.string() + "' 2>&1";
  ::setenv("MB_PY", script.c_str(), 1);
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r"); pipe != nullptr) {
    std::array<char, 4096> buffer;
    while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
    EXPECT_EQ(::pclose(pipe), 0) << output;
  }
  std::filesystem::remove(path);

  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos <= output.size();) {
    const std::size_t nl = std::min(output.find('\n', pos), output.size());
    lines.push_back(output.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 11u) << output;
  EXPECT_EQ(lines[0], r.subject);
  EXPECT_EQ(lines[1], "Jörg Müller <joerg@example.de>");
  EXPECT_EQ(lines[2], "\"Zoë \\\"Z\\\" Adams, PhD\" <zoe@example.com>, plain@example.com");
  EXPECT_EQ(lines[3], "Карл <karl@example.ru>, ZOE@example.com");
  EXPECT_EQ(lines[4], "None") << "no Bcc header";
  std::string text = r.text_body;
  std::replace(text.begin(), text.end(), '\n', '|');
  EXPECT_EQ(lines[5], text + "|") << "with the final line end the builder adds";
  EXPECT_EQ(lines[6], r.html_body + "|");
  EXPECT_EQ(lines[7], "résumé März.pdf application/pdf " + sha256_hex(r.attachments[0].data));
  EXPECT_EQ(lines[8], "notes.txt text/plain " + sha256_hex(r.attachments[1].data));
  EXPECT_EQ(lines[9], "None application/octet-stream " + sha256_hex(r.attachments[2].data));
  EXPECT_EQ(lines[10], "defects=0");
}

}  // namespace
}  // namespace mailbroker::mime
