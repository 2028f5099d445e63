#include "net/http_authenticators.hpp"

#include "common/base64.hpp"

namespace mailbroker::net {
namespace {

bool has_control(const std::string& text) {
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) return true;
  }
  return false;
}

class basic_authenticator final : public http_authenticator {
 public:
  basic_authenticator(std::string user, std::string password) : user_(std::move(user)), password_(std::move(password)) {}

  std::string scheme() const override { return "Basic"; }
  void reset() override {}

  result<std::string> authorization() override {
    if (user_.empty()) return error{errc::invalid_argument, "Basic: the user name is empty"};
    if (user_.find(':') != std::string::npos) {
      return error{errc::invalid_argument, "Basic: the user name must not contain ':' (RFC 7617)"};
    }
    if (has_control(user_) || has_control(password_)) {
      return error{errc::invalid_argument, "Basic: the user name or password contains a control character"};
    }
    return "Basic " + base64_encode(user_ + ":" + password_);
  }

  result<std::string> respond(const std::vector<std::string>&) override {
    return error{errc::unauthenticated, "Basic: the server refused the user name or password (HTTP 401)"};
  }

 private:
  std::string user_, password_;
};

class bearer_authenticator final : public http_authenticator {
 public:
  explicit bearer_authenticator(std::function<result<std::string>()> token) : token_(std::move(token)) {}

  std::string scheme() const override { return "Bearer"; }
  void reset() override {}

  result<std::string> authorization() override {
    if (!token_) return error{errc::internal, "Bearer: no token source"};
    auto token = token_();
    if (!token) return token.err();
    if (token->empty() || has_control(*token) || token->find(' ') != std::string::npos) {
      return error{errc::internal, "Bearer: the access token is empty or contains a space or control character"};
    }
    return "Bearer " + *token;
  }

  result<std::string> respond(const std::vector<std::string>&) override {
    return error{errc::unauthenticated, "Bearer: the server refused the access token (HTTP 401)"};
  }

 private:
  std::function<result<std::string>()> token_;
};

}  // namespace

std::shared_ptr<http_authenticator> make_basic_authenticator(std::string user, std::string password) {
  return std::make_shared<basic_authenticator>(std::move(user), std::move(password));
}

std::shared_ptr<http_authenticator> make_bearer_authenticator(std::function<result<std::string>()> token) {
  return std::make_shared<bearer_authenticator>(std::move(token));
}

}  // namespace mailbroker::net
