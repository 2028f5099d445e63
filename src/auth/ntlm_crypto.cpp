#include "auth/ntlm_crypto.hpp"

#include <cstddef>

namespace mailbroker::auth::ntlm_crypto {
namespace {

using state4 = std::array<std::uint32_t, 4>;

constexpr std::uint32_t rotl(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

std::array<std::uint32_t, 16> load_block(const unsigned char* p) {
  std::array<std::uint32_t, 16> x{};
  for (std::size_t i = 0; i < 16; ++i) {
    x[i] = static_cast<std::uint32_t>(p[4 * i]) | static_cast<std::uint32_t>(p[4 * i + 1]) << 8 |
           static_cast<std::uint32_t>(p[4 * i + 2]) << 16 | static_cast<std::uint32_t>(p[4 * i + 3]) << 24;
  }
  return x;
}

// RFC 1320 section 3.4.
void md4_block(state4& s, const unsigned char* block) {
  const auto x = load_block(block);
  auto [a, b, c, d] = s;
  const auto f = [](std::uint32_t x1, std::uint32_t y, std::uint32_t z) { return (x1 & y) | (~x1 & z); };
  const auto g = [](std::uint32_t x1, std::uint32_t y, std::uint32_t z) { return (x1 & y) | (x1 & z) | (y & z); };
  const auto h = [](std::uint32_t x1, std::uint32_t y, std::uint32_t z) { return x1 ^ y ^ z; };
  static constexpr int r1[4] = {3, 7, 11, 19};
  for (int i = 0; i < 16; ++i) {
    const std::uint32_t t = rotl(a + f(b, c, d) + x[i], r1[i % 4]);
    a = d, d = c, c = b, b = t;
  }
  static constexpr int r2[4] = {3, 5, 9, 13};
  for (int i = 0; i < 16; ++i) {
    const int k = (i % 4) * 4 + i / 4;
    const std::uint32_t t = rotl(a + g(b, c, d) + x[k] + 0x5a827999u, r2[i % 4]);
    a = d, d = c, c = b, b = t;
  }
  static constexpr int r3[4] = {3, 9, 11, 15};
  static constexpr int order3[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
  for (int i = 0; i < 16; ++i) {
    const std::uint32_t t = rotl(a + h(b, c, d) + x[order3[i]] + 0x6ed9eba1u, r3[i % 4]);
    a = d, d = c, c = b, b = t;
  }
  s[0] += a, s[1] += b, s[2] += c, s[3] += d;
}

// RFC 1321 section 3.4; T[i] = floor(2^32 * abs(sin(i + 1))).
void md5_block(state4& s, const unsigned char* block) {
  static constexpr std::uint32_t t[64] = {
      0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
      0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
      0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
      0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
      0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
      0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
      0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
      0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
  static constexpr int r[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
  const auto x = load_block(block);
  auto [a, b, c, d] = s;
  for (int i = 0; i < 64; ++i) {
    const int round = i / 16;
    std::uint32_t f = 0;
    int k = 0;
    switch (round) {
      case 0: f = (b & c) | (~b & d), k = i; break;
      case 1: f = (d & b) | (~d & c), k = (5 * i + 1) % 16; break;
      case 2: f = b ^ c ^ d, k = (3 * i + 5) % 16; break;
      default: f = c ^ (b | ~d), k = (7 * i) % 16; break;
    }
    const std::uint32_t sum = a + f + t[i] + x[k];
    a = d, d = c, c = b;
    b = b + rotl(sum, r[round][i % 4]);
  }
  s[0] += a, s[1] += b, s[2] += c, s[3] += d;
}

// The padding and length encoding MD4 and MD5 share (RFC 1320/1321 sections 3.1-3.2):
// 0x80, zeros up to 56 mod 64, the bit length as 64 bits little-endian.
template <class Block>
digest16 merkle_damgard(std::string_view bytes, Block block) {
  state4 s = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  const std::uint64_t bits = static_cast<std::uint64_t>(n) * 8;
  for (; n >= 64; n -= 64, p += 64) block(s, p);
  unsigned char tail[128] = {};
  for (std::size_t i = 0; i < n; ++i) tail[i] = p[i];
  tail[n] = 0x80;
  const std::size_t tail_len = n < 56 ? 64 : 128;
  for (int i = 0; i < 8; ++i) tail[tail_len - 8 + i] = static_cast<unsigned char>(bits >> (8 * i));
  block(s, tail);
  if (tail_len == 128) block(s, tail + 64);
  digest16 out{};
  for (std::size_t i = 0; i < 16; ++i) out[i] = static_cast<std::uint8_t>(s[i / 4] >> (8 * (i % 4)));
  return out;
}

}  // namespace

digest16 md4(std::string_view bytes) { return merkle_damgard(bytes, md4_block); }
digest16 md5(std::string_view bytes) { return merkle_damgard(bytes, md5_block); }

digest16 hmac_md5(std::string_view key, std::string_view bytes) {
  std::string k(key);
  if (k.size() > 64) k = bytes_of(md5(k));
  k.resize(64, '\0');
  std::string inner(64, '\0'), outer(64, '\0');
  for (std::size_t i = 0; i < 64; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  inner.append(bytes);
  outer.append(bytes_of(md5(inner)));
  return md5(outer);
}

std::string rc4(std::string_view key, std::string_view bytes) {
  const std::string_view k = key.empty() ? std::string_view("\0", 1) : key.substr(0, 256);
  std::array<std::uint8_t, 256> s{};
  for (int i = 0; i < 256; ++i) s[i] = static_cast<std::uint8_t>(i);
  std::uint8_t j = 0;
  for (std::size_t i = 0; i < 256; ++i) {
    j = static_cast<std::uint8_t>(j + s[i] + static_cast<std::uint8_t>(k[i % k.size()]));
    std::swap(s[i], s[j]);
  }
  std::string out(bytes);
  std::uint8_t i = 0;
  j = 0;
  for (char& c : out) {
    i = static_cast<std::uint8_t>(i + 1);
    j = static_cast<std::uint8_t>(j + s[i]);
    std::swap(s[i], s[j]);
    c = static_cast<char>(static_cast<std::uint8_t>(c) ^ s[static_cast<std::uint8_t>(s[i] + s[j])]);
  }
  return out;
}

}  // namespace mailbroker::auth::ntlm_crypto
