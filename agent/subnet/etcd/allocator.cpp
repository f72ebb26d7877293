// Subnet allocation (see allocator.h).
#include "agent/subnet/etcd/allocator.h"

#include <algorithm>

#include "cni/error.h"

namespace weft::agent {

bool SubnetFits(const NetworkConfig& cfg, const cni::IPNet& sn) {
  if (sn.ip.is6())
    return sn.prefix == cfg.ipv6_subnet_len && cfg.ipv6_subnet_min <= sn.ip && sn.ip <= cfg.ipv6_subnet_max;
  return sn.prefix == cfg.subnet_len && cfg.subnet_min <= sn.ip && sn.ip <= cfg.subnet_max;
}

bool LeaseFits(const NetworkConfig& cfg, const Lease& l) {
  auto fits = [&](bool enabled, const cni::IPNet& sn) { return enabled ? sn.ip.valid() && SubnetFits(cfg, sn) : !sn.ip.valid(); };
  return fits(cfg.enable_ipv4, l.subnet) && fits(cfg.enable_ipv6, l.subnet6);
}

namespace {

// One family's pick: the previous subnet while it fits and nobody else holds it, else a random
// free one among the first 100 from `min` to `max`.
struct Pick {
  cni::IPNet subnet;
  bool previous = false;
};

Pick PickSubnet(const NetworkConfig& cfg, const std::vector<Lease>& leases, const std::vector<Lease>& stale_own,
                cni::IPNet Lease::*family, const cni::IP& min, const cni::IP& max, int len,
                std::optional<cni::IPNet> previous, std::mt19937_64& rng) {
  auto taken = [&](const cni::IPNet& sn) {
    return std::any_of(leases.begin(), leases.end(), [&](const Lease& l) {
      bool own_stale = std::any_of(stale_own.begin(), stale_own.end(), [&](const Lease& s) { return s.Key() == l.Key(); });
      return !own_stale && (l.*family).Overlaps(sn);
    });
  };
  if (previous && previous->ip.family() == min.family() && SubnetFits(cfg, *previous) && !taken(*previous))
    return {*previous, true};
  std::vector<cni::IPNet> free;
  // NextBlock wraps at the end of the address space: stop there as well as at the maximum.
  for (cni::IPNet sn{min, len}; sn.ip <= max && free.size() < 100;) {
    if (!taken(sn)) free.push_back(sn);
    cni::IPNet next = sn.NextBlock();
    if (next.ip <= sn.ip) break;
    sn = next;
  }
  if (free.empty()) throw cni::Error(cni::kTryAgainLater, "out of subnets");
  return {free[std::uniform_int_distribution<size_t>(0, free.size() - 1)(rng)], false};
}

}  // namespace

AllocationChoice ChooseSubnet(const NetworkConfig& cfg, const std::vector<Lease>& leases, const cni::IP& public_ip,
                              std::optional<cni::IPNet> previous, std::mt19937_64& rng, const cni::IP& public_ipv6,
                              std::optional<cni::IPNet> previous6) {
  AllocationChoice out{AllocationChoice::kNew, {}, {}, {}};
  // An IPv6-only node has no IPv4 address to be found by (flanneld compares the zero PublicIP
  // and would take any IPv6-only node's lease).
  auto own = [&](const Lease& l) {
    return cfg.enable_ipv4 ? l.attrs.public_ip == public_ip : public_ipv6.valid() && l.attrs.public_ipv6 == public_ipv6;
  };
  bool found = false;
  for (const Lease& l : leases) {
    if (!own(l)) continue;
    if (LeaseFits(cfg, l) && !found) {
      found = true;
      out.kind = AllocationChoice::kReuseOwn;
      out.subnet = l.subnet;
      out.subnet6 = l.subnet6;
    } else {
      out.stale_own.push_back(l);
    }
  }
  if (found) return out;
  bool reused = false;
  if (cfg.enable_ipv4) {
    Pick p = PickSubnet(cfg, leases, out.stale_own, &Lease::subnet, cfg.subnet_min, cfg.subnet_max, cfg.subnet_len,
                        previous, rng);
    out.subnet = p.subnet;
    reused = p.previous;
  }
  if (cfg.enable_ipv6) {
    Pick p = PickSubnet(cfg, leases, out.stale_own, &Lease::subnet6, cfg.ipv6_subnet_min, cfg.ipv6_subnet_max,
                        cfg.ipv6_subnet_len, previous6, rng);
    out.subnet6 = p.subnet;
    reused = reused || p.previous;
  }
  if (reused) out.kind = AllocationChoice::kReusePrevious;
  return out;
}

}  // namespace weft::agent
