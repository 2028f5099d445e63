// The impure corner of the NTLM code: the CSPRNG and the clock. Kept apart so ntlm.cpp
// (and the fuzz target built from it) needs no OpenSSL.
#include <openssl/rand.h>

#include <chrono>
#include <cstdlib>

#include "auth/ntlm.hpp"

namespace mailbroker::auth {
namespace {

// 100 ns intervals between 1601-01-01 and 1970-01-01.
constexpr std::uint64_t filetime_unix_epoch = 116444736000000000ULL;

}  // namespace

std::uint64_t filetime_now() {
  using hundred_ns = std::chrono::duration<std::int64_t, std::ratio<1, 10000000>>;
  const auto since_unix = std::chrono::duration_cast<hundred_ns>(std::chrono::system_clock::now().time_since_epoch());
  return filetime_unix_epoch + static_cast<std::uint64_t>(since_unix.count());
}

ntlm_randomness fresh_ntlm_randomness() {
  ntlm_randomness r;
  if (RAND_bytes(r.client_challenge.data(), static_cast<int>(r.client_challenge.size())) != 1) std::abort();
  if (RAND_bytes(r.session_key.data(), static_cast<int>(r.session_key.size())) != 1) std::abort();
  r.timestamp = filetime_now();
  return r;
}

std::string authenticate_message(const ntlm_challenge& challenge, const ntlm_credentials& credentials,
                                 const std::string& negotiate_bytes) {
  return authenticate_message(challenge, credentials, negotiate_bytes, fresh_ntlm_randomness());
}

}  // namespace mailbroker::auth
