// IPv4 addresses and subnets as flanneld's pkg/ip models them (ip.IP4 / ip.IP4Net): a host-order
// uint32 and a prefix length, printed "a.b.c.d" and "a.b.c.d/len"; the subnet key form
// "a.b.c.d-len" of the etcd schema; and the MAC address type of the VXLAN backend.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::agent {

struct Ip4 {
  uint32_t v = 0;  // host order
  static std::optional<Ip4> Parse(std::string_view s);
  std::string String() const;
  auto operator<=>(const Ip4&) const = default;
};

struct Ip4Net {
  Ip4 ip;
  int len = 0;
  /// "10.244.0.0/16"; the address is masked like Go's ParseCIDR network.
  static std::optional<Ip4Net> Parse(std::string_view s);
  /// "10.244.1.0-24" (MakeSubnetKey); nullopt when it is not that form.
  static std::optional<Ip4Net> ParseKey(std::string_view key);
  std::string String() const;
  std::string Key() const;
  uint32_t Mask() const { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }
  uint64_t Size() const { return uint64_t{1} << (32 - len); }
  Ip4 Network() const { return {ip.v & Mask()}; }
  bool Contains(Ip4 a) const { return (a.v & Mask()) == (ip.v & Mask()); }
  bool Overlaps(const Ip4Net& o) const { return Contains(o.ip) || o.Contains(ip); }
  auto operator<=>(const Ip4Net&) const = default;
};

using Mac = std::array<uint8_t, 6>;
std::optional<Mac> ParseMac(std::string_view s);
std::string MacString(const Mac& m);

}  // namespace weft::agent
