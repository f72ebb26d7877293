// host-local configuration: the `ipam` section of the network config plus the requested IPs
// (CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips) and the ipRanges capability, decoded with Go
// encoding/json semantics and canonicalised and validated exactly as the reference
// (cni-plugins.md §3.1/§3.2), including its error messages. A Range is one subnet with its
// allocatable window [rangeStart, rangeEnd] and gateway; a RangeSet yields one address per ADD.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/ip.h"
#include "cni/result.h"

namespace hostlocal {

__extension__ typedef unsigned __int128 U128;  // address arithmetic over v4 and v6

struct Range {
  cni::IPNet subnet;       // as written (host bits kept until Canonicalize rejects them)
  int mask_bits = 0;       // 32 or 128: the mask length Go's ParseCIDR produced
  cni::IP range_start;     // invalid = unset before Canonicalize
  cni::IP range_end;
  cni::IP gateway;

  /// Fills defaults and validates (reference Range.Canonicalize); throws cni::Error(999).
  void Canonicalize();
  /// Same family, inside the subnet and inside [rangeStart, rangeEnd] (the bounds that are set).
  bool Contains(const cni::IP& ip) const;
  bool Overlaps(const Range& other) const;
  std::string String() const;  // "rangeStart-rangeEnd"
};

struct RangeSet {
  std::vector<Range> ranges;

  void Canonicalize();
  bool Contains(const cni::IP& ip) const { return RangeFor(ip) != nullptr; }
  const Range* RangeFor(const cni::IP& ip) const;
  bool Overlaps(const RangeSet& other) const;
  std::string String() const;  // ranges joined with ","
};

struct IpamConfig {
  std::string name;        // network name: the store directory under data_dir
  std::string cni_version; // as written in the config ("" when absent)
  std::string data_dir = "/var/lib/cni/networks";
  std::string resolv_conf;
  std::optional<std::vector<cni::Route>> routes;
  std::vector<RangeSet> range_sets;   // runtimeConfig.ipRanges, legacy subnet, ranges
  std::vector<cni::IP> requested;     // CNI_ARGS IP, args.cni.ips, runtimeConfig.ips (4-byte v4)
};

/// Parses and validates; `cni_args` is CNI_ARGS. Throws cni::Error with the reference's text.
IpamConfig LoadIpamConfig(const cni::Json& config, std::string_view cni_args);

/// Parses a resolv.conf into the result's DNS (nameserver, domain, search, options).
cni::DNS ParseResolvConf(const std::string& path);

/// Go's strings.TrimSpace for ASCII white space.
std::string_view TrimSpace(std::string_view s);

/// 128-bit unsigned value of an address (v4 in the low 32 bits), for ordering and counting.
U128 IpValue(const cni::IP& ip);

}  // namespace hostlocal
