// IPv4/MAC value types of the agent (see ip4.h).
#include "ip4.h"

#include <cstdio>

namespace weft::agent {

std::optional<Ip4> Ip4::Parse(std::string_view s) {
  uint32_t v = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
    size_t start = i;
    uint32_t octet = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      octet = octet * 10 + static_cast<uint32_t>(s[i] - '0');
      if (octet > 255 || i - start >= 3) return std::nullopt;
      ++i;
    }
    if (i - start > 1 && s[start] == '0') return std::nullopt;  // Go rejects leading zeros
    v = (v << 8) | octet;
    if (++parts < 4) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != s.size()) return std::nullopt;
  return Ip4{v};
}

std::string Ip4::String() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
  return buf;
}

static std::optional<Ip4Net> ParseWithSep(std::string_view s, char sep, bool mask) {
  size_t p = s.find(sep);
  if (p == std::string_view::npos) return std::nullopt;
  auto ip = Ip4::Parse(s.substr(0, p));
  std::string_view l = s.substr(p + 1);
  if (!ip || l.empty() || l.size() > 2) return std::nullopt;
  int len = 0;
  for (char c : l) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + (c - '0');
  }
  if (len > 32 || (l.size() == 2 && l[0] == '0')) return std::nullopt;
  Ip4Net n{*ip, len};
  if (mask) n.ip = n.Network();
  return n;
}

std::optional<Ip4Net> Ip4Net::Parse(std::string_view s) { return ParseWithSep(s, '/', true); }

std::optional<Ip4Net> Ip4Net::ParseKey(std::string_view key) {
  size_t slash = key.rfind('/');
  if (slash != std::string_view::npos) key = key.substr(slash + 1);
  // dual-stack keys carry "&<v6>-<len>"; the agent runs IPv4 only and keys on the v4 part.
  size_t amp = key.find('&');
  if (amp != std::string_view::npos) key = key.substr(0, amp);
  return ParseWithSep(key, '-', false);
}

std::string Ip4Net::String() const { return ip.String() + "/" + std::to_string(len); }
std::string Ip4Net::Key() const { return ip.String() + "-" + std::to_string(len); }

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

}  // namespace weft::agent
