// subnet.env rendering and reading (see subnet_env.h).
#include "agent/subnet/subnet_env.h"

namespace weft::agent {

std::string RenderSubnetEnv(const cni::IPNet& network, const cni::IPNet& subnet, int mtu, bool ipmasq,
                            const cni::IPNet& network6, const cni::IPNet& subnet6) {
  std::string s;
  if (network.ip.valid())
    s += "FLANNEL_NETWORK=" + network.String() + "\nFLANNEL_SUBNET=" + cni::IPNet{subnet.ip.Next(), subnet.prefix}.String() + "\n";
  if (network6.ip.valid())
    s += "FLANNEL_IPV6_NETWORK=" + network6.String() + "\nFLANNEL_IPV6_SUBNET=" +
         cni::IPNet{subnet6.ip.Next(), subnet6.prefix}.String() + "\n";
  return s + "FLANNEL_MTU=" + std::to_string(mtu) + "\nFLANNEL_IPMASQ=" + (ipmasq ? "true" : "false") + "\n";
}

std::optional<cni::IPNet> ReadPreviousSubnet(std::string_view text, int family) {
  const std::string_view want = family == 6 ? "FLANNEL_IPV6_SUBNET" : "FLANNEL_SUBNET";
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
    if (key != want) continue;
    if (val.size() >= 2 && (val[0] == '"' || val[0] == '\'') && val.back() == val[0])
      val = val.substr(1, val.size() - 2);
    if (val.find(',') != std::string::npos) return std::nullopt;  // several CIDRs: ignored
    auto sn = cni::IPNet::Parse(val);
    if (!sn || sn->ip.family() != family) return std::nullopt;
    return sn->Masked();
  }
  return std::nullopt;
}

}  // namespace weft::agent
