// From peer leases to WireGuard peers, and from wanted peers to the one device change that
// gets there (pure: unit-tested without a device).
//
// The tunnels (flanneld's devices per Mode): `separate` has flannel-wg (IPv4, ListenPort) and
// flannel-wg-v6 (IPv6, ListenPortV6), each for its enabled family; `auto`, `ipv4` and `ipv6` have
// the one flannel-wg (ListenPort) carrying every enabled family. One peer per lease and tunnel:
// AllowedIPs = the lease's subnets of the families the tunnel carries; the key from BackendV6Data
// when the peer carries IPv6, else from BackendData; the endpoint family from the tunnel
// (separate), the Mode (ipv4, ipv6) or flanneld's selectMode (auto). The endpoint port is the one
// the peer published for the device we dial: in separate mode that family's data; in the
// single-tunnel modes BackendData's (the peer's ListenPort, what its only device listens on; not
// BackendV6Data's ListenPortV6 as flanneld does, which nobody listens on); our own listen port
// when it published none. The device is owned by the backend, so
// the diff is against what the device really holds (wg::Device::Get): peers nobody wants are
// removed — a lease that went away, and the old key of a node whose lease now carries a new one
// (flannel leaves that one behind with no allowed IPs, k3s #5216) — and peers someone removed
// are added again. Two leases with one key (a node that moved to a new subnet while its old lease
// lives on) become one peer with both subnets. An endpoint that differs from the lease is reset
// only when the peer has had no handshake for 180 s (WireGuard's reject-after time), so an
// endpoint learned by roaming behind NAT survives while it works (flannel #1770, k3s #9535).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "agent/backend/wireguard/config.h"
#include "cni/ip.h"

namespace weft::agent::wireguard {

struct WantedPeer {
  wg::Key public_key{};
  wg::Endpoint endpoint{};
  std::vector<cni::IPNet> allowed_ips{};
  bool operator==(const WantedPeer&) const = default;
};

/// One WireGuard device of the backend and what it carries.
struct Tunnel {
  std::string name;                   // kDevice or kDeviceV6
  uint16_t port = 0;                  // its listen port
  bool v4 = false, v6 = false;        // the families it carries (addresses, routes, allowed IPs)
  std::optional<bool> endpoint_v6{};  // the peers' endpoint family; unset: selectMode (auto)
  bool single = false;                // auto/ipv4/ipv6: the one device of the node
};

/// The tunnels for `c.mode` and the enabled families (at least one). Throws
/// cni::Error(kInvalidNetworkConfig) for Mode ipv4 without IPv4 or Mode ipv6 without IPv6
/// (flanneld would dial 0.0.0.0 or a nil address).
std::vector<Tunnel> Tunnels(const Config& c, bool enable_ipv4, bool enable_ipv6);

/// What a peer lease needs to become a peer, in the backend's own terms.
struct PeerLease {
  cni::IPNet subnet{};   // ip invalid: the lease has no IPv4
  cni::IPNet subnet6{};  // ip invalid: the lease has no IPv6
  cni::IP public_ip{};
  cni::IP public_ipv6{};
  std::string backend_type{};
  std::optional<cni::Json> backend_data{};     // BackendData (v4)
  std::optional<cni::Json> backend_v6_data{};  // BackendV6Data
};

/// This node's external addresses, for flanneld's selectMode (auto).
struct Local {
  cni::IP ext_v4{};  // invalid: none
  cni::IP ext_v6{};
};

/// flanneld's selectMode: whether `auto` dials the peer over IPv6.
bool SelectV6(const cni::IP& peer_v4, const cni::IP& peer_v6, const Local& local);

/// The peer for `l` on tunnel `t`, or the reason it is skipped (logged by the caller): another
/// backend type, data that does not decode, a malformed public key, no subnet of a family `t`
/// carries, no public IP of the endpoint's family.
std::variant<WantedPeer, std::string> PeerFor(const PeerLease& l, const Tunnel& t, const Local& local = {});

inline constexpr int64_t kRejectAfterSec = 180;

/// The change that takes a device holding `have` to `want`: new and changed peers set (allowed
/// IPs replaced as a whole, keepalive always sent, the PSK when configured), unwanted peers
/// removed. Empty peers: nothing to do. `now_sec` is the wall clock (handshake times are).
wg::Config Diff(const std::vector<WantedPeer>& want, const wg::DeviceState& have, const Config& cfg,
                int64_t now_sec);

}  // namespace weft::agent::wireguard
