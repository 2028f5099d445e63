// libFuzzer target for the NTLM CHALLENGE parser (auth::parse_challenge), the
// AUTHENTICATE builder that echoes the server's TargetInfo, and the HTTP authenticator's
// handling of WWW-Authenticate values.
//
// The input is one raw CHALLENGE_MESSAGE (the corpus holds binary messages). It is parsed;
// a parsed challenge is answered (fixed credentials and randomness) and the answer is
// checked the way a server would read it; the same bytes go through the authenticator
// base64-encoded, and split on '\n' as a list of WWW-Authenticate values. Documented
// contracts are checked; any violation traps.
//
// Run:   build/fuzz/tests/fuzz/ntlm_challenge_fuzz -max_len=4096 WORK_DIR tests/fuzz/corpus/ntlm_challenge
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/ntlm.hpp"
#include "auth/ntlm_authenticator.hpp"
#include "auth/ntlm_crypto.hpp"
#include "common/base64.hpp"

namespace {

using namespace mailbroker;
using namespace mailbroker::auth;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool clean(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

const ntlm_credentials creds{"fuzz", "DOMAIN", "secret-password", "WS"};

ntlm_randomness fixed() {
  ntlm_randomness r;
  r.client_challenge.fill(0xaa);
  r.session_key.fill(0x55);
  r.timestamp = 1;
  return r;
}

// (offset, length) of an AUTHENTICATE payload field, checked to lie inside the message.
std::string_view field(std::string_view m, std::size_t at) {
  const auto len = static_cast<std::size_t>(ntlm_le::get(m, at, 2));
  const auto off = static_cast<std::size_t>(ntlm_le::get(m, at + 4, 4));
  check(off <= m.size() && len <= m.size() - off);
  return m.substr(off, len);
}

void answer(const ntlm_challenge& c, const std::string& negotiate) {
  const std::string auth = authenticate_message(c, creds, negotiate, fixed());
  check(auth.size() >= 64 && ntlm_le::get(auth, 8, 4) == 3);
  const std::string_view nt = field(auth, 20);
  check(nt.size() >= 16 + 28 + 4 + 4);
  check(nt.size() <= 16 + 28 + c.raw.size() + 8 + 4);  // TargetInfo echoed, plus at most MsvAvFlags
  check(field(auth, 12).size() == 24);
  const auto key = ntowfv2(creds.password, creds.user, creds.domain);
  const std::string k(reinterpret_cast<const char*>(key.data()), key.size());
  const std::string sc(reinterpret_cast<const char*>(c.server_challenge.data()), 8);
  const auto proof = ntlm_crypto::hmac_md5(k, sc + std::string(nt.substr(16)));
  check(ntlm_crypto::bytes_of(proof) == nt.substr(0, 16));
  // MIC (and the Version field it sits behind) only when the server sent a timestamp.
  const auto domain_offset = ntlm_le::get(auth, 32, 4);
  if (c.timestamp) check(domain_offset == 88);
  else check(domain_offset == 64 || domain_offset == 72);
}

void parse(std::string_view bytes) {
  auto c = parse_challenge(bytes);
  if (!c.ok()) {
    check(c.err().code == errc::invalid_argument);
    check(c.err().message.rfind("NTLM challenge: ", 0) == 0);
    check(c.err().message.size() < 200 && clean(c.err().message));
    return;
  }
  check(c->raw == bytes);
  check(bytes.size() <= max_challenge_bytes);
  check(serialize_target_info(c->target_info).size() <= bytes.size());
  bool has_timestamp = false;
  for (const auto& p : c->target_info) {
    check(p.id != ntlm_av::eol);
    has_timestamp = has_timestamp || p.id == ntlm_av::timestamp;
  }
  check(has_timestamp == c->timestamp.has_value());
  answer(*c, negotiate_message({}));
  ntlm_options all;
  all.sign_and_seal = true;
  all.version = std::array<std::uint8_t, 8>{10, 0, 0x61, 0x4a, 0, 0, 0, 15};
  answer(*c, negotiate_message(all));
}

void authenticator(std::string_view bytes) {
  ntlm_authenticator a(creds, {}, fixed);
  check(a.authorization().ok());
  auto r = a.respond({"NTLM " + base64_encode(bytes)});
  check(r.ok() == parse_challenge(bytes).ok());
  if (r.ok()) check(a.authorization().ok() && a.authorization().value().empty());

  std::vector<std::string> values;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= bytes.size() && values.size() < 64; ++i) {
    if (i == bytes.size() || bytes[i] == '\n') {
      values.emplace_back(bytes.substr(start, i - start));
      start = i + 1;
    }
  }
  ntlm_authenticator b(creds, {}, fixed);
  for (int step = 0; step < 3; ++step) {
    auto got = b.respond(values);
    if (got.ok()) {
      check(got->rfind("NTLM ", 0) == 0);
      continue;
    }
    const std::string& m = got.err().message;
    check(m.rfind("NTLM", 0) == 0 && clean(m));
    // Scheme names are the server's own (sanitized) words; our password never appears
    // unless the server itself sent those bytes.
    if (bytes.find("secret-password") == std::string_view::npos) check(m.find("secret-password") == std::string::npos);
    check(m.size() < 600);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  parse(bytes);
  authenticator(bytes);
  return 0;
}
