// The subnet allocator of flanneld's etcd manager (LocalManager.tryAcquireLease): reuse the
// node's own lease found by its public IP, else the previous subnet while free, else a random
// free one among the first 100 — for the IPv4 and the IPv6 subnet independently when both
// families are enabled. Pure: the etcd manager feeds it the current lease list.
#pragma once

#include <optional>
#include <random>
#include <vector>

#include "agent/subnet/config.h"
#include "agent/subnet/lease.h"

namespace weft::agent {

/// Whether a subnet fits the config (inside [SubnetMin, SubnetMax], prefix == SubnetLen; for an
/// IPv6 subnet the IPv6 settings).
bool SubnetFits(const NetworkConfig& cfg, const cni::IPNet& sn);
/// Whether a lease has exactly the families the config enables, each fitting.
bool LeaseFits(const NetworkConfig& cfg, const Lease& l);

struct AllocationChoice {
  enum Kind { kReuseOwn, kReusePrevious, kNew } kind;
  cni::IPNet subnet;          // invalid when IPv4 is disabled
  std::vector<Lease> stale_own;  // own leases that no longer fit: delete them
  cni::IPNet subnet6;         // invalid when IPv6 is disabled
};

/// Picks the subnets for a node with `public_ip` (`public_ipv6`: an IPv6-only node is found by
/// it). `previous`/`previous6` come from the old subnet.env (FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET).
/// Throws cni::Error("out of subnets") when a family has nothing free.
AllocationChoice ChooseSubnet(const NetworkConfig& cfg, const std::vector<Lease>& leases, const cni::IP& public_ip,
                              std::optional<cni::IPNet> previous, std::mt19937_64& rng,
                              const cni::IP& public_ipv6 = {}, std::optional<cni::IPNet> previous6 = std::nullopt);

}  // namespace weft::agent
