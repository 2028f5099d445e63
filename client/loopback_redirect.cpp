#include "client/loopback_redirect.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "auth/form.hpp"
#include "auth/url.hpp"

namespace mailbroker::client {
namespace {

int bind_listen(int family, const std::string& address, std::uint16_t port) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = -1;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    ::inet_pton(AF_INET6, address.c_str(), &a.sin6_addr);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0 || ::listen(fd, 8) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void respond(int fd, int status, const std::string& title, const std::string& text) {
  const std::string body = "<!doctype html><meta charset=utf-8><title>" + title + "</title><h1>" + title +
                           "</h1><p>" + text + "</p>\n";
  const std::string head = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Not Found") +
                           "\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
                           "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  const std::string all = head + body;
  std::size_t sent = 0;
  while (sent < all.size()) {
    const auto n = ::send(fd, all.data() + sent, all.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
}

// Reads the request head (bounded); returns the request target or "" when malformed.
std::string read_target(int fd, std::chrono::steady_clock::time_point deadline) {
  std::string head;
  char buf[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos && head.size() < 16384) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 5000))) <= 0) break;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    head.append(buf, static_cast<std::size_t>(n));
  }
  // "GET /callback?code=...&state=... HTTP/1.1"
  if (head.rfind("GET ", 0) != 0) return {};
  const auto end = head.find(' ', 4);
  if (end == std::string::npos) return {};
  return head.substr(4, end - 4);
}

}  // namespace

result<std::unique_ptr<loopback_redirect>> loopback_redirect::listen(const std::string& redirect_uri) {
  auto url = auth::parse_url(redirect_uri, /*allow_http=*/true);
  if (!url || url->scheme != "http") {
    return error{errc::invalid_argument, "redirect_uri '" + redirect_uri + "' is not an http:// URI"};
  }
  std::vector<std::pair<int, std::string>> addresses;
  if (url->host == "localhost") {
    addresses = {{AF_INET, "127.0.0.1"}, {AF_INET6, "::1"}};
  } else if (url->host == "127.0.0.1") {
    addresses = {{AF_INET, "127.0.0.1"}};
  } else if (url->host == "::1" || url->host == "[::1]") {
    addresses = {{AF_INET6, "::1"}};
  } else {
    return error{errc::invalid_argument, "redirect_uri host '" + url->host + "' is not a loopback address"};
  }
  std::vector<int> fds;
  for (const auto& [family, address] : addresses) {
    const int fd = bind_listen(family, address, url->port);
    if (fd >= 0) fds.push_back(fd);
  }
  if (fds.empty()) {
    return error{errc::failed_precondition, "cannot listen on " + url->host + ":" + std::to_string(url->port) +
                                                " for the redirect (port in use?): " + std::strerror(errno)};
  }
  std::string path = url->target.substr(0, url->target.find('?'));
  return std::unique_ptr<loopback_redirect>(new loopback_redirect(std::move(fds), path.empty() ? "/" : path));
}

loopback_redirect::~loopback_redirect() {
  for (int fd : fds_) ::close(fd);
}

result<redirect_result> loopback_redirect::wait(const std::string& expected_state, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return error{errc::deadline_exceeded, "no browser came back to the redirect URI in time"};
    }
    std::vector<pollfd> polls;
    for (int fd : fds_) polls.push_back({fd, POLLIN, 0});
    if (::poll(polls.data(), polls.size(), static_cast<int>(std::min<long>(left.count(), 1000))) <= 0) continue;
    for (const auto& p : polls) {
      if ((p.revents & POLLIN) == 0) continue;
      const int conn = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      const std::string target = read_target(conn, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(10)));
      const auto q = target.find('?');
      const std::string path = target.substr(0, q);
      auto query = q == std::string::npos ? std::nullopt : auth::parse_query(target.substr(q + 1));
      if (path != path_ || !query || query->count("state") == 0 || query->at("state") != expected_state) {
        respond(conn, 404, "Not found", "This is mailbroker's OAuth2 redirect listener.");
        ::close(conn);
        continue;
      }
      redirect_result out;
      auto get = [&](const char* k) { return query->count(k) ? query->at(k) : std::string(); };
      out.code = get("code");
      out.state = get("state");
      out.error = get("error");
      out.error_description = get("error_description");
      if (out.error.empty()) {
        respond(conn, 200, "mailbroker: authorized", "You can close this window; the daemon now holds the token.");
      } else {
        // The provider's text is not echoed into the page (no markup injection).
        respond(conn, 200, "mailbroker: authorization refused", "See the terminal. You can close this window.");
      }
      ::close(conn);
      return out;
    }
  }
}

}  // namespace mailbroker::client
