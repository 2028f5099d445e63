#include "daemon/audit_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace mailbroker::daemon {
namespace {

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

result<std::unique_ptr<audit_log>> audit_log::open(const std::string& path) {
  std::unique_ptr<audit_log> log(new audit_log());
  if (path == "-") return log;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return error{errc::failed_precondition, "audit-log: cannot open " + path + ": " + std::strerror(errno)};
  }
  log->fd_ = fd;
  return log;
}

audit_log::~audit_log() {
  if (fd_ >= 0) ::close(fd_);
}

void audit_log::record(const trust::principal& who, std::string_view call, std::string_view session,
                       std::string_view permission, std::string_view outcome, std::string_view detail) {
  nlohmann::ordered_json line;
  line["time"] = utc_now();
  line["principal"] = who.id();
  if (who.k == trust::principal::kind::unix_peer) line["pid"] = who.pid;
  line["call"] = call;
  if (!session.empty()) line["session"] = session;
  if (!permission.empty()) line["permission"] = permission;
  line["outcome"] = outcome;
  if (!detail.empty()) line["detail"] = detail;
  // Text from callers may be invalid UTF-8 (names are validated later): replace, never throw.
  auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (fd_ < 0) {
    spdlog::info("audit: {}", text);
    return;
  }
  text += '\n';
  std::lock_guard lock(mutex_);
  // One write per line with O_APPEND: lines from several threads never interleave.
  if (::write(fd_, text.data(), text.size()) < 0) spdlog::warn("audit-log: write failed: {}", std::strerror(errno));
}

}  // namespace mailbroker::daemon
