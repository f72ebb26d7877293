// The lease model every subnet manager speaks (flanneld's pkg/subnet Lease and LeaseAttrs): a
// node's subnets (an IPv4 one, an IPv6 one, or both) and its attributes: PublicIP/PublicIPv6,
// BackendType, and BackendData/BackendV6Data as raw JSON that only the backend of that type
// reads. MarshalLeaseAttrs is byte-identical to Go's json.Marshal of flanneld's struct (the etcd
// value, and the Kubernetes backend-data annotation is the BackendData bytes). The subnet key
// form of flanneld's MakeSubnetKey ("10.5.52.0-24", "10.5.52.0-24&fc00:0:0:1::-64") names a
// lease for etcd keys, maps and logs. The backends program each family a lease has.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "cni/ip.h"

namespace weft::agent {

struct LeaseAttrs {
  cni::IP public_ip;             // IPv4; "0.0.0.0" when unset (Go's zero ip.IP4)
  cni::IP public_ipv6;           // invalid: "PublicIPv6":null
  std::string backend_type;      // "vxlan", "host-gw", ...; omitted when empty
  std::string backend_data;      // raw JSON (vxlan: {"VNI":1,"VtepMAC":"…"}); omitted when empty
  std::string backend_v6_data;   // raw JSON; omitted when empty
  auto operator<=>(const LeaseAttrs&) const = default;  // NOLINT(modernize-use-nullptr)
  bool operator==(const LeaseAttrs&) const = default;
};

struct Lease {
  cni::IPNet subnet;   // IPv4 subnet; ip invalid when the lease has none
  cni::IPNet subnet6;  // IPv6 subnet; ip invalid when the lease has none
  LeaseAttrs attrs;
  /// When the store drops the lease unless renewed (steady clock); max(): never.
  std::chrono::steady_clock::time_point expiration = std::chrono::steady_clock::time_point::max();
  /// Where the lease came from, for log lines only (the etcd key, the Node name); the control
  /// loop never interprets it.
  std::string source;

  /// MakeSubnetKey of the subnets: the lease's identity across stores.
  std::string Key() const;
  /// "10.244.1.0/24", "fc00::/64" or both joined by ",", for logs.
  std::string String() const;
};

/// {"PublicIP":"…","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"…"}}
std::string MarshalLeaseAttrs(const LeaseAttrs& a);
/// Parses a lease value (any flanneld version); nullopt when it is not valid JSON/PublicIP.
/// Backend data is kept as compact JSON (Go re-marshals json.RawMessage compacted).
std::optional<LeaseAttrs> ParseLeaseAttrs(std::string_view json_text);

/// flanneld's MakeSubnetKey: "10.5.52.0-24", and "&<v6>-<len>" appended for a v6 subnet; an
/// IPv6-only lease has the zero IPv4 part "0.0.0.0-0".
std::string MakeSubnetKey(const cni::IPNet& subnet, const cni::IPNet& subnet6 = {});
struct SubnetKey {
  cni::IPNet subnet, subnet6;  // subnet6.ip invalid when the key has no v6 part
};
/// ParseSubnetKey of a key or a whole etcd path ("…/subnets/10.5.52.0-24&fc00:0:0:1::-64");
/// nullopt when it is not that form. "0.0.0.0-0&<v6>" gives an IPv6-only key (subnet invalid).
std::optional<SubnetKey> ParseSubnetKey(std::string_view key);

}  // namespace weft::agent
