#include "parsers/byte_text.h"

#include <array>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace qharden {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> decoding_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& value : table) value = -1;
  for (std::size_t index = 0; index < kAlphabet.size(); ++index) {
    table[static_cast<unsigned char>(kAlphabet[index])] = static_cast<std::int8_t>(index);
  }
  return table;
}

constexpr std::array<std::int8_t, 256> kDecoding = decoding_table();

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  std::size_t index = 0;
  while (index < bytes.size()) {
    auto lead = static_cast<unsigned char>(bytes[index]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (lead < 0x80) {
      ++index;
      continue;
    }
    if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code_point = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code_point = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (index + length > bytes.size()) return false;
    for (std::size_t next = 1; next < length; ++next) {
      auto continuation = static_cast<unsigned char>(bytes[index + next]);
      if ((continuation & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (continuation & 0x3f);
    }
    // Overlong forms, surrogates and values past Unicode are what JSON
    // parsers reject too.
    static constexpr std::array<std::uint32_t, 5> kSmallest{0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kSmallest[length] || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return false;
    }
    index += length;
  }
  return true;
}

std::string base64_encode(std::string_view bytes) {
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t index = 0;
  while (index + 3 <= bytes.size()) {
    std::uint32_t group = (static_cast<unsigned char>(bytes[index]) << 16) |
                          (static_cast<unsigned char>(bytes[index + 1]) << 8) |
                          static_cast<unsigned char>(bytes[index + 2]);
    for (int shift : {18, 12, 6, 0}) text += kAlphabet[(group >> shift) & 0x3f];
    index += 3;
  }
  std::size_t rest = bytes.size() - index;
  if (rest > 0) {
    std::uint32_t group = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[index]))
                          << 16;
    if (rest == 2)
      group |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[index + 1])) << 8;
    text += kAlphabet[(group >> 18) & 0x3f];
    text += kAlphabet[(group >> 12) & 0x3f];
    text += rest == 2 ? kAlphabet[(group >> 6) & 0x3f] : '=';
    text += '=';
  }
  return text;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (std::size_t index = 0; index < text.size(); index += 4) {
    bool last = index + 4 == text.size();
    std::size_t padding = 0;
    if (last && text[index + 3] == '=') padding = text[index + 2] == '=' ? 2 : 1;
    std::uint32_t group = 0;
    for (std::size_t offset = 0; offset < 4; ++offset) {
      std::int8_t value =
          offset >= 4 - padding ? 0 : kDecoding[static_cast<unsigned char>(text[index + offset])];
      if (value < 0) return std::nullopt;
      group = (group << 6) | static_cast<std::uint32_t>(value);
    }
    bytes += static_cast<char>((group >> 16) & 0xff);
    if (padding < 2) bytes += static_cast<char>((group >> 8) & 0xff);
    if (padding < 1) bytes += static_cast<char>(group & 0xff);
  }
  // Canonical only: bits that padding drops must be zero, so one byte string
  // has one encoding.
  if (base64_encode(bytes) != text) return std::nullopt;
  return bytes;
}

std::string with_invalid_utf8_replaced(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  std::string quoted = nlohmann::json(std::string(bytes))
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

}  // namespace qharden
