#pragma once
#include <cstddef>
#include <string>

namespace mailbroker {

// `bytes` bytes from the OpenSSL CSPRNG, hex-encoded (lease ids, salts). Aborts if
// the CSPRNG fails: nothing secure can continue without it.
std::string random_hex(std::size_t bytes);

// Lower-case hex SHA-256 of `data`, or HMAC-SHA256 when `key` is not empty.
std::string sha256_hex(std::string_view data, std::string_view key = {});

}  // namespace mailbroker
