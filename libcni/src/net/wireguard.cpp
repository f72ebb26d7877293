// WireGuard values and the choice of implementation (see cni/net/wireguard.h): keys (base64,
// hex, generation, X25519 through Nettle), endpoints, the configuration model (Apply, ConfigFor),
// the UAPI text protocol, and EnsureDevice, which adopts an existing device or creates one in
// the kernel and falls back to wireguard-go when the kernel has no WireGuard.
#include "cni/net/wireguard.h"

#include <nettle/curve25519.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "cni/encoding.h"
#include "cni/net/netlink.h"
#include "cni/net/netns.h"
#include "wireguard_impl.h"

namespace cni::net::wg {

// ---------------------------------------------------------------- keys

Key Key::FromBase64(std::string_view s) {
  std::string raw;
  try {
    raw = Base64Decode(s);
  } catch (const Error& e) {
    throw Error(kDecodingFailure, "wgtypes: failed to parse base64-encoded key: " + e.msg());
  }
  if (raw.size() != 32)
    throw Error(kDecodingFailure, "wgtypes: incorrect key size: " + std::to_string(raw.size()));
  Key k;
  std::memcpy(k.b.data(), raw.data(), 32);
  return k;
}

std::optional<Key> Key::FromHex(std::string_view s) {
  if (s.size() != 64) return std::nullopt;
  Key k;
  for (size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || p != s.data() + 2 * i + 2) return std::nullopt;
    k.b[i] = static_cast<uint8_t>(v);
  }
  return k;
}

std::string Key::Base64() const {
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

std::string Key::Hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t x : b) {
    out += kHex[x >> 4];
    out += kHex[x & 15];
  }
  return out;
}

bool Key::IsZero() const {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

Key GeneratePrivateKey() {
  Key k;
  if (::getrandom(k.b.data(), k.b.size(), 0) != static_cast<ssize_t>(k.b.size()))
    throw Error::Errno(errno, "could not generate private key: getrandom");
  k.b[0] &= 248;
  k.b[31] &= 127;
  k.b[31] |= 64;
  return k;
}

Key PublicKey(const Key& private_key) {
  // Nettle clamps the scalar itself, as the kernel and wgtypes do.
  Key pub;
  curve25519_mul_g(pub.b.data(), private_key.b.data());
  return pub;
}

// ---------------------------------------------------------------- endpoints

std::optional<Endpoint> Endpoint::Parse(std::string_view s) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= s.size()) return std::nullopt;
  std::string_view host = s.substr(0, colon), port = s.substr(colon + 1);
  bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  auto ip = IP::Parse(host);
  if (!ip || (ip->is6() != bracketed)) return std::nullopt;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc() || p != port.data() + port.size() || v > 65535) return std::nullopt;
  return Endpoint{*ip, static_cast<uint16_t>(v)};
}

std::string Endpoint::String() const {
  std::string h = ip.is6() ? "[" + ip.String() + "]" : ip.String();
  return h + ":" + std::to_string(port);
}

// ---------------------------------------------------------------- configuration model

const Peer* DeviceState::FindPeer(const Key& public_key) const {
  for (const Peer& p : peers)
    if (p.public_key == public_key) return &p;
  return nullptr;
}

DeviceState Apply(DeviceState s, const Config& c) {
  if (c.private_key) {
    if (c.private_key->IsZero())
      s.private_key.reset();
    else
      s.private_key = c.private_key;
  }
  if (c.listen_port) s.listen_port = *c.listen_port;
  if (c.fwmark) s.fwmark = *c.fwmark;
  if (c.replace_peers) s.peers.clear();
  for (const PeerConfig& pc : c.peers) {
    auto it = std::find_if(s.peers.begin(), s.peers.end(),
                           [&](const Peer& p) { return p.public_key == pc.public_key; });
    if (pc.remove) {
      if (it != s.peers.end()) s.peers.erase(it);
      continue;
    }
    if (it == s.peers.end()) {
      s.peers.push_back(Peer{.public_key = pc.public_key});
      it = std::prev(s.peers.end());
    }
    if (pc.preshared_key) it->preshared_key = *pc.preshared_key;
    if (pc.endpoint) it->endpoint = pc.endpoint;
    if (pc.persistent_keepalive) it->persistent_keepalive = *pc.persistent_keepalive;
    if (pc.replace_allowed_ips) it->allowed_ips.clear();
    for (const IPNet& raw : pc.allowed_ips) {
      IPNet a = raw.Masked();
      // An allowed IP belongs to exactly one peer: claiming it takes it from the others.
      for (Peer& other : s.peers)
        if (&other != &*it) std::erase(other.allowed_ips, a);
      if (std::find(it->allowed_ips.begin(), it->allowed_ips.end(), a) == it->allowed_ips.end())
        it->allowed_ips.push_back(a);
    }
  }
  return s;
}

Config ConfigFor(const DeviceState& s) {
  Config c;
  c.private_key = s.private_key.value_or(Key{});
  c.listen_port = s.listen_port;
  c.fwmark = s.fwmark;
  c.replace_peers = true;
  for (const Peer& p : s.peers) {
    c.peers.push_back(PeerConfig{.public_key = p.public_key,
                                 .preshared_key = p.preshared_key,
                                 .endpoint = p.endpoint,
                                 .persistent_keepalive = p.persistent_keepalive,
                                 .replace_allowed_ips = true,
                                 .allowed_ips = p.allowed_ips});
  }
  return c;
}

// ---------------------------------------------------------------- UAPI text protocol

namespace uapi {

std::string RenderSet(const Config& c) {
  std::string out = "set=1\n";
  auto line = [&](std::string_view k, const std::string& v) {
    out.append(k).append("=").append(v).append("\n");
  };
  if (c.private_key) line("private_key", c.private_key->Hex());
  if (c.listen_port) line("listen_port", std::to_string(*c.listen_port));
  if (c.fwmark) line("fwmark", std::to_string(*c.fwmark));
  if (c.replace_peers) line("replace_peers", "true");
  for (const PeerConfig& p : c.peers) {
    line("public_key", p.public_key.Hex());
    if (p.remove) {
      line("remove", "true");
      continue;
    }
    if (p.preshared_key) line("preshared_key", p.preshared_key->Hex());
    if (p.endpoint) line("endpoint", p.endpoint->String());
    if (p.persistent_keepalive)
      line("persistent_keepalive_interval", std::to_string(*p.persistent_keepalive));
    if (p.replace_allowed_ips) line("replace_allowed_ips", "true");
    for (const IPNet& a : p.allowed_ips) line("allowed_ip", a.Masked().String());
  }
  out += "\n";
  return out;
}

std::string RenderGet() { return "get=1\n\n"; }

std::optional<int> ReplyErrno(std::string_view reply) {
  // The reply ends with "errno=<n>\n\n"; "errno=" is at the start of the last line.
  if (reply.size() < 9 || !reply.ends_with("\n\n")) return std::nullopt;
  std::string_view body = reply.substr(0, reply.size() - 2);
  size_t nl = body.rfind('\n');
  std::string_view last = nl == std::string_view::npos ? body : body.substr(nl + 1);
  if (!last.starts_with("errno=")) return std::nullopt;
  std::string_view num = last.substr(6);
  int v = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec != std::errc() || p != num.data() + num.size()) return std::nullopt;
  return v < 0 ? -v : v;
}

namespace {

[[noreturn]] void Malformed(std::string_view line) {
  throw DeviceError(EPROTO, "malformed UAPI reply line \"" + std::string(line) + "\"");
}

template <typename T>
T Number(std::string_view v, std::string_view line) {
  T out{};
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) Malformed(line);
  return out;
}

Key HexKey(std::string_view v, std::string_view line) {
  auto k = Key::FromHex(v);
  if (!k) Malformed(line);
  return *k;
}

}  // namespace

DeviceState ParseGet(std::string_view reply) {
  auto err = ReplyErrno(reply);
  if (!err) throw DeviceError(EPROTO, "incomplete UAPI reply");
  if (*err != 0)
    throw DeviceError(*err, "wireguard-go: get: errno=" + std::to_string(*err) + " (" +
                                std::strerror(*err) + ")");
  DeviceState s;
  Peer* peer = nullptr;
  size_t pos = 0;
  while (pos < reply.size()) {
    size_t end = reply.find('\n', pos);
    if (end == std::string_view::npos) end = reply.size();
    std::string_view line = reply.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) break;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) Malformed(line);
    std::string_view k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "errno") break;
    if (k == "public_key") {
      s.peers.push_back(Peer{.public_key = HexKey(v, line)});
      peer = &s.peers.back();
    } else if (!peer) {
      if (k == "private_key") {
        Key key = HexKey(v, line);
        if (!key.IsZero()) s.private_key = key;
      } else if (k == "listen_port") {
        s.listen_port = Number<uint16_t>(v, line);
      } else if (k == "fwmark") {
        s.fwmark = Number<uint32_t>(v, line);
      }  // other device keys (future protocol versions) are ignored
    } else if (k == "preshared_key") {
      peer->preshared_key = HexKey(v, line);
    } else if (k == "endpoint") {
      peer->endpoint = Endpoint::Parse(v);
      if (!peer->endpoint) Malformed(line);
    } else if (k == "persistent_keepalive_interval") {
      peer->persistent_keepalive = Number<uint16_t>(v, line);
    } else if (k == "allowed_ip") {
      auto a = IPNet::Parse(v);
      if (!a) Malformed(line);
      peer->allowed_ips.push_back(a->Masked());
    } else if (k == "last_handshake_time_sec") {
      peer->last_handshake_sec = Number<int64_t>(v, line);
    } else if (k == "rx_bytes") {
      peer->rx_bytes = Number<uint64_t>(v, line);
    } else if (k == "tx_bytes") {
      peer->tx_bytes = Number<uint64_t>(v, line);
    }  // protocol_version, last_handshake_time_nsec and unknown keys are ignored
  }
  return s;
}

}  // namespace uapi

// ---------------------------------------------------------------- EnsureDevice

std::unique_ptr<Device> EnsureDevice(const DeviceSpec& spec) {
  using Mode = DeviceSpec::Mode;
  if (spec.name.empty() || spec.name.size() > 15)
    throw Error(kInvalidNetworkConfig, "invalid WireGuard device name \"" + spec.name + "\"");
  Socket rt = spec.netns ? Socket::OpenIn(*spec.netns) : Socket::Open();
  std::optional<Link> link = rt.FindLink(spec.name);
  std::unique_ptr<Device> dev;
  if (link && link->kind == "wireguard") {
    if (spec.mode == Mode::kUserspace)
      throw Error(kInternal, "\"" + spec.name + "\" is a kernel WireGuard link, but userspace mode was asked for");
    dev = OpenKernelDevice(spec);
  } else if (link && link->kind == "tun") {
    if (spec.mode == Mode::kKernel)
      throw Error(kInternal, "\"" + spec.name + "\" is a wireguard-go (tun) device, but kernel mode was asked for");
    dev = StartUserspaceDevice(spec, true);
  } else if (link) {
    throw Error(kInternal, "\"" + spec.name + "\" already exists but is not a WireGuard device (kind \"" +
                               link->kind + "\"); not touching it");
  } else {
    bool userspace = spec.mode == Mode::kUserspace;
    if (!userspace) {
      try {
        rt.CreateSimple("wireguard", spec.name, spec.mtu);
        dev = OpenKernelDevice(spec);
      } catch (const NetlinkError& e) {
        if (e.err() != EOPNOTSUPP)
          throw Error(kInternal, "could not create wireguard interface \"" + spec.name +
                                     "\": " + std::strerror(e.err()));
        if (spec.mode == Mode::kKernel)
          throw Error(kInternal,
                      "could not create wireguard interface \"" + spec.name +
                          "\": the kernel has no WireGuard support (module \"wireguard\" not "
                          "loaded or not built); use the userspace mode (wireguard-go) instead");
        userspace = true;
      }
    }
    if (userspace) dev = StartUserspaceDevice(spec, false);
  }
  if (spec.mtu) {
    Link l = rt.GetLink(spec.name);
    if (l.mtu != spec.mtu) rt.SetMtu(l.index, spec.mtu);
  }
  return dev;
}

}  // namespace cni::net::wg
