#pragma once
// The NTLM CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2), parsed strictly and without I/O, plus
// the flag and AV-pair constants the other NTLM files share.
//
// Pure: no OpenSSL, no Asio, so the fuzz target (clang) compiles it as is.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mailbroker::auth {

// NEGOTIATE flags ([MS-NLMP] 2.2.2.5) this code reads or sends.
namespace ntlm_flag {
inline constexpr std::uint32_t unicode = 0x00000001;
inline constexpr std::uint32_t oem = 0x00000002;
inline constexpr std::uint32_t request_target = 0x00000004;
inline constexpr std::uint32_t sign = 0x00000010;
inline constexpr std::uint32_t seal = 0x00000020;
inline constexpr std::uint32_t lm_key = 0x00000080;
inline constexpr std::uint32_t ntlm = 0x00000200;
inline constexpr std::uint32_t always_sign = 0x00008000;
inline constexpr std::uint32_t extended_session_security = 0x00080000;
inline constexpr std::uint32_t target_info = 0x00800000;
inline constexpr std::uint32_t version = 0x02000000;
inline constexpr std::uint32_t negotiate_128 = 0x20000000;
inline constexpr std::uint32_t key_exch = 0x40000000;
inline constexpr std::uint32_t negotiate_56 = 0x80000000;
}  // namespace ntlm_flag

// AV_PAIR ids ([MS-NLMP] 2.2.2.1).
namespace ntlm_av {
inline constexpr std::uint16_t eol = 0;
inline constexpr std::uint16_t nb_computer_name = 1;
inline constexpr std::uint16_t nb_domain_name = 2;
inline constexpr std::uint16_t dns_computer_name = 3;
inline constexpr std::uint16_t dns_domain_name = 4;
inline constexpr std::uint16_t dns_tree_name = 5;
inline constexpr std::uint16_t flags = 6;
inline constexpr std::uint16_t timestamp = 7;
inline constexpr std::uint16_t single_host = 8;
inline constexpr std::uint16_t target_name = 9;
inline constexpr std::uint16_t channel_bindings = 10;
// MsvAvFlags bit: "the client is providing message integrity in the MIC field".
inline constexpr std::uint32_t flag_mic_present = 0x00000002;
}  // namespace ntlm_av

// A CHALLENGE_MESSAGE larger than this is refused. Real ones are a few hundred bytes (a
// target name and five or six AV pairs); 16 KiB leaves room for long DNS names while
// bounding what a hostile server can make us copy. It also keeps the TargetInfo we echo
// in the AUTHENTICATE message well inside that message's 16-bit length fields.
inline constexpr std::size_t max_challenge_bytes = 16 * 1024;

// One AV_PAIR of the server's TargetInfo, value as received (names are UTF-16LE).
struct ntlm_av_pair {
  std::uint16_t id = 0;
  std::string value;
};

struct ntlm_challenge {
  std::string raw;                             // the message as received (the MIC covers it)
  std::uint32_t flags = 0;                     // the server's NegotiateFlags
  std::array<std::uint8_t, 8> server_challenge{};
  std::string target_name;                     // UTF-8 (decoded from UTF-16LE), may be empty
  // TargetInfo in order, without the terminating MsvAvEOL. Empty when the server sent none
  // (pre-2003 servers); the NTLMv2 blob then carries just MsvAvEOL.
  std::vector<ntlm_av_pair> target_info;
  std::optional<std::array<std::uint8_t, 8>> version;  // when the VERSION flag is set

  // Conveniences read from target_info (UTF-8; "" when absent).
  std::string nb_domain_name, nb_computer_name, dns_domain_name, dns_computer_name, dns_tree_name;
  std::optional<std::uint64_t> timestamp;  // MsvAvTimestamp, a FILETIME
  std::optional<std::uint32_t> av_flags;   // MsvAvFlags as the server sent them
};

// Parses the raw (base64-decoded) CHALLENGE_MESSAGE. Strict:
//   - 32 bytes at least (signature, type, TargetNameFields, flags, challenge); the
//     TargetInfoFields (bytes 40-47) are read when the message has 48 bytes or more and
//     are required when the TARGET_INFO flag is set; the 8-byte Version follows when the
//     VERSION flag is set; at most max_challenge_bytes;
//   - signature "NTLMSSP\0", MessageType 2;
//   - the UNICODE flag must be set (we only speak UTF-16; OEM code pages are refused);
//   - every payload field (offset, length) lies inside the message and after the fixed
//     header (MaxLen is ignored, as [MS-NLMP] says); UTF-16 fields have an even length;
//   - TargetInfo is a sequence of AV pairs ending with exactly one MsvAvEOL at its end;
//     each pair fits; no id appears twice; MsvAvTimestamp is 8 bytes, MsvAvFlags 4, the
//     name pairs have even lengths.
// Errors: invalid_argument, "NTLM challenge: " + what is wrong and where (field name and
// byte offset), never the server's bytes.
result<ntlm_challenge> parse_challenge(std::string_view bytes);

// The TargetInfo bytes for these pairs, terminated by MsvAvEOL.
std::string serialize_target_info(const std::vector<ntlm_av_pair>& pairs);

// Little-endian helpers shared by the NTLM message code. get() reads `width` bytes at
// `at` and does not check bounds: callers have checked them.
namespace ntlm_le {
inline void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
inline void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline std::uint64_t get(std::string_view in, std::size_t at, int width) {
  std::uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}
}  // namespace ntlm_le

}  // namespace mailbroker::auth
