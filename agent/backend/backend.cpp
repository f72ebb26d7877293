// The backend registry (see backend.h): the backend types weftd has, each on the in-process
// netlink data plane.
#include "agent/backend/backend.h"

#include "agent/backend/hostgw/hostgw.h"
#include "agent/backend/vxlan/vxlan.h"
#include "agent/backend/wireguard/wireguard.h"
#include "cni/error.h"

namespace weft::agent {

std::unique_ptr<Backend> MakeBackend(const NetworkConfig& cfg, const ExtIface& ext, const std::string& wireguard_go) {
  // The config, leases and subnet.env know IPv6 (subnet/); the backends do not program it yet.
  if (cfg.enable_ipv6)
    throw cni::Error(cni::kInvalidNetworkConfig,
                     "EnableIPv6: weftd's " + cfg.backend.type + " backend programs IPv4 only (IPv6 overlay not implemented)");
  if (cfg.backend.type == "vxlan") return std::make_unique<VxlanBackend>(cfg, ext, MakeNetlinkDataplane());
  if (cfg.backend.type == "wireguard") return std::make_unique<WireguardBackend>(cfg, ext, wireguard_go);
  if (cfg.backend.type == "host-gw") return std::make_unique<HostGwBackend>(cfg, ext, MakeNetlinkDataplane());
  throw cni::Error(cni::kInvalidNetworkConfig, "unknown backend type: " + cfg.backend.type);
}

}  // namespace weft::agent
