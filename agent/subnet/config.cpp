// Network config parsing and validation (see config.h). Defaults follow flanneld:
// EnableIPv4 true; SubnetLen 24 for networks of /22 or larger, else prefix+2 (max /28 network);
// SubnetMin = the second subnet, SubnetMax = the last one; Backend absent means "udp" (which
// weftd, like current flanneld builds, does not implement).
#include "agent/subnet/config.h"

#include <algorithm>

#include "cni/error.h"
#include "cni/json.h"

namespace weft::agent {

namespace {

[[noreturn]] void Fail(const std::string& msg) { throw cni::Error(cni::kInvalidNetworkConfig, msg); }

cni::IP ParseIp4Field(const cni::Decoder& d, std::string_view key) {
  auto s = d.String(key);
  auto ip = cni::IP::Parse(*s);
  if (!ip || !ip->is4()) Fail("invalid " + std::string(key) + " \"" + *s + "\" in the flannel config");
  return *ip;
}

}  // namespace

NetworkConfig ParseNetworkConfig(std::string_view json_text) {
  cni::Json j = cni::ParseJson(json_text, "error parsing subnet config");
  cni::Decoder d(j, "Config");
  NetworkConfig c;
  c.enable_ipv4 = d.Bool("EnableIPv4").value_or(true);
  c.enable_ipv6 = d.Bool("EnableIPv6").value_or(false);
  c.enable_nftables = d.Bool("EnableNFTables").value_or(false);
  if (!c.enable_ipv4 && !c.enable_ipv6) Fail("none defined stack");
  if (c.enable_ipv6)
    Fail("EnableIPv6: weftd supports IPv4 networks only (IPv6 overlay not implemented)");

  // Backend: absent means udp; "{}" gives an empty type.
  if (auto b = d.Object("Backend", "json.RawMessage")) {
    c.backend.type = b->String("Type").value_or("");
    std::transform(c.backend.type.begin(), c.backend.type.end(), c.backend.type.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    c.backend.vni = b->Int("VNI").value_or(1);
    c.backend.port = b->Int("Port").value_or(0);
    c.backend.gbp = b->Bool("GBP").value_or(false);
    c.backend.learning = b->Bool("Learning").value_or(false);
    c.backend.direct_routing = b->Bool("DirectRouting").value_or(false);
    c.backend.mtu = b->Int("MTU").value_or(0);
  } else {
    c.backend.type = "udp";
  }
  if (c.backend.type != "vxlan" && c.backend.type != "host-gw")
    Fail("unknown backend type: " + c.backend.type);
  if (c.backend.vni < 0 || c.backend.vni > 0xffffff) Fail("invalid VXLAN VNI " + std::to_string(c.backend.vni));
  if (c.backend.port < 0 || c.backend.port > 65535) Fail("invalid VXLAN port " + std::to_string(c.backend.port));

  // CheckNetworkConfig (IPv4).
  std::string net = d.String("Network").value_or("");
  auto n = cni::IPNet::Parse(net);
  if (net.empty() || !n || !n->ip.is4()) Fail("please define a correct Network parameter in the flannel config");
  c.network = n->Masked();
  c.subnet_len = static_cast<int>(d.Int("SubnetLen", "uint").value_or(0));
  if (c.subnet_len > 0) {
    if (c.subnet_len > 30) Fail("SubnetLen must be less than /31");
    if (c.subnet_len < c.network.prefix + 2) Fail("network must be able to accommodate at least four subnets");
  } else {
    if (c.network.prefix > 28) Fail("network is too small. Minimum useful network prefix is /28");
    c.subnet_len = c.network.prefix <= 22 ? 24 : c.network.prefix + 2;
  }
  if (d.Raw("SubnetMin")) {
    c.subnet_min = ParseIp4Field(d, "SubnetMin");
    if (!c.network.Contains(c.subnet_min)) Fail("SubnetMin is not in the range of the Network");
  } else {
    c.subnet_min = cni::IPNet{c.network.ip, c.subnet_len}.NextBlock().ip;
  }
  if (d.Raw("SubnetMax")) {
    c.subnet_max = ParseIp4Field(d, "SubnetMax");
    if (!c.network.Contains(c.subnet_max)) Fail("SubnetMax is not in the range of the Network");
  } else {
    c.subnet_max = c.network.Broadcast().Masked(c.subnet_len);
  }
  if (c.subnet_min.Masked(c.subnet_len) != c.subnet_min)
    Fail("SubnetMin is not on a SubnetLen boundary: " + c.subnet_min.String());
  if (c.subnet_max.Masked(c.subnet_len) != c.subnet_max)
    Fail("SubnetMax is not on a SubnetLen boundary: " + c.subnet_max.String());
  return c;
}

}  // namespace weft::agent
