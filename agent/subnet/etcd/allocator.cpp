// Subnet allocation (see allocator.h).
#include "agent/subnet/etcd/allocator.h"

#include <algorithm>

#include "cni/error.h"

namespace weft::agent {

bool SubnetFits(const NetworkConfig& cfg, const cni::IPNet& sn) {
  return sn.prefix == cfg.subnet_len && cfg.subnet_min <= sn.ip && sn.ip <= cfg.subnet_max;
}

AllocationChoice ChooseSubnet(const NetworkConfig& cfg, const std::vector<Lease>& leases,
                              const cni::IP& public_ip, std::optional<cni::IPNet> previous, std::mt19937_64& rng) {
  AllocationChoice out{AllocationChoice::kNew, {}, {}};
  for (const Lease& l : leases) {
    if (l.attrs.public_ip != public_ip) continue;
    if (SubnetFits(cfg, l.subnet) && !out.subnet.ip.valid()) {
      out.kind = AllocationChoice::kReuseOwn;
      out.subnet = l.subnet;
    } else {
      out.stale_own.push_back(l.subnet);
    }
  }
  if (out.kind == AllocationChoice::kReuseOwn) return out;
  auto taken = [&](const cni::IPNet& sn) {
    return std::any_of(leases.begin(), leases.end(), [&](const Lease& l) {
      bool own_stale = std::find(out.stale_own.begin(), out.stale_own.end(), l.subnet) != out.stale_own.end();
      return !own_stale && l.subnet.Overlaps(sn);
    });
  };
  if (previous && SubnetFits(cfg, *previous) && !taken(*previous)) {
    out.kind = AllocationChoice::kReusePrevious;
    out.subnet = *previous;
    return out;
  }
  std::vector<cni::IPNet> free;
  // NextBlock wraps at the end of the address space: stop there as well as at SubnetMax.
  for (cni::IPNet sn{cfg.subnet_min, cfg.subnet_len}; sn.ip <= cfg.subnet_max && free.size() < 100;) {
    if (!taken(sn)) free.push_back(sn);
    cni::IPNet next = sn.NextBlock();
    if (next.ip <= sn.ip) break;
    sn = next;
  }
  if (free.empty()) throw cni::Error(cni::kTryAgainLater, "out of subnets");
  out.subnet = free[std::uniform_int_distribution<size_t>(0, free.size() - 1)(rng)];
  return out;
}

}  // namespace weft::agent
