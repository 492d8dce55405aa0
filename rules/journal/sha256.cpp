#include "journal/sha256.h"

#include <openssl/evp.h>

namespace qharden {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int index = 0; index < length; ++index) {
    hex += kHex[digest[index] >> 4];
    hex += kHex[digest[index] & 0x0f];
  }
  return hex;
}

}  // namespace qharden
