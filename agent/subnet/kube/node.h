// What flanneld's kube subnet manager reads from and writes to Node objects, as pure functions
// (no API calls), so every rule is unit-tested:
//   - the annotation names from --kube-annotation-prefix (newAnnotations: at most one '/', a
//     bare domain gets '/', an inner part gets '-', then an fqdn/[a-z0-9_-]* format check);
//   - a Node's own subnet from spec.podCIDR(s), checked against the net-conf Network with
//     flanneld's error texts, and a peer Node turned into a lease (nodeToLease);
//   - the strategic-merge patch bodies flanneld sends to nodes/<name>/status: the annotation
//     patch (only the keys that change, Go's key order and escaping) and the
//     NetworkUnavailable=False condition (reason FlannelIsUp);
//   - the VtepMAC and node-public-ip read back from the own Node at start;
//   - which Node updates matter to peers (backend data/type or public IP changed).
// IPv4 only, like the rest of weftd; the v6 annotation names are computed for the dual-stack work.
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

/// flanneld's nodeToLease for IPv4 (subnet masked, PublicIP, BackendType, BackendData as
/// annotated, source "node/<name>"); throws cni::Error(kDecodingFailure) with its messages for
/// a malformed public-ip or pod CIDR.
Lease NodeToLease(const Node& n, const Annotations& a);

/// Whether an update of a managed Node changes its lease for peers (backend-data, backend-type
/// or public-ip differ), as flanneld's handleUpdateLeaseEvent decides.
bool LeaseChanged(const Node& old_node, const Node& new_node, const Annotations& a);

/// The own subnet (AcquireLease): spec.podCIDR must be set ("node \"N\" pod cidr not assigned"),
/// spec.podCIDRs at most two, and the IPv4 one inside `network` ("subnet \"X\" specified in the
/// flannel net config doesn't contain \"Y\" PodCIDR of the \"N\" node"). Throws
/// cni::Error(kInvalidNetworkConfig); kTryAgainLater for the unassigned case (the
/// controller-manager may still assign it).
cni::IPNet OwnSubnet(const Node& n, const cni::IPNet& network);

/// The body of flanneld's annotation PATCH (strategicpatch.CreateTwoWayMergePatch of the Node
/// before and after AcquireLease sets the annotations): {"metadata":{"annotations":{...}}} with
/// only the keys whose value changes, sorted, Go-escaped. nullopt when nothing would change.
/// `attrs.backend_data` is json.Marshal of the backend data ("null" when there is none).
std::optional<std::string> AnnotationPatch(const Node& n, const Annotations& a, const LeaseAttrs& attrs);

/// The body of CompleteLease's PATCH: NetworkUnavailable=False, reason FlannelIsUp, both times `now`.
std::string NetworkAvailablePatch(std::time_t now);

/// The VtepMAC of the own backend-data annotation ({"VNI":1,"VtepMAC":"aa:bb:..."}), if it
/// holds a valid unicast MAC.
std::optional<std::string> StoredVtepMac(const Node& n, const Annotations& a);

/// The node-public-ip annotation, which replaces --public-ip when set.
std::optional<cni::IP> StoredPublicIP(const Node& n, const Annotations& a);

}  // namespace weft::agent::kube
