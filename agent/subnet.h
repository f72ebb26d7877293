// The lease model shared with flanneld: LeaseAttrs as the JSON value of
// <prefix>/subnets/<a.b.c.d-len>, byte-identical to Go's json.Marshal of flanneld's struct; the
// subnet allocator of LocalManager.tryAcquireLease (reuse own lease by PublicIP, else the
// previous subnet while free, else a random free one among the first 100); and subnet.env.
#pragma once

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "ip4.h"

namespace weft::agent {

struct LeaseAttrs {
  Ip4 public_ip;
  std::string backend_type;  // "vxlan", "host-gw", ...
  std::optional<Mac> vtep_mac;  // vxlan BackendData.VtepMAC
  int64_t vni = 0;              // vxlan BackendData.VNI (0: absent)
  auto operator<=>(const LeaseAttrs&) const = default;
};

struct Lease {
  Ip4Net subnet;
  LeaseAttrs attrs;
  int64_t etcd_lease = 0;
};

/// {"PublicIP":"…","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"…"}}
std::string MarshalLeaseAttrs(const LeaseAttrs& a);
/// Parses a lease value (any flanneld version); nullopt when it is not valid JSON/PublicIP.
std::optional<LeaseAttrs> ParseLeaseAttrs(std::string_view json_text);

/// Whether a subnet fits the config (inside [SubnetMin, SubnetMax], prefix == SubnetLen).
bool SubnetFits(const NetworkConfig& cfg, const Ip4Net& sn);

struct AllocationChoice {
  enum Kind { kReuseOwn, kReusePrevious, kNew } kind;
  Ip4Net subnet;
  std::vector<Ip4Net> stale_own;  // own leases that no longer fit: delete them
};

/// Picks the subnet for a node with `public_ip`. `previous` comes from the old subnet.env.
/// Throws cni::Error("out of subnets") when nothing is free.
AllocationChoice ChooseSubnet(const NetworkConfig& cfg, const std::vector<Lease>& leases,
                              Ip4 public_ip, std::optional<Ip4Net> previous, std::mt19937_64& rng);

/// subnet.env exactly as flanneld writes it (IPv4): NETWORK, SUBNET (lease + 1), MTU, IPMASQ.
std::string RenderSubnetEnv(const Ip4Net& network, const Ip4Net& subnet, int mtu, bool ipmasq);
/// FLANNEL_SUBNET of an existing subnet.env (godotenv-like: quotes, comments, "export " ok),
/// masked to its network; nullopt when missing or unparsable.
std::optional<Ip4Net> ReadPreviousSubnet(std::string_view env_text);

}  // namespace weft::agent
