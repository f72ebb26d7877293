// The kernel side of the backends that program routes, neighbours (ARP) and FDB entries (vxlan,
// host-gw): the entry types, a batch of changes, and the Dataplane that applies batches, creates
// the VXLAN device and puts addresses on it. The backends compute what they want
// (peer_entries.h, unit-tested without a kernel) and hand the changes to a Dataplane.
// MakeNetlinkDataplane implements it on libcni's rtnetlink layer (cni/net/netlink.h); libnl
// stays inside libcni. A backend with other kernel objects (WireGuard peers) brings its own.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <array>
#include <optional>

#include "cni/ip.h"

namespace weft::agent {

using Mac = std::array<uint8_t, 6>;
std::optional<Mac> ParseMac(std::string_view s);
std::string MacString(const Mac& m);

struct VxlanDeviceSpec {
  std::string name;  // flannel.<VNI>
  uint32_t vni = 1;
  uint16_t port = 0;  // 0: kernel default 8472
  cni::IP local;
  std::string dev;  // underlay interface
  bool learning = false;
  bool gbp = false;
  int mtu = 0;
  Mac mac{};  // used when the device is created
};

struct RouteEntry {
  cni::IPNet dst;  // masked
  cni::IP gw;
  std::string dev;  // empty: the kernel picks the device (host-gw / DirectRouting)
  bool onlink = false;
  auto operator<=>(const RouteEntry&) const = default;
};

struct NeighEntry {
  cni::IP ip;
  Mac mac{};
  auto operator<=>(const NeighEntry&) const = default;
};

struct FdbEntry {
  Mac mac{};
  cni::IP dst;
  auto operator<=>(const FdbEntry&) const = default;
};

/// One batch. Deletions run first (routes, neighbours, FDB), then additions in the order that
/// keeps the kernel from ever resolving a peer itself: FDB, neighbours, routes (flannel §3.4).
struct Changes {
  std::vector<RouteEntry> del_routes, add_routes;
  std::vector<NeighEntry> del_neighs, add_neighs;
  std::vector<FdbEntry> del_fdbs, add_fdbs;
  bool empty() const {
    return del_routes.empty() && add_routes.empty() && del_neighs.empty() && add_neighs.empty() &&
           del_fdbs.empty() && add_fdbs.empty();
  }
};

/// What the kernel holds for the overlay: neighbours/FDB on `dev`, and routes of the main table
/// whose destination lies inside `network`.
struct KernelState {
  std::vector<RouteEntry> routes;
  std::vector<NeighEntry> neighs;
  std::vector<FdbEntry> fdbs;
};

class Dataplane {
 public:
  virtual ~Dataplane() = default;
  /// Creates the device, or reuses a compatible one (VNI, underlay, local, port); returns the
  /// MAC the device really has (a reused device keeps its MAC).
  virtual Mac EnsureVxlan(const VxlanDeviceSpec& spec) = 0;
  /// Puts `addr` (a /32) on `dev`, removes other addresses of `network` there, sets it up.
  virtual void EnsureAddress(const std::string& dev, const cni::IPNet& addr, const cni::IPNet& network) = 0;
  /// Applies a batch; failures of single entries are logged, not thrown (the next resync
  /// retries them).
  virtual void Apply(const std::string& dev, const Changes& c) = 0;
  virtual KernelState Dump(const std::string& dev, const cni::IPNet& network) = 0;
};

/// The in-process data plane on cni::net (netlink_dataplane.cpp).
std::unique_ptr<Dataplane> MakeNetlinkDataplane();

/// A stable locally-administered unicast MAC derived from `seed` (e.g. machine-id + public IP +
/// VNI), so the VtepMAC peers know survives a re-created device or a reboot.
Mac StableMac(std::string_view seed);

}  // namespace weft::agent
