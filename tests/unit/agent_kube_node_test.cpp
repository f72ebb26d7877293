// weftd kube mode, the Node rules (agent/subnet/kube/node.h): flanneld's annotation prefix
// rules (its own test table), Node → lease, the own subnet's checks and error texts, the PATCH
// bodies byte for byte as flanneld's Go code marshals them, and the VtepMAC read back at start.
#include <catch2/catch.hpp>

#include "agent/subnet/kube/node.h"
#include "cni/error.h"

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

std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "(no error)";
}

cni::IPNet Net(const char* s) { return *cni::IPNet::Parse(s); }

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
  CHECK(OwnSubnet(n, Net("10.42.0.0/16")).String() == "10.42.0.0/24");

  Node unassigned = N("node-a", {}, "");
  try {
    OwnSubnet(unassigned, Net("10.42.0.0/16"));
    FAIL("no error");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "node \"node-a\" pod cidr not assigned");
    CHECK(e.code() == cni::kTryAgainLater);
  }
  CHECK(ErrorOf([&] { OwnSubnet(n, Net("10.43.0.0/16")); }) ==
        "subnet \"10.43.0.0/16\" specified in the flannel net config doesn't contain \"10.42.0.0/24\" PodCIDR of "
        "the \"node-a\" node");
  // A pod CIDR larger than the network is not contained either (containsCIDR compares the masks).
  Node big = N("node-a", {}, "10.0.0.0/8");
  CHECK(ErrorOf([&] { OwnSubnet(big, Net("10.42.0.0/16")); }).find("doesn't contain \"10.0.0.0/8\"") != std::string::npos);
  // No Network in net-conf.json: flanneld prints the zero IP4Net.
  CHECK(ErrorOf([&] { OwnSubnet(n, cni::IPNet{}); }) ==
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
