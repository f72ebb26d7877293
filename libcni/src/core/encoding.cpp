// Base64 with Go's StdEncoding rules and Go's strconv.Quote (see encoding.h).
#include "cni/encoding.h"

#include <array>
#include <cstdint>

#include "cni/error.h"

namespace cni {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeReverse() {
  std::array<int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i) r[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return r;
}
constexpr std::array<int8_t, 256> kReverse = MakeReverse();

[[noreturn]] void Illegal(size_t at) {
  throw Error(kDecodingFailure, "illegal base64 data at input byte " + std::to_string(at));
}

}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(data[k])); };
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string Base64Decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int have = 0;      // sextets in acc
  int padding = 0;   // '=' seen
  size_t last = 0;   // position of the last significant character, for error offsets
  for (size_t pos = 0; pos < text.size(); ++pos) {
    char c = text[pos];
    if (c == '\r' || c == '\n') continue;
    last = pos;
    if (c == '=') {
      // Padding may only complete a quantum that has 2 or 3 sextets.
      if (have < 2 || have + padding >= 4) Illegal(pos);
      ++padding;
      continue;
    }
    if (padding > 0) Illegal(pos);  // data after padding
    int8_t d = kReverse[static_cast<uint8_t>(c)];
    if (d < 0) Illegal(pos);
    acc = acc << 6 | static_cast<uint32_t>(d);
    if (++have == 4) {
      out += static_cast<char>(acc >> 16);
      out += static_cast<char>(acc >> 8 & 0xff);
      out += static_cast<char>(acc & 0xff);
      acc = 0;
      have = 0;
    }
  }
  if (have == 0 && padding == 0) return out;
  if (have + padding != 4) Illegal(have == 1 && padding == 0 ? last : text.size());
  // Like Go's non-strict StdEncoding, non-zero bits below the last byte are ignored.
  if (have == 2) {
    out += static_cast<char>(acc >> 4 & 0xff);
  } else {
    out += static_cast<char>(acc >> 10 & 0xff);
    out += static_cast<char>(acc >> 2 & 0xff);
  }
  return out;
}

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);  // UTF-8 bytes pass through (printable runes)
        }
    }
  }
  return out + "\"";
}

}  // namespace cni
