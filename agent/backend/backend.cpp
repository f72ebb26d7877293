// The backend registry (see backend.h): the backend types weftd has, each on the in-process
// netlink data plane.
#include "agent/backend/backend.h"

#include "agent/backend/dual_stack.h"
#include "agent/backend/hostgw/hostgw.h"
#include "agent/backend/vxlan/vxlan.h"
#include "agent/backend/wireguard/wireguard.h"
#include "cni/error.h"

namespace weft::agent {

std::unique_ptr<Backend> MakeBackend(const NetworkConfig& cfg, const ExtIface& ext, const std::string& wireguard_go) {
  // WireGuard runs both families itself: in the single-tunnel modes one device carries both.
  if (cfg.backend.type == "wireguard") return std::make_unique<WireguardBackend>(cfg, ext, wireguard_go);
  auto family = [&](bool v6) -> std::unique_ptr<Backend> {
    if (cfg.backend.type == "vxlan") return std::make_unique<VxlanBackend>(cfg, ext, MakeNetlinkDataplane(), v6);
    return std::make_unique<HostGwBackend>(cfg, ext, MakeNetlinkDataplane(), v6);
  };
  if (cfg.backend.type == "vxlan" || cfg.backend.type == "host-gw") {
    if (!cfg.enable_ipv6) return family(false);
    return std::make_unique<DualStackBackend>(cfg.enable_ipv4 ? family(false) : nullptr, family(true));
  }
  throw cni::Error(cni::kInvalidNetworkConfig, "unknown backend type: " + cfg.backend.type);
}

}  // namespace weft::agent
