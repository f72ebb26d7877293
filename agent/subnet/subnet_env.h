// subnet.env, the file the flannel CNI plugin reads (flanneld's WriteSubnetFile), and the
// previous subnet read back from it at start (ReadCIDRFromSubnetFile), for every subnet manager.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cni/ip.h"

namespace weft::agent {

/// subnet.env exactly as flanneld writes it (IPv4): NETWORK, SUBNET (lease + 1), MTU, IPMASQ.
std::string RenderSubnetEnv(const cni::IPNet& network, const cni::IPNet& subnet, int mtu, bool ipmasq);
/// FLANNEL_SUBNET of an existing subnet.env (godotenv-like: quotes, comments, "export " ok),
/// masked to its network; nullopt when missing or unparsable.
std::optional<cni::IPNet> ReadPreviousSubnet(std::string_view env_text);

}  // namespace weft::agent
