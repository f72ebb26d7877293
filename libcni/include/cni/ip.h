// IP and CIDR value types for IPv4 and IPv6 that parse and print exactly like Go's net package
// (net.ParseIP, net.ParseCIDR, net.IP.String), because the reference plugins' file names, error
// messages and result JSON are made of those strings: IPv4 with leading zeros is rejected,
// "::ffff:a.b.c.d" is IPv4, IPv6 prints in RFC 5952 form. Also the arithmetic the plugins need.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cni {

class IP {
 public:
  IP() = default;  // the invalid/unset address (family 0)
  static IP V4(uint32_t host_order);
  static IP FromBytes(const uint8_t* bytes, size_t len);  // 4 or 16; v4-mapped v6 becomes v4

  /// Go net.ParseIP: nullopt for anything Go rejects.
  static std::optional<IP> Parse(std::string_view s);

  bool valid() const { return family_ != 0; }
  bool is4() const { return family_ == 4; }
  bool is6() const { return family_ == 6; }
  int family() const { return family_; }          // 4, 6 or 0
  int af() const;                                  // AF_INET / AF_INET6
  size_t size() const { return is4() ? 4 : 16; }  // bytes
  int bits() const { return is4() ? 32 : 128; }
  const uint8_t* data() const { return bytes_.data(); }  // network order, size() bytes

  /// Go's net.IP.String().
  std::string String() const;

  IP Next() const;  // +1, wrapping
  IP Prev() const;  // -1, wrapping
  IP Masked(int prefix) const;
  bool IsUnspecified() const;
  bool IsLoopback() const;

  auto operator<=>(const IP&) const = default;  // NOLINT(modernize-use-nullptr): clang-tidy 14 false positive
  bool operator==(const IP&) const = default;

 private:
  int family_ = 0;
  std::array<uint8_t, 16> bytes_{};
};

/// An address with a prefix length, as in a CNI result ("10.1.2.3/24": the IP is kept as
/// written, not masked, like Go's IPNet in types.IPConfig).
struct IPNet {
  IP ip;
  int prefix = 0;

  /// Go net.ParseCIDR, but keeping the host bits in `ip` (use Network() for the masked form).
  static std::optional<IPNet> Parse(std::string_view s);

  std::string String() const;  // "ip/prefix"
  IP Network() const { return ip.Masked(prefix); }
  IPNet Masked() const { return {Network(), prefix}; }
  IP Broadcast() const;  // last address of the prefix (all host bits 1)
  bool Contains(const IP& a) const;
  /// Whether the two prefixes share an address (same family, one contains the other's network).
  bool Overlaps(const IPNet& o) const;
  /// The prefix of the same length right after this one (network + 2^(bits - prefix)), wrapping
  /// at the end of the address space: the step of a subnet allocator, for IPv4 and IPv6 alike.
  IPNet NextBlock() const;
  /// Go's IPMask.String() of this prefix: "ffffff00" for v4, 32 hex digits for v6.
  std::string MaskHex() const;

  auto operator<=>(const IPNet&) const = default;  // NOLINT(modernize-use-nullptr): clang-tidy 14 false positive
  bool operator==(const IPNet&) const = default;
};

}  // namespace cni
