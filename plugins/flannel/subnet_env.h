// subnet.env, the file flanneld writes for the CNI plugin (flannel.md §1.3): parsed exactly as
// the reference's loadFlannelSubnetEnv does it (bufio.Scanner lines with "\r\n" accepted,
// SplitN on the first '=', exact case-sensitive keys, masked networks, a comma list of networks
// with duplicates dropped, strconv.ParseUint for the MTU, "true" for IPMASQ, then the "is
// missing ..." check) with one deliberate difference: a line that is exactly a known key and has
// no '=' (the reference panics with an index out of range) is skipped, so the missing check
// names the key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/ip.h"

namespace flannel {

inline constexpr const char* kDefaultSubnetFile = "/run/flannel/subnet.env";

struct SubnetEnv {
  std::vector<cni::IPNet> networks;       // FLANNEL_NETWORK, masked, duplicates dropped
  std::optional<cni::IPNet> subnet;       // FLANNEL_SUBNET, masked (10.1.17.1/24 -> 10.1.17.0/24)
  std::vector<cni::IPNet> ipv6_networks;  // FLANNEL_IPV6_NETWORK
  std::optional<cni::IPNet> ipv6_subnet;  // FLANNEL_IPV6_SUBNET
  std::optional<uint32_t> mtu;            // FLANNEL_MTU
  std::optional<bool> ipmasq;             // FLANNEL_IPMASQ ("true" or anything else = false)

  /// The reference's missing(): "FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, ..." for the absent
  /// groups in order, "" when the file is complete.
  std::string Missing() const;
};

/// Parses the content of a subnet.env file; `path` only appears in the "is missing" message.
/// Throws cni::Error(kInternal) with the reference's message (Go's ParseCIDR / ParseUint /
/// bufio texts, or "<path> is missing ...").
SubnetEnv ParseSubnetEnv(std::string_view text, std::string_view path);

/// Reads and parses `path` (following symlinks, as os.Open does). A file that does not exist
/// throws cni::Error(kTryAgainLater, "open <path>: no such file or directory"): flanneld has not
/// written it yet. Other I/O errors are kInternal with Go's wording ("read <path>: is a directory").
SubnetEnv LoadSubnetEnv(const std::string& path);

}  // namespace flannel
