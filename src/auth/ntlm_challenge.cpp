#include "auth/ntlm_challenge.hpp"

#include <set>

#include "auth/ntlm_text.hpp"

namespace mailbroker::auth {
namespace {

constexpr std::string_view signature{"NTLMSSP\0", 8};
constexpr std::size_t short_header = 32;  // up to and including ServerChallenge
constexpr std::size_t full_header = 48;   // + Reserved + TargetInfoFields

error bad(std::string what) { return {errc::invalid_argument, "NTLM challenge: " + std::move(what)}; }

// A payload field: (Len, MaxLen, Offset) at `at`; MaxLen is ignored on receipt.
result<std::string_view> payload(std::string_view msg, std::size_t at, std::size_t header_end, const char* name) {
  const auto len = static_cast<std::size_t>(ntlm_le::get(msg, at, 2));
  const auto offset = static_cast<std::size_t>(ntlm_le::get(msg, at + 4, 4));
  if (len == 0) return std::string_view{};
  if (offset < header_end) {
    return bad(std::string(name) + " offset " + std::to_string(offset) + " points into the fixed header (which ends at " +
               std::to_string(header_end) + ")");
  }
  if (offset > msg.size() || len > msg.size() - offset) {
    return bad(std::string(name) + " (" + std::to_string(len) + " bytes at offset " + std::to_string(offset) +
               ") runs past the end of the " + std::to_string(msg.size()) + "-byte message");
  }
  return msg.substr(offset, len);
}

error parse_target_info(std::string_view info, ntlm_challenge& c) {
  std::set<std::uint16_t> seen;
  std::size_t at = 0;
  for (;;) {
    if (info.size() - at < 4) {
      return bad("TargetInfo ends without MsvAvEOL (AV pair header truncated at TargetInfo byte " + std::to_string(at) +
                 ")");
    }
    const auto id = static_cast<std::uint16_t>(ntlm_le::get(info, at, 2));
    const auto len = static_cast<std::size_t>(ntlm_le::get(info, at + 2, 2));
    const std::string where = "AV pair " + std::to_string(id) + " at TargetInfo byte " + std::to_string(at);
    if (len > info.size() - at - 4) {
      return bad(where + " claims " + std::to_string(len) + " bytes but only " + std::to_string(info.size() - at - 4) +
                 " remain");
    }
    if (id == ntlm_av::eol) {
      if (len != 0) return bad(where + ": MsvAvEOL must have length 0");
      if (at + 4 != info.size()) return bad(where + ": bytes follow MsvAvEOL inside TargetInfo");
      return error::none();
    }
    if (!seen.insert(id).second) return bad(where + " appears twice");
    const std::string_view value = info.substr(at + 4, len);
    switch (id) {
      case ntlm_av::timestamp:
        if (len != 8) return bad(where + ": MsvAvTimestamp must be 8 bytes");
        c.timestamp = ntlm_le::get(value, 0, 8);
        break;
      case ntlm_av::flags:
        if (len != 4) return bad(where + ": MsvAvFlags must be 4 bytes");
        c.av_flags = static_cast<std::uint32_t>(ntlm_le::get(value, 0, 4));
        break;
      case ntlm_av::nb_computer_name:
      case ntlm_av::nb_domain_name:
      case ntlm_av::dns_computer_name:
      case ntlm_av::dns_domain_name:
      case ntlm_av::dns_tree_name: {
        if (len % 2 != 0) return bad(where + ": a UTF-16 name must have an even length");
        std::string name = ntlm_text::utf8_from_utf16le(value);
        if (id == ntlm_av::nb_computer_name) c.nb_computer_name = std::move(name);
        if (id == ntlm_av::nb_domain_name) c.nb_domain_name = std::move(name);
        if (id == ntlm_av::dns_computer_name) c.dns_computer_name = std::move(name);
        if (id == ntlm_av::dns_domain_name) c.dns_domain_name = std::move(name);
        if (id == ntlm_av::dns_tree_name) c.dns_tree_name = std::move(name);
        break;
      }
      default:
        break;  // kept as received and echoed back in the NTLMv2 blob
    }
    c.target_info.push_back({id, std::string(value)});
    at += 4 + len;
  }
}

}  // namespace

result<ntlm_challenge> parse_challenge(std::string_view msg) {
  if (msg.size() > max_challenge_bytes) {
    return bad("message is " + std::to_string(msg.size()) + " bytes, over the " + std::to_string(max_challenge_bytes) +
               "-byte limit");
  }
  if (msg.size() < short_header) {
    return bad("message is " + std::to_string(msg.size()) + " bytes, shorter than the 32-byte minimum");
  }
  if (msg.substr(0, 8) != signature) return bad("signature is not \"NTLMSSP\\0\" (bytes 0-7)");
  const auto type = ntlm_le::get(msg, 8, 4);
  if (type != 2) return bad("MessageType is " + std::to_string(type) + ", expected 2 (CHALLENGE_MESSAGE) at byte 8");

  ntlm_challenge c;
  c.raw = std::string(msg);
  c.flags = static_cast<std::uint32_t>(ntlm_le::get(msg, 20, 4));
  if (!(c.flags & ntlm_flag::unicode)) {
    return bad("the server did not select Unicode (NTLMSSP_NEGOTIATE_UNICODE); OEM code pages are not supported");
  }
  for (std::size_t i = 0; i < 8; ++i) c.server_challenge[i] = static_cast<std::uint8_t>(msg[24 + i]);

  const bool has_info_fields = msg.size() >= full_header;
  if ((c.flags & ntlm_flag::target_info) && !has_info_fields) {
    return bad("the TARGET_INFO flag is set but the message (" + std::to_string(msg.size()) +
               " bytes) ends before TargetInfoFields (bytes 40-47)");
  }
  std::size_t header_end = has_info_fields ? full_header : short_header;
  if (c.flags & ntlm_flag::version) {
    if (msg.size() < full_header + 8) {
      return bad("the VERSION flag is set but the message ends before the Version field (bytes 48-55)");
    }
    std::array<std::uint8_t, 8> v{};
    for (std::size_t i = 0; i < 8; ++i) v[i] = static_cast<std::uint8_t>(msg[full_header + i]);
    c.version = v;
    header_end = full_header + 8;
  }

  auto name = payload(msg, 12, header_end, "TargetName");
  if (!name) return name.err();
  if (name->size() % 2 != 0) return bad("TargetName has an odd length; UTF-16 needs an even one");
  c.target_name = ntlm_text::utf8_from_utf16le(*name);

  if (has_info_fields) {
    auto info = payload(msg, 40, header_end, "TargetInfo");
    if (!info) return info.err();
    if (!info->empty()) {
      if (error e = parse_target_info(*info, c); !e.ok()) return e;
    } else if (c.flags & ntlm_flag::target_info) {
      return bad("the TARGET_INFO flag is set but TargetInfo is empty");
    }
  }
  return c;
}

std::string serialize_target_info(const std::vector<ntlm_av_pair>& pairs) {
  std::string out;
  for (const auto& p : pairs) {
    ntlm_le::put16(out, p.id);
    ntlm_le::put16(out, static_cast<std::uint16_t>(p.value.size()));
    out += p.value;
  }
  ntlm_le::put32(out, 0);  // MsvAvEOL
  return out;
}

}  // namespace mailbroker::auth
