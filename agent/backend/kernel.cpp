// MAC helpers shared by every Dataplane implementation (see kernel.h).
#include "agent/backend/kernel.h"

#include <cstdio>

namespace weft::agent {

std::optional<Mac> ParseMac(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  Mac m{};
  for (size_t i = 0; i < 6; ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(s[i * 3]), lo = hex(s[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':')) return std::nullopt;
    m[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return m;
}

std::string MacString(const Mac& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

Mac StableMac(std::string_view seed) {
  // FNV-1a 64: stable across builds and architectures (std::hash is not).
  uint64_t h = 1469598103934665603ull;
  for (char ch : seed) {
    h ^= static_cast<uint8_t>(ch);
    h *= 1099511628211ull;
  }
  Mac m{};
  for (size_t i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(h >> (8 * i));
  m[0] = static_cast<uint8_t>((m[0] & 0xfe) | 0x02);
  return m;
}

}  // namespace weft::agent
