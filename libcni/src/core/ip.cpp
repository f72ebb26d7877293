// IP and IPNet: Go net.ParseIP / net.ParseCIDR / net.IP.String semantics (see ip.h). The parser
// follows netip.ParseAddr, which net.ParseIP uses since Go 1.22: IPv4 fields are 1-3 decimal
// digits without leading zeros, IPv6 groups 1-4 hex digits, one "::", an embedded IPv4 tail only
// in the last 32 bits, and no zone. IPv4-mapped IPv6 addresses become IPv4 values.
#include "cni/ip.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstdio>

namespace cni {
namespace {

// netip parseIPv4: exactly four fields, each 1..3 digits, <= 255, no leading zero.
bool ParseV4(std::string_view s, uint8_t out[4]) {
  int field = 0, val = 0, digits = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (digits == 0 || field > 3) return false;
      out[field++] = static_cast<uint8_t>(val);
      val = 0;
      digits = 0;
      continue;
    }
    char c = s[i];
    if (c < '0' || c > '9') return false;
    if (digits == 1 && val == 0) return false;  // leading zero
    val = val * 10 + (c - '0');
    if (++digits > 3 || val > 255) return false;
  }
  return field == 4;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// netip parseIPv6 (the zone is rejected by the caller).
bool ParseV6(std::string_view s, uint8_t ip[16]) {
  int ellipsis = -1;
  size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    ellipsis = 0;
    s.remove_prefix(2);
    if (s.empty()) {
      for (int k = 0; k < 16; ++k) ip[k] = 0;
      return true;
    }
  }
  while (i < 16) {
    size_t off = 0;
    uint32_t acc = 0;
    while (off < s.size()) {
      int h = HexVal(s[off]);
      if (h < 0) break;
      if (off > 3) return false;  // more than 4 hex digits
      acc = acc * 16 + static_cast<uint32_t>(h);
      ++off;
    }
    if (off == 0) return false;
    if (off < s.size() && s[off] == '.') {  // embedded IPv4 tail
      if (ellipsis < 0 && i != 12) return false;
      if (i + 4 > 16) return false;
      uint8_t v4[4];
      if (!ParseV4(s, v4)) return false;
      for (size_t k = 0; k < 4; ++k) ip[i + k] = v4[k];
      s = {};
      i += 4;
      break;
    }
    ip[i] = static_cast<uint8_t>(acc >> 8);
    ip[i + 1] = static_cast<uint8_t>(acc);
    i += 2;
    s.remove_prefix(off);
    if (s.empty()) break;
    if (s[0] != ':') return false;
    if (s.size() == 1) return false;  // trailing single colon
    s.remove_prefix(1);
    if (s[0] == ':') {
      if (ellipsis >= 0) return false;  // second "::"
      ellipsis = static_cast<int>(i);
      s.remove_prefix(1);
      if (s.empty()) break;
    }
  }
  if (!s.empty()) return false;
  if (i < 16) {
    if (ellipsis < 0) return false;
    size_t n = 16 - i;
    for (size_t j = i; j-- > static_cast<size_t>(ellipsis);) ip[j + n] = ip[j];
    for (size_t j = static_cast<size_t>(ellipsis); j < static_cast<size_t>(ellipsis) + n; ++j) ip[j] = 0;
  } else if (ellipsis >= 0) {
    return false;  // "::" must stand for at least one zero group
  }
  return true;
}

bool IsMapped(const uint8_t* b) {
  for (int k = 0; k < 10; ++k)
    if (b[k] != 0) return false;
  return b[10] == 0xff && b[11] == 0xff;
}

}  // namespace

IP IP::V4(uint32_t host_order) {
  uint8_t b[4] = {static_cast<uint8_t>(host_order >> 24), static_cast<uint8_t>(host_order >> 16),
                  static_cast<uint8_t>(host_order >> 8), static_cast<uint8_t>(host_order)};
  return FromBytes(b, 4);
}

IP IP::FromBytes(const uint8_t* bytes, size_t len) {
  IP ip;
  if (len == 4) {
    ip.family_ = 4;
    for (size_t k = 0; k < 4; ++k) ip.bytes_[k] = bytes[k];
  } else if (len == 16) {
    if (IsMapped(bytes)) return FromBytes(bytes + 12, 4);
    ip.family_ = 6;
    for (size_t k = 0; k < 16; ++k) ip.bytes_[k] = bytes[k];
  }
  return ip;
}

std::optional<IP> IP::Parse(std::string_view s) {
  for (char c : s) {
    if (c == '.') {
      uint8_t b[4];
      if (ParseV4(s, b)) return FromBytes(b, 4);
      return std::nullopt;
    }
    if (c == ':') {
      uint8_t b[16] = {};
      if (ParseV6(s, b)) return FromBytes(b, 16);
      return std::nullopt;
    }
    if (c == '%') return std::nullopt;
  }
  return std::nullopt;
}

int IP::af() const { return is4() ? AF_INET : is6() ? AF_INET6 : AF_UNSPEC; }

std::string IP::String() const {
  if (!valid()) return "<nil>";
  char buf[48];
  if (is4()) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes_[0], bytes_[1], bytes_[2], bytes_[3]);
    return buf;
  }
  uint16_t g[8];
  for (size_t k = 0; k < 8; ++k) g[k] = static_cast<uint16_t>(bytes_[2 * k] << 8 | bytes_[2 * k + 1]);
  int zs = -1, ze = -1;  // longest run of >= 2 zero groups, the first one on a tie
  for (int k = 0; k < 8; ++k) {
    int j = k;
    while (j < 8 && g[j] == 0) ++j;
    if (j - k >= 2 && j - k > ze - zs) {
      zs = k;
      ze = j;
    }
  }
  std::string out;
  for (int k = 0; k < 8; ++k) {
    if (k == zs) {
      out += "::";
      k = ze - 1;
      continue;
    }
    if (k > 0 && k != ze) out += ':';
    std::snprintf(buf, sizeof buf, "%x", g[k]);
    out += buf;
  }
  return out;
}

IP IP::Next() const {
  IP r = *this;
  for (int k = static_cast<int>(size()) - 1; k >= 0; --k)
    if (++r.bytes_[static_cast<size_t>(k)] != 0) break;
  return r;
}

IP IP::Prev() const {
  IP r = *this;
  for (int k = static_cast<int>(size()) - 1; k >= 0; --k)
    if (r.bytes_[static_cast<size_t>(k)]-- != 0) break;
  return r;
}

IP IP::Masked(int prefix) const {
  IP r = *this;
  for (int k = 0; k < static_cast<int>(size()); ++k) {
    int keep = prefix - 8 * k;
    auto m = static_cast<uint8_t>(keep >= 8 ? 0xff : keep <= 0 ? 0 : 0xff << (8 - keep));
    r.bytes_[static_cast<size_t>(k)] &= m;
  }
  return r;
}

bool IP::IsUnspecified() const {
  if (!valid()) return false;
  for (size_t k = 0; k < size(); ++k)
    if (bytes_[k]) return false;
  return true;
}

bool IP::IsLoopback() const {
  if (is4()) return bytes_[0] == 127;
  if (!is6()) return false;
  for (size_t k = 0; k < 15; ++k)
    if (bytes_[k]) return false;
  return bytes_[15] == 1;
}

std::optional<IPNet> IPNet::Parse(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view addr = s.substr(0, slash), mask = s.substr(slash + 1);
  if (addr.find('%') != std::string_view::npos) return std::nullopt;
  auto ip = IP::Parse(addr);
  if (!ip) return std::nullopt;
  // Go's dtoi: decimal digits only (leading zeros allowed), the whole rest must be consumed.
  if (mask.empty() || mask.size() > 4) return std::nullopt;
  int n = 0;
  for (char c : mask) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  // A mapped IPv4 written in IPv6 form takes an IPv6 prefix; Go applies its last 32 bits.
  bool written_as_v6 = addr.find(':') != std::string_view::npos;
  int max = written_as_v6 ? 128 : 32;
  if (n > max) return std::nullopt;
  if (ip->is4() && written_as_v6) n = n > 96 ? n - 96 : 0;
  return IPNet{*ip, n};
}

std::string IPNet::String() const {
  if (!ip.valid()) return "<nil>";
  return ip.String() + "/" + std::to_string(prefix);
}

IP IPNet::Broadcast() const {
  IP r = ip;
  IP net = ip.Masked(prefix);
  uint8_t b[16];
  for (size_t k = 0; k < ip.size(); ++k) {
    int keep = prefix - 8 * static_cast<int>(k);
    auto m = static_cast<uint8_t>(keep >= 8 ? 0xff : keep <= 0 ? 0 : 0xff << (8 - keep));
    b[k] = static_cast<uint8_t>(net.data()[k] | static_cast<uint8_t>(~m));
  }
  r = IP::FromBytes(b, ip.size());
  return r;
}

bool IPNet::Contains(const IP& a) const {
  if (!a.valid() || a.family() != ip.family()) return false;
  return a.Masked(prefix) == ip.Masked(prefix);
}

bool IPNet::Overlaps(const IPNet& o) const {
  return Contains(o.ip.Masked(o.prefix)) || o.Contains(ip.Masked(prefix));
}

IPNet IPNet::NextBlock() const {
  IP net = Network();
  uint8_t b[16];
  for (size_t k = 0; k < net.size(); ++k) b[k] = net.data()[k];
  if (prefix > 0) {
    // add 1 at bit position `prefix` (counted from the most significant bit), carrying left
    int bit = prefix - 1;
    auto k = static_cast<size_t>(bit / 8);
    unsigned carry = 1u << (7 - bit % 8);
    for (;;) {
      unsigned v = b[k] + carry;
      b[k] = static_cast<uint8_t>(v);
      carry = v >> 8;
      if (!carry || k == 0) break;
      --k;
      carry = 1;
    }
  }
  return {IP::FromBytes(b, net.size()), prefix};
}

std::string IPNet::MaskHex() const {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int k = 0; k < ip.bits() / 8; ++k) {
    int keep = prefix - 8 * k;
    auto m = static_cast<uint8_t>(keep >= 8 ? 0xff : keep <= 0 ? 0 : 0xff << (8 - keep));
    out += hex[m >> 4];
    out += hex[m & 15];
  }
  return out;
}

}  // namespace cni
