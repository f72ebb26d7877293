// The VXLAN backend (flanneld's pkg/backend/vxlan): the device flannel.<VNI> on the underlay
// interface with a stable MAC, the own subnet's .0/32 on it, and per peer a permanent ARP entry,
// an FDB entry to the peer's public IP and the onlink route <subnet> via <subnet>.0 (or, with
// DirectRouting, a plain route via the public IP for a peer on a connected underlay prefix).
// BackendData is {"VNI":<vni>,"VtepMAC":"<mac>"}. One instance serves one family: the IPv6 one is
// flannel-v6.<VNI> on the underlay's IPv6 address with its own MAC, MTU underlay - 70, the own
// v6 subnet's first address /128, and per peer NDP, FDB (to PublicIPv6) and the onlink route
// from the lease's IPv6 subnet and BackendV6Data. The periodic check re-creates a deleted device
// (same MAC) with its address and reports a changed MAC for republishing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/backend/peer_entries.h"

namespace weft::agent {

/// The vxlan BackendData: {"VNI":1,"VtepMAC":"0e:…"}, as flanneld marshals it.
std::string MarshalVxlanData(int64_t vni, const Mac& vtep_mac);
struct VxlanData {
  int64_t vni = 0;  // 0: absent (flanneld before v0.14)
  std::optional<Mac> vtep_mac;
};
/// Reads a peer's BackendData; fields it cannot read are left empty.
VxlanData ParseVxlanData(std::string_view raw_json);

/// The entries of one peer lease for the vxlan backend of `ctx`.
PeerEntries VxlanPeerEntries(const BackendContext& ctx, const Lease& peer);

class VxlanBackend : public EntryBackend {
 public:
  VxlanBackend(const NetworkConfig& cfg, const ExtIface& ext, std::unique_ptr<Dataplane> dp, bool v6 = false);
  std::string Type() const override { return "vxlan"; }
  OwnSetup Init() override;
  void ConfigureOwn(const Lease& own) override;
  CheckResult Check() override;

 protected:
  PeerEntries EntriesFor(const Lease& peer) const override { return VxlanPeerEntries(ctx_, peer); }

 private:
  cni::IPNet OwnAddress() const;  // the own subnet's network address, /32 or /128

  NetworkConfig cfg_;
  ExtIface ext_;
  BackendContext ctx_;
  VxlanDeviceSpec spec_;
  Mac mac_{};
};

}  // namespace weft::agent
