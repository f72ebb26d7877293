// Node ⇄ lease rules of flanneld's kube subnet manager (see node.h).
#include "agent/subnet/kube/node.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "cni/encoding.h"
#include "cni/error.h"
#include "cni/json.h"

namespace weft::agent::kube {

using nlohmann::json;

namespace {

[[noreturn]] void Malformed(const std::string& msg) { throw cni::Error(cni::kDecodingFailure, msg); }

// Go's net.ParseCIDR, masked; its error text.
cni::IPNet ParseCidr(const std::string& s) {
  auto n = cni::IPNet::Parse(s);
  if (!n) Malformed("invalid CIDR address: " + s);
  return n->Masked();
}

// spec.podCIDRs, or spec.podCIDR when the list is empty; the first entry of the family.
std::optional<cni::IPNet> PodCidr(const Node& n, bool v6) {
  if (n.pod_cidrs.empty()) {
    cni::IPNet c = ParseCidr(n.pod_cidr);
    if (c.ip.is4() != v6) return c;
    return std::nullopt;
  }
  if (n.pod_cidrs.size() > 2)
    Malformed("node " + cni::GoQuote(n.name) + " pod cidrs should be IPv4/IPv6 only or dualstack");
  std::optional<cni::IPNet> out;
  for (const auto& s : n.pod_cidrs) {
    cni::IPNet c = ParseCidr(s);
    if (c.ip.is4() != v6 && !out) out = c;
  }
  return out;
}

bool IsMac(const std::string& s) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2) {
      if (s[i] != ':') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Annotations Annotations::FromPrefix(std::string prefix) {
  size_t slashes = std::count(prefix.begin(), prefix.end(), '/');
  if (slashes > 1) throw cni::Error(cni::kInvalidNetworkConfig, "subnet/kube: prefix can contain at most single slash");
  if (slashes == 0) prefix += "/";
  if (prefix.back() != '/' && prefix.back() != '-') prefix += "-";
  // Unanchored at the start, like Go's regexp.MatchString with only a trailing '$'.
  static const std::regex kFormat(R"((?:[a-z0-9_-]+\.)+[a-z0-9_-]+/(?:[a-z0-9_-]+-)?$)");
  if (!std::regex_search(prefix, kFormat))
    throw cni::Error(cni::kInvalidNetworkConfig, "subnet/kube: prefix must be in a format: fqdn/[0-9a-z-_]*");
  Annotations a;
  a.kube_subnet_manager = prefix + "kube-subnet-manager";
  a.backend_data = prefix + "backend-data";
  a.backend_v6_data = prefix + "backend-v6-data";
  a.backend_type = prefix + "backend-type";
  a.public_ip = prefix + "public-ip";
  a.node_public_ip = prefix + "node-public-ip";
  a.public_ip_overwrite = prefix + "public-ip-overwrite";
  a.public_ipv6 = prefix + "public-ipv6";
  a.node_public_ipv6 = prefix + "node-public-ipv6";
  a.public_ipv6_overwrite = prefix + "public-ipv6-overwrite";
  return a;
}

std::string Node::Annotation(const std::string& key) const {
  auto it = annotations.find(key);
  return it == annotations.end() ? std::string() : it->second;
}

Node ParseNode(const json& obj) {
  if (!obj.is_object()) Malformed("node object is not a JSON object");
  Node n;
  const json meta = obj.value("metadata", json::object());
  if (!meta.is_object()) Malformed("node metadata is not an object");
  if (!meta.contains("name") || !meta["name"].is_string()) Malformed("node without metadata.name");
  n.name = meta["name"].get<std::string>();
  if (meta.contains("resourceVersion") && meta["resourceVersion"].is_string())
    n.resource_version = meta["resourceVersion"].get<std::string>();
  if (meta.contains("annotations") && !meta["annotations"].is_null()) {
    if (!meta["annotations"].is_object()) Malformed("node " + cni::GoQuote(n.name) + ": annotations are not an object");
    n.has_annotations = true;
    for (const auto& [k, v] : meta["annotations"].items()) {
      if (!v.is_string()) Malformed("node " + cni::GoQuote(n.name) + ": annotation " + k + " is not a string");
      n.annotations[k] = v.get<std::string>();
    }
  }
  const json spec = obj.value("spec", json::object());
  if (spec.is_object()) {
    if (spec.contains("podCIDR") && spec["podCIDR"].is_string()) n.pod_cidr = spec["podCIDR"].get<std::string>();
    if (spec.contains("podCIDRs") && spec["podCIDRs"].is_array())
      for (const auto& c : spec["podCIDRs"]) {
        if (!c.is_string()) Malformed("node " + cni::GoQuote(n.name) + ": spec.podCIDRs holds a non-string");
        n.pod_cidrs.push_back(c.get<std::string>());
      }
  }
  return n;
}

bool IsManaged(const Node& n, const Annotations& a) { return n.Annotation(a.kube_subnet_manager) == "true"; }

Lease NodeToLease(const Node& n, const Annotations& a, Stack stack) {
  Lease l;
  if (stack.ipv4) {
    auto ip = cni::IP::Parse(n.Annotation(a.public_ip));
    if (!ip) Malformed("invalid IP address format");
    if (!ip->is4()) Malformed("invalid IPv4 address format");
    l.attrs.public_ip = *ip;
    l.attrs.backend_data = n.Annotation(a.backend_data);
    auto cidr = PodCidr(n, false);
    if (!cidr) Malformed("missing IPv4 address on n.Spec.PodCIDRs");
    l.subnet = *cidr;
  }
  if (stack.ipv6) {
    auto ip = cni::IP::Parse(n.Annotation(a.public_ipv6));
    if (!ip) Malformed("invalid IP address format");
    if (ip->is4()) Malformed("invalid IPv6 address format");  // Go's ParseIP6 takes an IPv4 one too
    l.attrs.public_ipv6 = *ip;
    l.attrs.backend_v6_data = n.Annotation(a.backend_v6_data);
    auto cidr = PodCidr(n, true);
    if (!cidr) Malformed("missing IPv6 address on n.Spec.PodCIDRs");
    l.subnet6 = *cidr;
  }
  l.attrs.backend_type = n.Annotation(a.backend_type);
  l.source = "node/" + n.name;
  return l;
}

bool LeaseChanged(const Node& o, const Node& n, const Annotations& a, Stack stack) {
  auto differs = [&](const std::string& key) { return o.Annotation(key) != n.Annotation(key); };
  return differs(a.backend_type) || (stack.ipv4 && (differs(a.backend_data) || differs(a.public_ip))) ||
         (stack.ipv6 && (differs(a.backend_v6_data) || differs(a.public_ipv6)));
}

namespace {

// containsCIDR of the config's network and a podCIDR, with flanneld's error text.
void CheckContained(const Node& n, const cni::IPNet& network, const cni::IPNet& cidr, bool v6) {
  if (network.ip.valid() && network.prefix <= cidr.prefix && network.Contains(cidr.ip)) return;
  std::string net_str = network.ip.valid() ? network.Masked().String() : (v6 ? "::/0" : "0.0.0.0/0");
  throw cni::Error(cni::kInvalidNetworkConfig, "subnet " + cni::GoQuote(net_str) +
                                                   " specified in the flannel net config doesn't contain " +
                                                   cni::GoQuote(cidr.String()) + (v6 ? " IPv6" : "") +
                                                   " PodCIDR of the " + cni::GoQuote(n.name) + " node");
}

}  // namespace

OwnCidrs OwnSubnets(const Node& n, Stack stack, const cni::IPNet& network, const cni::IPNet& ipv6_network) {
  if (n.pod_cidr.empty())
    throw cni::Error(cni::kTryAgainLater, "node " + cni::GoQuote(n.name) + " pod cidr not assigned");
  OwnCidrs out;
  for (bool v6 : {false, true}) {
    if (!(v6 ? stack.ipv6 : stack.ipv4)) continue;
    std::optional<cni::IPNet> cidr;
    try {
      cidr = PodCidr(n, v6);
    } catch (const cni::Error& e) {
      throw cni::Error(cni::kInvalidNetworkConfig, e.msg());
    }
    if (!cidr)
      throw cni::Error(cni::kInvalidNetworkConfig,
                       "node " + cni::GoQuote(n.name) + " has no IPv" + (v6 ? "6" : "4") + " pod cidr");
    CheckContained(n, v6 ? ipv6_network : network, *cidr, v6);
    (v6 ? out.subnet6 : out.subnet) = *cidr;
  }
  return out;
}

std::optional<std::string> AnnotationPatch(const Node& n, const Annotations& a, const LeaseAttrs& in) {
  LeaseAttrs attrs = in;
  if (attrs.backend_data.empty()) attrs.backend_data = "null";  // json.Marshal of a nil RawMessage
  if (attrs.backend_v6_data.empty()) attrs.backend_v6_data = "null";
  const std::string& type = attrs.backend_type;
  const std::string pip = attrs.public_ip.String();
  const std::string overwrite = n.Annotation(a.public_ip_overwrite);
  const bool has6 = attrs.public_ipv6.valid();  // flanneld: attrs.PublicIPv6 != nil
  const std::string pip6 = has6 ? attrs.public_ipv6.String() : "";
  const std::string overwrite6 = n.Annotation(a.public_ipv6_overwrite);
  const bool managed = n.Annotation(a.kube_subnet_manager) == "true";
  bool differs = n.Annotation(a.backend_data) != attrs.backend_data || n.Annotation(a.backend_type) != type ||
                 n.Annotation(a.public_ip) != pip || !managed || (!overwrite.empty() && overwrite != pip);
  differs = differs || (has6 && (n.Annotation(a.backend_v6_data) != attrs.backend_v6_data ||
                                 n.Annotation(a.backend_type) != type || n.Annotation(a.public_ipv6) != pip6 ||
                                 !managed || (!overwrite6.empty() && overwrite6 != pip6)));
  if (!differs) return std::nullopt;
  std::map<std::string, std::string> want = n.annotations;
  want[a.backend_type] = type;
  if (type != "vxlan" || attrs.backend_data != "null") {
    want[a.backend_data] = attrs.backend_data;
    want[a.public_ip] = overwrite.empty() ? pip : overwrite;  // flanneld logs "Overriding public ip with ..."
  }
  // flanneld's rule for the v6 keys (only vxlan, wireguard, host-gw and extension carry them).
  bool write6 = (type == "vxlan" && attrs.backend_v6_data != "null") ||
                (type == "wireguard" && attrs.backend_v6_data != "null" && has6) ||
                ((type == "host-gw" || type == "extension") && has6);
  if (write6) {
    want[a.backend_v6_data] = attrs.backend_v6_data;
    want[a.public_ipv6] = overwrite6.empty() ? pip6 : overwrite6;  // "Overriding public ipv6 with ..."
  }
  want[a.kube_subnet_manager] = "true";
  cni::Json changed = cni::Json::object();
  for (const auto& [k, v] : want) {  // std::map: Go's sorted key order
    auto it = n.annotations.find(k);
    if (it == n.annotations.end() || it->second != v) changed[k] = v;
  }
  if (changed.empty()) return std::nullopt;
  return cni::Marshal(cni::Json{{"metadata", {{"annotations", changed}}}});
}

std::string NetworkAvailablePatch(std::time_t now) {
  char ts[32];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);  // metav1.Time: RFC 3339 in UTC
  // v1.NodeCondition's field order: type, status, lastHeartbeatTime, lastTransitionTime, reason, message.
  return std::string(R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","lastHeartbeatTime":")") +
         ts + R"(","lastTransitionTime":")" + ts +
         R"(","reason":"FlannelIsUp","message":"Flannel is running on this node"}]}})";
}

std::optional<std::string> StoredVtepMac(const Node& n, const Annotations& a, bool v6) {
  auto it = n.annotations.find(v6 ? a.backend_v6_data : a.backend_data);
  if (it == n.annotations.end()) return std::nullopt;
  // Go decodes the key case-insensitively.
  cni::Json j = cni::Json::parse(it->second, nullptr, false);
  auto mac = cni::Field(j, "VtepMAC");
  if (!mac || !mac->is_string()) return std::nullopt;
  std::string s = mac->get<std::string>();
  if (!IsMac(s)) return std::nullopt;
  auto first = std::stoul(s.substr(0, 2), nullptr, 16);
  if (first & 1) return std::nullopt;  // multicast: never a device address
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (s == "00:00:00:00:00:00") return std::nullopt;
  return s;
}

std::optional<cni::IP> StoredPublicIP(const Node& n, const Annotations& a, bool v6) {
  const std::string& key = v6 ? a.node_public_ipv6 : a.node_public_ip;
  std::string v = n.Annotation(key);
  if (v.empty()) return std::nullopt;
  auto ip = cni::IP::Parse(v);
  if (!ip || ip->is4() == v6)
    throw cni::Error(cni::kInvalidNetworkConfig, "node annotation " + key + ": " + cni::GoQuote(v) +
                                                     " is not an IPv" + (v6 ? "6" : "4") + " address");
  return ip;
}

}  // namespace weft::agent::kube
