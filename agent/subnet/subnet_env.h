// subnet.env, the file the flannel CNI plugin reads (flanneld's WriteSubnetFile), and the
// previous subnet read back from it at start (ReadCIDRFromSubnetFile), for every subnet manager.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cni/ip.h"

namespace weft::agent {

/// subnet.env exactly as flanneld writes it: FLANNEL_NETWORK and FLANNEL_SUBNET (lease + 1) when
/// `network` is set (IPv4 enabled), FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET when `network6`
/// is set, then FLANNEL_MTU and FLANNEL_IPMASQ.
std::string RenderSubnetEnv(const cni::IPNet& network, const cni::IPNet& subnet, int mtu, bool ipmasq,
                            const cni::IPNet& network6 = {}, const cni::IPNet& subnet6 = {});
/// FLANNEL_SUBNET (family 4) or FLANNEL_IPV6_SUBNET (family 6) of an existing subnet.env
/// (godotenv-like: quotes, comments, "export " ok), masked to its network; nullopt when missing,
/// unparsable, of the other family, or a list of several CIDRs.
std::optional<cni::IPNet> ReadPreviousSubnet(std::string_view env_text, int family = 4);

}  // namespace weft::agent
