// What flanneld's kube subnet manager reads from and writes to Node objects, as pure functions
// (no API calls), so every rule is unit-tested:
//   - the annotation names from --kube-annotation-prefix (newAnnotations: at most one '/', a
//     bare domain gets '/', an inner part gets '-', then an fqdn/[a-z0-9_-]* format check);
//   - a Node's own subnets from spec.podCIDR(s) (the IPv4 one, the IPv6 one, or both), checked
//     against the net-conf Network / IPv6Network with flanneld's error texts, and a peer Node
//     turned into a lease (nodeToLease) for each enabled family;
//   - the strategic-merge patch bodies flanneld sends to nodes/<name>/status: the annotation
//     patch (only the keys that change, Go's key order and escaping; the -v6 keys from the
//     lease's PublicIPv6/BackendV6Data) and the NetworkUnavailable=False condition (reason
//     FlannelIsUp);
//   - the VtepMACs (backend-data, backend-v6-data) and node-public-ip(v6) read back at start;
//   - which Node updates matter to peers (backend data/type or public IP of a family changed).
#pragma once

#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/subnet/lease.h"
#include "cni/ip.h"

namespace weft::agent::kube {

constexpr char kDefaultAnnotationPrefix[] = "flannel.alpha.coreos.com";

struct Annotations {
  std::string kube_subnet_manager, backend_data, backend_v6_data, backend_type, public_ip, public_ipv6,
      node_public_ip, node_public_ipv6, public_ip_overwrite, public_ipv6_overwrite;

  /// flanneld's newAnnotations; throws cni::Error(kInvalidNetworkConfig) with its messages.
  static Annotations FromPrefix(std::string prefix);
};

/// The parts of a Node object weftd uses.
struct Node {
  std::string name, resource_version;
  bool has_annotations = false;  // metadata.annotations present (flanneld panics on a Node without)
  std::map<std::string, std::string> annotations;
  std::string pod_cidr;
  std::vector<std::string> pod_cidrs;

  /// The annotation's value, "" when absent (Go's map lookup).
  std::string Annotation(const std::string& key) const;
};

/// Reads a Node object; throws cni::Error(kDecodingFailure) when it is not a Node's shape.
Node ParseNode(const nlohmann::json& obj);

/// Whether the Node carries kube-subnet-manager=true (only those become leases).
bool IsManaged(const Node& n, const Annotations& a);

/// The families the network config enables (EnableIPv4, EnableIPv6).
struct Stack {
  bool ipv4 = true, ipv6 = false;
};

/// flanneld's nodeToLease for each family of `stack`: IPv4 from public-ip, backend-data and
/// the first IPv4 podCIDR; IPv6 from public-ipv6, backend-v6-data and the first IPv6 podCIDR
/// (subnets masked); BackendType, source "node/<name>". Throws cni::Error(kDecodingFailure)
/// with its messages for a malformed public IP or pod CIDR, or a family the Node lacks
/// ("missing IPv6 address on n.Spec.PodCIDRs"): flanneld then skips the whole peer.
Lease NodeToLease(const Node& n, const Annotations& a, Stack stack = {});

/// Whether an update of a managed Node changes its lease for peers: backend-type, or an enabled
/// family's backend(-v6)-data or public-ip(v6) differ.
bool LeaseChanged(const Node& old_node, const Node& new_node, const Annotations& a, Stack stack = {});

/// The own subnets (AcquireLease). spec.podCIDR must be set ("node \"N\" pod cidr not
/// assigned"), spec.podCIDRs at most two; for each enabled family its podCIDR inside the
/// config's network ("subnet \"X\" specified in the flannel net config doesn't contain \"Y\"
/// PodCIDR of the \"N\" node", "... \"Y\" IPv6 PodCIDR ..."); a podCIDR of a disabled family is
/// ignored. Throws cni::Error(kInvalidNetworkConfig); kTryAgainLater for the unassigned case
/// (the controller-manager may still assign it). The result's subnet/subnet6 are invalid for a
/// disabled family.
struct OwnCidrs {
  cni::IPNet subnet, subnet6;
};
OwnCidrs OwnSubnets(const Node& n, Stack stack, const cni::IPNet& network, const cni::IPNet& ipv6_network);

/// The body of flanneld's annotation PATCH (strategicpatch.CreateTwoWayMergePatch of the Node
/// before and after AcquireLease sets the annotations): {"metadata":{"annotations":{...}}} with
/// only the keys whose value changes, sorted, Go-escaped. nullopt when nothing would change.
/// `attrs.backend_data`/`backend_v6_data` are json.Marshal of the backend data ("null" when
/// there is none). The -v6 keys are compared only when the lease has a PublicIPv6 and written
/// by flanneld's rule (vxlan: v6 data not null; host-gw: a PublicIPv6), with
/// public-ipv6-overwrite as public-ip-overwrite.
std::optional<std::string> AnnotationPatch(const Node& n, const Annotations& a, const LeaseAttrs& attrs);

/// The body of CompleteLease's PATCH: NetworkUnavailable=False, reason FlannelIsUp, both times `now`.
std::string NetworkAvailablePatch(std::time_t now);

/// The VtepMAC of the own backend-data annotation ({"VNI":1,"VtepMAC":"aa:bb:..."}), or of
/// backend-v6-data with `v6`, if it holds a valid unicast MAC.
std::optional<std::string> StoredVtepMac(const Node& n, const Annotations& a, bool v6 = false);

/// The node-public-ip annotation (node-public-ipv6 with `v6`), which replaces --public-ip
/// (--public-ipv6) when set; throws cni::Error(kInvalidNetworkConfig) for an address of the
/// wrong family.
std::optional<cni::IP> StoredPublicIP(const Node& n, const Annotations& a, bool v6 = false);

}  // namespace weft::agent::kube
