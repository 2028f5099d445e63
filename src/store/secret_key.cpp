#include "store/secret_key.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "common/base64.hpp"

namespace mailbroker::store {
namespace {

constexpr std::size_t max_key_file_size = 4096;

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

std::string errno_text(int e) { return std::strerror(e); }

// Closes on scope exit so every early return releases the descriptor.
class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Returns close()'s errno (0 on success): on some file systems a write error shows only here.
  int close_now() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<secret_key> from_hex(std::string_view text) {
  if (text.size() != 2 * secret_key_size) return std::nullopt;
  secret_key key;
  for (std::size_t i = 0; i < secret_key_size; ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;  // `key` wipes what was filled in so far
    key.data()[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return key;
}

std::optional<secret_key> from_base64(std::string_view text) {
  std::optional<std::string> bytes = base64_decode(text);
  if (!bytes) return std::nullopt;
  std::optional<secret_key> key;
  if (bytes->size() == secret_key_size) key.emplace(reinterpret_cast<const unsigned char*>(bytes->data()));
  wipe(*bytes);
  return key;
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n\v\f";
  const auto first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(space);
  return s.substr(first, last - first + 1);
}

// Reserved up front so appending never reallocates and leaves a stray copy of the key.
std::string key_file_text(const secret_key& key) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * secret_key_size + 1);
  for (std::size_t i = 0; i < secret_key_size; ++i) {
    out.push_back(digits[key.data()[i] >> 4]);
    out.push_back(digits[key.data()[i] & 0x0f]);
  }
  out.push_back('\n');
  return out;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Makes the new directory entry itself durable, not just the file's content.
void fsync_parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

secret_key::secret_key(const unsigned char* bytes) { std::memcpy(bytes_.data(), bytes, bytes_.size()); }

secret_key::secret_key(const secret_key& other) : bytes_(other.bytes_) {}

secret_key& secret_key::operator=(const secret_key& other) {
  bytes_ = other.bytes_;
  return *this;
}

secret_key::secret_key(secret_key&& other) noexcept : bytes_(other.bytes_) {
  OPENSSL_cleanse(other.bytes_.data(), other.bytes_.size());
}

secret_key& secret_key::operator=(secret_key&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    OPENSSL_cleanse(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

secret_key::~secret_key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

std::string secret_key::key_id() const {
  // The domain label (with its NUL) keeps this hash from equalling any other use of SHA-256 over the key.
  static constexpr char domain[] = "mailbroker key id";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, domain, sizeof domain) == 1 &&
                  EVP_DigestUpdate(ctx, bytes_.data(), bytes_.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest, &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || len < 8) return "unknown";
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 8; ++i) {
    out.push_back(digits[digest[i] >> 4]);
    out.push_back(digits[digest[i] & 0x0f]);
  }
  return out;
}

result<secret_key> parse_key_text(std::string_view text, std::string_view origin) {
  const std::string_view t = trim(text);
  const std::string o(origin);
  if (t.empty()) {
    return error{errc::invalid_argument,
                 o + " is empty: give a vault key as 64 hex characters or as base64 of 32 bytes "
                     "(e.g. from `openssl rand -hex 32`)"};
  }
  if (auto key = from_hex(t)) return std::move(*key);
  if (auto key = from_base64(t)) return std::move(*key);
  return error{errc::invalid_argument,
               o + " does not hold a vault key: expected 64 hex characters or base64 of exactly 32 bytes "
                   "(e.g. from `openssl rand -hex 32`)"};
}

result<secret_key> load_key_file(const std::string& path) {
  const int raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (raw_fd < 0) {
    const int e = errno;
    if (e == ENOENT) {
      return error{errc::failed_precondition,
                   "vault key file " + path + " does not exist: give the right path, or create a key with "
                   "`umask 077; openssl rand -hex 32 > " + path + "`"};
    }
    return error{errc::failed_precondition,
                 "cannot open vault key file " + path + ": " + errno_text(e) + ": check its path and permissions"};
  }
  fd_guard fd(raw_fd);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return error{errc::failed_precondition, "cannot stat vault key file " + path + ": " + errno_text(errno)};
  }
  if (!S_ISREG(st.st_mode)) {
    return error{errc::failed_precondition, "vault key file " + path + " is not a regular file"};
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return error{errc::failed_precondition, "vault key file " + path + " is accessible by group or others (mode " +
                                                octal_mode(st.st_mode) + "): run `chmod 600 " + path + "`"};
  }
  std::string content;
  content.reserve(max_key_file_size + 1);  // no reallocation: no stray copies of the key
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      OPENSSL_cleanse(buf, sizeof buf);
      wipe(content);
      return error{errc::failed_precondition, "cannot read vault key file " + path + ": " + errno_text(e)};
    }
    if (n == 0) break;
    if (content.size() + static_cast<std::size_t>(n) > max_key_file_size) {
      OPENSSL_cleanse(buf, sizeof buf);
      wipe(content);
      return error{errc::invalid_argument, "vault key file " + path + " is too large to hold a key (more than " +
                                               std::to_string(max_key_file_size) + " bytes): check the path"};
    }
    content.append(buf, static_cast<std::size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof buf);
  result<secret_key> key = parse_key_text(content, path);
  wipe(content);
  return key;
}

result<secret_key> load_or_create_key_file(const std::string& path) {
  // O_EXCL instead of "stat, then create": whoever loses a creation race reads the winner's key.
  const int raw_fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (raw_fd < 0) {
    const int e = errno;
    if (e == EEXIST) return load_key_file(path);
    return error{errc::failed_precondition, "cannot create vault key file " + path + ": " + errno_text(e) +
                                                ": check that its directory exists and is writable"};
  }
  fd_guard fd(raw_fd);
  // The umask may have removed bits, never added them; fchmod makes the 0600 explicit anyway.
  if (::fchmod(fd.get(), 0600) != 0) {
    const int e = errno;
    ::unlink(path.c_str());
    return error{errc::failed_precondition, "cannot set mode 0600 on new vault key file " + path + ": " + errno_text(e)};
  }
  secret_key key;
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    ::unlink(path.c_str());
    return error{errc::internal, "cannot create vault key file " + path + ": the OpenSSL random generator failed"};
  }
  std::string text = key_file_text(key);
  const bool written = write_all(fd.get(), text);
  const int write_errno = errno;
  wipe(text);
  int e = written ? 0 : write_errno;
  if (e == 0 && ::fsync(fd.get()) != 0) e = errno;
  if (e == 0) e = fd.close_now();
  if (e != 0) {
    // A half-written key file would be refused on every later start; better to leave none.
    ::unlink(path.c_str());
    return error{errc::failed_precondition, "cannot write new vault key file " + path + ": " + errno_text(e)};
  }
  fsync_parent_dir(path);
  return key;
}

}  // namespace mailbroker::store
