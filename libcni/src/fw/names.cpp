// Chain names and quoting shared with the reference (see names.h); the hash is cni::Sha512Hex.
#include "cni/fw/names.h"

#include "cni/digest.h"
#include "cni/error.h"

namespace cni::fw {

std::string FormatChainName(std::string_view name, std::string_view id, std::string_view prefix) {
  constexpr size_t kMaxChainLength = 28;
  std::string full = "CNI-" + std::string(prefix);
  if (full.size() >= kMaxChainLength) throw Error(kInternal, "invalid length");
  std::string input(name);
  input += id;
  return (full + Sha512Hex(input)).substr(0, kMaxChainLength);
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

}  // namespace cni::fw
