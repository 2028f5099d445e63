#include "auth/ntlm.hpp"


#include "auth/ntlm_crypto.hpp"
#include "auth/ntlm_text.hpp"

namespace mailbroker::auth {
namespace {

using ntlm_crypto::bytes_of;

constexpr std::string_view signature{"NTLMSSP\0", 8};
constexpr std::uint32_t always_sent = ntlm_flag::unicode | ntlm_flag::request_target | ntlm_flag::ntlm |
                                      ntlm_flag::always_sign | ntlm_flag::extended_session_security |
                                      ntlm_flag::target_info | ntlm_flag::negotiate_128 | ntlm_flag::negotiate_56;

template <std::size_t N>
std::string bytes_of_array(const std::array<std::uint8_t, N>& a) {
  return std::string(reinterpret_cast<const char*>(a.data()), N);
}

bool has_control(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

error field_error(const char* field, std::string_view value, bool may_have_controls) {
  if (value.size() > max_ntlm_field_bytes) {
    return {errc::invalid_argument, std::string("NTLM: the ") + field + " is longer than " +
                                        std::to_string(max_ntlm_field_bytes) + " bytes"};
  }
  if (!ntlm_text::is_valid_utf8(value)) {
    return {errc::invalid_argument, std::string("NTLM: the ") + field + " is not valid UTF-8"};
  }
  if (!may_have_controls && has_control(value)) {
    return {errc::invalid_argument, std::string("NTLM: the ") + field + " contains a control character"};
  }
  return error::none();
}

// Appends a (Len, MaxLen, Offset) field at `at` in `msg` for `data` placed at `offset`.
void set_field(std::string& msg, std::size_t at, std::size_t length, std::size_t offset) {
  std::string f;
  ntlm_le::put16(f, static_cast<std::uint16_t>(length));
  ntlm_le::put16(f, static_cast<std::uint16_t>(length));
  ntlm_le::put32(f, static_cast<std::uint32_t>(offset));
  msg.replace(at, 8, f);
}

// The server's TargetInfo for the NTLMv2 blob, with MsvAvFlags |= MIC present when asked.
std::string blob_target_info(const ntlm_challenge& c, bool with_mic) {
  std::vector<ntlm_av_pair> pairs = c.target_info;
  if (with_mic) {
    bool merged = false;
    for (auto& p : pairs) {
      if (p.id != ntlm_av::flags) continue;
      std::string v;
      ntlm_le::put32(v, static_cast<std::uint32_t>(ntlm_le::get(p.value, 0, 4)) | ntlm_av::flag_mic_present);
      p.value = v;
      merged = true;
    }
    if (!merged) {
      std::string v;
      ntlm_le::put32(v, ntlm_av::flag_mic_present);
      pairs.push_back({ntlm_av::flags, v});
    }
  }
  return serialize_target_info(pairs);
}

}  // namespace

error check_credentials(const ntlm_credentials& c) {
  if (c.user.empty()) return {errc::invalid_argument, "NTLM: the user name is empty"};
  if (error e = field_error("user name", c.user, false); !e.ok()) return e;
  if (error e = field_error("domain", c.domain, false); !e.ok()) return e;
  if (error e = field_error("workstation name", c.workstation, false); !e.ok()) return e;
  return field_error("password", c.password, true);
}

result<ntlm_account> split_ntlm_account(std::string_view account) {
  if (account.empty()) return error{errc::invalid_argument, "NTLM: the account is empty (use DOMAIN\\user or a UPN)"};
  const auto slash = account.find('\\');
  if (slash == std::string_view::npos) return ntlm_account{"", std::string(account)};
  if (account.find('\\', slash + 1) != std::string_view::npos) {
    return error{errc::invalid_argument, "NTLM: the account has more than one '\\' (use DOMAIN\\user)"};
  }
  if (slash == 0 || slash + 1 == account.size()) {
    return error{errc::invalid_argument, "NTLM: DOMAIN\\user needs both a domain and a user name"};
  }
  return ntlm_account{std::string(account.substr(0, slash)), std::string(account.substr(slash + 1))};
}

std::uint32_t negotiate_flags(const ntlm_options& o) {
  std::uint32_t flags = always_sent;
  if (o.key_exchange) flags |= ntlm_flag::key_exch;
  if (o.sign_and_seal) flags |= ntlm_flag::sign | ntlm_flag::seal;
  if (o.version) flags |= ntlm_flag::version;
  return flags;
}

std::string negotiate_message(const ntlm_options& o) {
  std::string msg(signature);
  ntlm_le::put32(msg, 1);
  ntlm_le::put32(msg, negotiate_flags(o));
  const std::uint32_t end = o.version ? 40 : 32;
  for (int field = 0; field < 2; ++field) {  // DomainNameFields, WorkstationFields: empty
    ntlm_le::put32(msg, 0);
    ntlm_le::put32(msg, end);
  }
  if (o.version) msg += bytes_of_array(*o.version);
  return msg;
}

std::array<std::uint8_t, 16> ntowfv2(std::string_view password, std::string_view user, std::string_view domain) {
  const auto nt_hash = ntlm_crypto::md4(ntlm_text::utf16le(password));
  std::string identity = ntlm_text::uppercase(user);
  identity += domain;
  return ntlm_crypto::hmac_md5(bytes_of(nt_hash), ntlm_text::utf16le(identity));
}

std::string ntlmv2_temp(std::uint64_t time, const std::array<std::uint8_t, 8>& client_challenge,
                        std::string_view target_info) {
  std::string temp("\x01\x01", 2);
  temp.append(6, '\0');
  ntlm_le::put64(temp, time);
  temp += bytes_of_array(client_challenge);
  temp.append(4, '\0');
  temp += target_info;
  temp.append(4, '\0');
  return temp;
}

ntlmv2_response compute_ntlmv2_response(const std::array<std::uint8_t, 16>& response_key,
                                        const std::array<std::uint8_t, 8>& server_challenge,
                                        const std::array<std::uint8_t, 8>& client_challenge, std::uint64_t time,
                                        std::string_view target_info) {
  const std::string key = bytes_of_array(response_key);
  const std::string temp = ntlmv2_temp(time, client_challenge, target_info);
  ntlmv2_response out;
  out.nt_proof = ntlm_crypto::hmac_md5(key, bytes_of_array(server_challenge) + temp);
  out.nt_challenge_response = bytes_of(out.nt_proof) + temp;
  out.session_base_key = ntlm_crypto::hmac_md5(key, bytes_of(out.nt_proof));
  return out;
}

std::string lmv2_response(const std::array<std::uint8_t, 16>& response_key,
                          const std::array<std::uint8_t, 8>& server_challenge,
                          const std::array<std::uint8_t, 8>& client_challenge) {
  const std::string cc = bytes_of_array(client_challenge);
  return bytes_of(ntlm_crypto::hmac_md5(bytes_of_array(response_key), bytes_of_array(server_challenge) + cc)) + cc;
}

std::array<std::uint8_t, 16> compute_mic(const std::array<std::uint8_t, 16>& exported_session_key,
                                         std::string_view negotiate, std::string_view challenge,
                                         std::string_view authenticate_with_zero_mic) {
  std::string all(negotiate);
  all += challenge;
  all += authenticate_with_zero_mic;
  return ntlm_crypto::hmac_md5(bytes_of_array(exported_session_key), all);
}

std::string authenticate_message(const ntlm_challenge& challenge, const ntlm_credentials& credentials,
                                 const std::string& negotiate_bytes, ntlm_randomness r) {
  const std::uint32_t asked = negotiate_bytes.size() >= 16
                                  ? static_cast<std::uint32_t>(ntlm_le::get(negotiate_bytes, 12, 4))
                                  : negotiate_flags({});
  const std::uint32_t flags = (asked & challenge.flags) | (asked & ntlm_flag::request_target);
  const bool with_mic = challenge.timestamp.has_value();
  const bool key_exch = (flags & ntlm_flag::key_exch) != 0;
  const bool version_agreed = (flags & ntlm_flag::version) != 0;

  const auto response_key = ntowfv2(credentials.password, credentials.user, credentials.domain);
  const std::uint64_t time = challenge.timestamp.value_or(r.timestamp);
  const auto nt = compute_ntlmv2_response(response_key, challenge.server_challenge, r.client_challenge, time,
                                          blob_target_info(challenge, with_mic));
  const std::string lm =
      with_mic ? std::string(24, '\0') : lmv2_response(response_key, challenge.server_challenge, r.client_challenge);
  const std::string session_key =
      key_exch ? ntlm_crypto::rc4(bytes_of(nt.session_base_key), bytes_of_array(r.session_key)) : std::string();
  const auto exported_key = key_exch ? r.session_key : nt.session_base_key;

  std::size_t header = 64;
  if (version_agreed || with_mic) header += 8;
  if (with_mic) header += 16;
  std::string msg(signature);
  ntlm_le::put32(msg, 3);
  msg.resize(60, '\0');  // the six payload fields are set by append() below
  ntlm_le::put32(msg, flags);
  msg.resize(header, '\0');  // Version and MIC, when present, start as zeros
  if (version_agreed && negotiate_bytes.size() >= 40) msg.replace(64, 8, negotiate_bytes.substr(32, 8));

  const std::string domain = ntlm_text::utf16le(credentials.domain);
  const std::string user = ntlm_text::utf16le(credentials.user);
  const std::string workstation = ntlm_text::utf16le(credentials.workstation);
  const auto append = [&msg](std::size_t field_at, const std::string& data) {
    set_field(msg, field_at, data.size(), msg.size());
    msg += data;
  };
  append(28, domain);
  append(36, user);
  append(44, workstation);
  append(12, lm);
  append(20, nt.nt_challenge_response);
  append(52, session_key);

  if (with_mic) {
    const auto mic = compute_mic(exported_key, negotiate_bytes, challenge.raw, msg);
    msg.replace(ntlm_mic_offset, 16, bytes_of(mic));
  }
  return msg;
}

}  // namespace mailbroker::auth
