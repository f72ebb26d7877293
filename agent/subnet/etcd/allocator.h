// The subnet allocator of flanneld's etcd manager (LocalManager.tryAcquireLease): reuse the
// node's own lease found by PublicIP, else the previous subnet while free, else a random free one
// among the first 100. Pure: the etcd manager feeds it the current lease list.
#pragma once

#include <optional>
#include <random>
#include <vector>

#include "agent/subnet/config.h"
#include "agent/subnet/lease.h"

namespace weft::agent {

/// Whether a subnet fits the config (inside [SubnetMin, SubnetMax], prefix == SubnetLen).
bool SubnetFits(const NetworkConfig& cfg, const cni::IPNet& sn);

struct AllocationChoice {
  enum Kind { kReuseOwn, kReusePrevious, kNew } kind;
  cni::IPNet subnet;
  std::vector<cni::IPNet> stale_own;  // own leases that no longer fit: delete them
};

/// Picks the subnet for a node with `public_ip`. `previous` comes from the old subnet.env.
/// Throws cni::Error("out of subnets") when nothing is free.
AllocationChoice ChooseSubnet(const NetworkConfig& cfg, const std::vector<Lease>& leases,
                              const cni::IP& public_ip, std::optional<cni::IPNet> previous, std::mt19937_64& rng);

}  // namespace weft::agent
