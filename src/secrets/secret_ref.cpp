#include "secrets/secret_ref.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/random.hpp"

namespace mailbroker::secrets {

result<std::string> resolve(const secret_ref& ref, std::string_view field, const vault_reader* vault) {
  const std::string f(field);
  switch (ref.kind) {
    case secret_ref::source::none:
      return error{errc::invalid_argument, f + " is required (inline_value, env, file or vault)"};
    case secret_ref::source::inline_value:
      if (ref.value.empty()) return error{errc::invalid_argument, f + ".inline_value is empty"};
      return ref.value;
    case secret_ref::source::env: {
      if (ref.value.empty()) return error{errc::invalid_argument, f + ".env: the variable name is empty"};
      const char* v = std::getenv(ref.value.c_str());
      if (v == nullptr || *v == '\0') {
        return error{errc::failed_precondition,
                     f + ".env: environment variable " + ref.value + " is not set (or empty) in the daemon's environment"};
      }
      return std::string(v);
    }
    case secret_ref::source::file: {
      if (ref.value.empty()) return error{errc::invalid_argument, f + ".file: the path is empty"};
      std::ifstream in(ref.value, std::ios::binary);
      if (!in) return error{errc::failed_precondition, f + ".file: cannot read '" + ref.value + "' on the daemon's machine"};
      std::ostringstream content;
      content << in.rdbuf();
      std::string v = content.str();
      if (!v.empty() && v.back() == '\n') v.pop_back();
      if (!v.empty() && v.back() == '\r') v.pop_back();
      if (v.empty()) return error{errc::failed_precondition, f + ".file: '" + ref.value + "' is empty"};
      return v;
    }
    case secret_ref::source::vault: {
      if (ref.value.empty()) return error{errc::invalid_argument, f + ".vault: the entry name is empty"};
      if (vault == nullptr) {
        return error{errc::failed_precondition,
                     f + ".vault: the daemon runs without a store (state-dir none), so it has no vault"};
      }
      auto v = vault->read(ref.value);
      if (!v) return error{v.err().code, f + ".vault: " + v.err().message};
      return v;
    }
  }
  return error{errc::internal, f + ": unknown secret source"};
}

std::string describe(const secret_ref& ref) {
  switch (ref.kind) {
    case secret_ref::source::none: return "none";
    case secret_ref::source::inline_value: return "inline";
    case secret_ref::source::env: return "env:" + ref.value;
    case secret_ref::source::file: return "file:" + ref.value;
    case secret_ref::source::vault: return "vault:" + ref.value;
  }
  return "unknown";
}

result<secret_ref> parse_secret_ref_text(std::string_view text, std::string_view field) {
  const auto colon = text.find(':');
  const std::string_view kind = text.substr(0, colon == std::string_view::npos ? 0 : colon);
  const std::string_view rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  secret_ref ref;
  if (kind == "env") {
    ref.kind = secret_ref::source::env;
  } else if (kind == "file") {
    ref.kind = secret_ref::source::file;
  } else if (kind == "vault") {
    ref.kind = secret_ref::source::vault;
  } else {
    // Never echo the text: it may be a secret pasted in by mistake.
    return error{errc::invalid_argument,
                 std::string(field) + ": expected env:NAME, file:/path or vault:NAME (inline secrets are not accepted here)"};
  }
  if (rest.empty()) return error{errc::invalid_argument, std::string(field) + ": the name after '" + std::string(kind) + ":' is empty"};
  ref.value = std::string(rest);
  return ref;
}

std::string identity(const secret_ref& ref) {
  if (ref.kind != secret_ref::source::inline_value) return describe(ref);
  static const std::string key = random_hex(32);
  return "inline:" + sha256_hex(ref.value, key);
}

}  // namespace mailbroker::secrets
