// host-gw backend (see hostgw.h).
#include "agent/backend/hostgw/hostgw.h"

namespace weft::agent {

PeerEntries HostGwPeerEntries(const BackendContext& ctx, const Lease& peer) {
  PeerEntries e;
  e.skip_reason = ForeignTypeReason(ctx, peer);
  if (e.skip_reason.empty()) e.routes.push_back({peer.subnet, peer.attrs.public_ip, ctx.ext_dev, false});
  return e;
}

HostGwBackend::HostGwBackend(const NetworkConfig& cfg, const ExtIface& ext, std::unique_ptr<Dataplane> dp)
    : EntryBackend(std::move(dp), "", cfg.network), cfg_(cfg), ext_(ext) {
  ctx_.backend = cfg.backend;
  ctx_.ext_dev = ext.name;
}

OwnSetup HostGwBackend::Init() {
  return {"", cfg_.backend.mtu > 0 ? static_cast<int>(cfg_.backend.mtu) : ext_.mtu};
}

}  // namespace weft::agent
