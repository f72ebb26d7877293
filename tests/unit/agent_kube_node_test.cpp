// weftd kube mode, the Node rules (agent/subnet/kube/node.h): flanneld's annotation prefix
// rules (its own test table), Node → lease, the own subnet's checks and error texts, the PATCH
// bodies byte for byte as flanneld's Go code marshals them, and the VtepMAC read back at start;
// `[dualstack]`: the same for the IPv6 side (second podCIDR, -v6 annotations, IPv6 only).
#include <catch2/catch.hpp>

#include "agent/subnet/kube/node.h"
#include "cni/error.h"
#include "support.h"

using namespace weft::agent;
using namespace weft::agent::kube;
using nlohmann::json;

namespace {

const Annotations kA = Annotations::FromPrefix(kDefaultAnnotationPrefix);

Node N(const std::string& name, std::map<std::string, std::string> ann, std::string pod_cidr,
       std::vector<std::string> pod_cidrs = {}) {
  Node n;
  n.name = name;
  n.has_annotations = !ann.empty();
  n.annotations = std::move(ann);
  n.pod_cidr = std::move(pod_cidr);
  n.pod_cidrs = std::move(pod_cidrs);
  return n;
}

using weft::test::ErrorOf;

cni::IPNet Net(const char* s) { return *cni::IPNet::Parse(s); }

// The own IPv4 subnet of a v4-only config.
cni::IPNet Own4(const Node& n, const cni::IPNet& network) { return OwnSubnets(n, {}, network, {}).subnet; }

constexpr Stack kDual{true, true}, kV6Only{false, true};

}  // namespace

TEST_CASE("agent kube: annotation prefix rules as flanneld's newAnnotations", "[agent][kube]") {
  struct Case {
    const char* prefix;
    const char* backend_type;  // nullptr: an error
  };
  for (const Case& c : std::vector<Case>{
           {"flannel.alpha.coreos.com", "flannel.alpha.coreos.com/backend-type"},
           {"flannel.alpha.coreos.com/", "flannel.alpha.coreos.com/backend-type"},
           {"flannel.alpha.coreos.com/prefix", "flannel.alpha.coreos.com/prefix-backend-type"},
           {"flannel.alpha.coreos.com/prefix-", "flannel.alpha.coreos.com/prefix-backend-type"},
           {"org.com", "org.com/backend-type"},
           {"org9.com", "org9.com/backend-type"},
           {"org.com/9", "org.com/9-backend-type"},
           {"org", nullptr},
           {"org/", nullptr},
           {"org/prefix", nullptr},
           {"org.COM", nullptr},
           {"org.com/PREFIX", nullptr},
           // Go's check is anchored only at the end: leading garbage before a valid fqdn passes.
           {"X.org.com", "X.org.com/backend-type"},
       }) {
    INFO(c.prefix);
    if (c.backend_type) {
      CHECK(Annotations::FromPrefix(c.prefix).backend_type == c.backend_type);
    } else {
      CHECK(ErrorOf([&] { Annotations::FromPrefix(c.prefix); }) ==
            "subnet/kube: prefix must be in a format: fqdn/[0-9a-z-_]*");
    }
  }
  CHECK(ErrorOf([] { Annotations::FromPrefix("a.com/b/c"); }) == "subnet/kube: prefix can contain at most single slash");
  Annotations a = Annotations::FromPrefix("example.com/x");
  CHECK(a.kube_subnet_manager == "example.com/x-kube-subnet-manager");
  CHECK(a.backend_data == "example.com/x-backend-data");
  CHECK(a.public_ip == "example.com/x-public-ip");
  CHECK(a.public_ip_overwrite == "example.com/x-public-ip-overwrite");
  CHECK(a.node_public_ip == "example.com/x-node-public-ip");
  CHECK(a.backend_v6_data == "example.com/x-backend-v6-data");
}

TEST_CASE("agent kube: a Node object parsed", "[agent][kube]") {
  json obj = json::parse(R"({"kind":"Node","metadata":{"name":"n1","resourceVersion":"42",
    "annotations":{"flannel.alpha.coreos.com/kube-subnet-manager":"true","other":"x"}},
    "spec":{"podCIDR":"10.42.1.0/24","podCIDRs":["10.42.1.0/24"]}})");
  Node n = ParseNode(obj);
  CHECK(n.name == "n1");
  CHECK(n.resource_version == "42");
  CHECK(n.has_annotations);
  CHECK(n.Annotation("other") == "x");
  CHECK(n.Annotation("missing").empty());
  CHECK(n.pod_cidr == "10.42.1.0/24");
  CHECK(n.pod_cidrs == std::vector<std::string>{"10.42.1.0/24"});
  CHECK(IsManaged(n, kA));

  Node bare = ParseNode(json::parse(R"({"metadata":{"name":"n2"}})"));
  CHECK_FALSE(bare.has_annotations);
  CHECK_FALSE(IsManaged(bare, kA));
  CHECK(ErrorOf([] { ParseNode(json::parse(R"({"metadata":{}})")); }) == "node without metadata.name");
  CHECK(ErrorOf([] { ParseNode(json::parse(R"({"metadata":{"name":"n","annotations":{"a":1}}})")); }) ==
        "node \"n\": annotation a is not a string");
  CHECK(ErrorOf([] { ParseNode(json::parse(R"({"metadata":{"name":"n","annotations":[]}})")); }) ==
        "node \"n\": annotations are not an object");
}

TEST_CASE("agent kube: Node to lease (nodeToLease)", "[agent][kube]") {
  const std::string bd = R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e3"})";
  Node n = N("n2",
             {{kA.kube_subnet_manager, "true"},
              {kA.backend_type, "vxlan"},
              {kA.backend_data, bd},
              {kA.public_ip, "198.18.0.12"}},
             "10.42.2.0/24", {"10.42.2.0/24", "fd00:42:2::/64"});
  Lease l = NodeToLease(n, kA);
  CHECK(l.subnet.String() == "10.42.2.0/24");
  CHECK(l.attrs.public_ip.String() == "198.18.0.12");
  CHECK(l.attrs.backend_type == "vxlan");
  CHECK(l.attrs.backend_data == bd);
  CHECK(l.source == "node/n2");

  // The v6 entry first: the v4 one is still found.
  n.pod_cidrs = {"fd00:42:2::/64", "10.42.2.0/24"};
  CHECK(NodeToLease(n, kA).subnet.String() == "10.42.2.0/24");
  // spec.podCIDR only (older API servers); host bits are masked like Go's ParseCIDR.
  n.pod_cidrs.clear();
  n.pod_cidr = "10.42.2.7/24";
  CHECK(NodeToLease(n, kA).subnet.String() == "10.42.2.0/24");

  // flanneld's error texts for malformed Nodes (the peer is then skipped with a log line).
  Node bad = n;
  bad.annotations[kA.public_ip] = "";
  CHECK(ErrorOf([&] { NodeToLease(bad, kA); }) == "invalid IP address format");
  bad.annotations[kA.public_ip] = "fd00::1";
  CHECK(ErrorOf([&] { NodeToLease(bad, kA); }) == "invalid IPv4 address format");
  bad = n;
  bad.pod_cidr = "";
  CHECK(ErrorOf([&] { NodeToLease(bad, kA); }) == "invalid CIDR address: ");
  bad.pod_cidr = "fd00::/64";
  CHECK(ErrorOf([&] { NodeToLease(bad, kA); }) == "missing IPv4 address on n.Spec.PodCIDRs");
  bad.pod_cidrs = {"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"};
  CHECK(ErrorOf([&] { NodeToLease(bad, kA); }) == "node \"n2\" pod cidrs should be IPv4/IPv6 only or dualstack");
  bad.pod_cidrs = {"10.0.0.0/33"};
  CHECK(ErrorOf([&] { NodeToLease(bad, kA); }) == "invalid CIDR address: 10.0.0.0/33");
}

TEST_CASE("agent kube: which Node updates re-program a peer", "[agent][kube]") {
  Node o = N("n2", {{kA.kube_subnet_manager, "true"}, {kA.backend_type, "vxlan"},
                    {kA.backend_data, R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e3"})"}, {kA.public_ip, "198.18.0.12"}},
             "10.42.2.0/24");
  Node n = o;
  n.resource_version = "99";
  n.annotations["node.alpha.kubernetes.io/ttl"] = "0";  // kubelet heartbeats and other annotations
  n.pod_cidr = "10.42.9.0/24";                          // flanneld ignores podCIDR changes too
  CHECK_FALSE(LeaseChanged(o, n, kA));
  for (const std::string& key : {kA.backend_data, kA.backend_type, kA.public_ip}) {
    Node m = o;
    m.annotations[key] += "x";
    INFO(key);
    CHECK(LeaseChanged(o, m, kA));
  }
}

TEST_CASE("agent kube: the own subnet from spec.podCIDR(s)", "[agent][kube]") {
  Node n = N("node-a", {}, "10.42.0.0/24", {"10.42.0.0/24"});
  CHECK(Own4(n, Net("10.42.0.0/16")).String() == "10.42.0.0/24");

  Node unassigned = N("node-a", {}, "");
  try {
    Own4(unassigned, Net("10.42.0.0/16"));
    FAIL("no error");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "node \"node-a\" pod cidr not assigned");
    CHECK(e.code() == cni::kTryAgainLater);
  }
  CHECK(ErrorOf([&] { Own4(n, Net("10.43.0.0/16")); }) ==
        "subnet \"10.43.0.0/16\" specified in the flannel net config doesn't contain \"10.42.0.0/24\" PodCIDR of "
        "the \"node-a\" node");
  // A pod CIDR larger than the network is not contained either (containsCIDR compares the masks).
  Node big = N("node-a", {}, "10.0.0.0/8");
  CHECK(ErrorOf([&] { Own4(big, Net("10.42.0.0/16")); }).find("doesn't contain \"10.0.0.0/8\"") != std::string::npos);
  // No Network in net-conf.json: flanneld prints the zero IP4Net.
  CHECK(ErrorOf([&] { Own4(n, cni::IPNet{}); }) ==
        "subnet \"0.0.0.0/0\" specified in the flannel net config doesn't contain \"10.42.0.0/24\" PodCIDR of the "
        "\"node-a\" node");
}

TEST_CASE("agent kube: annotation PATCH bodies byte-identical to flanneld's", "[agent][kube]") {
  weft::agent::LeaseAttrs attrs;
  attrs.public_ip = *cni::IP::Parse("198.18.0.11");
  attrs.backend_type = "vxlan";
  attrs.backend_data = R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e3"})";
  // A fresh Node (kubelet's annotations only): every flannel key is added, in sorted order;
  // the JSON string escapes are Go's.
  Node fresh = N("n1", {{"node.alpha.kubernetes.io/ttl", "0"}}, "10.42.0.0/24");
  CHECK(AnnotationPatch(fresh, kA, attrs) ==
        std::string(R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\"VNI\":1,\"VtepMAC\":\"12:c6:65:89:b4:e3\"}","flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11"}}})"));

  // Already annotated the same way: no PATCH at all.
  Node done = fresh;
  done.annotations[kA.backend_data] = attrs.backend_data;
  done.annotations[kA.backend_type] = "vxlan";
  done.annotations[kA.kube_subnet_manager] = "true";
  done.annotations[kA.public_ip] = "198.18.0.11";
  CHECK_FALSE(AnnotationPatch(done, kA, attrs));

  // Only what differs is in the patch (a new MAC after the device was re-created elsewhere).
  Node old_mac = done;
  old_mac.annotations[kA.backend_data] = R"({"VNI":1,"VtepMAC":"aa:aa:aa:aa:aa:aa"})";
  CHECK(AnnotationPatch(old_mac, kA, attrs) ==
        std::string(R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\"VNI\":1,\"VtepMAC\":\"12:c6:65:89:b4:e3\"}"}}})"));

  // public-ip-overwrite: public-ip takes its value; once it has it, there is nothing to send.
  Node nat = done;
  nat.annotations[kA.public_ip_overwrite] = "203.0.113.7";
  CHECK(AnnotationPatch(nat, kA, attrs) ==
        std::string(R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/public-ip":"203.0.113.7"}}})"));
  nat.annotations[kA.public_ip] = "203.0.113.7";
  CHECK_FALSE(AnnotationPatch(nat, kA, attrs));

  // host-gw has no backend data: flanneld writes the literal "null".
  weft::agent::LeaseAttrs hostgw = attrs;
  hostgw.backend_type = "host-gw";
  hostgw.backend_data = "null";
  CHECK(AnnotationPatch(N("n1", {}, "10.42.0.0/24"), kA, hostgw) ==
        std::string(R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"null","flannel.alpha.coreos.com/backend-type":"host-gw","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11"}}})"));
  hostgw.backend_data = "";  // a backend without data (OwnSetup leaves it empty): still "null"
  CHECK(AnnotationPatch(N("n1", {}, "10.42.0.0/24"), kA, hostgw)->find(R"("flannel.alpha.coreos.com/backend-data":"null")") !=
        std::string::npos);
  // A custom prefix; Go's HTML escaping of a user-provided overwrite value.
  Annotations custom = Annotations::FromPrefix("example.com/net");
  Node odd = N("n1", {{custom.public_ip_overwrite, "a<b>&c"}}, "10.42.0.0/24");
  CHECK(AnnotationPatch(odd, custom, attrs) ==
        std::string(R"({"metadata":{"annotations":{"example.com/net-backend-data":"{\"VNI\":1,\"VtepMAC\":\"12:c6:65:89:b4:e3\"}","example.com/net-backend-type":"vxlan","example.com/net-kube-subnet-manager":"true","example.com/net-public-ip":"a\u003cb\u003e\u0026c"}}})"));
}

TEST_CASE("agent kube: the NetworkUnavailable=False condition PATCH", "[agent][kube]") {
  // 2026-12-04T19:56:32Z
  CHECK(NetworkAvailablePatch(1796414192) ==
        std::string(R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","lastHeartbeatTime":"2026-12-04T19:56:32Z","lastTransitionTime":"2026-12-04T19:56:32Z","reason":"FlannelIsUp","message":"Flannel is running on this node"}]}})"));
}

TEST_CASE("agent kube: VtepMAC and node-public-ip read back from the own Node", "[agent][kube]") {
  Node n = N("n1", {{kA.backend_data, R"({"VNI":1,"VtepMAC":"12:C6:65:89:b4:e3"})"}}, "10.42.0.0/24");
  CHECK(StoredVtepMac(n, kA) == std::optional<std::string>("12:c6:65:89:b4:e3"));
  n.annotations[kA.backend_data] = R"({"vni":1,"vtepmac":"12:c6:65:89:b4:e4"})";  // Go: keys case-insensitive
  CHECK(StoredVtepMac(n, kA) == std::optional<std::string>("12:c6:65:89:b4:e4"));
  for (const char* bad : {"", "null", "{", R"({"VNI":1})", R"({"VtepMAC":"zz:c6:65:89:b4:e3"})",
                          R"({"VtepMAC":"13:c6:65:89:b4:e3"})", R"({"VtepMAC":"00:00:00:00:00:00"})",
                          R"({"VtepMAC":7})"}) {
    INFO(bad);
    n.annotations[kA.backend_data] = bad;
    CHECK_FALSE(StoredVtepMac(n, kA));
  }
  CHECK_FALSE(StoredVtepMac(N("n1", {}, ""), kA));

  CHECK_FALSE(StoredPublicIP(n, kA));
  n.annotations[kA.node_public_ip] = "198.18.0.99";
  CHECK(StoredPublicIP(n, kA)->String() == "198.18.0.99");
  n.annotations[kA.node_public_ip] = "nope";
  CHECK(ErrorOf([&] { StoredPublicIP(n, kA); }) ==
        "node annotation flannel.alpha.coreos.com/node-public-ip: \"nope\" is not an IPv4 address");
}

TEST_CASE("agent kube: dual-stack and IPv6-only Nodes to leases", "[agent][kube][dualstack]") {
  const std::string bd = R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e3"})", bd6 = R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e4"})";
  Node n = N("n2",
             {{kA.kube_subnet_manager, "true"},
              {kA.backend_type, "vxlan"},
              {kA.backend_data, bd},
              {kA.backend_v6_data, bd6},
              {kA.public_ip, "198.18.0.12"},
              {kA.public_ipv6, "fd18::12"}},
             "10.42.2.0/24", {"10.42.2.0/24", "fd42:0:0:2::/64"});
  Lease l = NodeToLease(n, kA, kDual);
  CHECK(l.Key() == "10.42.2.0-24&fd42:0:0:2::-64");
  CHECK(l.attrs.public_ip.String() == "198.18.0.12");
  CHECK(l.attrs.public_ipv6.String() == "fd18::12");
  CHECK(l.attrs.backend_data == bd);
  CHECK(l.attrs.backend_v6_data == bd6);
  // A v4-only config ignores the v6 side entirely.
  Lease v4 = NodeToLease(n, kA);
  CHECK(v4.Key() == "10.42.2.0-24");
  CHECK_FALSE(v4.attrs.public_ipv6.valid());
  CHECK(v4.attrs.backend_v6_data.empty());
  // Either order of podCIDRs; host bits masked.
  n.pod_cidrs = {"fd42:0:0:2::9/64", "10.42.2.0/24"};
  CHECK(NodeToLease(n, kA, kDual).Key() == "10.42.2.0-24&fd42:0:0:2::-64");

  // IPv6 only: no v4 annotation needed, no v4 subnet; podCIDRs or podCIDR alone.
  Node v6 = N("n3", {{kA.kube_subnet_manager, "true"}, {kA.backend_type, "vxlan"}, {kA.backend_v6_data, bd6},
                     {kA.public_ipv6, "fd18::13"}},
              "fd42:0:0:3::/64", {"fd42:0:0:3::/64"});
  Lease l6 = NodeToLease(v6, kA, kV6Only);
  CHECK(l6.Key() == "0.0.0.0-0&fd42:0:0:3::-64");
  CHECK_FALSE(l6.subnet.ip.valid());
  CHECK(l6.attrs.public_ipv6.String() == "fd18::13");
  CHECK(l6.attrs.backend_data.empty());
  v6.pod_cidrs.clear();
  CHECK(NodeToLease(v6, kA, kV6Only).subnet6.String() == "fd42:0:0:3::/64");

  // flanneld's errors; a dual-stack peer that fails either family is skipped as a whole.
  Node bad = n;
  bad.annotations.erase(kA.public_ipv6);  // a v4-only node (flanneld without IPv6) in a dual-stack cluster
  CHECK(ErrorOf([&] { NodeToLease(bad, kA, kDual); }) == "invalid IP address format");
  CHECK(NodeToLease(bad, kA).Key() == "10.42.2.0-24");  // what a v4-only agent makes of it
  bad.annotations[kA.public_ipv6] = "198.18.0.12";
  CHECK(ErrorOf([&] { NodeToLease(bad, kA, kDual); }) == "invalid IPv6 address format");
  bad = n;
  bad.pod_cidrs = {"10.42.2.0/24"};
  CHECK(ErrorOf([&] { NodeToLease(bad, kA, kDual); }) == "missing IPv6 address on n.Spec.PodCIDRs");
  bad.pod_cidrs = {"10.42.2.0/24", "fd42:0:0:2::/64", "fd42:0:0:3::/64"};
  CHECK(ErrorOf([&] { NodeToLease(bad, kA, kV6Only); }) == "node \"n2\" pod cidrs should be IPv4/IPv6 only or dualstack");
  bad.pod_cidrs = {"10.42.2.0/24", "fd42::/129"};
  CHECK(ErrorOf([&] { NodeToLease(bad, kA, kDual); }) == "invalid CIDR address: fd42::/129");
  v6.pod_cidr = "10.42.3.0/24";
  CHECK(ErrorOf([&] { NodeToLease(v6, kA, kV6Only); }) == "missing IPv6 address on n.Spec.PodCIDRs");
}

TEST_CASE("agent kube: which -v6 annotation updates re-program a peer", "[agent][kube][dualstack]") {
  Node o = N("n2", {{kA.kube_subnet_manager, "true"}, {kA.backend_type, "vxlan"},
                    {kA.backend_data, R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e3"})"}, {kA.public_ip, "198.18.0.12"},
                    {kA.backend_v6_data, R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e4"})"}, {kA.public_ipv6, "fd18::12"}},
             "10.42.2.0/24", {"10.42.2.0/24", "fd42:0:0:2::/64"});
  for (const std::string& key : {kA.backend_v6_data, kA.public_ipv6}) {
    Node m = o;
    m.annotations[key] += "x";
    INFO(key);
    CHECK(LeaseChanged(o, m, kA, kDual));
    CHECK(LeaseChanged(o, m, kA, kV6Only));
    CHECK_FALSE(LeaseChanged(o, m, kA));  // a v4-only config does not look at them
  }
  // In IPv6 only, the v4 annotations do not matter; backend-type does in every stack.
  Node m = o;
  m.annotations[kA.public_ip] = "198.18.0.99";
  CHECK_FALSE(LeaseChanged(o, m, kA, kV6Only));
  CHECK(LeaseChanged(o, m, kA, kDual));
  m = o;
  m.annotations[kA.backend_type] = "host-gw";
  CHECK(LeaseChanged(o, m, kA, kV6Only));
}

TEST_CASE("agent kube: the own subnets from dual-stack and IPv6-only podCIDRs", "[agent][kube][dualstack]") {
  const cni::IPNet net = Net("10.42.0.0/16"), net6 = Net("fd42::/56");
  Node n = N("node-a", {}, "10.42.0.0/24", {"10.42.0.0/24", "fd42::/64"});
  OwnCidrs own = OwnSubnets(n, kDual, net, net6);
  CHECK(own.subnet.String() == "10.42.0.0/24");
  CHECK(own.subnet6.String() == "fd42::/64");
  // A v4-only config on a dual-stack cluster ignores the second podCIDR (flanneld too).
  own = OwnSubnets(n, {}, net, {});
  CHECK(own.subnet.String() == "10.42.0.0/24");
  CHECK_FALSE(own.subnet6.ip.valid());
  // IPv6 only: one v6 podCIDR (spec.podCIDR carries it too).
  Node v6 = N("node-a", {}, "fd42:0:0:5::/64", {"fd42:0:0:5::/64"});
  own = OwnSubnets(v6, kV6Only, {}, net6);
  CHECK_FALSE(own.subnet.ip.valid());
  CHECK(own.subnet6.String() == "fd42:0:0:5::/64");

  CHECK(ErrorOf([&] { OwnSubnets(n, kDual, net, Net("fd43::/56")); }) ==
        "subnet \"fd43::/56\" specified in the flannel net config doesn't contain \"fd42::/64\" IPv6 PodCIDR of the "
        "\"node-a\" node");
  // No IPv6Network in net-conf.json: flanneld prints the zero IP6Net.
  CHECK(ErrorOf([&] { OwnSubnets(n, kDual, net, {}); }) ==
        "subnet \"::/0\" specified in the flannel net config doesn't contain \"fd42::/64\" IPv6 PodCIDR of the "
        "\"node-a\" node");
  // A v6 podCIDR larger than the network (containsCIDR compares the masks).
  Node big = N("node-a", {}, "fd42::/48", {"fd42::/48"});
  CHECK(ErrorOf([&] { OwnSubnets(big, kV6Only, {}, net6); }).find("doesn't contain \"fd42::/48\" IPv6 PodCIDR") !=
        std::string::npos);
  // EnableIPv6 but the controller-manager assigned IPv4 only (no --cluster-cidr v6 part).
  Node v4only = N("node-a", {}, "10.42.0.0/24", {"10.42.0.0/24"});
  CHECK(ErrorOf([&] { OwnSubnets(v4only, kDual, net, net6); }) == "node \"node-a\" has no IPv6 pod cidr");
  CHECK(ErrorOf([&] { OwnSubnets(v6, kDual, net, net6); }) == "node \"node-a\" has no IPv4 pod cidr");
  Node three = N("node-a", {}, "10.42.0.0/24", {"10.42.0.0/24", "fd42::/64", "fd42:0:0:1::/64"});
  try {
    OwnSubnets(three, kDual, net, net6);
    FAIL("no error");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "node \"node-a\" pod cidrs should be IPv4/IPv6 only or dualstack");
    CHECK(e.code() == cni::kInvalidNetworkConfig);
  }
  Node unassigned = N("node-a", {}, "");
  CHECK(ErrorOf([&] { OwnSubnets(unassigned, kV6Only, {}, net6); }) == "node \"node-a\" pod cidr not assigned");
}

TEST_CASE("agent kube: dual-stack and IPv6-only annotation PATCH bodies byte-identical to flanneld's",
          "[agent][kube][dualstack]") {
  weft::agent::LeaseAttrs attrs;
  attrs.public_ip = *cni::IP::Parse("198.18.0.11");
  attrs.public_ipv6 = *cni::IP::Parse("fd18::11");
  attrs.backend_type = "vxlan";
  attrs.backend_data = R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e3"})";
  attrs.backend_v6_data = R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e4"})";
  Node fresh = N("n1", {{"node.alpha.kubernetes.io/ttl", "0"}}, "10.42.0.0/24", {"10.42.0.0/24", "fd42::/64"});
  CHECK(AnnotationPatch(fresh, kA, attrs) ==
        std::string(R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\"VNI\":1,\"VtepMAC\":\"12:c6:65:89:b4:e3\"}","flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/backend-v6-data":"{\"VNI\":1,\"VtepMAC\":\"12:c6:65:89:b4:e4\"}","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11","flannel.alpha.coreos.com/public-ipv6":"fd18::11"}}})"));

  Node done = fresh;
  done.annotations[kA.backend_data] = attrs.backend_data;
  done.annotations[kA.backend_v6_data] = attrs.backend_v6_data;
  done.annotations[kA.backend_type] = "vxlan";
  done.annotations[kA.kube_subnet_manager] = "true";
  done.annotations[kA.public_ip] = "198.18.0.11";
  done.annotations[kA.public_ipv6] = "fd18::11";
  CHECK_FALSE(AnnotationPatch(done, kA, attrs));

  // Only the v6 side differs (flannel-v6.1 re-created with another MAC): only its key.
  Node old6 = done;
  old6.annotations[kA.backend_v6_data] = R"({"VNI":1,"VtepMAC":"aa:aa:aa:aa:aa:aa"})";
  CHECK(AnnotationPatch(old6, kA, attrs) ==
        std::string(R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-v6-data":"{\"VNI\":1,\"VtepMAC\":\"12:c6:65:89:b4:e4\"}"}}})"));

  // public-ipv6-overwrite is published as public-ipv6; then nothing is left to send.
  Node nat = done;
  nat.annotations[kA.public_ipv6_overwrite] = "2001:db8::7";
  CHECK(AnnotationPatch(nat, kA, attrs) ==
        std::string(R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/public-ipv6":"2001:db8::7"}}})"));
  nat.annotations[kA.public_ipv6] = "2001:db8::7";
  CHECK_FALSE(AnnotationPatch(nat, kA, attrs));

  // A v4-only agent (no PublicIPv6) neither compares nor touches stale -v6 keys.
  weft::agent::LeaseAttrs v4 = attrs;
  v4.public_ipv6 = {};
  v4.backend_v6_data.clear();
  CHECK_FALSE(AnnotationPatch(old6, kA, v4));

  // IPv6-only vxlan: PublicIP 0.0.0.0 and no v4 data, so backend-data and public-ip are not written.
  weft::agent::LeaseAttrs only6 = attrs;
  only6.public_ip = cni::IP::V4(0);
  only6.backend_data.clear();
  Node fresh6 = N("n1", {}, "fd42::/64", {"fd42::/64"});
  CHECK(AnnotationPatch(fresh6, kA, only6) ==
        std::string(R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/backend-v6-data":"{\"VNI\":1,\"VtepMAC\":\"12:c6:65:89:b4:e4\"}","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ipv6":"fd18::11"}}})"));
  Node done6 = fresh6;
  done6.annotations[kA.backend_type] = "vxlan";
  done6.annotations[kA.backend_v6_data] = only6.backend_v6_data;
  done6.annotations[kA.kube_subnet_manager] = "true";
  done6.annotations[kA.public_ipv6] = "fd18::11";
  CHECK_FALSE(AnnotationPatch(done6, kA, only6));  // flanneld sends "{}" here

  // IPv6-only host-gw: flanneld's rule writes the v4 keys too ("null", "0.0.0.0").
  weft::agent::LeaseAttrs gw6 = only6;
  gw6.backend_type = "host-gw";
  gw6.backend_v6_data.clear();
  CHECK(AnnotationPatch(fresh6, kA, gw6) ==
        std::string(R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"null","flannel.alpha.coreos.com/backend-type":"host-gw","flannel.alpha.coreos.com/backend-v6-data":"null","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"0.0.0.0","flannel.alpha.coreos.com/public-ipv6":"fd18::11"}}})"));
}

TEST_CASE("agent kube: wireguard dual-stack and IPv6-only PATCH bodies byte-identical to flanneld's",
          "[agent][kube][dualstack]") {
  const std::string k = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
  weft::agent::LeaseAttrs attrs;
  attrs.public_ip = *cni::IP::Parse("198.18.0.11");
  attrs.public_ipv6 = *cni::IP::Parse("fd18::11");
  attrs.backend_type = "wireguard";
  attrs.backend_data = R"({"PublicKey":")" + k + R"(","Port":51820})";
  attrs.backend_v6_data = R"({"PublicKey":")" + k + R"(","Port":51821})";
  Node fresh = N("n1", {}, "10.42.0.0/24", {"10.42.0.0/24", "fd42::/64"});
  CHECK(AnnotationPatch(fresh, kA, attrs) ==
        R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\"PublicKey\":\")" + k +
            R"(\",\"Port\":51820}","flannel.alpha.coreos.com/backend-type":"wireguard","flannel.alpha.coreos.com/backend-v6-data":"{\"PublicKey\":\")" +
            k + R"(\",\"Port\":51821}","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11","flannel.alpha.coreos.com/public-ipv6":"fd18::11"}}})");

  // v6 data but no PublicIPv6 known: flanneld writes neither -v6 key.
  weft::agent::LeaseAttrs no6 = attrs;
  no6.public_ipv6 = {};
  CHECK(AnnotationPatch(fresh, kA, no6) ==
        R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\"PublicKey\":\")" + k +
            R"(\",\"Port\":51820}","flannel.alpha.coreos.com/backend-type":"wireguard","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11"}}})");

  // IPv6 only: backend-data is the literal null and public-ip 0.0.0.0 (unlike vxlan).
  weft::agent::LeaseAttrs only6 = attrs;
  only6.public_ip = cni::IP::V4(0);
  only6.backend_data.clear();
  Node fresh6 = N("n1", {}, "fd42::/64", {"fd42::/64"});
  CHECK(AnnotationPatch(fresh6, kA, only6) ==
        R"({"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"null","flannel.alpha.coreos.com/backend-type":"wireguard","flannel.alpha.coreos.com/backend-v6-data":"{\"PublicKey\":\")" +
            k + R"(\",\"Port\":51821}","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"0.0.0.0","flannel.alpha.coreos.com/public-ipv6":"fd18::11"}}})");
}

TEST_CASE("agent kube: the v6 VtepMAC and node-public-ipv6 read back", "[agent][kube][dualstack]") {
  Node n = N("n1", {{kA.backend_data, R"({"VNI":1,"VtepMAC":"12:c6:65:89:b4:e3"})"},
                    {kA.backend_v6_data, R"({"VNI":1,"VtepMAC":"12:C6:65:89:B4:E4"})"}},
             "10.42.0.0/24");
  CHECK(StoredVtepMac(n, kA) == std::optional<std::string>("12:c6:65:89:b4:e3"));
  CHECK(StoredVtepMac(n, kA, true) == std::optional<std::string>("12:c6:65:89:b4:e4"));
  n.annotations[kA.backend_v6_data] = "null";
  CHECK_FALSE(StoredVtepMac(n, kA, true));

  CHECK_FALSE(StoredPublicIP(n, kA, true));
  n.annotations[kA.node_public_ipv6] = "fd18::99";
  CHECK(StoredPublicIP(n, kA, true)->String() == "fd18::99");
  CHECK_FALSE(StoredPublicIP(n, kA));  // the v4 one is its own annotation
  n.annotations[kA.node_public_ipv6] = "198.18.0.99";
  CHECK(ErrorOf([&] { StoredPublicIP(n, kA, true); }) ==
        "node annotation flannel.alpha.coreos.com/node-public-ipv6: \"198.18.0.99\" is not an IPv6 address");
}
