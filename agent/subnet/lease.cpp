// Lease JSON and subnet keys (see lease.h).
#include "agent/subnet/lease.h"

#include "cni/json.h"

namespace weft::agent {

std::string Lease::Key() const { return MakeSubnetKey(subnet, subnet6); }

std::string Lease::String() const {
  std::string s = subnet.ip.valid() ? subnet.String() : "";
  if (subnet6.ip.valid()) s += (s.empty() ? "" : ",") + subnet6.String();
  return s;
}

std::string MarshalLeaseAttrs(const LeaseAttrs& a) {
  // Go's json.Marshal of flanneld's LeaseAttrs: field order fixed, PublicIP and PublicIPv6 always
  // emitted (PublicIPv6 null when unset), the others omitted when empty.
  std::string s = "{\"PublicIP\":\"" + (a.public_ip.valid() ? a.public_ip.String() : "0.0.0.0") + "\",\"PublicIPv6\":";
  s += a.public_ipv6.valid() ? "\"" + a.public_ipv6.String() + "\"" : "null";
  if (!a.backend_type.empty()) s += ",\"BackendType\":" + cni::Marshal(cni::Json(a.backend_type));
  if (!a.backend_data.empty()) s += ",\"BackendData\":" + a.backend_data;
  if (!a.backend_v6_data.empty()) s += ",\"BackendV6Data\":" + a.backend_v6_data;
  return s + "}";
}

std::optional<LeaseAttrs> ParseLeaseAttrs(std::string_view json_text) {
  try {
    cni::Json j = cni::ParseJson(json_text);
    cni::Decoder d(j, "LeaseAttrs");
    LeaseAttrs a;
    auto ip = cni::IP::Parse(d.String("PublicIP").value_or(""));
    if (!ip || !ip->is4()) return std::nullopt;
    a.public_ip = *ip;
    if (auto v6 = d.String("PublicIPv6")) {
      auto ip6 = cni::IP::Parse(*v6);
      if (!ip6 || !ip6->is6()) return std::nullopt;
      a.public_ipv6 = *ip6;
    }
    a.backend_type = d.String("BackendType").value_or("");
    if (auto bd = d.Raw("BackendData")) a.backend_data = cni::Marshal(*bd);
    if (auto bd = d.Raw("BackendV6Data")) a.backend_v6_data = cni::Marshal(*bd);
    return a;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string MakeSubnetKey(const cni::IPNet& subnet, const cni::IPNet& subnet6) {
  // An IPv6-only lease keeps flanneld's zero IPv4 part: "0.0.0.0-0&fc00:0:0:1::-64".
  std::string k = subnet.ip.valid() ? subnet.ip.String() + "-" + std::to_string(subnet.prefix) : "0.0.0.0-0";
  if (subnet6.ip.valid()) k += "&" + subnet6.ip.String() + "-" + std::to_string(subnet6.prefix);
  return k;
}

namespace {

// "<ip>-<len>": the address as written (not masked), the length without leading zeros.
std::optional<cni::IPNet> ParsePart(std::string_view s, int family) {
  size_t p = s.rfind('-');
  if (p == std::string_view::npos) return std::nullopt;
  auto ip = cni::IP::Parse(s.substr(0, p));
  std::string_view l = s.substr(p + 1);
  if (!ip || ip->family() != family || l.empty() || l.size() > 3 || (l.size() > 1 && l[0] == '0'))
    return std::nullopt;
  int len = 0;
  for (char c : l) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + (c - '0');
  }
  if (len > ip->bits()) return std::nullopt;
  return cni::IPNet{*ip, len};
}

}  // namespace

std::optional<SubnetKey> ParseSubnetKey(std::string_view key) {
  size_t slash = key.rfind('/');
  if (slash != std::string_view::npos) key = key.substr(slash + 1);
  size_t amp = key.find('&');
  SubnetKey k;
  auto v4 = ParsePart(key.substr(0, amp), 4);
  if (!v4) return std::nullopt;
  k.subnet = *v4;
  if (amp != std::string_view::npos) {
    auto v6 = ParsePart(key.substr(amp + 1), 6);
    if (!v6) return std::nullopt;
    k.subnet6 = *v6;
    if (k.subnet.prefix == 0 && k.subnet.ip.IsUnspecified()) k.subnet = {};  // IPv6-only
  }
  return k;
}

}  // namespace weft::agent
