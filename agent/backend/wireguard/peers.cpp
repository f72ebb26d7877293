// Lease → peer and the peer diff (see peers.h).
#include "agent/backend/wireguard/peers.h"

#include <algorithm>
#include <map>

#include "cni/error.h"

namespace weft::agent::wireguard {

std::vector<Tunnel> Tunnels(const Config& c, bool enable_ipv4, bool enable_ipv6) {
  if (c.mode == Mode::kIPv4 && !enable_ipv4)
    throw cni::Error(cni::kInvalidNetworkConfig, "wireguard Mode ipv4 needs IPv4 (EnableIPv4 is false)");
  if (c.mode == Mode::kIPv6 && !enable_ipv6)
    throw cni::Error(cni::kInvalidNetworkConfig, "wireguard Mode ipv6 needs IPv6 (EnableIPv6 is false)");
  std::vector<Tunnel> out;
  if (c.mode == Mode::kSeparate) {
    if (enable_ipv4) out.push_back({.name = kDevice, .port = c.listen_port, .v4 = true, .endpoint_v6 = false});
    if (enable_ipv6) out.push_back({.name = kDeviceV6, .port = c.listen_port_v6, .v6 = true, .endpoint_v6 = true});
    return out;
  }
  Tunnel t{.name = kDevice, .port = c.listen_port, .v4 = enable_ipv4, .v6 = enable_ipv6, .single = true};
  if (c.mode == Mode::kIPv4) t.endpoint_v6 = false;
  if (c.mode == Mode::kIPv6) t.endpoint_v6 = true;
  out.push_back(std::move(t));
  return out;
}

namespace {

// Go's net.IP.IsPrivate: 10/8, 172.16/12, 192.168/16, fc00::/7.
bool IsPrivate(const cni::IP& ip) {
  static const cni::IPNet kPrivate[] = {*cni::IPNet::Parse("10.0.0.0/8"), *cni::IPNet::Parse("172.16.0.0/12"),
                                        *cni::IPNet::Parse("192.168.0.0/16"), *cni::IPNet::Parse("fc00::/7")};
  for (const cni::IPNet& n : kPrivate)
    if (n.Contains(ip)) return true;
  return false;
}

bool Usable(const cni::IP& ip) { return ip.valid() && !ip.IsUnspecified(); }

std::vector<cni::IPNet> Sorted(std::vector<cni::IPNet> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

bool SelectV6(const cni::IP& peer_v4, const cni::IP& peer_v6, const Local& local) {
  if (!Usable(peer_v6)) return false;
  if (!Usable(peer_v4)) return true;  // an IPv6-only peer (flanneld would dial 0.0.0.0)
  if (!IsPrivate(peer_v4) && Usable(local.ext_v4)) return false;
  if (!IsPrivate(peer_v6) && Usable(local.ext_v6) && !IsPrivate(local.ext_v6)) return true;
  return false;
}

std::variant<WantedPeer, std::string> PeerFor(const PeerLease& l, const Tunnel& t, const Local& local) {
  if (l.backend_type != "wireguard") return "Ignoring non-wireguard subnet: type=" + l.backend_type;
  const bool carry4 = t.v4 && l.subnet.ip.valid(), carry6 = t.v6 && l.subnet6.ip.valid();
  const std::string what = l.subnet.ip.valid() ? l.subnet.String() : l.subnet6.String();
  if (!carry4 && !carry6)
    return "lease " + what + ": no IPv" + (t.v6 && !t.v4 ? "6" : "4") + " subnet, ignoring it on " + t.name;
  const bool v6 = t.endpoint_v6 ? *t.endpoint_v6 : SelectV6(l.public_ip, l.public_ipv6, local);
  LeaseData key_data, port_data;
  try {
    auto parse = [](const std::optional<cni::Json>& j) { return j ? ParseLeaseData(*j) : LeaseData{}; };
    key_data = parse(carry6 ? l.backend_v6_data : l.backend_data);
    port_data = parse(v6 && !t.single ? l.backend_v6_data : l.backend_data);
  } catch (const cni::Error& e) {
    return "failed to unmarshal BackendData: " + e.msg();
  }
  WantedPeer p;
  try {
    p.public_key = wg::Key::FromBase64(key_data.public_key);
  } catch (const cni::Error& e) {
    return "skipping subnet " + what + ": bad public key \"" + key_data.public_key + "\": " + e.msg();
  }
  const cni::IP& ip = v6 ? l.public_ipv6 : l.public_ip;
  if (!Usable(ip)) return "skipping subnet " + what + ": the lease has no " + (v6 ? "PublicIPv6" : "PublicIP");
  p.endpoint = {ip, port_data.port ? port_data.port : t.port};
  if (carry4) p.allowed_ips.push_back(l.subnet.Masked());
  if (carry6) p.allowed_ips.push_back(l.subnet6.Masked());
  return p;
}

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
