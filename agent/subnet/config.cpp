// Network config parsing and validation (see config.h). Defaults follow flanneld:
// EnableIPv4 true, EnableIPv6 false; SubnetLen 24 for networks of /22 or larger, else prefix+2
// (max /28 network); IPv6SubnetLen 64 for networks of /62 or larger, else prefix+2 (max /124
// network); SubnetMin = the second subnet, SubnetMax = the last one, in both families; Backend
// absent means "udp" (which weftd, like current flanneld builds, does not implement).
#include "agent/subnet/config.h"

#include <algorithm>
#include <optional>

#include "cni/error.h"
#include "cni/json.h"

namespace weft::agent {

namespace {

[[noreturn]] void Fail(const std::string& msg) { throw cni::Error(cni::kInvalidNetworkConfig, msg); }

// The per-family keys, constants and texts of ParseConfig and CheckNetworkConfig.
struct Family {
  int version;                             // 4 or 6
  const char *network, *len, *min, *max;  // config keys
  int max_len, max_network_prefix, default_len_up_to, default_len;
  const char *cidr_error, *network_error, *len_error, *small_error, *min_range, *max_range;
};

constexpr Family kV4 = {4, "Network", "SubnetLen", "SubnetMin", "SubnetMax", 30, 28, 22, 24,
                        "invalid IPv4 CIDR format",
                        "please define a correct Network parameter in the flannel config",
                        "SubnetLen must be less than /31",
                        "network is too small. Minimum useful network prefix is /28",
                        "SubnetMin is not in the range of the Network", "SubnetMax is not in the range of the Network"};
constexpr Family kV6 = {6, "IPv6Network", "IPv6SubnetLen", "IPv6SubnetMin", "IPv6SubnetMax", 126, 124, 62, 64,
                        "invalid IPv6 CIDR format",
                        "please define a correct IPv6Network parameter in the flannel config",
                        "SubnetLen must be less than /127",
                        "IPv6Network is too small. Minimum useful network prefix is /124",
                        "IPv6SubnetMin is not in the range of the IPv6Network",
                        "IPv6SubnetMax is not in the range of the IPv6Network"};

// ParseConfig's part of a family: the fields as given (absent: invalid, 0).
void ParseFamily(const cni::Decoder& d, const Family& f, cni::IPNet& network, int& len, cni::IP& min, cni::IP& max) {
  if (auto net = d.String(f.network); net && !net->empty()) {
    auto n = cni::IPNet::Parse(*net);
    if (!n) Fail("invalid CIDR address: " + *net);
    if (n->ip.family() != f.version) Fail(f.cidr_error);
    network = n->Masked();
  }
  len = static_cast<int>(d.Int(f.len, "uint").value_or(0));
  for (auto [key, out] : {std::pair{f.min, &min}, std::pair{f.max, &max}}) {
    auto s = d.String(key);
    if (!s) continue;
    auto ip = cni::IP::Parse(*s);
    if (!ip || ip->family() != f.version) Fail("invalid " + std::string(key) + " \"" + *s + "\" in the flannel config");
    *out = *ip;
  }
}

// CheckNetworkConfig for one family: the network required, the subnet length (given or
// defaulted), and the first and last subnet to hand out (given or defaulted: the second and the
// last subnet; Go's zero address, absent or written out, means "default").
void CheckFamily(const Family& f, const cni::IPNet& network, int& len, cni::IP& min, cni::IP& max) {
  if (!network.ip.valid()) Fail(f.network_error);
  if (len > 0) {
    if (len > f.max_len) Fail(f.len_error);
    if (len < network.prefix + 2) Fail("network must be able to accommodate at least four subnets");
  } else {
    if (network.prefix > f.max_network_prefix) Fail(f.small_error);
    len = network.prefix <= f.default_len_up_to ? f.default_len : network.prefix + 2;
  }
  if (min.valid() && !min.IsUnspecified()) {
    if (!network.Contains(min)) Fail(f.min_range);
  } else {
    min = cni::IPNet{network.ip, len}.NextBlock().ip;
  }
  if (max.valid() && !max.IsUnspecified()) {
    if (!network.Contains(max)) Fail(f.max_range);
  } else {
    max = network.Broadcast().Masked(len);
  }
  if (min.Masked(len) != min) Fail(std::string(f.min) + " is not on a SubnetLen boundary: " + min.String());
  if (max.Masked(len) != max) Fail(std::string(f.max) + " is not on a SubnetLen boundary: " + max.String());
}

}  // namespace

NetworkConfig ParseConfig(std::string_view json_text) {
  cni::Json j = cni::ParseJson(json_text, "error parsing subnet config");
  cni::Decoder d(j, "Config");
  NetworkConfig c;
  c.enable_ipv4 = d.Bool("EnableIPv4").value_or(true);
  c.enable_ipv6 = d.Bool("EnableIPv6").value_or(false);
  c.enable_nftables = d.Bool("EnableNFTables").value_or(false);
  if (!c.enable_ipv4 && !c.enable_ipv6) Fail("none defined stack");

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
    c.backend.raw = b->json().dump();
  } else {
    c.backend.type = "udp";
  }
  if (c.backend.type != "vxlan" && c.backend.type != "host-gw" && c.backend.type != "wireguard")
    Fail("unknown backend type: " + c.backend.type);
  if (c.backend.vni < 0 || c.backend.vni > 0xffffff) Fail("invalid VXLAN VNI " + std::to_string(c.backend.vni));
  if (c.backend.port < 0 || c.backend.port > 65535) Fail("invalid VXLAN port " + std::to_string(c.backend.port));

  // Both families are decoded whatever is enabled, as Go's json.Unmarshal does.
  ParseFamily(d, kV4, c.network, c.subnet_len, c.subnet_min, c.subnet_max);
  ParseFamily(d, kV6, c.ipv6_network, c.ipv6_subnet_len, c.ipv6_subnet_min, c.ipv6_subnet_max);
  return c;
}

void CheckNetworkConfig(NetworkConfig& c) {
  if (c.enable_ipv4) CheckFamily(kV4, c.network, c.subnet_len, c.subnet_min, c.subnet_max);
  if (c.enable_ipv6) CheckFamily(kV6, c.ipv6_network, c.ipv6_subnet_len, c.ipv6_subnet_min, c.ipv6_subnet_max);
}

NetworkConfig ParseNetworkConfig(std::string_view json_text) {
  NetworkConfig c = ParseConfig(json_text);
  CheckNetworkConfig(c);
  return c;
}

}  // namespace weft::agent
