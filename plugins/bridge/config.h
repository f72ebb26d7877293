// bridge's network configuration (cni-plugins.md §2.1): every key of the reference with its
// defaults, Go-style decoding errors ("failed to load netconf: json: cannot unmarshal ..."), the
// VLAN and vlanTrunk validation messages and the container MAC precedence
// (CNI_ARGS MAC < args.cni.mac < runtimeConfig.mac).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/json.h"
#include "cni/result.h"

namespace bridge {

struct NetConf {
  std::string name;
  std::string cni_version;
  std::string bridge = "cni0";
  bool is_gw = false;
  bool is_default_gw = false;
  bool force_address = false;
  bool ip_masq = false;
  std::string ip_masq_backend;  // "", "iptables", "nftables"
  int mtu = 0;
  bool hairpin = false;
  bool promisc = false;
  int vlan = 0;
  std::optional<std::vector<int>> vlan_trunk;  // present (even empty) makes the bridge filter VLANs
  bool preserve_default_vlan = false;
  bool macspoofchk = false;
  bool enable_dad = false;
  bool disable_container_interface = false;
  bool port_isolation = false;
  std::string ipam_type;  // "" = L2 mode
  cni::DNS dns;
  std::string mac;  // container MAC after precedence, "" = kernel's choice

  bool layer3() const { return !ipam_type.empty(); }
  bool vlan_filtering() const { return vlan != 0 || vlan_trunk.has_value(); }
};

/// Parses and validates stdin config `j` with CNI_ARGS `cni_args` as the reference's
/// loadNetConf does. Throws cni::Error.
NetConf LoadNetConf(const cni::Json& j, std::string_view cni_args);

/// vlanTrunk items to a sorted, de-duplicated VID list (collectVlanTrunk).
std::vector<int> CollectVlanTrunk(const cni::Json& trunk);

/// Go net.ParseMAC for 6-byte addresses ("aa:bb:..", "aa-bb-..", "aabb.ccdd.eeff"), lower-case
/// colon form; nullopt when invalid.
std::optional<std::string> ParseMac(std::string_view s);

}  // namespace bridge
