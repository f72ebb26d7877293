// rtnetlink requests and dumps over a libnl-3 socket (see cni/net/netlink.h). Messages are built
// attribute by attribute with libnl's nl_msg API rather than its object caches: one request is
// one message and one ACK, nothing is cached, and every kernel feature (veth peer namespace fd,
// bridge-port slave data, multipath, AF_BRIDGE FDB) is reachable. The error callback keeps the
// kernel's errno so messages read "File exists" rather than libnl's own wording.
#include "cni/net/netlink.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/netlink.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>

#include "cni/error.h"
#include "cni/net/netns.h"
#include "nl.h"

namespace cni::net {

// ---------------------------------------------------------------- Mac

std::optional<Mac> Mac::Parse(std::string_view s) {
  // Go's net.ParseMAC forms for 48-bit addresses: one separator throughout, ':' or '-' between
  // bytes ("aa:bb:cc:dd:ee:ff") or '.' between 16-bit groups ("aabb.ccdd.eeff").
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  size_t group;
  char sep;
  if (s.size() == 17 && (s[2] == ':' || s[2] == '-')) {
    group = 2, sep = s[2];
  } else if (s.size() == 14 && s[4] == '.') {
    group = 4, sep = '.';
  } else {
    return std::nullopt;
  }
  Mac m;
  size_t byte = 0;
  for (size_t i = 0; i < s.size(); i += group + 1) {
    if (i + group < s.size() && s[i + group] != sep) return std::nullopt;
    for (size_t j = 0; j < group; j += 2) {
      int hi = hex(s[i + j]), lo = hex(s[i + j + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      m.b[byte++] = static_cast<uint8_t>(hi * 16 + lo);
    }
  }
  return m;
}

std::string Mac::String() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                b[5]);
  return buf;
}

bool Mac::IsZero() const {
  for (auto x : b)
    if (x) return false;
  return true;
}

Mac RandomMac() {
  Mac m;
  if (::getrandom(m.b.data(), m.b.size(), 0) != static_cast<ssize_t>(m.b.size()))
    throw Error::Errno(errno, "getrandom");
  m.b[0] = static_cast<uint8_t>((m.b[0] & 0xfe) | 0x02);  // unicast, locally administered
  return m;
}

// ---------------------------------------------------------------- transport

// The transport is shared with the other files of src/net (nl.h).
namespace nl {

namespace {

constexpr int kDumpRetries = 10;

struct Ctx {
  const Handler* on_msg = nullptr;
  int err = 0;  // positive errno from the kernel
  bool done = false;  // ACK, error or NLMSG_DONE seen
  std::exception_ptr ex;
};

int OnValid(nl_msg* m, void* arg) {
  auto* c = static_cast<Ctx*>(arg);
  if (c->on_msg && !c->ex) {
    try {
      (*c->on_msg)(nlmsg_hdr(m));
    } catch (...) {
      c->ex = std::current_exception();
    }
  }
  return NL_OK;
}
int OnError(sockaddr_nl*, nlmsgerr* e, void* arg) {
  auto* c = static_cast<Ctx*>(arg);
  c->err = -e->error;
  c->done = true;
  return NL_STOP;
}
int OnStop(nl_msg*, void* arg) {
  static_cast<Ctx*>(arg)->done = true;
  return NL_STOP;
}

}  // namespace

MsgPtr NewMsg(int type, int flags) {
  MsgPtr m(nlmsg_alloc_simple(type, flags));
  if (!m) throw Error(kInternal, "netlink: out of memory");
  return m;
}

void Check(int r) {
  if (r < 0) throw Error(kInternal, std::string("netlink: ") + nl_geterror(r));
}
void PutU8(nl_msg* m, int t, uint8_t v) { Check(nla_put_u8(m, t, v)); }
void PutU16(nl_msg* m, int t, uint16_t v) { Check(nla_put_u16(m, t, v)); }
void PutU32(nl_msg* m, int t, uint32_t v) { Check(nla_put_u32(m, t, v)); }
void PutStr(nl_msg* m, int t, const std::string& s) { Check(nla_put_string(m, t, s.c_str())); }
void PutRaw(nl_msg* m, int t, const void* p, size_t n) {
  Check(nla_put(m, t, static_cast<int>(n), p));
}
void PutIP(nl_msg* m, int t, const IP& ip) { PutRaw(m, t, ip.data(), ip.size()); }
void PutMac(nl_msg* m, int t, const Mac& mac) { PutRaw(m, t, mac.b.data(), mac.b.size()); }
nlattr* Nest(nl_msg* m, int t) {
  nlattr* a = nla_nest_start(m, t);
  if (!a) throw Error(kInternal, "netlink: message too large");
  return a;
}
void EndNest(nl_msg* m, nlattr* a) { Check(nla_nest_end(m, a)); }

/// Sends `m` and reads replies until the ACK/DONE; returns 0 or the kernel's errno (EINTR
/// stands for an interrupted dump).
int Transact(nl_sock* sk, nl_msg* m, const Handler* on_msg) {
  Ctx ctx;
  ctx.on_msg = on_msg;
  std::unique_ptr<nl_cb, nl::Deleter<nl_cb_put>> cb(nl_cb_alloc(NL_CB_DEFAULT));
  if (!cb) throw Error(kInternal, "netlink: out of memory");
  nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, OnValid, &ctx);
  nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, OnStop, &ctx);
  nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, OnStop, &ctx);
  nl_cb_err(cb.get(), NL_CB_CUSTOM, OnError, &ctx);
  int r = nl_send_auto(sk, m);
  if (r < 0) throw Error(kInternal, std::string("netlink send: ") + nl_geterror(r));
  // nl_recvmsgs returns after each datagram that is not part of a multipart dump (a GET's reply
  // and its ACK arrive separately), so read until the ACK, the error or NLMSG_DONE.
  bool interrupted = false;
  while (!ctx.done) {
    r = nl_recvmsgs(sk, cb.get());
    if (r == -NLE_DUMP_INTR) {
      interrupted = true;
      ctx.done = true;
    } else if (r < 0 && !ctx.err) {
      throw Error(kInternal, std::string("netlink receive: ") + nl_geterror(r));
    }
  }
  if (ctx.ex) std::rethrow_exception(ctx.ex);
  if (ctx.err) return ctx.err;
  return interrupted ? EINTR : 0;
}

[[noreturn]] void Fail(const std::string& what, int err) {
  throw NetlinkError(err, what + ": " + std::strerror(err));
}

/// A dump, retried while the kernel reports it was interrupted by a concurrent change.
void Dump(nl_sock* sk, const std::function<MsgPtr()>& build, const Handler& on_msg,
          const std::function<void()>& reset, const std::string& what) {
  for (int i = 0; i < kDumpRetries; ++i) {
    MsgPtr m = build();
    int err = Transact(sk, m.get(), &on_msg);
    if (err == 0) return;
    if (err != EINTR) Fail(what, err);
    reset();
  }
  throw Error(kTryAgainLater, what + ": dump interrupted " + std::to_string(kDumpRetries) +
                                  " times, try again");
}

}  // namespace nl

using namespace nl;  // NOLINT(google-build-using-namespace): this file is the transport's home

namespace {

std::string IdText(const LinkId& id) {
  if (auto* n = std::get_if<std::string>(&id)) return *n;
  return "index " + std::to_string(std::get<int>(id));
}

/// ifinfomsg addressing `id`, with IFLA_IFNAME added for names.
MsgPtr LinkMsg(int type, int flags, const LinkId& id, unsigned char family = AF_UNSPEC) {
  MsgPtr m = NewMsg(type, flags);
  ifinfomsg ifi{};
  ifi.ifi_family = family;
  if (auto* idx = std::get_if<int>(&id)) ifi.ifi_index = *idx;
  Append(m.get(), ifi);
  if (auto* n = std::get_if<std::string>(&id)) PutStr(m.get(), IFLA_IFNAME, *n);
  return m;
}

IP AttrIP(nlattr* a) {
  return IP::FromBytes(static_cast<const uint8_t*>(nla_data(a)), static_cast<size_t>(nla_len(a)));
}
std::optional<Mac> AttrMac(nlattr* a) {
  if (!a || nla_len(a) != 6) return std::nullopt;
  Mac m;
  std::memcpy(m.b.data(), nla_data(a), 6);
  return m;
}
uint8_t U8(nlattr* a) { return a && nla_len(a) >= 1 ? nla_get_u8(a) : 0; }
uint16_t U16(nlattr* a) { return a && nla_len(a) >= 2 ? nla_get_u16(a) : 0; }
uint32_t U32(nlattr* a) { return a && nla_len(a) >= 4 ? nla_get_u32(a) : 0; }

template <int Max>
struct Attrs {
  nlattr* tb[Max + 1] = {};
  nlattr* operator[](int i) const { return tb[i]; }
};

template <int Max>
Attrs<Max> ParseNested(nlattr* a) {
  Attrs<Max> r;
  if (a) nla_parse_nested(r.tb, Max, a, nullptr);
  return r;
}

Link ParseLink(nlmsghdr* h) {
  auto* ifi = static_cast<ifinfomsg*>(nlmsg_data(h));
  Attrs<IFLA_MAX> tb;
  nlmsg_parse(h, sizeof(ifinfomsg), tb.tb, IFLA_MAX, nullptr);
  Link l;
  l.index = ifi->ifi_index;
  l.up = ifi->ifi_flags & IFF_UP;
  l.promisc = ifi->ifi_flags & IFF_PROMISC;
  l.allmulti = ifi->ifi_flags & IFF_ALLMULTI;
  if (tb[IFLA_IFNAME]) l.name = nla_get_string(tb[IFLA_IFNAME]);
  l.mac = AttrMac(tb[IFLA_ADDRESS]);
  l.mtu = U32(tb[IFLA_MTU]);
  l.txqlen = U32(tb[IFLA_TXQLEN]);
  l.master = static_cast<int>(U32(tb[IFLA_MASTER]));
  l.link = static_cast<int>(U32(tb[IFLA_LINK]));
  if (tb[IFLA_LINK_NETNSID]) l.link_netnsid = static_cast<int>(nla_get_s32(tb[IFLA_LINK_NETNSID]));
  auto info = ParseNested<IFLA_INFO_MAX>(tb[IFLA_LINKINFO]);
  if (info[IFLA_INFO_KIND]) l.kind = nla_get_string(info[IFLA_INFO_KIND]);
  if (l.kind == "bridge") {
    auto br = ParseNested<IFLA_BR_MAX>(info[IFLA_INFO_DATA]);
    l.vlan_filtering = U8(br[IFLA_BR_VLAN_FILTERING]) != 0;
    l.default_pvid = U16(br[IFLA_BR_VLAN_DEFAULT_PVID]);
  } else if (l.kind == "vxlan") {
    auto vx = ParseNested<IFLA_VXLAN_MAX>(info[IFLA_INFO_DATA]);
    l.vni = U32(vx[IFLA_VXLAN_ID]);
    l.vxlan_port = ntohs(U16(vx[IFLA_VXLAN_PORT]));
    if (vx[IFLA_VXLAN_LOCAL]) l.vxlan_local = AttrIP(vx[IFLA_VXLAN_LOCAL]);
    if (vx[IFLA_VXLAN_LOCAL6]) l.vxlan_local = AttrIP(vx[IFLA_VXLAN_LOCAL6]);
    l.vxlan_dev = static_cast<int>(U32(vx[IFLA_VXLAN_LINK]));
    l.vxlan_learning = U8(vx[IFLA_VXLAN_LEARNING]) != 0;
  }
  if (info[IFLA_INFO_SLAVE_KIND] &&
      std::string_view(nla_get_string(info[IFLA_INFO_SLAVE_KIND])) == "bridge") {
    auto bp = ParseNested<IFLA_BRPORT_MAX>(info[IFLA_INFO_SLAVE_DATA]);
    l.hairpin = U8(bp[IFLA_BRPORT_MODE]) != 0;
    l.isolated = U8(bp[IFLA_BRPORT_ISOLATED]) != 0;
    l.learning = U8(bp[IFLA_BRPORT_LEARNING]) != 0;
  }
  return l;
}

Addr ParseAddr(nlmsghdr* h) {
  auto* ifa = static_cast<ifaddrmsg*>(nlmsg_data(h));
  Attrs<IFA_MAX> tb;
  nlmsg_parse(h, sizeof(ifaddrmsg), tb.tb, IFA_MAX, nullptr);
  Addr a;
  a.index = static_cast<int>(ifa->ifa_index);
  nlattr* ip = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (ip) a.addr = IPNet{AttrIP(ip), ifa->ifa_prefixlen};
  a.scope = ifa->ifa_scope;
  a.flags = tb[IFA_FLAGS] ? U32(tb[IFA_FLAGS]) : ifa->ifa_flags;
  if (tb[IFA_LABEL]) a.label = nla_get_string(tb[IFA_LABEL]);
  return a;
}

IP ZeroIP(int family) {
  static const uint8_t zero[16] = {};
  return IP::FromBytes(zero, family == AF_INET6 ? 16 : 4);
}

Route ParseRoute(nlmsghdr* h) {
  auto* rtm = static_cast<rtmsg*>(nlmsg_data(h));
  Attrs<RTA_MAX> tb;
  nlmsg_parse(h, sizeof(rtmsg), tb.tb, RTA_MAX, nullptr);
  Route r;
  r.dst = IPNet{tb[RTA_DST] ? AttrIP(tb[RTA_DST]) : ZeroIP(rtm->rtm_family), rtm->rtm_dst_len};
  if (tb[RTA_GATEWAY]) r.gw = AttrIP(tb[RTA_GATEWAY]);
  r.index = static_cast<int>(U32(tb[RTA_OIF]));
  if (tb[RTA_PREFSRC]) r.src = AttrIP(tb[RTA_PREFSRC]);
  r.table = tb[RTA_TABLE] ? U32(tb[RTA_TABLE]) : rtm->rtm_table;
  r.scope = rtm->rtm_scope;
  r.protocol = rtm->rtm_protocol;
  r.type = rtm->rtm_type;
  r.metric = U32(tb[RTA_PRIORITY]);
  r.onlink = rtm->rtm_flags & RTNH_F_ONLINK;
  if (tb[RTA_METRICS]) {
    auto mx = ParseNested<RTAX_MAX>(tb[RTA_METRICS]);
    r.mtu = U32(mx[RTAX_MTU]);
  }
  if (tb[RTA_MULTIPATH]) {
    auto* nh = static_cast<rtnexthop*>(nla_data(tb[RTA_MULTIPATH]));
    int left = nla_len(tb[RTA_MULTIPATH]);
    while (left >= static_cast<int>(sizeof(rtnexthop)) && nh->rtnh_len >= sizeof(rtnexthop) &&
           nh->rtnh_len <= left) {
      Nexthop n;
      n.index = nh->rtnh_ifindex;
      n.weight = nh->rtnh_hops + 1;
      n.onlink = nh->rtnh_flags & RTNH_F_ONLINK;
      int alen = nh->rtnh_len - static_cast<int>(RTNH_ALIGN(sizeof(rtnexthop)));
      if (alen > 0) {
        nlattr* at[RTA_MAX + 1] = {};
        nla_parse(at, RTA_MAX, reinterpret_cast<nlattr*>(RTNH_DATA(nh)), alen, nullptr);
        if (at[RTA_GATEWAY]) n.gw = AttrIP(at[RTA_GATEWAY]);
      }
      r.multipath.push_back(n);
      left -= RTNH_ALIGN(nh->rtnh_len);
      nh = RTNH_NEXT(nh);
    }
  }
  return r;
}

void ParseNdm(nlmsghdr* h, ndmsg*& ndm, Attrs<NDA_MAX>& tb) {
  ndm = static_cast<ndmsg*>(nlmsg_data(h));
  nlmsg_parse(h, sizeof(ndmsg), tb.tb, NDA_MAX, nullptr);
}

// ---- request builders

void PutAddr(nl_msg* m, const Addr& a) {
  PutIP(m, IFA_LOCAL, a.addr.ip);
  PutIP(m, IFA_ADDRESS, a.addr.ip);
  // Like vishvananda/netlink (the reference): IPv4 gets the broadcast of its prefix.
  if (a.addr.ip.is4() && a.addr.prefix < 31) PutIP(m, IFA_BROADCAST, a.addr.Broadcast());
  if (a.flags) PutU32(m, IFA_FLAGS, a.flags);
  if (!a.label.empty()) PutStr(m, IFA_LABEL, a.label);
}

MsgPtr AddrMsg(int type, int flags, const Addr& a) {
  MsgPtr m = NewMsg(type, flags);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<unsigned char>(a.addr.ip.af());
  ifa.ifa_prefixlen = static_cast<unsigned char>(a.addr.prefix);
  ifa.ifa_flags = static_cast<unsigned char>(a.flags & 0xff);
  ifa.ifa_scope = static_cast<unsigned char>(a.scope);
  ifa.ifa_index = static_cast<unsigned>(a.index);
  Append(m.get(), ifa);
  PutAddr(m.get(), a);
  return m;
}

MsgPtr RouteMsg(int type, int flags, const Route& r) {
  MsgPtr m = NewMsg(type, flags);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<unsigned char>(r.dst.ip.af());
  rtm.rtm_dst_len = static_cast<unsigned char>(r.dst.prefix);
  rtm.rtm_table = static_cast<unsigned char>(r.table < 256 ? r.table : RT_TABLE_UNSPEC);
  rtm.rtm_protocol = static_cast<unsigned char>(r.protocol);
  rtm.rtm_scope = static_cast<unsigned char>(r.scope);
  rtm.rtm_type = static_cast<unsigned char>(r.type);
  if (r.onlink) rtm.rtm_flags |= RTNH_F_ONLINK;
  if (type == RTM_DELROUTE) {
    // Let the kernel match any protocol/scope; type and table still select the route.
    rtm.rtm_protocol = 0;
    rtm.rtm_scope = RT_SCOPE_NOWHERE;
  }
  Append(m.get(), rtm);
  if (r.dst.prefix > 0) PutIP(m.get(), RTA_DST, r.dst.Network());
  PutU32(m.get(), RTA_TABLE, r.table);
  if (r.metric) PutU32(m.get(), RTA_PRIORITY, r.metric);
  if (r.src.valid()) PutIP(m.get(), RTA_PREFSRC, r.src);
  if (r.mtu) {
    nlattr* mx = Nest(m.get(), RTA_METRICS);
    PutU32(m.get(), RTAX_MTU, r.mtu);
    EndNest(m.get(), mx);
  }
  if (r.multipath.empty()) {
    if (r.gw.valid()) PutIP(m.get(), RTA_GATEWAY, r.gw);
    if (r.index) PutU32(m.get(), RTA_OIF, static_cast<uint32_t>(r.index));
  } else {
    nlattr* mp = Nest(m.get(), RTA_MULTIPATH);
    for (const Nexthop& n : r.multipath) {
      auto* rh = static_cast<rtnexthop*>(nlmsg_reserve(m.get(), sizeof(rtnexthop), NLMSG_ALIGNTO));
      if (!rh) throw Error(kInternal, "netlink: message too large");
      auto start = reinterpret_cast<char*>(rh);
      rh->rtnh_flags = n.onlink ? RTNH_F_ONLINK : 0;
      rh->rtnh_hops = static_cast<unsigned char>(n.weight > 0 ? n.weight - 1 : 0);
      rh->rtnh_ifindex = n.index;
      if (n.gw.valid()) PutIP(m.get(), RTA_GATEWAY, n.gw);
      auto end = reinterpret_cast<char*>(nlmsg_hdr(m.get())) + nlmsg_hdr(m.get())->nlmsg_len;
      rh->rtnh_len = static_cast<unsigned short>(end - start);
    }
    EndNest(m.get(), mp);
  }
  return m;
}

MsgPtr NeighMsg(int type, int flags, const Neigh& n) {
  MsgPtr m = NewMsg(type, flags);
  ndmsg ndm{};
  ndm.ndm_family = static_cast<unsigned char>(n.ip.af());
  ndm.ndm_ifindex = n.index;
  ndm.ndm_state = n.state;
  ndm.ndm_flags = n.flags;
  Append(m.get(), ndm);
  PutIP(m.get(), NDA_DST, n.ip);
  if (type != RTM_DELNEIGH) PutMac(m.get(), NDA_LLADDR, n.mac);
  return m;
}

MsgPtr FdbMsg(int type, int flags, const Fdb& f) {
  MsgPtr m = NewMsg(type, flags);
  ndmsg ndm{};
  ndm.ndm_family = AF_BRIDGE;
  ndm.ndm_ifindex = f.index;
  ndm.ndm_state = f.state;
  ndm.ndm_flags = static_cast<unsigned char>(f.self ? NTF_SELF : NTF_MASTER);
  Append(m.get(), ndm);
  PutMac(m.get(), NDA_LLADDR, f.mac);
  if (f.dst.valid()) PutIP(m.get(), NDA_DST, f.dst);
  if (f.vlan) PutU16(m.get(), NDA_VLAN, f.vlan);
  return m;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

// ---------------------------------------------------------------- Socket

Socket::Socket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Socket::Socket(Socket&&) noexcept = default;
Socket& Socket::operator=(Socket&&) noexcept = default;
Socket::~Socket() = default;

Socket Socket::Open() {
  auto impl = std::make_unique<Impl>();
  impl->sk.reset(nl_socket_alloc());
  if (!impl->sk) throw Error(kInternal, "netlink: out of memory");
  int r = nl_connect(impl->sk.get(), NETLINK_ROUTE);
  if (r < 0) throw Error(kInternal, std::string("netlink connect: ") + nl_geterror(r));
  // A buffer larger than any dump chunk the kernel builds (32 KiB): no MSG_PEEK round trip.
  nl_socket_set_msg_buf_size(impl->sk.get(), 65536);
  return Socket(std::move(impl));
}

Socket Socket::OpenIn(const Netns& ns) {
  NetnsGuard g(ns);
  return Open();
}

// ---- links

std::optional<Link> Socket::FindLink(const LinkId& id) {
  MsgPtr m = LinkMsg(RTM_GETLINK, 0, id);
  std::optional<Link> out;
  Handler h = [&](nlmsghdr* hdr) {
    if (hdr->nlmsg_type == RTM_NEWLINK) out = ParseLink(hdr);
  };
  int err = Transact(impl_->sk.get(), m.get(), &h);
  if (err == ENODEV) return std::nullopt;
  if (err) Fail("failed to find link " + Quoted(IdText(id)), err);
  return out;
}

Link Socket::GetLink(const LinkId& id) {
  auto l = FindLink(id);
  if (!l) throw Error(kInternal, "failed to find link " + Quoted(IdText(id)) + ": Link not found");
  return *l;
}

std::vector<Link> Socket::Links() {
  std::vector<Link> out;
  Dump(
      impl_->sk.get(),
      [] {
        MsgPtr m = NewMsg(RTM_GETLINK, NLM_F_DUMP);
        ifinfomsg ifi{};
        Append(m.get(), ifi);
        return m;
      },
      [&](nlmsghdr* h) {
        if (h->nlmsg_type == RTM_NEWLINK) out.push_back(ParseLink(h));
      },
      [&] { out.clear(); }, "failed to list links");
  return out;
}

namespace {

MsgPtr CreateMsg(const std::string& name, uint32_t mtu, const std::optional<Mac>& mac) {
  MsgPtr m = NewMsg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  Append(m.get(), ifi);
  PutStr(m.get(), IFLA_IFNAME, name);
  if (mtu) PutU32(m.get(), IFLA_MTU, mtu);
  if (mac) PutMac(m.get(), IFLA_ADDRESS, *mac);
  return m;
}

}  // namespace

Link Socket::CreateBridge(const BridgeSpec& s) {
  MsgPtr m = CreateMsg(s.name, s.mtu, s.mac);
  nlattr* li = Nest(m.get(), IFLA_LINKINFO);
  PutStr(m.get(), IFLA_INFO_KIND, "bridge");
  // Off is the kernel default and is not sent: kernels without CONFIG_BRIDGE_VLAN_FILTERING
  // reject the attribute even when it asks for nothing.
  bool vf = s.vlan_filtering.value_or(false);
  if (vf || s.default_pvid) {
    nlattr* d = Nest(m.get(), IFLA_INFO_DATA);
    if (vf) PutU8(m.get(), IFLA_BR_VLAN_FILTERING, 1);
    if (s.default_pvid) PutU16(m.get(), IFLA_BR_VLAN_DEFAULT_PVID, *s.default_pvid);
    EndNest(m.get(), d);
  }
  EndNest(m.get(), li);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to create bridge " + Quoted(s.name), err);
  return GetLink(s.name);
}

Link Socket::EnsureBridge(const BridgeSpec& s, bool* created) {
  if (created) *created = false;
  auto l = FindLink(s.name);
  if (!l) {
    try {
      l = CreateBridge(s);
      if (created) *created = true;
    } catch (const NetlinkError& e) {
      if (e.err() != EEXIST) Fail("could not add " + Quoted(s.name), e.err());
      l = FindLink(s.name);  // created by a concurrent ADD in between: use it
      if (!l) Fail("could not add " + Quoted(s.name), EEXIST);
    }
  }
  if (l->kind != "bridge")
    throw Error(kInternal, Quoted(s.name) + " already exists but is not a bridge");
  return *l;
}

Link Socket::CreateVeth(const VethSpec& s) {
  MsgPtr m = CreateMsg(s.name, s.mtu, s.mac);
  nlattr* li = Nest(m.get(), IFLA_LINKINFO);
  PutStr(m.get(), IFLA_INFO_KIND, "veth");
  nlattr* d = Nest(m.get(), IFLA_INFO_DATA);
  nlattr* p = Nest(m.get(), VETH_INFO_PEER);
  ifinfomsg pifi{};
  Append(m.get(), pifi);
  PutStr(m.get(), IFLA_IFNAME, s.peer_name);
  if (s.mtu) PutU32(m.get(), IFLA_MTU, s.mtu);
  if (s.peer_mac) PutMac(m.get(), IFLA_ADDRESS, *s.peer_mac);
  if (s.peer_netns_fd >= 0) PutU32(m.get(), IFLA_NET_NS_FD, static_cast<uint32_t>(s.peer_netns_fd));
  EndNest(m.get(), p);
  EndNest(m.get(), d);
  EndNest(m.get(), li);
  // Master and IFF_UP ride on the create request: one round trip instead of three.
  if (s.master) PutU32(m.get(), IFLA_MASTER, static_cast<uint32_t>(s.master));
  if (s.up) {
    auto* ifi = static_cast<ifinfomsg*>(nlmsg_data(nlmsg_hdr(m.get())));
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
  }
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to create veth " + Quoted(s.name), err);
  return GetLink(s.name);
}

Link Socket::CreateVxlan(const VxlanSpec& s) {
  MsgPtr m = CreateMsg(s.name, s.mtu, s.mac);
  nlattr* li = Nest(m.get(), IFLA_LINKINFO);
  PutStr(m.get(), IFLA_INFO_KIND, "vxlan");
  nlattr* d = Nest(m.get(), IFLA_INFO_DATA);
  PutU32(m.get(), IFLA_VXLAN_ID, s.vni);
  if (s.port) PutU16(m.get(), IFLA_VXLAN_PORT, htons(s.port));
  if (s.local.valid()) PutIP(m.get(), s.local.is4() ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, s.local);
  if (s.dev) PutU32(m.get(), IFLA_VXLAN_LINK, static_cast<uint32_t>(s.dev));
  PutU8(m.get(), IFLA_VXLAN_LEARNING, s.learning ? 1 : 0);
  EndNest(m.get(), d);
  EndNest(m.get(), li);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to create vxlan " + Quoted(s.name), err);
  return GetLink(s.name);
}

Link Socket::CreateSimple(std::string_view kind, std::string_view name, uint32_t mtu) {
  MsgPtr m = CreateMsg(std::string(name), mtu, std::nullopt);
  nlattr* li = Nest(m.get(), IFLA_LINKINFO);
  PutStr(m.get(), IFLA_INFO_KIND, std::string(kind));
  EndNest(m.get(), li);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to create " + std::string(kind) + " " + Quoted(name), err);
  return GetLink(std::string(name));
}

bool Socket::DeleteLink(const LinkId& id) {
  MsgPtr m = LinkMsg(RTM_DELLINK, 0, id);
  int err = Transact(impl_->sk.get(), m.get(), nullptr);
  if (err == ENODEV) return false;
  if (err) Fail("failed to delete link " + Quoted(IdText(id)), err);
  return true;
}

namespace {

void SetFlag(nl_sock* sk, const LinkId& id, unsigned flag, bool on, const std::string& what) {
  MsgPtr m = NewMsg(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  if (auto* idx = std::get_if<int>(&id)) ifi.ifi_index = *idx;
  ifi.ifi_flags = on ? flag : 0;
  ifi.ifi_change = flag;
  Append(m.get(), ifi);
  if (auto* n = std::get_if<std::string>(&id)) PutStr(m.get(), IFLA_IFNAME, *n);
  if (int err = Transact(sk, m.get(), nullptr)) Fail(what + " " + Quoted(IdText(id)), err);
}

}  // namespace

void Socket::SetUp(const LinkId& id, bool up) {
  SetFlag(impl_->sk.get(), id, IFF_UP, up, up ? "failed to set up" : "failed to set down");
}

void Socket::SetPromisc(const LinkId& id, bool on) {
  SetFlag(impl_->sk.get(), id, IFF_PROMISC, on, "failed to set promisc on");
}

void Socket::SetAllmulti(const LinkId& id, bool on) {
  SetFlag(impl_->sk.get(), id, IFF_ALLMULTI, on, "failed to set allmulticast on");
}

void Socket::SetTxQLen(const LinkId& id, uint32_t qlen) {
  MsgPtr m = LinkMsg(RTM_NEWLINK, 0, id);
  PutU32(m.get(), IFLA_TXQLEN, qlen);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to set txqueuelen " + std::to_string(qlen) + " on " + Quoted(IdText(id)), err);
}

void Socket::SetMtu(const LinkId& id, uint32_t mtu) {
  MsgPtr m = LinkMsg(RTM_NEWLINK, 0, id);
  PutU32(m.get(), IFLA_MTU, mtu);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to set MTU " + std::to_string(mtu) + " on " + Quoted(IdText(id)), err);
}

void Socket::SetMac(const LinkId& id, const Mac& mac) {
  MsgPtr m = LinkMsg(RTM_NEWLINK, 0, id);
  PutMac(m.get(), IFLA_ADDRESS, mac);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to set MAC " + mac.String() + " on " + Quoted(IdText(id)), err);
}

void Socket::SetMaster(const LinkId& id, int master) {
  MsgPtr m = LinkMsg(RTM_NEWLINK, 0, id);
  PutU32(m.get(), IFLA_MASTER, static_cast<uint32_t>(master));
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to set master of " + Quoted(IdText(id)) + " to index " + std::to_string(master),
         err);
}

void Socket::SetName(const LinkId& id, std::string_view name) {
  int index = std::holds_alternative<int>(id) ? std::get<int>(id) : GetLink(id).index;
  MsgPtr m = LinkMsg(RTM_NEWLINK, 0, index);
  PutStr(m.get(), IFLA_IFNAME, std::string(name));
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to rename " + Quoted(IdText(id)) + " to " + Quoted(name), err);
}

void Socket::SetPortFlags(const LinkId& port, const PortFlags& f) {
  MsgPtr m = LinkMsg(RTM_NEWLINK, 0, port);
  nlattr* li = Nest(m.get(), IFLA_LINKINFO);
  nlattr* d = Nest(m.get(), IFLA_INFO_SLAVE_DATA);
  if (f.hairpin) PutU8(m.get(), IFLA_BRPORT_MODE, *f.hairpin ? 1 : 0);
  if (f.isolated) PutU8(m.get(), IFLA_BRPORT_ISOLATED, *f.isolated ? 1 : 0);
  if (f.learning) PutU8(m.get(), IFLA_BRPORT_LEARNING, *f.learning ? 1 : 0);
  EndNest(m.get(), d);
  EndNest(m.get(), li);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to set bridge port flags on " + Quoted(IdText(port)), err);
}

void Socket::SetBridgeVlanFiltering(const LinkId& bridge, bool on) {
  MsgPtr m = LinkMsg(RTM_NEWLINK, 0, bridge);
  nlattr* li = Nest(m.get(), IFLA_LINKINFO);
  PutStr(m.get(), IFLA_INFO_KIND, "bridge");
  nlattr* d = Nest(m.get(), IFLA_INFO_DATA);
  PutU8(m.get(), IFLA_BR_VLAN_FILTERING, on ? 1 : 0);
  EndNest(m.get(), d);
  EndNest(m.get(), li);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to set vlan_filtering on " + Quoted(IdText(bridge)), err);
}

// ---- bridge VLANs

namespace {

MsgPtr VlanMsg(int type, int index, uint16_t vid, uint16_t vflags, bool self) {
  MsgPtr m = NewMsg(type, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = index;
  Append(m.get(), ifi);
  nlattr* spec = Nest(m.get(), IFLA_AF_SPEC);
  if (self) PutU16(m.get(), IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF);
  bridge_vlan_info vi{};
  vi.flags = vflags;
  vi.vid = vid;
  PutRaw(m.get(), IFLA_BRIDGE_VLAN_INFO, &vi, sizeof vi);
  EndNest(m.get(), spec);
  return m;
}

}  // namespace

void Socket::AddBridgeVlan(const LinkId& port, const BridgeVlan& v, bool self) {
  int index = std::holds_alternative<int>(port) ? std::get<int>(port) : GetLink(port).index;
  uint16_t fl = static_cast<uint16_t>((v.pvid ? BRIDGE_VLAN_INFO_PVID : 0) |
                                      (v.untagged ? BRIDGE_VLAN_INFO_UNTAGGED : 0));
  MsgPtr m = VlanMsg(RTM_SETLINK, index, v.vid, fl, self);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to add vlan " + std::to_string(v.vid) + " to " + Quoted(IdText(port)), err);
}

void Socket::DelBridgeVlan(const LinkId& port, uint16_t vid, bool self) {
  int index = std::holds_alternative<int>(port) ? std::get<int>(port) : GetLink(port).index;
  MsgPtr m = VlanMsg(RTM_DELLINK, index, vid, 0, self);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to delete vlan " + std::to_string(vid) + " from " + Quoted(IdText(port)), err);
}

std::vector<BridgeVlan> Socket::BridgeVlans(const LinkId& port) {
  int index = std::holds_alternative<int>(port) ? std::get<int>(port) : GetLink(port).index;
  std::vector<BridgeVlan> out;
  Dump(
      impl_->sk.get(),
      [] {
        MsgPtr m = NewMsg(RTM_GETLINK, NLM_F_DUMP);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_BRIDGE;
        Append(m.get(), ifi);
        PutU32(m.get(), IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN);
        return m;
      },
      [&](nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWLINK) return;
        auto* ifi = static_cast<ifinfomsg*>(nlmsg_data(h));
        if (ifi->ifi_index != index) return;
        Attrs<IFLA_MAX> tb;
        nlmsg_parse(h, sizeof(ifinfomsg), tb.tb, IFLA_MAX, nullptr);
        if (!tb[IFLA_AF_SPEC]) return;
        nlattr* a;
        int rem;
        nla_for_each_nested(a, tb[IFLA_AF_SPEC], rem) {
          if (nla_type(a) != IFLA_BRIDGE_VLAN_INFO || nla_len(a) < int(sizeof(bridge_vlan_info)))
            continue;
          auto* vi = static_cast<bridge_vlan_info*>(nla_data(a));
          out.push_back({vi->vid, (vi->flags & BRIDGE_VLAN_INFO_PVID) != 0,
                         (vi->flags & BRIDGE_VLAN_INFO_UNTAGGED) != 0});
        }
      },
      [&] { out.clear(); }, "failed to list bridge vlans");
  return out;
}

// ---- addresses

void Socket::AddAddr(const Addr& a) {
  MsgPtr m = AddrMsg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, a);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to add IP addr " + a.addr.String() + " to link index " + std::to_string(a.index),
         err);
}

void Socket::ReplaceAddr(const Addr& a) {
  MsgPtr m = AddrMsg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, a);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to replace IP addr " + a.addr.String() + " on link index " +
             std::to_string(a.index),
         err);
}

bool Socket::DeleteAddr(const Addr& a) {
  MsgPtr m = AddrMsg(RTM_DELADDR, 0, a);
  int err = Transact(impl_->sk.get(), m.get(), nullptr);
  if (err == EADDRNOTAVAIL || err == ENODEV) return false;
  if (err) Fail("failed to delete IP addr " + a.addr.String(), err);
  return true;
}

std::vector<Addr> Socket::Addrs(int index, int family) {
  std::vector<Addr> out;
  Dump(
      impl_->sk.get(),
      [family] {
        MsgPtr m = NewMsg(RTM_GETADDR, NLM_F_DUMP);
        ifaddrmsg ifa{};
        ifa.ifa_family = static_cast<unsigned char>(family);
        Append(m.get(), ifa);
        return m;
      },
      [&](nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWADDR) return;
        Addr a = ParseAddr(h);
        if (index == 0 || a.index == index) out.push_back(std::move(a));
      },
      [&] { out.clear(); }, "failed to list addresses");
  return out;
}

// ---- routes

namespace {
std::string RouteText(const Route& r) {
  std::string s = r.dst.Masked().String();
  if (r.gw.valid()) s += " via " + r.gw.String();
  return s;
}
}  // namespace

void Socket::AddRoute(const Route& r) {
  MsgPtr m = RouteMsg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, r);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to add route " + Quoted(RouteText(r)), err);
}

void Socket::ReplaceRoute(const Route& r) {
  MsgPtr m = RouteMsg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, r);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to replace route " + Quoted(RouteText(r)), err);
}

bool Socket::DeleteRoute(const Route& r) {
  MsgPtr m = RouteMsg(RTM_DELROUTE, 0, r);
  int err = Transact(impl_->sk.get(), m.get(), nullptr);
  if (err == ESRCH || err == ENODEV) return false;
  if (err) Fail("failed to delete route " + Quoted(RouteText(r)), err);
  return true;
}

std::vector<Route> Socket::Routes(int family, uint32_t table) {
  std::vector<Route> out;
  Dump(
      impl_->sk.get(),
      [family] {
        MsgPtr m = NewMsg(RTM_GETROUTE, NLM_F_DUMP);
        rtmsg rtm{};
        rtm.rtm_family = static_cast<unsigned char>(family);
        Append(m.get(), rtm);
        return m;
      },
      [&](nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWROUTE) return;
        auto* rtm = static_cast<rtmsg*>(nlmsg_data(h));
        if (rtm->rtm_flags & RTM_F_CLONED) return;
        Route r = ParseRoute(h);
        if (table == 0 || r.table == table) out.push_back(std::move(r));
      },
      [&] { out.clear(); }, "failed to list routes");
  return out;
}

// ---- neighbours and FDB entries (both RTM_*NEIGH messages of the kernel's neighbour table)

namespace {

/// Sends a delete request for a neighbour-table entry; false when it was not there (ENOENT) or
/// its link is gone (ENODEV).
bool DeleteEntry(nl_sock* sk, const MsgPtr& m, const std::string& what) {
  int err = Transact(sk, m.get(), nullptr);
  if (err == ENOENT || err == ENODEV) return false;
  if (err) Fail(what, err);
  return true;
}

/// Dumps the neighbour table of `family` (AF_BRIDGE: the FDB) and hands each entry on link
/// `index` (0: every link) to `on_entry`; `reset` runs before a retried dump.
void DumpNeighTable(nl_sock* sk, int family, int index,
                    const std::function<void(const ndmsg*, const Attrs<NDA_MAX>&)>& on_entry,
                    const std::function<void()>& reset, const std::string& what) {
  Dump(
      sk,
      [family] {
        MsgPtr m = NewMsg(RTM_GETNEIGH, NLM_F_DUMP);
        ndmsg ndm{};
        ndm.ndm_family = static_cast<unsigned char>(family);
        Append(m.get(), ndm);
        return m;
      },
      [&](nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWNEIGH) return;
        ndmsg* ndm;
        Attrs<NDA_MAX> tb;
        ParseNdm(h, ndm, tb);
        if (index && ndm->ndm_ifindex != index) return;
        on_entry(ndm, tb);
      },
      reset, what);
}

}  // namespace

void Socket::AddNeigh(const Neigh& n) {
  MsgPtr m = NeighMsg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, n);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to add neighbour " + n.ip.String(), err);
}

void Socket::ReplaceNeigh(const Neigh& n) {
  MsgPtr m = NeighMsg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, n);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to replace neighbour " + n.ip.String(), err);
}

bool Socket::DeleteNeigh(const Neigh& n) {
  return DeleteEntry(impl_->sk.get(), NeighMsg(RTM_DELNEIGH, 0, n),
                     "failed to delete neighbour " + n.ip.String());
}

std::vector<Neigh> Socket::Neighs(int index, int family) {
  std::vector<Neigh> out;
  DumpNeighTable(
      impl_->sk.get(), family, index,
      [&](const ndmsg* ndm, const Attrs<NDA_MAX>& tb) {
        if (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6) return;
        Neigh n;
        n.index = ndm->ndm_ifindex;
        if (tb[NDA_DST]) n.ip = AttrIP(tb[NDA_DST]);
        if (auto mac = AttrMac(tb[NDA_LLADDR])) n.mac = *mac;
        n.state = ndm->ndm_state;
        n.flags = ndm->ndm_flags;
        out.push_back(n);
      },
      [&] { out.clear(); }, "failed to list neighbours");
  return out;
}

void Socket::AddFdb(const Fdb& f) {
  MsgPtr m = FdbMsg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, f);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to add fdb entry " + f.mac.String(), err);
}

void Socket::AppendFdb(const Fdb& f) {
  MsgPtr m = FdbMsg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, f);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to append fdb entry " + f.mac.String(), err);
}

void Socket::ReplaceFdb(const Fdb& f) {
  MsgPtr m = FdbMsg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, f);
  if (int err = Transact(impl_->sk.get(), m.get(), nullptr))
    Fail("failed to replace fdb entry " + f.mac.String(), err);
}

bool Socket::DeleteFdb(const Fdb& f) {
  return DeleteEntry(impl_->sk.get(), FdbMsg(RTM_DELNEIGH, 0, f),
                     "failed to delete fdb entry " + f.mac.String());
}

std::vector<Fdb> Socket::Fdbs(int index) {
  std::vector<Fdb> out;
  DumpNeighTable(
      impl_->sk.get(), AF_BRIDGE, index,
      [&](const ndmsg* ndm, const Attrs<NDA_MAX>& tb) {
        if (ndm->ndm_family != AF_BRIDGE) return;
        Fdb f;
        f.index = ndm->ndm_ifindex;
        if (auto mac = AttrMac(tb[NDA_LLADDR])) f.mac = *mac;
        if (tb[NDA_DST]) f.dst = AttrIP(tb[NDA_DST]);
        f.master = static_cast<int>(U32(tb[NDA_MASTER]));
        f.vlan = U16(tb[NDA_VLAN]);
        f.state = ndm->ndm_state;
        f.self = (ndm->ndm_flags & NTF_SELF) != 0;
        out.push_back(f);
      },
      [&] { out.clear(); }, "failed to list fdb entries");
  return out;
}

}  // namespace cni::net
