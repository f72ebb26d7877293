// The host-gw backend (flanneld's pkg/backend/hostgw): no device and no backend data; every peer
// is one route <subnet> via <peer public IP> dev <underlay interface>, which needs the nodes on
// one L2 segment. One instance serves one family (v6: the leases' IPv6 subnet via PublicIPv6).
// The periodic check restores removed routes and removes strays.
#pragma once

#include <memory>
#include <string>

#include "agent/backend/peer_entries.h"

namespace weft::agent {

/// The entries of one peer lease for the host-gw backend of `ctx`.
PeerEntries HostGwPeerEntries(const BackendContext& ctx, const Lease& peer);

class HostGwBackend : public EntryBackend {
 public:
  HostGwBackend(const NetworkConfig& cfg, const ExtIface& ext, std::unique_ptr<Dataplane> dp, bool v6 = false);
  std::string Type() const override { return "host-gw"; }
  OwnSetup Init() override;
  void ConfigureOwn(const Lease& own) override { SetOwnSubnet(FamilySubnet(ctx_, own)); }
  CheckResult Check() override { return {RepairEntries(), std::nullopt, std::nullopt}; }

 protected:
  PeerEntries EntriesFor(const Lease& peer) const override { return HostGwPeerEntries(ctx_, peer); }

 private:
  NetworkConfig cfg_;
  ExtIface ext_;
  BackendContext ctx_;
};

}  // namespace weft::agent
