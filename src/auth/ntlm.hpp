#pragma once
// NTLMv2 client messages ([MS-NLMP]): NEGOTIATE, the CHALLENGE parser (ntlm_challenge.hpp)
// and AUTHENTICATE, with NTOWFv2, the NTLMv2 response, the MIC and key exchange. NTLMv1
// and LM-only responses are never produced, whatever the server's flags say.
//
// Pure: no I/O, no logging, no clock or randomness except in the functions that say so
// (those live in ntlm_random.cpp, the only NTLM file that needs OpenSSL).
// Nothing here puts a password, hash or key in an error message.
//
// Usage (one TCP connection, see ntlm_authenticator.hpp for the HTTP wrapping):
//   const std::string negotiate = negotiate_message({});          // send, base64
//   auto challenge = parse_challenge(bytes_from_the_401);          // check .ok()
//   const std::string auth = authenticate_message(*challenge, creds, negotiate);
//
// Not implemented: channel bindings (MsvAvChannelBindings, Extended Protection for
// Authentication) and MsvAvTargetName; servers that require EPA refuse our AUTHENTICATE.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/ntlm_challenge.hpp"
#include "common/error.hpp"

namespace mailbroker::auth {

// UTF-8. `domain` may be empty (then `user` is usually a UPN, user@example.com).
// `workstation` is informational (shown in the server's logs); may be empty.
struct ntlm_credentials {
  std::string user, domain, password, workstation;
};

// Each credential field is refused above this many UTF-8 bytes (Windows caps names at
// 256 characters and passwords at 256; this bounds the messages we build).
inline constexpr std::size_t max_ntlm_field_bytes = 1024;

// Checks credentials before any message is built: user not empty; every field valid
// UTF-8, free of control characters (except the password, which may hold any valid
// UTF-8) and at most max_ntlm_field_bytes. Errors: invalid_argument naming the field
// ("NTLM: the password is not valid UTF-8"), never its value for the password.
error check_credentials(const ntlm_credentials& credentials);

struct ntlm_account {
  std::string domain, user;
};

// Splits an account as users type it:
//   "DOMAIN\user"        -> {domain "DOMAIN", user "user"}
//   "user@example.com"   -> {domain "", user "user@example.com"}: a UPN goes whole in
//                           the user field with an empty domain, as Windows clients do;
//                           the domain controller resolves it
//   "user"               -> {domain "", user "user"}
// Errors (invalid_argument): empty input, an empty part around '\', more than one '\'.
result<ntlm_account> split_ntlm_account(std::string_view account);

// What the NEGOTIATE message asks for. We always send UNICODE, REQUEST_TARGET, NTLM,
// ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, TARGET_INFO, 128 and 56 (the core of what
// Windows clients send; none of them can lower the NTLMv2 response we compute), never
// OEM, LM_KEY or the OEM_*_SUPPLIED flags; the rest is here:
struct ntlm_options {
  // KEY_EXCH: when the server agrees, AUTHENTICATE carries a fresh random session key
  // encrypted with the session base key, and the MIC is keyed with it. HTTP never signs
  // or seals, but Windows clients ask for it and servers expect it; on by default.
  bool key_exchange = true;
  // SIGN | SEAL: message security, which HTTP does not use. Off by default; on only to
  // reproduce [MS-NLMP] examples or for protocols that do sign.
  bool sign_and_seal = false;
  // VERSION flag and field (ProductMajor, ProductMinor, Build (LE), 3 reserved,
  // NTLMRevisionCurrent = 15). Debugging only per [MS-NLMP]; off by default.
  std::optional<std::array<std::uint8_t, 8>> version;
};

std::uint32_t negotiate_flags(const ntlm_options& options);

// The NEGOTIATE_MESSAGE bytes (32, or 40 with a version): no domain or workstation
// supplied (the OEM_*_SUPPLIED flags are never set).
std::string negotiate_message(const ntlm_options& options);

// NTOWFv2 = HMAC_MD5(MD4(UTF-16LE(password)), UTF-16LE(Uppercase(user) + domain))
// ([MS-NLMP] 3.3.2; see ntlm_text::uppercase for the case mapping). Inputs are UTF-8.
std::array<std::uint8_t, 16> ntowfv2(std::string_view password, std::string_view user, std::string_view domain);

// What the client draws for each AUTHENTICATE; explicit so tests are deterministic.
struct ntlm_randomness {
  std::array<std::uint8_t, 8> client_challenge{};
  std::array<std::uint8_t, 16> session_key{};  // ExportedSessionKey when KEY_EXCH is agreed
  std::uint64_t timestamp = 0;  // FILETIME (100 ns since 1601), used when the server sends none
};

// Fresh values: OpenSSL's CSPRNG (aborts if it fails, like random_hex) and the system clock.
ntlm_randomness fresh_ntlm_randomness();

// Current time as a Windows FILETIME.
std::uint64_t filetime_now();

// The pieces of [MS-NLMP] 3.3.2, exposed for tests and a server-side verifier.
struct ntlmv2_response {
  std::array<std::uint8_t, 16> nt_proof{};          // NTProofStr
  std::string nt_challenge_response;                // NTProofStr + temp
  std::array<std::uint8_t, 16> session_base_key{};  // also KeyExchangeKey for NTLMv2
};

// temp = 0x01 0x01 Z(6) time client_challenge Z(4) target_info Z(4); `target_info` is
// the serialized AV pairs including MsvAvEOL.
std::string ntlmv2_temp(std::uint64_t time, const std::array<std::uint8_t, 8>& client_challenge,
                        std::string_view target_info);

ntlmv2_response compute_ntlmv2_response(const std::array<std::uint8_t, 16>& response_key,
                                        const std::array<std::uint8_t, 8>& server_challenge,
                                        const std::array<std::uint8_t, 8>& client_challenge, std::uint64_t time,
                                        std::string_view target_info);

// LMv2: HMAC_MD5(key, server_challenge + client_challenge) + client_challenge (24 bytes).
std::string lmv2_response(const std::array<std::uint8_t, 16>& response_key,
                          const std::array<std::uint8_t, 8>& server_challenge,
                          const std::array<std::uint8_t, 8>& client_challenge);

// MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE + CHALLENGE + AUTHENTICATE), the last
// with its MIC field zeroed ([MS-NLMP] 3.1.5.1.2).
std::array<std::uint8_t, 16> compute_mic(const std::array<std::uint8_t, 16>& exported_session_key,
                                         std::string_view negotiate, std::string_view challenge,
                                         std::string_view authenticate_with_zero_mic);

// The byte offset of the MIC inside an AUTHENTICATE message that carries one.
inline constexpr std::size_t ntlm_mic_offset = 72;

// The AUTHENTICATE_MESSAGE answering `challenge` ([MS-NLMP] 3.1.5.1.2):
//   - flags: what `negotiate_bytes` asked for and the server granted (REQUEST_TARGET kept
//     as asked: it is a request, servers need not echo it);
//   - NtChallengeResponse: NTLMv2 over the server's TargetInfo; its time is the server's
//     MsvAvTimestamp when present, else r.timestamp;
//   - when the server sent MsvAvTimestamp: LmChallengeResponse is Z(24), MsvAvFlags gets
//     bit 0x2 and the message carries a MIC over NEGOTIATE + CHALLENGE + AUTHENTICATE;
//     otherwise LmChallengeResponse is LMv2 and there is no MIC field;
//   - EncryptedRandomSessionKey = RC4(SessionBaseKey, r.session_key) when KEY_EXCH was
//     agreed, else empty;
//   - Version (from the NEGOTIATE) when VERSION was agreed; zeros when only the MIC needs
//     the field to be there;
//   - payload order Domain, User, Workstation, LM, NT, session key (as [MS-NLMP] 4.2.4.3).
// Preconditions: check_credentials(credentials) passed; `negotiate_bytes` is what
// negotiate_message returned on this connection; `challenge` came from parse_challenge.
std::string authenticate_message(const ntlm_challenge& challenge, const ntlm_credentials& credentials,
                                 const std::string& negotiate_bytes, ntlm_randomness r);

// Same, drawing fresh_ntlm_randomness().
std::string authenticate_message(const ntlm_challenge& challenge, const ntlm_credentials& credentials,
                                 const std::string& negotiate_bytes);

}  // namespace mailbroker::auth
