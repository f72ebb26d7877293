// The flannel network config (flanneld's subnet.Config: <prefix>/config in etcd, net-conf.json
// in Kubernetes mode) with
// CheckNetworkConfig's defaults and validation for each enabled family (IPv4: Network,
// SubnetLen/Min/Max; IPv6: IPv6Network, IPv6SubnetLen/Min/Max), and the backend settings
// (vxlan, host-gw).
// Keys match case-insensitively, like Go's encoding/json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cni/ip.h"

namespace weft::agent {

struct BackendConfig {
  std::string type;  // lower-cased: "vxlan", "host-gw"
  int64_t vni = 1;
  int64_t port = 0;  // 0: the kernel default 8472
  bool gbp = false;
  bool learning = false;
  bool direct_routing = false;
  int64_t mtu = 0;  // 0: the external interface MTU
  std::string raw;  // the Backend object as compact JSON (wireguard parses its own keys)
  /// Not from the config: the VtepMAC the kube manager read back from the own Node's
  /// backend-data, so a restart keeps it; empty: the MAC derived from /etc/machine-id.
  std::string vtep_mac;
  /// The same for flannel-v6.<VNI>, from backend-v6-data.
  std::string vtep_mac6;
};

struct NetworkConfig {
  bool enable_ipv4 = true;
  bool enable_ipv6 = false;
  bool enable_nftables = false;
  cni::IPNet network;  // masked; invalid when absent
  int subnet_len = 0;
  cni::IP subnet_min, subnet_max;
  cni::IPNet ipv6_network;  // masked; invalid when absent
  int ipv6_subnet_len = 0;
  cni::IP ipv6_subnet_min, ipv6_subnet_max;
  BackendConfig backend;
};

/// flanneld's ParseConfig: the fields as given (networks, subnet lengths and bounds may be
/// absent: invalid IPs, 0), EnableIPv4 true by default, the backend settings checked. The kube
/// manager uses it alone (net-conf.json gets no CheckNetworkConfig defaults in flanneld's kube
/// mode). Throws cni::Error (kInvalidNetworkConfig) with flanneld's messages.
NetworkConfig ParseConfig(std::string_view json_text);
/// CheckNetworkConfig, for each enabled family: the network required, SubnetLen/SubnetMin/
/// SubnetMax (IPv6SubnetLen/Min/Max) defaults and checks.
void CheckNetworkConfig(NetworkConfig& c);
/// ParseConfig + CheckNetworkConfig, as the etcd manager does.
NetworkConfig ParseNetworkConfig(std::string_view json_text);

}  // namespace weft::agent
