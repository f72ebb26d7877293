// Lease JSON, allocation and subnet.env (see subnet.h).
#include "subnet.h"

#include <algorithm>

#include "cni/error.h"
#include "cni/json.h"

namespace weft::agent {

std::string MarshalLeaseAttrs(const LeaseAttrs& a) {
  // Go's json.Marshal of flanneld's LeaseAttrs: field order fixed, PublicIPv6 always emitted
  // (null for IPv4-only), BackendType/BackendData omitted when empty.
  std::string s = "{\"PublicIP\":\"" + a.public_ip.String() + "\",\"PublicIPv6\":null";
  if (!a.backend_type.empty()) s += ",\"BackendType\":" + cni::Marshal(cni::Json(a.backend_type));
  if (a.vtep_mac) {
    s += ",\"BackendData\":{\"VNI\":" + std::to_string(a.vni) + ",\"VtepMAC\":\"" +
         MacString(*a.vtep_mac) + "\"}";
  }
  return s + "}";
}

std::optional<LeaseAttrs> ParseLeaseAttrs(std::string_view json_text) {
  try {
    cni::Json j = cni::ParseJson(json_text);
    cni::Decoder d(j, "LeaseAttrs");
    LeaseAttrs a;
    auto ip = Ip4::Parse(d.String("PublicIP").value_or(""));
    if (!ip) return std::nullopt;
    a.public_ip = *ip;
    a.backend_type = d.String("BackendType").value_or("");
    if (auto bd = d.Object("BackendData", "json.RawMessage")) {
      a.vni = bd->Int("VNI").value_or(0);
      if (auto m = bd->String("VtepMAC")) a.vtep_mac = ParseMac(*m);
    }
    return a;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool SubnetFits(const NetworkConfig& cfg, const Ip4Net& sn) {
  return sn.len == cfg.subnet_len && cfg.subnet_min <= sn.ip && sn.ip <= cfg.subnet_max;
}

AllocationChoice ChooseSubnet(const NetworkConfig& cfg, const std::vector<Lease>& leases,
                              Ip4 public_ip, std::optional<Ip4Net> previous, std::mt19937_64& rng) {
  AllocationChoice out{AllocationChoice::kNew, {}, {}};
  for (const Lease& l : leases) {
    if (l.attrs.public_ip != public_ip) continue;
    if (SubnetFits(cfg, l.subnet) && out.subnet.len == 0) {
      out.kind = AllocationChoice::kReuseOwn;
      out.subnet = l.subnet;
    } else {
      out.stale_own.push_back(l.subnet);
    }
  }
  if (out.kind == AllocationChoice::kReuseOwn) return out;
  auto taken = [&](const Ip4Net& sn) {
    return std::any_of(leases.begin(), leases.end(), [&](const Lease& l) {
      bool own_stale = std::find(out.stale_own.begin(), out.stale_own.end(), l.subnet) != out.stale_own.end();
      return !own_stale && l.subnet.Overlaps(sn);
    });
  };
  if (previous && SubnetFits(cfg, *previous) && !taken(*previous)) {
    out.kind = AllocationChoice::kReusePrevious;
    out.subnet = *previous;
    return out;
  }
  std::vector<Ip4Net> free;
  const uint64_t step = uint64_t{1} << (32 - cfg.subnet_len);
  for (uint64_t v = cfg.subnet_min.v; v <= cfg.subnet_max.v && free.size() < 100; v += step) {
    Ip4Net sn{{static_cast<uint32_t>(v)}, cfg.subnet_len};
    if (!taken(sn)) free.push_back(sn);
  }
  if (free.empty()) throw cni::Error(cni::kTryAgainLater, "out of subnets");
  out.subnet = free[std::uniform_int_distribution<size_t>(0, free.size() - 1)(rng)];
  return out;
}

std::string RenderSubnetEnv(const Ip4Net& network, const Ip4Net& subnet, int mtu, bool ipmasq) {
  Ip4Net first{{subnet.ip.v + 1}, subnet.len};
  return "FLANNEL_NETWORK=" + network.String() + "\nFLANNEL_SUBNET=" + first.String() +
         "\nFLANNEL_MTU=" + std::to_string(mtu) + "\nFLANNEL_IPMASQ=" + (ipmasq ? "true" : "false") +
         "\n";
}

std::optional<Ip4Net> ReadPreviousSubnet(std::string_view text) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    auto trim = [](std::string& s) {
      s.erase(0, s.find_first_not_of(" \t\r"));
      s.erase(s.find_last_not_of(" \t\r") + 1);
    };
    trim(line);
    if (line.rfind("export ", 0) == 0) line.erase(0, 7);
    size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), val = line.substr(eq + 1);
    trim(key);
    trim(val);
    if (key != "FLANNEL_SUBNET") continue;
    if (val.size() >= 2 && (val[0] == '"' || val[0] == '\'') && val.back() == val[0])
      val = val.substr(1, val.size() - 2);
    if (val.find(',') != std::string::npos) return std::nullopt;  // several CIDRs: ignored
    return Ip4Net::Parse(val);
  }
  return std::nullopt;
}

}  // namespace weft::agent
