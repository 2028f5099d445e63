#pragma once
// The four primitives NTLMv2 is built from: MD4 (RFC 1320), MD5 (RFC 1321), HMAC-MD5
// (RFC 2104) and RC4. Pure functions over bytes; they cannot fail and keep no state.
//
// Why our own code and not OpenSSL's: OpenSSL 3 moved MD4 and RC4 to the "legacy"
// provider, a module loaded at run time (legacy.so). Loading it into a private
// OSSL_LIB_CTX works on this machine, but then every NTLM computation can fail at run
// time (a slim container image without ossl-modules/, OPENSSL_MODULES pointing elsewhere,
// a FIPS-only configuration that refuses MD4/RC4 and MD5) and the first NTLM login would
// be where we learn it. These algorithms are small, fixed and published with test suites;
// tests/unit/ntlm_test.cpp checks them against RFC 1320, RFC 1321, RFC 2104/2202 and
// known RC4 vectors, and cross-checks them against OpenSSL (default provider for MD5, a
// private legacy-provider context for MD4 and RC4) on random inputs.
//
// Not for anything but NTLM: MD4, MD5 and RC4 are broken for general use; NTLM needs them.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailbroker::auth::ntlm_crypto {

using digest16 = std::array<std::uint8_t, 16>;

digest16 md4(std::string_view bytes);
digest16 md5(std::string_view bytes);
// HMAC (RFC 2104) with MD5; any key length (keys over 64 bytes are hashed first).
digest16 hmac_md5(std::string_view key, std::string_view bytes);
// RC4 keystream XOR `bytes` (encrypts and decrypts alike). `key` must be 1..256 bytes;
// an empty key is treated as the single byte 0 (never used by NTLM: its keys are 16 bytes).
std::string rc4(std::string_view key, std::string_view bytes);

// The digest's bytes as a std::string (for concatenating into messages).
inline std::string bytes_of(const digest16& d) { return std::string(reinterpret_cast<const char*>(d.data()), d.size()); }

}  // namespace mailbroker::auth::ntlm_crypto
