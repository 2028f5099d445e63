#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cctype>
#include <string>

#include "common/base64.hpp"
#include "store/cipher.hpp"
#include "store/secret_key.hpp"
#include "unit/store_test_support.hpp"

namespace mailbroker::store {
namespace {

using testing::read_file_bytes;
using testing::temp_dir;
using testing::write_file_bytes;

const std::string key_hex_a = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string key_hex_b = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";

secret_key key_from_hex(const std::string& hex) { return parse_key_text(hex, "test").value(); }

std::string key_bytes(const secret_key& key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

mode_t file_mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

constexpr std::string_view decrypt_failure = "cannot decrypt: wrong key or corrupted data";

void expect_decrypt_failure(const result<std::string>& r) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_NE(r.err().message.find(decrypt_failure), std::string::npos) << r.err().message;
}

// --- seal / open_sealed

TEST(StoreCipher, SealOpenRoundTrip) {
  const secret_key key = key_from_hex(key_hex_a);
  const std::string binary("a\0b\xff\x01 with NULs", 15);
  for (const std::string& plain : {std::string(), std::string("hunter2"), binary, std::string(1 << 20, 'x')}) {
    auto sealed = seal(key, plain, "vault:pw");
    ASSERT_TRUE(sealed.ok()) << sealed.err().message;
    EXPECT_EQ(sealed->size(), plain.size() + sealed_overhead);
    EXPECT_EQ(static_cast<unsigned char>((*sealed)[0]), sealed_format_version);
    auto opened = open_sealed(key, *sealed, "vault:pw");
    ASSERT_TRUE(opened.ok()) << opened.err().message;
    EXPECT_EQ(*opened, plain);
  }
}

TEST(StoreCipher, SealedDataDoesNotContainThePlaintext) {
  const secret_key key = key_from_hex(key_hex_a);
  const std::string plain = "correct horse battery staple";
  auto sealed = seal(key, plain, "vault:pw");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find(plain), std::string::npos);
  EXPECT_EQ(sealed->find("horse"), std::string::npos);
}

TEST(StoreCipher, NonceDiffersEachSeal) {
  const secret_key key = key_from_hex(key_hex_a);
  auto first = seal(key, "same text", "aad");
  auto second = seal(key, "same text", "aad");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(first->substr(1, sealed_nonce_size), second->substr(1, sealed_nonce_size));
  EXPECT_NE(*first, *second);
}

TEST(StoreCipher, AnyTamperedByteIsRefused) {
  const secret_key key = key_from_hex(key_hex_a);
  auto sealed = seal(key, "top secret value", "vault:pw");
  ASSERT_TRUE(sealed.ok());
  // Every position: version, nonce, ciphertext and tag.
  for (std::size_t i = 0; i < sealed->size(); ++i) {
    std::string tampered = *sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    SCOPED_TRACE("byte " + std::to_string(i));
    expect_decrypt_failure(open_sealed(key, tampered, "vault:pw"));
  }
}

TEST(StoreCipher, WrongAadIsRefused) {
  const secret_key key = key_from_hex(key_hex_a);
  auto sealed = seal(key, "value", "vault:a");
  ASSERT_TRUE(sealed.ok());
  expect_decrypt_failure(open_sealed(key, *sealed, "vault:b"));
  expect_decrypt_failure(open_sealed(key, *sealed, "sessions:a"));
  expect_decrypt_failure(open_sealed(key, *sealed, ""));
}

TEST(StoreCipher, WrongKeyIsRefused) {
  auto sealed = seal(key_from_hex(key_hex_a), "value", "aad");
  ASSERT_TRUE(sealed.ok());
  expect_decrypt_failure(open_sealed(key_from_hex(key_hex_b), *sealed, "aad"));
}

TEST(StoreCipher, TruncatedOrUnknownVersionIsRefused) {
  const secret_key key = key_from_hex(key_hex_a);
  auto sealed = seal(key, "value", "aad");
  ASSERT_TRUE(sealed.ok());
  expect_decrypt_failure(open_sealed(key, "", "aad"));
  expect_decrypt_failure(open_sealed(key, sealed->substr(0, sealed_overhead - 1), "aad"));
  expect_decrypt_failure(open_sealed(key, sealed->substr(0, sealed->size() - 1), "aad"));
  expect_decrypt_failure(open_sealed(key, sealed->substr(0, sealed_overhead), "aad"));
  std::string v2 = *sealed;
  v2[0] = 0x02;
  expect_decrypt_failure(open_sealed(key, v2, "aad"));
}

// --- secret_key and parse_key_text

TEST(SecretKey, ParsesHexAndBase64WithSurroundingWhitespace) {
  const secret_key reference = key_from_hex(key_hex_a);
  const std::string b64 = base64_encode(key_bytes(reference));
  ASSERT_EQ(b64.size(), 44u);
  std::string upper = key_hex_a;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& text :
       {key_hex_a, upper, "  " + key_hex_a + "\n", "\t" + key_hex_a + "\r\n", b64, b64 + "\n", b64.substr(0, 43)}) {
    auto key = parse_key_text(text, "MAILBROKER_VAULT_KEY");
    ASSERT_TRUE(key.ok()) << key.err().message;
    EXPECT_EQ(key_bytes(*key), key_bytes(reference));
  }
}

TEST(SecretKey, BadTextIsRefusedWithoutEchoingIt) {
  const std::string b64_31 = base64_encode(std::string(31, '\x5a'));
  const std::string b64_33 = base64_encode(std::string(33, '\x5a'));
  for (const std::string& text :
       {std::string(), std::string(" \n"), key_hex_a.substr(0, 63), key_hex_a + "0", "zz" + key_hex_a.substr(2),
        key_hex_a.substr(0, 30) + " " + key_hex_a.substr(31), b64_31, b64_33, std::string("hunter2-not-a-key")}) {
    SCOPED_TRACE("input length " + std::to_string(text.size()));
    auto key = parse_key_text(text, "MAILBROKER_VAULT_KEY");
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.err().code, errc::invalid_argument);
    EXPECT_NE(key.err().message.find("MAILBROKER_VAULT_KEY"), std::string::npos) << key.err().message;
    EXPECT_NE(key.err().message.find("64 hex"), std::string::npos) << key.err().message;
    EXPECT_NE(key.err().message.find("base64"), std::string::npos) << key.err().message;
    if (text.size() > 4) {
      EXPECT_EQ(key.err().message.find(text.substr(0, 12)), std::string::npos);
    }
  }
}

TEST(SecretKey, KeyIdIsShortStableAndRevealsNothing) {
  const secret_key a = key_from_hex(key_hex_a);
  const std::string id = a.key_id();
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(key_from_hex(key_hex_a).key_id(), id);
  EXPECT_NE(key_from_hex(key_hex_b).key_id(), id);
  EXPECT_EQ(key_hex_a.find(id), std::string::npos);
}

TEST(SecretKey, MovedFromKeyIsWipedAndCopiesAreIndependent) {
  secret_key a = key_from_hex(key_hex_a);
  secret_key copy = a;
  secret_key moved = std::move(a);
  EXPECT_EQ(key_bytes(a), std::string(secret_key_size, '\0'));  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(key_bytes(moved), key_bytes(copy));
  EXPECT_EQ(copy.key_id(), key_from_hex(key_hex_a).key_id());
}

// --- key files

TEST(KeyFile, CreatedWithMode0600AndReused) {
  temp_dir dir;
  const std::string path = dir.file("vault.key");
  const mode_t old_umask = ::umask(0);  // fchmod, not the umask, must give 0600
  auto created = load_or_create_key_file(path);
  ::umask(old_umask);
  ASSERT_TRUE(created.ok()) << created.err().message;
  EXPECT_EQ(file_mode(path), 0600u);

  const std::string content = read_file_bytes(path);
  ASSERT_EQ(content.size(), 65u);
  EXPECT_EQ(content.back(), '\n');
  EXPECT_EQ(content.find_first_not_of("0123456789abcdef"), 64u);

  auto again = load_or_create_key_file(path);
  ASSERT_TRUE(again.ok()) << again.err().message;
  EXPECT_EQ(key_bytes(*again), key_bytes(*created));
  auto loaded = load_key_file(path);
  ASSERT_TRUE(loaded.ok()) << loaded.err().message;
  EXPECT_EQ(loaded->key_id(), created->key_id());

  temp_dir other;
  auto fresh = load_or_create_key_file(other.file("vault.key"));
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->key_id(), created->key_id());
}

TEST(KeyFile, GroupOrWorldAccessibleFileIsRefused) {
  temp_dir dir;
  const std::string path = dir.file("vault.key");
  ASSERT_TRUE(load_or_create_key_file(path).ok());
  for (const mode_t mode : {0640, 0604, 0660, 0602}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    for (const auto& r : {load_key_file(path), load_or_create_key_file(path)}) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.err().code, errc::failed_precondition);
      EXPECT_NE(r.err().message.find("chmod 600 " + path), std::string::npos) << r.err().message;
    }
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(load_key_file(path).ok());
}

TEST(KeyFile, MissingFileOrDirectoryNamesThePath) {
  temp_dir dir;
  const std::string missing = dir.file("absent.key");
  auto r = load_key_file(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_NE(r.err().message.find(missing), std::string::npos);

  const std::string no_dir = dir.file("no/such/dir/vault.key");
  auto c = load_or_create_key_file(no_dir);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.err().code, errc::failed_precondition);
  EXPECT_NE(c.err().message.find(no_dir), std::string::npos);
}

TEST(KeyFile, BadContentNamesThePathNotTheContent) {
  temp_dir dir;
  const std::string path = dir.file("vault.key");
  write_file_bytes(path, "my-password-is-not-a-key\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto r = load_key_file(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_NE(r.err().message.find(path), std::string::npos);
  EXPECT_EQ(r.err().message.find("my-password"), std::string::npos);

  write_file_bytes(path, key_hex_b + "\n");
  auto ok = load_key_file(path);
  ASSERT_TRUE(ok.ok()) << ok.err().message;
  EXPECT_EQ(ok->key_id(), key_from_hex(key_hex_b).key_id());
}

}  // namespace
}  // namespace mailbroker::store
