#include "secrets/secret_ref.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mailbroker::secrets {
namespace {

using src = secret_ref::source;

TEST(secret_ref, InlineEnvAndFile) {
  EXPECT_EQ(resolve({src::inline_value, "s3cret"}, "pw").value(), "s3cret");

  ::setenv("MB_SECRET_REF_TEST", "from-env", 1);
  EXPECT_EQ(resolve({src::env, "MB_SECRET_REF_TEST"}, "pw").value(), "from-env");

  const auto path = std::filesystem::temp_directory_path() / "mb-secret-ref-test";
  std::ofstream(path) << "from-file\r\n";
  EXPECT_EQ(resolve({src::file, path.string()}, "pw").value(), "from-file");
  std::filesystem::remove(path);
}

TEST(secret_ref, FailuresNameTheFieldAndNeverTheValue) {
  auto none = resolve({}, "spec.auth.basic.password");
  EXPECT_EQ(none.err().code, errc::invalid_argument);
  EXPECT_NE(none.err().message.find("spec.auth.basic.password"), std::string::npos);

  ::unsetenv("MB_SECRET_REF_UNSET");
  auto unset = resolve({src::env, "MB_SECRET_REF_UNSET"}, "pw");
  EXPECT_EQ(unset.err().code, errc::failed_precondition);
  EXPECT_NE(unset.err().message.find("MB_SECRET_REF_UNSET"), std::string::npos);

  auto missing = resolve({src::file, "/nonexistent/secret"}, "pw");
  EXPECT_EQ(missing.err().code, errc::failed_precondition);

  const auto path = std::filesystem::temp_directory_path() / "mb-secret-ref-empty";
  std::ofstream(path) << "\n";
  EXPECT_EQ(resolve({src::file, path.string()}, "pw").err().code, errc::failed_precondition);
  std::filesystem::remove(path);

  EXPECT_EQ(describe({src::inline_value, "hunter2"}), "inline");
  EXPECT_EQ(describe({src::env, "VAR"}), "env:VAR");
  EXPECT_EQ(identity({src::inline_value, "hunter2"}).find("hunter2"), std::string::npos);
}


class fake_vault final : public vault_reader {
 public:
  result<std::string> read(const std::string& name) const override {
    if (name == "bot-password") return std::string("from-vault");
    if (name == "broken") return error{errc::internal, "store: disk I/O error"};
    return error{errc::failed_precondition, "no vault entry '" + name + "' (add it with `mailbroker vault put`)"};
  }
};

TEST(secret_ref, Vault) {
  const fake_vault vault;
  EXPECT_EQ(resolve({src::vault, "bot-password"}, "pw", &vault).value(), "from-vault");
  EXPECT_EQ(describe({src::vault, "bot-password"}), "vault:bot-password");
  EXPECT_EQ(identity({src::vault, "bot-password"}), "vault:bot-password");

  auto no_vault = resolve({src::vault, "bot-password"}, "spec.auth.basic.password", nullptr);
  ASSERT_FALSE(no_vault.ok());
  EXPECT_EQ(no_vault.err().code, errc::failed_precondition);
  EXPECT_EQ(no_vault.err().message.rfind("spec.auth.basic.password.vault: ", 0), 0u) << no_vault.err().message;

  auto missing = resolve({src::vault, "nope"}, "spec.auth.basic.password", &vault);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.err().code, errc::failed_precondition);
  EXPECT_EQ(missing.err().message.rfind("spec.auth.basic.password.vault: no vault entry 'nope'", 0), 0u)
      << missing.err().message;

  auto broken = resolve({src::vault, "broken"}, "pw", &vault);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.err().code, errc::internal);
  EXPECT_EQ(broken.err().message.rfind("pw.vault: ", 0), 0u) << broken.err().message;

  auto empty = resolve({src::vault, ""}, "pw", &vault);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.err().code, errc::invalid_argument);
}

TEST(secret_ref_text, ParsesEnvFileAndVault) {
  struct row {
    const char* text;
    src kind;
    const char* value;
  };
  const row rows[] = {
      {"env:MB_SECRET", src::env, "MB_SECRET"},
      {"file:/etc/mailbroker/secret", src::file, "/etc/mailbroker/secret"},
      {"vault:corp-client-secret", src::vault, "corp-client-secret"},
      {"vault:a:b", src::vault, "a:b"},  // only the first ':' separates
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.text);
    auto ref = parse_secret_ref_text(r.text, "oauth2-connection.x.client-secret");
    ASSERT_TRUE(ref.ok()) << ref.err().message;
    EXPECT_EQ(ref->kind, r.kind);
    EXPECT_EQ(ref->value, r.value);
    EXPECT_EQ(describe(*ref), r.text);
  }
}

TEST(secret_ref_text, RefusesAnythingElseWithoutEchoingIt) {
  const char* secrets_pasted[] = {
      "Xq8~s3cretValue", "inline:Xq8~s3cretValue", "ENV:Xq8~s3cretValue", "Xq8~s3cret:Value", ":Xq8~s3cretValue",
      "",
  };
  for (const char* text : secrets_pasted) {
    SCOPED_TRACE(text);
    auto ref = parse_secret_ref_text(text, "oauth2-connection.x.client-secret");
    ASSERT_FALSE(ref.ok());
    EXPECT_EQ(ref.err().code, errc::invalid_argument);
    EXPECT_NE(ref.err().message.find("oauth2-connection.x.client-secret"), std::string::npos) << ref.err().message;
    EXPECT_EQ(ref.err().message.find("s3cret"), std::string::npos) << ref.err().message;
  }
  for (const char* text : {"env:", "file:", "vault:"}) {
    SCOPED_TRACE(text);
    auto ref = parse_secret_ref_text(text, "f");
    ASSERT_FALSE(ref.ok());
    EXPECT_EQ(ref.err().code, errc::invalid_argument);
  }
}

}  // namespace
}  // namespace mailbroker::secrets
