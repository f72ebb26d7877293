// From peer leases to WireGuard peers, and from wanted peers to the one device change that
// gets there (pure: unit-tested without a device).
//
// One peer per lease: endpoint = the lease's PublicIP and the Port it published (our own listen
// port when it published none), AllowedIPs = its subnet. The device is owned by the backend, so
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

/// What a peer lease needs to become a peer, in the backend's own terms.
struct PeerLease {
  cni::IPNet subnet{};
  cni::IP public_ip{};
  std::string backend_type{};
  std::optional<cni::Json> backend_data{};  // BackendData (v4)
};

/// The peer for `l`, or the reason it is skipped (logged by the caller): another backend type,
/// data that does not decode, a malformed public key, no public IP.
std::variant<WantedPeer, std::string> PeerFor(const PeerLease& l, uint16_t local_port);

inline constexpr int64_t kRejectAfterSec = 180;

/// The change that takes a device holding `have` to `want`: new and changed peers set (allowed
/// IPs replaced as a whole, keepalive always sent, the PSK when configured), unwanted peers
/// removed. Empty peers: nothing to do. `now_sec` is the wall clock (handshake times are).
wg::Config Diff(const std::vector<WantedPeer>& want, const wg::DeviceState& have, const Config& cfg,
                int64_t now_sec);

}  // namespace weft::agent::wireguard
