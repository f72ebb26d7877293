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

// spec.podCIDRs, or spec.podCIDR when the list is empty; the first entry of family 4.
std::optional<cni::IPNet> PodCidr4(const Node& n, const std::string& name_for_errors) {
  if (n.pod_cidrs.empty()) {
    cni::IPNet c = ParseCidr(n.pod_cidr);
    if (c.ip.is4()) return c;
    return std::nullopt;
  }
  if (n.pod_cidrs.size() > 2)
    Malformed("node " + cni::GoQuote(name_for_errors) + " pod cidrs should be IPv4/IPv6 only or dualstack");
  std::optional<cni::IPNet> out;
  for (const auto& s : n.pod_cidrs) {
    cni::IPNet c = ParseCidr(s);
    if (c.ip.is4() && !out) out = c;
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

Lease NodeToLease(const Node& n, const Annotations& a) {
  Lease l;
  std::string pip = n.Annotation(a.public_ip);
  auto ip = cni::IP::Parse(pip);
  if (!ip) Malformed("invalid IP address format");
  if (!ip->is4()) Malformed("invalid IPv4 address format");
  l.attrs.public_ip = *ip;
  l.attrs.backend_data = n.Annotation(a.backend_data);
  auto cidr = PodCidr4(n, n.name);
  if (!cidr) Malformed("missing IPv4 address on n.Spec.PodCIDRs");
  l.subnet = *cidr;
  l.attrs.backend_type = n.Annotation(a.backend_type);
  l.source = "node/" + n.name;
  return l;
}

bool LeaseChanged(const Node& o, const Node& n, const Annotations& a) {
  return o.Annotation(a.backend_data) != n.Annotation(a.backend_data) ||
         o.Annotation(a.backend_type) != n.Annotation(a.backend_type) ||
         o.Annotation(a.public_ip) != n.Annotation(a.public_ip);
}

cni::IPNet OwnSubnet(const Node& n, const cni::IPNet& network) {
  if (n.pod_cidr.empty())
    throw cni::Error(cni::kTryAgainLater, "node " + cni::GoQuote(n.name) + " pod cidr not assigned");
  std::optional<cni::IPNet> cidr;
  try {
    cidr = PodCidr4(n, n.name);
  } catch (const cni::Error& e) {
    throw cni::Error(cni::kInvalidNetworkConfig, e.msg());
  }
  if (!cidr) throw cni::Error(cni::kInvalidNetworkConfig, "node " + cni::GoQuote(n.name) + " has no IPv4 pod cidr");
  std::string net_str = network.ip.valid() ? network.Masked().String() : "0.0.0.0/0";
  if (!network.ip.valid() || network.prefix > cidr->prefix || !network.Contains(cidr->ip))
    throw cni::Error(cni::kInvalidNetworkConfig, "subnet " + cni::GoQuote(net_str) +
                                                     " specified in the flannel net config doesn't contain " +
                                                     cni::GoQuote(cidr->String()) + " PodCIDR of the " +
                                                     cni::GoQuote(n.name) + " node");
  return *cidr;
}

std::optional<std::string> AnnotationPatch(const Node& n, const Annotations& a, const LeaseAttrs& in) {
  LeaseAttrs attrs = in;
  if (attrs.backend_data.empty()) attrs.backend_data = "null";  // json.Marshal of a nil RawMessage
  const std::string pip = attrs.public_ip.String();
  const std::string overwrite = n.Annotation(a.public_ip_overwrite);
  bool differs = n.Annotation(a.backend_data) != attrs.backend_data ||
                 n.Annotation(a.backend_type) != attrs.backend_type || n.Annotation(a.public_ip) != pip ||
                 n.Annotation(a.kube_subnet_manager) != "true" || (!overwrite.empty() && overwrite != pip);
  if (!differs) return std::nullopt;
  std::map<std::string, std::string> want = n.annotations;
  want[a.backend_type] = attrs.backend_type;
  bool write_data = attrs.backend_type != "vxlan" || attrs.backend_data != "null";
  if (write_data) {
    want[a.backend_data] = attrs.backend_data;
    if (!overwrite.empty()) want[a.public_ip] = overwrite;  // flanneld logs "Overriding public ip with ..."
    else want[a.public_ip] = pip;
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

std::optional<std::string> StoredVtepMac(const Node& n, const Annotations& a) {
  auto it = n.annotations.find(a.backend_data);
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

std::optional<cni::IP> StoredPublicIP(const Node& n, const Annotations& a) {
  std::string v = n.Annotation(a.node_public_ip);
  if (v.empty()) return std::nullopt;
  auto ip = cni::IP::Parse(v);
  if (!ip || !ip->is4())
    throw cni::Error(cni::kInvalidNetworkConfig, "node annotation " + a.node_public_ip + ": " + cni::GoQuote(v) +
                                                     " is not an IPv4 address");
  return ip;
}

}  // namespace weft::agent::kube
