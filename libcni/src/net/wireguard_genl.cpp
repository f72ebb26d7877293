// The kernel WireGuard device: the generic-netlink family "wireguard" (linux/wireguard.h),
// through libnl-genl-3 (see cni/net/wireguard.h). A Config becomes WG_CMD_SET_DEVICE messages of
// at most 32 peers each, WGDEVICE_F_REPLACE_PEERS only in the first (as wgctrl and wg(8) split
// them); Get() is a WG_CMD_GET_DEVICE dump whose parts are merged (a peer whose allowed IPs
// overflow one message continues in the next). Endpoints travel as raw sockaddr_in/_in6.
//
// Not exercised by the test suite: the development machine's kernel has no WireGuard module
// (the userspace path is what the tests prove); keep this file small and literal.
#include <arpa/inet.h>
#include <linux/wireguard.h>
#include <netinet/in.h>
#include <netlink/attr.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <cerrno>
#include <cstring>

#include "cni/net/netns.h"
#include "nl.h"
#include "wireguard_impl.h"

namespace cni::net::wg {
namespace {

constexpr size_t kPeersPerMessage = 32;

class KernelDevice final : public Device {
 public:
  explicit KernelDevice(const DeviceSpec& spec) : name_(spec.name) {
    std::optional<NetnsGuard> g;
    if (spec.netns) g.emplace(*spec.netns);
    sk_.reset(nl_socket_alloc());
    if (!sk_) throw Error(kInternal, "netlink: out of memory");
    nl::Check(genl_connect(sk_.get()));
    family_ = genl_ctrl_resolve(sk_.get(), WG_GENL_NAME);
    if (family_ < 0)
      throw DeviceError(ENOENT, "the kernel has no generic-netlink family \"" WG_GENL_NAME "\"");
    nl_socket_set_msg_buf_size(sk_.get(), 65536);
  }

  Backend backend() const override { return Backend::kKernel; }
  const std::string& name() const override { return name_; }

  void Configure(const Config& c) override {
    size_t i = 0;
    bool first = true;
    do {
      nl::MsgPtr m = NewMsg(WG_CMD_SET_DEVICE, 0);
      if (first) {
        if (c.private_key) nl::PutRaw(m.get(), WGDEVICE_A_PRIVATE_KEY, c.private_key->b.data(), 32);
        if (c.listen_port) nl::PutU16(m.get(), WGDEVICE_A_LISTEN_PORT, *c.listen_port);
        if (c.fwmark) nl::PutU32(m.get(), WGDEVICE_A_FWMARK, *c.fwmark);
        if (c.replace_peers) nl::PutU32(m.get(), WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
      }
      if (i < c.peers.size()) {
        nlattr* peers = nl::Nest(m.get(), WGDEVICE_A_PEERS | NLA_F_NESTED);
        for (size_t n = 0; n < kPeersPerMessage && i < c.peers.size(); ++n, ++i) PutPeer(m.get(), c.peers[i]);
        nl::EndNest(m.get(), peers);
      }
      if (int err = nl::Transact(sk_.get(), m.get(), nullptr))
        throw DeviceError(err, "wireguard " + name_ + ": set: " + std::strerror(err));
      first = false;
    } while (i < c.peers.size());
  }

  DeviceState Get() override {
    DeviceState s;
    nl::MsgPtr m = NewMsg(WG_CMD_GET_DEVICE, NLM_F_DUMP);
    nl::Handler h = [&](nlmsghdr* hdr) { ParsePart(hdr, s); };
    if (int err = nl::Transact(sk_.get(), m.get(), &h))
      throw DeviceError(err, "wireguard " + name_ + ": get: " + std::strerror(err));
    return s;
  }

 private:
  nl::MsgPtr NewMsg(uint8_t cmd, int flags) {
    nl::MsgPtr m(nlmsg_alloc_size(65536));
    if (!m) throw Error(kInternal, "netlink: out of memory");
    if (!genlmsg_put(m.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family_, 0, flags | NLM_F_ACK, cmd,
                     WG_GENL_VERSION))
      throw Error(kInternal, "netlink: message too large");
    nl::PutStr(m.get(), WGDEVICE_A_IFNAME, name_);
    return m;
  }

  static void PutPeer(nl_msg* m, const PeerConfig& p) {
    nlattr* peer = nl::Nest(m, 0 | NLA_F_NESTED);
    nl::PutRaw(m, WGPEER_A_PUBLIC_KEY, p.public_key.b.data(), 32);
    uint32_t flags = (p.remove ? WGPEER_F_REMOVE_ME : 0) |
                     (p.replace_allowed_ips ? WGPEER_F_REPLACE_ALLOWEDIPS : 0);
    if (flags) nl::PutU32(m, WGPEER_A_FLAGS, flags);
    if (!p.remove) {
      if (p.preshared_key) nl::PutRaw(m, WGPEER_A_PRESHARED_KEY, p.preshared_key->b.data(), 32);
      if (p.endpoint) {
        if (p.endpoint->ip.is4()) {
          sockaddr_in sa{};
          sa.sin_family = AF_INET;
          sa.sin_port = htons(p.endpoint->port);
          std::memcpy(&sa.sin_addr, p.endpoint->ip.data(), 4);
          nl::PutRaw(m, WGPEER_A_ENDPOINT, &sa, sizeof sa);
        } else {
          sockaddr_in6 sa{};
          sa.sin6_family = AF_INET6;
          sa.sin6_port = htons(p.endpoint->port);
          std::memcpy(&sa.sin6_addr, p.endpoint->ip.data(), 16);
          nl::PutRaw(m, WGPEER_A_ENDPOINT, &sa, sizeof sa);
        }
      }
      if (p.persistent_keepalive)
        nl::PutU16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, *p.persistent_keepalive);
      if (!p.allowed_ips.empty()) {
        nlattr* ips = nl::Nest(m, WGPEER_A_ALLOWEDIPS | NLA_F_NESTED);
        for (const IPNet& raw : p.allowed_ips) {
          IPNet a = raw.Masked();
          nlattr* one = nl::Nest(m, 0 | NLA_F_NESTED);
          nl::PutU16(m, WGALLOWEDIP_A_FAMILY, static_cast<uint16_t>(a.ip.af()));
          nl::PutRaw(m, WGALLOWEDIP_A_IPADDR, a.ip.data(), a.ip.size());
          nl::PutU8(m, WGALLOWEDIP_A_CIDR_MASK, static_cast<uint8_t>(a.prefix));
          nl::EndNest(m, one);
        }
        nl::EndNest(m, ips);
      }
    }
    nl::EndNest(m, peer);
  }

  static void ParsePart(nlmsghdr* hdr, DeviceState& s) {
    nlattr* tb[WGDEVICE_A_MAX + 1] = {};
    if (genlmsg_parse(hdr, 0, tb, WGDEVICE_A_MAX, nullptr) < 0) return;
    if (tb[WGDEVICE_A_PRIVATE_KEY] && nla_len(tb[WGDEVICE_A_PRIVATE_KEY]) == 32) {
      Key k;
      std::memcpy(k.b.data(), nla_data(tb[WGDEVICE_A_PRIVATE_KEY]), 32);
      if (!k.IsZero()) s.private_key = k;
    }
    if (tb[WGDEVICE_A_LISTEN_PORT]) s.listen_port = nla_get_u16(tb[WGDEVICE_A_LISTEN_PORT]);
    if (tb[WGDEVICE_A_FWMARK]) s.fwmark = nla_get_u32(tb[WGDEVICE_A_FWMARK]);
    if (!tb[WGDEVICE_A_PEERS]) return;
    nlattr* pa;
    int rem;
    nla_for_each_nested(pa, tb[WGDEVICE_A_PEERS], rem) {
      nlattr* pt[WGPEER_A_MAX + 1] = {};
      nla_parse_nested(pt, WGPEER_A_MAX, pa, nullptr);
      if (!pt[WGPEER_A_PUBLIC_KEY] || nla_len(pt[WGPEER_A_PUBLIC_KEY]) != 32) continue;
      Key pk;
      std::memcpy(pk.b.data(), nla_data(pt[WGPEER_A_PUBLIC_KEY]), 32);
      // A peer continued from the previous part carries only its key and more allowed IPs.
      if (s.peers.empty() || s.peers.back().public_key != pk) s.peers.push_back(Peer{.public_key = pk});
      Peer& p = s.peers.back();
      if (pt[WGPEER_A_PRESHARED_KEY] && nla_len(pt[WGPEER_A_PRESHARED_KEY]) == 32)
        std::memcpy(p.preshared_key.b.data(), nla_data(pt[WGPEER_A_PRESHARED_KEY]), 32);
      if (nlattr* e = pt[WGPEER_A_ENDPOINT]) {
        auto* sa = static_cast<const sockaddr*>(nla_data(e));
        if (sa->sa_family == AF_INET && nla_len(e) >= static_cast<int>(sizeof(sockaddr_in))) {
          auto* in = static_cast<const sockaddr_in*>(nla_data(e));
          p.endpoint = Endpoint{IP::FromBytes(reinterpret_cast<const uint8_t*>(&in->sin_addr), 4), ntohs(in->sin_port)};
        } else if (sa->sa_family == AF_INET6 && nla_len(e) >= static_cast<int>(sizeof(sockaddr_in6))) {
          auto* in6 = static_cast<const sockaddr_in6*>(nla_data(e));
          p.endpoint = Endpoint{IP::FromBytes(reinterpret_cast<const uint8_t*>(&in6->sin6_addr), 16), ntohs(in6->sin6_port)};
        }
      }
      if (pt[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL])
        p.persistent_keepalive = nla_get_u16(pt[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
      if (nlattr* t = pt[WGPEER_A_LAST_HANDSHAKE_TIME]; t && nla_len(t) >= 16) {
        int64_t sec;
        std::memcpy(&sec, nla_data(t), sizeof sec);
        p.last_handshake_sec = sec;
      }
      if (pt[WGPEER_A_RX_BYTES]) p.rx_bytes = nla_get_u64(pt[WGPEER_A_RX_BYTES]);
      if (pt[WGPEER_A_TX_BYTES]) p.tx_bytes = nla_get_u64(pt[WGPEER_A_TX_BYTES]);
      if (!pt[WGPEER_A_ALLOWEDIPS]) continue;
      nlattr* ia;
      int irem;
      nla_for_each_nested(ia, pt[WGPEER_A_ALLOWEDIPS], irem) {
        nlattr* at[WGALLOWEDIP_A_MAX + 1] = {};
        nla_parse_nested(at, WGALLOWEDIP_A_MAX, ia, nullptr);
        if (!at[WGALLOWEDIP_A_IPADDR] || !at[WGALLOWEDIP_A_CIDR_MASK]) continue;
        IP ip = IP::FromBytes(static_cast<const uint8_t*>(nla_data(at[WGALLOWEDIP_A_IPADDR])),
                              static_cast<size_t>(nla_len(at[WGALLOWEDIP_A_IPADDR])));
        p.allowed_ips.push_back(IPNet{ip, nla_get_u8(at[WGALLOWEDIP_A_CIDR_MASK])}.Masked());
      }
    }
  }

  std::string name_;
  nl::SockPtr sk_;
  int family_ = 0;
};

}  // namespace

std::unique_ptr<Device> OpenKernelDevice(const DeviceSpec& spec) {
  return std::make_unique<KernelDevice>(spec);
}

}  // namespace cni::net::wg
