// Lease → peer and the peer diff (see peers.h).
#include "agent/backend/wireguard/peers.h"

#include <algorithm>
#include <map>

#include "cni/error.h"

namespace weft::agent::wireguard {

std::variant<WantedPeer, std::string> PeerFor(const PeerLease& l, uint16_t local_port) {
  if (l.backend_type != "wireguard") return "Ignoring non-wireguard subnet: type=" + l.backend_type;
  LeaseData data;
  try {
    if (l.backend_data) data = ParseLeaseData(*l.backend_data);
  } catch (const cni::Error& e) {
    return "failed to unmarshal BackendData: " + e.msg();
  }
  WantedPeer p;
  try {
    p.public_key = wg::Key::FromBase64(data.public_key);
  } catch (const cni::Error& e) {
    return "skipping subnet " + l.subnet.String() + ": bad public key \"" + data.public_key + "\": " + e.msg();
  }
  if (!l.public_ip.valid()) return "skipping subnet " + l.subnet.String() + ": the lease has no PublicIP";
  p.endpoint = {l.public_ip, data.port ? data.port : local_port};
  p.allowed_ips = {l.subnet.Masked()};
  return p;
}

namespace {

std::vector<cni::IPNet> Sorted(std::vector<cni::IPNet> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

wg::Config Diff(const std::vector<WantedPeer>& want, const wg::DeviceState& have, const Config& cfg,
                int64_t now_sec) {
  // One peer per key: leases sharing a key merge (the last one's endpoint wins).
  std::map<wg::Key, WantedPeer> by_key;
  for (const WantedPeer& w : want) {
    auto [it, fresh] = by_key.try_emplace(w.public_key, w);
    if (!fresh) {
      it->second.endpoint = w.endpoint;
      it->second.allowed_ips.insert(it->second.allowed_ips.end(), w.allowed_ips.begin(), w.allowed_ips.end());
    }
  }
  wg::Config c;
  const wg::Key psk = cfg.psk.value_or(wg::Key{});
  for (auto& [key, w] : by_key) {
    std::vector<cni::IPNet> ips = Sorted(w.allowed_ips);
    const wg::Peer* p = have.FindPeer(key);
    bool stale = !p || p->last_handshake_sec == 0 || now_sec - p->last_handshake_sec > kRejectAfterSec;
    bool endpoint = !p || (p->endpoint != w.endpoint && stale);
    if (p && !endpoint && Sorted(p->allowed_ips) == ips && p->persistent_keepalive == cfg.keepalive &&
        p->preshared_key == psk)
      continue;
    wg::PeerConfig pc{.public_key = key,
                      .preshared_key = cfg.psk || (p && !p->preshared_key.IsZero()) ? std::optional(psk) : std::nullopt,
                      .endpoint = endpoint ? std::optional(w.endpoint) : std::nullopt,
                      .persistent_keepalive = cfg.keepalive,
                      .replace_allowed_ips = true,
                      .allowed_ips = ips};
    c.peers.push_back(std::move(pc));
  }
  for (const wg::Peer& p : have.peers)
    if (!by_key.contains(p.public_key)) c.peers.push_back({.public_key = p.public_key, .remove = true});
  return c;
}

}  // namespace weft::agent::wireguard
