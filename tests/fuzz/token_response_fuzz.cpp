// libFuzzer target for the OAuth parsers: auth::parse_token_response /
// parse_token_error, sasl::parse_oauth_error_challenge and auth::parse_query.
//
// The input is one HTTP body (so the corpus stays plain token endpoint answers). It is
// parsed under several HTTP statuses, as a SASL challenge (both as the base64 text
// itself and base64-encoded so the JSON path is reached), and as a URL query. Documented
// contracts are checked; any violation traps.
//
// Build: clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I src
//          tests/fuzz/token_response_fuzz.cpp src/auth/token_response.cpp
//          src/auth/form.cpp src/sasl/oauth.cpp src/common/base64.cpp
//          src/common/error.cpp -lcrypto
// Run:   ./token_response_fuzz -max_len=4096 WORK_DIR tests/fuzz/corpus/token_response
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/form.hpp"
#include "auth/token_response.hpp"
#include "common/base64.hpp"
#include "sasl/oauth.hpp"

namespace {

using namespace mailbroker;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool has_control(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

bool iequals_bearer(std::string_view type) {
  if (type.size() != 6) return false;
  for (std::size_t i = 0; i < 6; ++i) {
    const char c = type[i] >= 'A' && type[i] <= 'Z' ? static_cast<char>(type[i] - 'A' + 'a') : type[i];
    if (c != "bearer"[i]) return false;
  }
  return true;
}

void token_response(std::string_view body) {
  const auto raw_error = auth::parse_token_error(body);
  if (raw_error) check(!raw_error->error.empty());

  for (int status : {200, 400, 401, 429, 503}) {
    for (std::string_view type : {"application/json; charset=utf-8", "text/html"}) {
      const auto got = auth::parse_token_response(status, type, body);
      if (got.ok()) {
        check(status == 200);
        check(!got->access_token.empty());
        check(iequals_bearer(got->token_type));
        if (got->expires_in) check(got->expires_in->count() >= 1 && *got->expires_in <= auth::max_expires_in);
        continue;
      }
      const error& e = got.err();
      check(e.code != errc::ok && e.code != errc::internal);
      check(e.message.rfind("token endpoint", 0) == 0);
      check(!has_control(e.message));
      // error code (100) + description (300) + fixed text.
      check(e.message.size() <= 460);
      if (e.code == errc::failed_precondition && e.message.rfind("token endpoint response: ", 0) == 0) {
        check(e.message.size() < 80);  // field name and problem only: no values
      }
      if (status == 429 || status == 503) check(e.code == errc::unavailable);
      if (status >= 400 && status != 429 && status != 503 && !raw_error) check(e.code == errc::unavailable);
    }
  }
}

void challenge(std::string_view bytes) {
  for (const std::string& text : {std::string(bytes), base64_encode(bytes)}) {
    const auto got = sasl::parse_oauth_error_challenge(text);
    if (!got.ok()) {
      check(got.err().code == errc::invalid_argument);
      continue;
    }
    const std::string summary = sasl::describe(got.value());
    check(!has_control(summary));
    check(summary.rfind("status ", 0) == 0);
  }
}

void query(std::string_view bytes) {
  const auto got = auth::parse_query(bytes);
  if (!got) return;
  std::vector<std::pair<std::string, std::string>> fields(got->begin(), got->end());
  const auto again = auth::parse_query(auth::form_urlencode(fields));
  check(again.has_value() && *again == *got);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  token_response(bytes);
  challenge(bytes);
  query(bytes);
  return 0;
}
