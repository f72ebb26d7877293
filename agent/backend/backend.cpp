// The backend registry (see backend.h): the backend types weftd has, each on the in-process
// netlink data plane.
#include "agent/backend/backend.h"

#include "agent/backend/hostgw/hostgw.h"
#include "agent/backend/vxlan/vxlan.h"
#include "cni/error.h"

namespace weft::agent {

std::unique_ptr<Backend> MakeBackend(const NetworkConfig& cfg, const ExtIface& ext) {
  if (cfg.backend.type == "vxlan") return std::make_unique<VxlanBackend>(cfg, ext, MakeNetlinkDataplane());
  if (cfg.backend.type == "host-gw") return std::make_unique<HostGwBackend>(cfg, ext, MakeNetlinkDataplane());
  throw cni::Error(cni::kInvalidNetworkConfig, "unknown backend type: " + cfg.backend.type);
}

}  // namespace weft::agent
