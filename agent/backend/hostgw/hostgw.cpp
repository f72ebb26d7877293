// host-gw backend (see hostgw.h).
#include "agent/backend/hostgw/hostgw.h"

namespace weft::agent {

PeerEntries HostGwPeerEntries(const BackendContext& ctx, const Lease& peer) {
  PeerEntries e;
  e.skip_reason = ForeignTypeReason(ctx, peer);
  if (e.skip_reason.empty()) e.routes.push_back({FamilySubnet(ctx, peer), FamilyPublicIP(ctx, peer), ctx.ext_dev, false});
  return e;
}

HostGwBackend::HostGwBackend(const NetworkConfig& cfg, const ExtIface& ext, std::unique_ptr<Dataplane> dp, bool v6)
    : EntryBackend(std::move(dp), "", v6 ? cfg.ipv6_network : cfg.network), cfg_(cfg), ext_(ext) {
  ctx_.backend = cfg.backend;
  ctx_.ext_dev = ext.name;
  ctx_.v6 = v6;
}

OwnSetup HostGwBackend::Init() {
  return {"", cfg_.backend.mtu > 0 ? static_cast<int>(cfg_.backend.mtu) : ext_.mtu, ""};
}

}  // namespace weft::agent
