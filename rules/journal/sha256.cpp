#include "journal/sha256.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

// SHA-256 as FIPS 180-4 section 6.2 defines it, written here so that qhardend
// does not map libcrypto (about 1.45 MiB of its idle RSS) for one hash of
// small configuration files. Speed is not a goal: the inputs are kilobytes.
namespace qharden {
namespace {

// FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube
// roots of the first 64 primes.
constexpr std::array<std::uint32_t, 64> kRoundConstants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// FIPS 180-4 5.3.3: the first 32 bits of the fractional parts of the square
// roots of the first 8 primes.
constexpr std::array<std::uint32_t, 8> kInitialHash = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

constexpr std::size_t kBlockBytes = 64;

// FIPS 180-4 6.2.2: one 512-bit block into the running hash.
void compress(std::array<std::uint32_t, 8>& hash, const unsigned char* block) {
  std::array<std::uint32_t, 64> schedule{};
  for (std::size_t word = 0; word < 16; ++word) {
    // Message words are big-endian whatever the host's byte order.
    schedule[word] = (std::uint32_t{block[word * 4]} << 24) |
                     (std::uint32_t{block[word * 4 + 1]} << 16) |
                     (std::uint32_t{block[word * 4 + 2]} << 8) | std::uint32_t{block[word * 4 + 3]};
  }
  for (std::size_t word = 16; word < 64; ++word) {
    const std::uint32_t before15 = schedule[word - 15];
    const std::uint32_t before2 = schedule[word - 2];
    const std::uint32_t small_sigma0 =
        std::rotr(before15, 7) ^ std::rotr(before15, 18) ^ (before15 >> 3);
    const std::uint32_t small_sigma1 =
        std::rotr(before2, 17) ^ std::rotr(before2, 19) ^ (before2 >> 10);
    schedule[word] = small_sigma1 + schedule[word - 7] + small_sigma0 + schedule[word - 16];
  }

  std::uint32_t a = hash[0], b = hash[1], c = hash[2], d = hash[3];
  std::uint32_t e = hash[4], f = hash[5], g = hash[6], h = hash[7];
  for (std::size_t round = 0; round < 64; ++round) {
    const std::uint32_t big_sigma1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
    const std::uint32_t choose = (e & f) ^ (~e & g);
    const std::uint32_t temporary1 =
        h + big_sigma1 + choose + kRoundConstants[round] + schedule[round];
    const std::uint32_t big_sigma0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
    const std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
    const std::uint32_t temporary2 = big_sigma0 + majority;
    h = g;
    g = f;
    f = e;
    e = d + temporary1;
    d = c;
    c = b;
    b = a;
    a = temporary1 + temporary2;
  }
  hash[0] += a;
  hash[1] += b;
  hash[2] += c;
  hash[3] += d;
  hash[4] += e;
  hash[5] += f;
  hash[6] += g;
  hash[7] += h;
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  std::array<std::uint32_t, 8> hash = kInitialHash;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t whole_blocks = bytes.size() / kBlockBytes;
  for (std::size_t block = 0; block < whole_blocks; ++block) {
    compress(hash, data + block * kBlockBytes);
  }

  // FIPS 180-4 5.1.1: the tail, a 1 bit, zeros up to 56 bytes mod 64, then
  // the message length in bits as a big-endian 64-bit number. A tail of 56
  // bytes or more leaves no room for the length, so it takes two blocks.
  const std::size_t tail_bytes = bytes.size() - whole_blocks * kBlockBytes;
  std::array<unsigned char, 2 * kBlockBytes> padding{};
  for (std::size_t index = 0; index < tail_bytes; ++index) {
    padding[index] = data[whole_blocks * kBlockBytes + index];
  }
  padding[tail_bytes] = 0x80;
  const std::size_t padded_bytes = tail_bytes < 56 ? kBlockBytes : 2 * kBlockBytes;
  const std::uint64_t length_bits = static_cast<std::uint64_t>(bytes.size()) * 8;
  for (std::size_t index = 0; index < 8; ++index) {
    padding[padded_bytes - 1 - index] = static_cast<unsigned char>(length_bits >> (index * 8));
  }
  for (std::size_t offset = 0; offset < padded_bytes; offset += kBlockBytes) {
    compress(hash, padding.data() + offset);
  }

  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (const std::uint32_t word : hash) {
    for (int shift = 28; shift >= 0; shift -= 4) {
      hex += kHex[(word >> shift) & 0x0f];
    }
  }
  return hex;
}

}  // namespace qharden
