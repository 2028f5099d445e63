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

}  // namespace
}  // namespace mailbroker::secrets
