#include "daemon/private_directory.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

namespace mailbroker::daemon {

error prepare_private_directory(const std::string& dir, mode_t mode, std::string_view what) {
  namespace fs = std::filesystem;
  const fs::path path = fs::absolute(dir).lexically_normal();
  const std::string name = path.string();
  const auto euid = ::geteuid();
  struct stat st{};
  if (::lstat(name.c_str(), &st) != 0) {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) return {errc::failed_precondition, std::string(what) + ": cannot create " + name + ": " + ec.message()};
    ::chmod(name.c_str(), mode);
    if (::lstat(name.c_str(), &st) != 0) {
      return {errc::failed_precondition, std::string(what) + ": cannot stat " + name};
    }
  }
  const std::string prefix = std::string(what) + ": directory " + name;
  if (S_ISLNK(st.st_mode)) return {errc::failed_precondition, prefix + " is a symbolic link; give the real directory"};
  if (!S_ISDIR(st.st_mode)) return {errc::failed_precondition, prefix + " is not a directory"};
  if (st.st_uid != euid) {
    return {errc::failed_precondition, prefix + " belongs to uid " + std::to_string(st.st_uid) + ", not to uid " +
                                           std::to_string(euid) +
                                           " which runs mailbrokerd: another user may have created it to take over "
                                           "the socket; remove it or choose another path"};
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return {errc::failed_precondition, prefix + " is writable by group or others; chmod go-w it"};
  }
  for (fs::path p = path.parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat pst{};
    if (::stat(p.c_str(), &pst) != 0) break;
    const bool owner_ok = pst.st_uid == 0 || pst.st_uid == euid;
    const bool writable = (pst.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    if (!owner_ok || (writable && (pst.st_mode & S_ISVTX) == 0)) {
      return {errc::failed_precondition, std::string(what) + ": " + p.string() + " (a parent of " + name +
                                             ") can be changed by another user (owner uid " +
                                             std::to_string(pst.st_uid) +
                                             (writable ? ", group/world-writable without the sticky bit" : "") +
                                             "); choose a path under directories only root or you control"};
    }
    if (p == p.root_path()) break;
  }
  return error::none();
}

}  // namespace mailbroker::daemon
