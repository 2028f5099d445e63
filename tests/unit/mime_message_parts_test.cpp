#include "mime/message_parts.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/base64.hpp"

namespace mailbroker::mime {
namespace {

using namespace std::string_literals;

// Base64 folded at 76 columns with CRLF, as mailers send it.
std::string base64_lines(std::string_view bytes) {
  const std::string flat = base64_encode(bytes);
  std::string out;
  for (std::size_t i = 0; i < flat.size(); i += 76) out += flat.substr(i, 76) + "\r\n";
  return out;
}

// Every byte value, then a pattern, so a decoding slip at any offset shows.
std::string binary_bytes(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += static_cast<char>(i < 256 ? i : (i * 131 + 7) % 251);
  return out;
}

std::string header_block(std::string_view content_headers) {
  return "From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: test\r\n"
         "Message-ID: <m1@example.org>\r\nMIME-Version: 1.0\r\n"s +
         std::string(content_headers) + "\r\n";
}

parsed_message parse_ok(const std::string& raw) {
  auto parsed = parse_message(raw);
  EXPECT_TRUE(parsed.ok()) << parsed.err().message;
  return parsed.ok() ? *parsed : parsed_message{};
}

// All chunks of one part, checking the chunk size contract on the way.
std::string extract(const std::string& raw, std::string_view part_id, std::size_t chunk_bytes) {
  std::string out;
  std::vector<std::size_t> sizes;
  const error e = extract_attachment(raw, part_id, chunk_bytes, [&](std::string_view chunk) {
    out.append(chunk);
    sizes.push_back(chunk.size());
    return error::none();
  });
  EXPECT_TRUE(e.ok()) << e.message;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_GT(sizes[i], 0u);
    if (i + 1 < sizes.size()) EXPECT_EQ(sizes[i], chunk_bytes) << "only the last chunk may be short";
    else EXPECT_LE(sizes[i], chunk_bytes);
  }
  return out;
}

struct body_case {
  const char* what;
  std::string content_headers;
  std::string body;
  std::string expected_text;
};

TEST(MimeMessageParts, ConvertsBodyCharsetsToUtf8) {
  const body_case cases[] = {
      {"ISO-8859-1 quoted-printable with a soft break",
       "Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n",
       "Caf=E9 cr=E8me br=FBl=E9e,=\r\n soft\r\nsecond line\r\n", "Café crème brûlée, soft\nsecond line\n"},
      {"windows-1252 quoted-printable", "Content-Type: text/plain; charset=\"windows-1252\"\r\nContent-Transfer-Encoding: quoted-printable\r\n",
       "=93quoted=94 =96 =8005 =85\r\n", "“quoted” – €05 …\n"},
      {"cp1252 bytes labelled ISO-8859-1 (WHATWG)", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n",
       "=80 =E9\r\n", "€ é\n"},
      {"KOI8-R base64", "Content-Type: text/plain; charset=KOI8-R\r\nContent-Transfer-Encoding: base64\r\n",
       "8NLJ18XULCDNydIhIPPfxdvYINbFIMXdoyDc1MnIIM3Rx8vJyCDG0sHOw9Xa08vJyCDC1czPyy4K\r\n",
       "Привет, мир! Съешь же ещё этих мягких французских булок.\n"},
      {"ISO-2022-JP base64 (stateful)", "Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: base64\r\n",
       "GyRCRnxLXDhsJE4lRiUtJTklSCRHJDkhIxsoQgo=\r\n", "日本語のテキストです。\n"},
      {"undeclared 8-bit UTF-8", "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n", "Gr\xC3\xBC\xC3\x9F" "e\r\n",
       "Grüße\n"},
      {"undeclared 8-bit latin-1 → windows-1252", "Content-Transfer-Encoding: 8bit\r\n", "Gr\xFC\xDF" "e \x93ok\x94\r\n",
       "Grüße “ok”\n"},
      {"us-ascii label on UTF-8 bytes", "Content-Type: text/plain; charset=us-ascii\r\n", "na\xC3\xAFve\r\n", "naïve\n"},
      {"unknown charset treated as undeclared", "Content-Type: text/plain; charset=x-no-such\r\n", "caf\xE9\r\n", "café\n"},
      {"invalid UTF-8 becomes U+FFFD", "Content-Type: text/plain; charset=utf-8\r\n", "a\xFF" "b\r\n", "a\xEF\xBF\xBD" "b\n"},
      {"bytes undefined in windows-1252", "Content-Type: text/plain; charset=windows-1252\r\n", "x\x81y\r\n", "x\xEF\xBF\xBDy\n"},
  };
  for (const body_case& c : cases) {
    const parsed_message m = parse_ok(header_block(c.content_headers) + c.body);
    EXPECT_EQ(m.text_body, c.expected_text) << c.what;
    EXPECT_TRUE(m.attachments.empty()) << c.what;
    EXPECT_TRUE(m.html_body.empty()) << c.what;
  }
}

TEST(MimeMessageParts, DecodesHeadersAndAddresses) {
  const std::string raw =
      "Received: from a\r\n\tby b; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
      "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <pirard@example.be>\r\n"
      "To: \"Doe, John\" <john@example.com>, team: =?UTF-8?B?SsO2cmc=?= <joerg@example.de>, eve@example.net;\r\n"
      "To: second-header@example.com\r\n"
      "Cc: =?UTF-8?B?R3LDvA==?= =?UTF-8?B?w59l?= <gruss@example.de>\r\n"
      "Reply-To: Lists <list@example.org>\r\n"
      "Subject: =?UTF-8?B?SGVsbG8=?=\r\n =?UTF-8?B?IHdvcmxk?= and more\r\n"
      "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
      "Message-ID: <abc.123@example.be>\r\n"
      "In-Reply-To: <parent@example.org> (sent by Bob)\r\n"
      "References: <root@example.org>\r\n <parent@example.org>\r\n"
      "\r\nbody\r\n";
  const parsed_message m = parse_ok(raw);
  EXPECT_EQ(m.subject, "Hello world and more");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].name, "André Pirard");
  EXPECT_EQ(m.from[0].address, "pirard@example.be");
  ASSERT_EQ(m.to.size(), 4u);
  EXPECT_EQ(m.to[0].name, "Doe, John");
  EXPECT_EQ(m.to[1].name, "Jörg");
  EXPECT_EQ(m.to[1].address, "joerg@example.de");
  EXPECT_EQ(m.to[2].address, "eve@example.net");
  EXPECT_EQ(m.to[3].address, "second-header@example.com");
  ASSERT_EQ(m.cc.size(), 1u);
  EXPECT_EQ(m.cc[0].name, "Grüße") << "padded B words (gmime#133 workaround) in a display name";
  ASSERT_EQ(m.reply_to.size(), 1u);
  EXPECT_EQ(m.reply_to[0].address, "list@example.org");
  EXPECT_EQ(m.message_id, "<abc.123@example.be>");
  EXPECT_EQ(m.in_reply_to, "<parent@example.org>");
  EXPECT_EQ(m.references, (std::vector<std::string>{"<root@example.org>", "<parent@example.org>"}));
  ASSERT_TRUE(m.date.has_value());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*m.date), 1700000000);
  ASSERT_GE(m.headers.size(), 11u);
  EXPECT_EQ(m.headers[0].name, "Received");
  EXPECT_EQ(m.headers[0].value, "from a\tby b; Tue, 14 Nov 2023 22:13:20 +0000") << "unfolded";
  EXPECT_EQ(m.headers[1].value, "André Pirard <pirard@example.be>");
  EXPECT_EQ(m.text_body, "body\n");
}

TEST(MimeMessageParts, MissingOrBrokenHeadersGiveEmptyValues) {
  const parsed_message m = parse_ok("X-Only: header\n\nbody with LF line ends\n");
  EXPECT_EQ(m.subject, "");
  EXPECT_EQ(m.message_id, "");
  EXPECT_TRUE(m.from.empty());
  EXPECT_FALSE(m.date.has_value());
  EXPECT_EQ(m.text_body, "body with LF line ends\n");
  const parsed_message bad_date = parse_ok("Date: not a date\r\nMessage-ID: no-brackets@example.org\r\n\r\nx");
  EXPECT_FALSE(bad_date.date.has_value());
  EXPECT_EQ(bad_date.message_id, "<no-brackets@example.org>");
}

TEST(MimeMessageParts, DecodedLineBreaksBecomeSpaces) {
  const parsed_message m = parse_ok(
      "From: =?UTF-8?Q?Eve=0D=0ABcc:_x@example.com?= <eve@example.com>\r\n"
      "Subject: =?UTF-8?Q?hi=0D=0ABcc:_victim@example.com?=\r\n\r\nx");
  EXPECT_EQ(m.subject, "hi  Bcc: victim@example.com");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].name.find_first_of("\r\n"), std::string::npos) << m.from[0].name;
}

TEST(MimeMessageParts, HtmlOnly) {
  const parsed_message m = parse_ok(header_block("Content-Type: text/html; charset=utf-8\r\n") + "<p>Hi &amp; bye</p>\r\n");
  EXPECT_EQ(m.html_body, "<p>Hi &amp; bye</p>\n");
  ASSERT_EQ(m.headers.size(), 6u) << "Content-Type is a top-level field too (GMime files it under the body)";
  EXPECT_EQ(m.headers[4].name, "MIME-Version");
  EXPECT_EQ(m.headers[5].name, "Content-Type");
  EXPECT_EQ(m.headers[5].value, "text/html; charset=utf-8");
  EXPECT_EQ(m.text_body, "");
  EXPECT_TRUE(m.attachments.empty());
}

struct mixed_fixture {
  std::string pdf = binary_bytes(5000);
  std::string slides = binary_bytes(777).substr(100);
  std::string raw = header_block("Content-Type: multipart/mixed; boundary=\"outer\"\r\n") +
                    "This is a multi-part message in MIME format.\r\n"
                    "--outer\r\n"
                    "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
                    "--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                    "Gr=C3=BC=C3=9Fe\r\n"
                    "--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<b>Gr\xC3\xBC\xC3\x9F" "e</b>\r\n"
                    "--inner--\r\n"
                    "--outer\r\n"
                    "Content-Type: application/pdf\r\n"
                    "Content-Disposition: attachment;\r\n"
                    " filename*=UTF-8''%E2%82%AC%20Rechnung%20f%C3%BCr%20M%C3%A4rz.pdf\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n" +
                    base64_lines(pdf) +
                    "--outer\r\n"
                    "Content-Type: application/vnd.ms-powerpoint;\r\n name=\"=?ISO-8859-1?Q?Pr=E4sentation_M=E4rz.ppt?=\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n" +
                    base64_lines(slides) + "--outer--\r\nepilogue\r\n";
};

TEST(MimeMessageParts, AlternativeInsideMixedWithTwoAttachments) {
  const mixed_fixture f;
  const parsed_message m = parse_ok(f.raw);
  // The CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1).
  EXPECT_EQ(m.text_body, "Grüße");
  EXPECT_EQ(m.html_body, "<b>Grüße</b>");
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].part_id, "2");
  EXPECT_EQ(m.attachments[0].filename, "€ Rechnung für März.pdf");
  EXPECT_EQ(m.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(m.attachments[0].size, f.pdf.size());
  EXPECT_FALSE(m.attachments[0].is_inline);
  EXPECT_EQ(m.attachments[1].part_id, "3");
  EXPECT_EQ(m.attachments[1].filename, "Präsentation März.ppt");
  EXPECT_EQ(m.attachments[1].content_type, "application/vnd.ms-powerpoint");
  EXPECT_EQ(m.attachments[1].size, f.slides.size());
}

TEST(MimeMessageParts, ExtractsDecodedBytesInChunks) {
  const mixed_fixture f;
  for (std::size_t chunk : {1u, 3u, 57u, 4096u, 1000000u}) {
    EXPECT_EQ(extract(f.raw, "2", chunk), f.pdf) << "chunk " << chunk;
    EXPECT_EQ(extract(f.raw, "3", chunk), f.slides) << "chunk " << chunk;
  }
  EXPECT_EQ(extract(f.raw, "1.1", 5), "Gr\xC3\xBC\xC3\x9F" "e") << "body parts can be read too (decoded, charset kept)";
}

TEST(MimeMessageParts, ExtractErrors) {
  const mixed_fixture f;
  const auto ignore = [](std::string_view) { return error::none(); };
  for (const char* id : {"4", "0", "1", "2.1", "", "x"}) {  // "1" is the alternative container
    const error e = extract_attachment(f.raw, id, 100, ignore);
    EXPECT_EQ(e.code, errc::not_found) << id;
    EXPECT_NE(e.message.find("\""s + id + "\""), std::string::npos) << e.message;
  }
  EXPECT_EQ(extract_attachment(f.raw, "2", 0, ignore).code, errc::invalid_argument);
  EXPECT_EQ(extract_attachment("not a message", "1", 10, ignore).code, errc::invalid_argument);

  int calls = 0;
  const error stopped = extract_attachment(f.raw, "2", 100, [&calls](std::string_view) {
    ++calls;
    return calls == 3 ? error{errc::cancelled, "client went away"} : error::none();
  });
  EXPECT_EQ(stopped.code, errc::cancelled);
  EXPECT_EQ(stopped.message, "client went away");
  EXPECT_EQ(calls, 3) << "no chunk after the sink's error";
}

TEST(MimeMessageParts, InlineImageInRelated) {
  const std::string png = "\x89PNG\r\n\x1a\n"s + binary_bytes(300);
  const std::string raw = header_block("Content-Type: multipart/alternative; boundary=a\r\n") +
                          "--a\r\nContent-Type: text/plain\r\n\r\nsee logo\r\n"
                          "--a\r\nContent-Type: multipart/related; boundary=r; type=\"text/html\"\r\n\r\n"
                          "--r\r\nContent-Type: text/html\r\n\r\n<img src=\"cid:logo@example.org\">\r\n"
                          "--r\r\nContent-Type: image/png\r\nContent-ID: <logo@example.org>\r\n"
                          "Content-Transfer-Encoding: base64\r\n\r\n" +
                          base64_lines(png) + "--r--\r\n--a--\r\n";
  const parsed_message m = parse_ok(raw);
  EXPECT_EQ(m.text_body, "see logo");
  EXPECT_EQ(m.html_body, "<img src=\"cid:logo@example.org\">");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].part_id, "2.2");
  EXPECT_EQ(m.attachments[0].content_type, "image/png");
  EXPECT_EQ(m.attachments[0].content_id, "logo@example.org");
  EXPECT_TRUE(m.attachments[0].is_inline);
  EXPECT_EQ(m.attachments[0].filename, "");
  EXPECT_EQ(m.attachments[0].size, png.size());
  EXPECT_EQ(extract(raw, "2.2", 64), png);
}

TEST(MimeMessageParts, AttachedMessageIsOneAttachment) {
  const std::string inner =
      "From: Carol <carol@example.net>\r\nSubject: Q3 / report\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
      "--in\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
      "--in\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=inner.bin\r\n\r\nxyz\r\n"
      "--in--\r\n";
  const std::string raw = header_block("Content-Type: multipart/mixed; boundary=out\r\n") +
                          "--out\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
                          "--out\r\nContent-Type: message/rfc822\r\n\r\n" + inner +
                          "--out\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"named.eml\"\r\n\r\n"
                          "Subject: second\r\n\r\nbody two\r\n"
                          "--out--\r\n";
  const parsed_message m = parse_ok(raw);
  EXPECT_EQ(m.text_body, "see attached") << "the embedded message's text is not the outer body";
  ASSERT_EQ(m.attachments.size(), 2u) << "the embedded message's own attachment is not listed";
  EXPECT_EQ(m.attachments[0].part_id, "2");
  EXPECT_EQ(m.attachments[0].content_type, "message/rfc822");
  EXPECT_EQ(m.attachments[0].filename, "Q3 _ report.eml");
  EXPECT_EQ(m.attachments[1].filename, "named.eml");
  // The CRLF before the outer boundary belongs to the boundary (RFC 2046 5.1.1), but GMime
  // writes a multipart back with a line end after its closing delimiter: the same bytes.
  const std::string& expected = inner;
  EXPECT_EQ(m.attachments[0].size, expected.size());
  for (std::size_t chunk : {1u, 10u, 100000u}) EXPECT_EQ(extract(raw, "2", chunk), expected);
  const parsed_message again = parse_ok(extract(raw, "2", 4096));
  EXPECT_EQ(again.subject, "Q3 / report");
  EXPECT_EQ(again.text_body, "inner text");
  ASSERT_EQ(again.attachments.size(), 1u);
  EXPECT_EQ(again.attachments[0].filename, "inner.bin");
}

TEST(MimeMessageParts, ToleratesMalformedBoundaries) {
  const std::string data = binary_bytes(1000);
  // No closing boundary, junk after a boundary line, LF-only line ends mixed in.
  const std::string unterminated = header_block("Content-Type: multipart/mixed; boundary=\"b 1\"\r\n") +
                                   "--b 1   \r\nContent-Type: text/plain\r\n\r\nfirst\n"
                                   "--b 1\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n\n" +
                                   base64_encode(data) + "\n";
  const parsed_message m = parse_ok(unterminated);
  EXPECT_EQ(m.text_body, "first");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].content_type, "application/zip");
  EXPECT_EQ(extract(unterminated, m.attachments[0].part_id, 33), data);

  // The declared boundary never appears: the parts are lost, the parse is not.
  const parsed_message none = parse_ok(header_block("Content-Type: multipart/mixed; boundary=zzz\r\n") + "--other\r\n\r\ntext\r\n");
  EXPECT_TRUE(none.attachments.empty());
  EXPECT_EQ(none.subject, "test");

  // A multipart without a boundary parameter.
  const auto no_param = parse_message(header_block("Content-Type: multipart/mixed\r\n") + "--x\r\n\r\ntext\r\n--x--\r\n");
  EXPECT_TRUE(no_param.ok());
}

TEST(MimeMessageParts, AttachmentRules) {
  // Single-part attachment: part "1", no body.
  const std::string single = header_block("Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n") + base64_lines("%PDF");
  parsed_message m = parse_ok(single);
  EXPECT_EQ(m.text_body, "");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].part_id, "1");
  EXPECT_EQ(extract(single, "1", 2), "%PDF");

  // Text with a filename or disposition attachment is an attachment; a second text/plain
  // and a text/calendar are listed, not dropped.
  const std::string raw = header_block("Content-Type: multipart/mixed; boundary=b\r\n") +
                          "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnot the body\r\n"
                          "--b\r\nContent-Type: text/plain; name=notes.txt\r\n\r\nnotes\r\n"
                          "--b\r\nContent-Type: text/plain\r\n\r\nthe body\r\n"
                          "--b\r\nContent-Type: text/plain\r\nContent-Disposition: inline\r\n\r\nfooter\r\n"
                          "--b\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n"
                          "--b--\r\n";
  m = parse_ok(raw);
  EXPECT_EQ(m.text_body, "the body");
  ASSERT_EQ(m.attachments.size(), 4u);
  EXPECT_EQ(m.attachments[0].part_id, "1");
  EXPECT_EQ(m.attachments[1].filename, "notes.txt");
  EXPECT_EQ(m.attachments[2].part_id, "4");
  EXPECT_TRUE(m.attachments[2].is_inline);
  EXPECT_EQ(m.attachments[3].content_type, "text/calendar");
  EXPECT_EQ(m.attachments[3].size, 15u);
}

TEST(MimeMessageParts, RefusesWhatIsNotAMessage) {
  for (const std::string& raw : {""s, "just some text"s, "no colon here\r\n\r\nbody"s, "\x01\x02\x03"s}) {
    const auto parsed = parse_message(raw);
    ASSERT_FALSE(parsed.ok()) << raw;
    EXPECT_EQ(parsed.err().code, errc::invalid_argument);
  }
}

TEST(MimeMessageParts, RefusesNestingBeyondTheLimit) {
  const auto nested = [](int depth) {
    std::string raw = "Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n";
    for (int i = 1; i < depth; ++i) {
      raw += "--b" + std::to_string(i - 1) + "\r\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n";
    }
    raw += "--b" + std::to_string(depth - 1) + "\r\nContent-Type: text/plain\r\n\r\nleaf\r\n";
    for (int i = depth - 1; i >= 0; --i) raw += "--b" + std::to_string(i) + "--\r\n";
    return raw;
  };
  const auto ok = parse_message(nested(max_mime_depth));
  ASSERT_TRUE(ok.ok()) << ok.err().message;
  EXPECT_EQ(ok->text_body, "leaf");
  const auto deep = parse_message(nested(max_mime_depth + 1));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.err().code, errc::invalid_argument);
  EXPECT_NE(deep.err().message.find("nested"), std::string::npos);
}

}  // namespace
}  // namespace mailbroker::mime
