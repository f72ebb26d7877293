// VXLAN backend (see vxlan.h).
#include "agent/backend/vxlan/vxlan.h"

#include "agent/runtime.h"
#include "cni/error.h"
#include "cni/files.h"
#include "cni/json.h"

namespace weft::agent {

std::string MarshalVxlanData(int64_t vni, const Mac& vtep_mac) {
  return "{\"VNI\":" + std::to_string(vni) + ",\"VtepMAC\":\"" + MacString(vtep_mac) + "\"}";
}

VxlanData ParseVxlanData(std::string_view raw_json) {
  VxlanData v;
  if (raw_json.empty()) return v;
  try {
    cni::Json j = cni::ParseJson(raw_json);
    cni::Decoder d(j, "vxlanLeaseAttrs");
    v.vni = d.Int("VNI").value_or(0);
    if (auto m = d.String("VtepMAC")) v.vtep_mac = ParseMac(*m);
  } catch (const std::exception&) {
  }
  return v;
}

PeerEntries VxlanPeerEntries(const BackendContext& ctx, const Lease& peer) {
  PeerEntries e;
  e.skip_reason = ForeignTypeReason(ctx, peer);
  if (!e.skip_reason.empty()) return e;
  const cni::IP& pub = FamilyPublicIP(ctx, peer);
  const cni::IPNet& subnet = FamilySubnet(ctx, peer);
  if (ctx.backend.direct_routing && ctx.directly_connected(pub)) {
    e.routes.push_back({subnet, pub, ctx.ext_dev, false});
    return e;
  }
  VxlanData data = ParseVxlanData(FamilyBackendData(ctx, peer));
  if (!data.vtep_mac) {
    e.skip_reason = ctx.v6 ? "no VtepMAC in BackendV6Data" : "no VtepMAC in BackendData";
    return e;
  }
  e.neighs.push_back({subnet.ip, *data.vtep_mac});
  e.fdbs.push_back({*data.vtep_mac, pub});
  e.routes.push_back({subnet, subnet.ip, ctx.vxlan_dev, true});
  return e;
}

VxlanBackend::VxlanBackend(const NetworkConfig& cfg, const ExtIface& ext, std::unique_ptr<Dataplane> dp, bool v6)
    : EntryBackend(std::move(dp), (v6 ? "flannel-v6." : "flannel.") + std::to_string(cfg.backend.vni),
                   v6 ? cfg.ipv6_network : cfg.network),
      cfg_(cfg), ext_(ext) {
  ctx_.backend = cfg.backend;
  ctx_.vxlan_dev = dev();
  ctx_.ext_dev = ext.name;
  ctx_.v6 = v6;
}

cni::IPNet VxlanBackend::OwnAddress() const { return {own_subnet().ip, ctx_.v6 ? 128 : 32}; }

OwnSetup VxlanBackend::Init() {
  const int base_mtu = cfg_.backend.mtu > 0 ? static_cast<int>(cfg_.backend.mtu) : ext_.mtu;
  std::string machine = cni::ReadFile("/etc/machine-id").value_or("");
  spec_.name = dev();
  spec_.vni = static_cast<uint32_t>(cfg_.backend.vni);
  spec_.port = static_cast<uint16_t>(cfg_.backend.port);
  // The interface address, not a NATed --public-ip: a non-local VXLAN local address makes
  // the kernel drop every encapsulated packet (flannel §3.2).
  spec_.local = ctx_.v6 ? ext_.addr6 : ext_.addr;
  spec_.dev = ext_.name;
  spec_.learning = cfg_.backend.learning;
  spec_.gbp = cfg_.backend.gbp;
  // IPv6 encapsulation costs 20 bytes more: the kernel clamps a v6 VXLAN device to lower - 70
  // (flannel §3.7), so ask for that and a reused device compares equal.
  spec_.mtu = base_mtu - (ctx_.v6 ? 70 : 50);
  // The v4 seed is unchanged from weftd's v4-only releases (the MAC survives an upgrade); the v6
  // device gets its own MAC from its own public address.
  spec_.mac = ctx_.v6 ? StableMac(machine + "|" + ext_.public_ip6.String() + "|" + std::to_string(spec_.vni) + "|v6")
                      : StableMac(machine + "|" + ext_.public_ip.String() + "|" + std::to_string(spec_.vni));
  // kube: the published MAC of the device (backend-data, backend-v6-data)
  if (auto stored = ParseMac(ctx_.v6 ? cfg_.backend.vtep_mac6 : cfg_.backend.vtep_mac)) spec_.mac = *stored;
  mac_ = dataplane().EnsureVxlan(spec_);
  Log('I', "VXLAN device " + spec_.name + " VtepMAC " + MacString(mac_) + " MTU " + std::to_string(spec_.mtu));
  return {MarshalVxlanData(cfg_.backend.vni, mac_), spec_.mtu, ""};
}

void VxlanBackend::ConfigureOwn(const Lease& own) {
  const cni::IPNet& sn = FamilySubnet(ctx_, own);
  if (!sn.ip.valid())
    throw cni::Error(cni::kInternal, std::string("failed to configure interface ") + dev() + ": IPv" +
                                         (ctx_.v6 ? "6" : "4") + " is enabled but the lease has no IPv" + (ctx_.v6 ? "6" : "4"));
  SetOwnSubnet(sn);
  dataplane().EnsureAddress(dev(), OwnAddress(), network());
}

// The periodic check of the kernel side: a deleted VXLAN device is re-created (same MAC) with
// its address, and peer entries that someone removed, or that failed to program, are put back,
// stray ones in the overlay removed. flanneld does none of this (its device watcher re-creates
// flannel.1 but replays no peer, flannel §3.8).
CheckResult VxlanBackend::Check() {
  CheckResult r;
  if (!reconciled()) return r;
  Mac mac = dataplane().EnsureVxlan(spec_);
  dataplane().EnsureAddress(dev(), OwnAddress(), network());
  if (mac != mac_) {
    Log('W', dev() + " now has MAC " + MacString(mac) + " (was " + MacString(mac_) + "); publishing it");
    mac_ = mac;
    r.backend_data = MarshalVxlanData(cfg_.backend.vni, mac_);
  }
  r.repaired = RepairEntries();
  return r;
}

}  // namespace weft::agent
