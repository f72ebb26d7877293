// See xt.h.
#include "xt.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_multiport.h>
#define _Bool bool  // the header's inline helpers are C
#include <linux/netfilter/xt_sctp.h>
#undef _Bool
#include <linux/netfilter/xt_tcpudp.h>
#include <net/if.h>

#include <algorithm>
#include <cstring>

#include "cni/error.h"

namespace cni::fw {

[[noreturn]] void Unsupported(const std::string& what) {
  throw Error(kInternal, "unsupported " + what);
}

// ---- ports, addresses, protocol numbers

uint16_t ParsePort(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
    throw Error(kInternal, "invalid port/service `" + s + "' specified");
  unsigned long v = std::stoul(s);
  if (v > 65535) throw Error(kInternal, "invalid port/service `" + s + "' specified");
  return static_cast<uint16_t>(v);
}

std::pair<uint16_t, uint16_t> ParsePortRange(const std::string& s) {
  size_t c = s.find(':');
  if (c == std::string::npos) {
    uint16_t p = ParsePort(s);
    return {p, p};
  }
  return {c == 0 ? uint16_t{0} : ParsePort(s.substr(0, c)),
          c + 1 == s.size() ? uint16_t{65535} : ParsePort(s.substr(c + 1))};
}

std::string PortRange(uint16_t lo, uint16_t hi) {
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + ":" + std::to_string(hi);
}

uint16_t ProtoNumber(const std::string& p) {
  if (p == "tcp") return IPPROTO_TCP;
  if (p == "udp") return IPPROTO_UDP;
  if (p == "sctp") return IPPROTO_SCTP;
  if (p == "icmp") return IPPROTO_ICMP;
  if (p == "ipv6-icmp") return IPPROTO_ICMPV6;
  if (p == "all") return 0;
  // Only these: iptables-save prints other protocols by their /etc/protocols name, which would
  // not compare equal to a number, and a static binary has no name service to look them up.
  throw Error(kInternal, "unsupported protocol \"" + p + "\"");
}

std::string ProtoText(uint16_t n) {
  switch (n) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_SCTP: return "sctp";
    case IPPROTO_ICMP: return "icmp";
    case IPPROTO_ICMPV6: return "ipv6-icmp";
    default: return std::to_string(n);
  }
}

// "a/len" (canonical, already masked) -> address and mask bytes.
void NetBytes(Family f, const std::string& net, void* addr, void* mask) {
  size_t slash = net.find('/');
  std::string a = net.substr(0, slash);
  int len = std::stoi(net.substr(slash + 1));
  int af = f == Family::kIPv4 ? AF_INET : AF_INET6;
  inet_pton(af, a.c_str(), addr);
  auto* m = static_cast<uint8_t*>(mask);
  int bytes = f == Family::kIPv4 ? 4 : 16;
  for (int i = 0; i < bytes; ++i) {
    int keep = len - 8 * i;
    m[i] = static_cast<uint8_t>(keep >= 8 ? 0xff : keep <= 0 ? 0 : 0xff << (8 - keep));
  }
}

std::string NetText(Family f, const void* addr, const void* mask) {
  int bytes = f == Family::kIPv4 ? 4 : 16;
  const auto* m = static_cast<const uint8_t*>(mask);
  int len = 0;
  for (int i = 0; i < bytes; ++i) len += __builtin_popcount(m[i]);
  if (len == 0) return "";
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(f == Family::kIPv4 ? AF_INET : AF_INET6, addr, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(len);
}

void IfaceBytes(const std::string& name, char* iface, unsigned char* mask) {
  if (name.size() >= IFNAMSIZ) throw Error(kInternal, "interface name `" + name + "' must be shorter than IFNAMSIZ");
  std::strncpy(iface, name.c_str(), IFNAMSIZ - 1);
  size_t n = name.size();
  if (!name.empty() && name.back() == '+') std::memset(mask, 0xff, n - 1);
  else std::memset(mask, 0xff, n + 1);
}

// ---- matches and targets

namespace {

constexpr uint16_t kAddrTypes[] = {XT_ADDRTYPE_UNSPEC,    XT_ADDRTYPE_UNICAST,   XT_ADDRTYPE_LOCAL,
                                   XT_ADDRTYPE_BROADCAST, XT_ADDRTYPE_ANYCAST,   XT_ADDRTYPE_MULTICAST,
                                   XT_ADDRTYPE_BLACKHOLE, XT_ADDRTYPE_UNREACHABLE,
                                   XT_ADDRTYPE_PROHIBIT,  XT_ADDRTYPE_THROW,     XT_ADDRTYPE_NAT,
                                   XT_ADDRTYPE_XRESOLVE};
constexpr const char* kAddrTypeNames[] = {"UNSPEC",  "UNICAST",     "LOCAL",    "BROADCAST",
                                          "ANYCAST", "MULTICAST",   "BLACKHOLE", "UNREACHABLE",
                                          "PROHIBIT", "THROW",      "NAT",      "XRESOLVE"};

uint16_t AddrTypeMask(const std::string& list) {
  uint16_t m = 0;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    std::string t = list.substr(pos, end - pos);
    pos = end + 1;
    bool found = false;
    for (size_t i = 0; i < std::size(kAddrTypes); ++i) {
      if (t == kAddrTypeNames[i]) {
        m = static_cast<uint16_t>(m | kAddrTypes[i]);
        found = true;
      }
    }
    if (!found) throw Error(kInternal, "addrtype: bad type \"" + t + "\"");
  }
  return m;
}

}  // namespace

std::string AddrTypeText(uint16_t m) {
  std::string s;
  for (size_t i = 0; i < std::size(kAddrTypes); ++i) {
    if (m & kAddrTypes[i]) s += (s.empty() ? "" : ",") + std::string(kAddrTypeNames[i]);
  }
  return s;
}

std::string Hex(uint32_t v) {
  char b[16];
  snprintf(b, sizeof b, "0x%x", v);
  return b;
}

namespace {

uint32_t ParseU32(const std::string& s) {
  try {
    size_t used = 0;
    unsigned long v = std::stoul(s, &used, 0);
    if (used != s.size() || v > 0xffffffffUL) throw Error(kInternal, "bad value \"" + s + "\"");
    return static_cast<uint32_t>(v);
  } catch (const std::logic_error&) {
    throw Error(kInternal, "bad value \"" + s + "\"");
  }
}

}  // namespace

std::pair<uint32_t, uint32_t> MarkPair(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) return {ParseU32(s), 0xffffffffU};
  return {ParseU32(s.substr(0, slash)), ParseU32(s.substr(slash + 1))};
}

namespace {

template <typename T>
Blob MakeMatch(const char* name, uint8_t rev, const T& data) {
  size_t size = XT_ALIGN(sizeof(xt_entry_match) + sizeof(T));
  Blob b{std::vector<uint8_t>(size, 0)};
  auto* m = reinterpret_cast<xt_entry_match*>(b.bytes.data());
  m->u.user.match_size = static_cast<uint16_t>(size);
  std::strncpy(m->u.user.name, name, sizeof m->u.user.name - 1);
  m->u.user.revision = rev;
  std::memcpy(m->data, &data, sizeof(T));
  return b;
}

template <typename T>
Blob MakeTarget(const std::string& name, uint8_t rev, const T& data) {
  size_t size = XT_ALIGN(sizeof(xt_entry_target) + sizeof(T));
  Blob b{std::vector<uint8_t>(size, 0)};
  auto* t = reinterpret_cast<xt_entry_target*>(b.bytes.data());
  t->u.user.target_size = static_cast<uint16_t>(size);
  std::strncpy(t->u.user.name, name.c_str(), sizeof t->u.user.name - 1);
  t->u.user.revision = rev;
  std::memcpy(t->data, &data, sizeof(T));
  return b;
}

}  // namespace

Blob EncodeMatch(const Rule::Match& m) {
  if (m.name == "tcp" || m.name == "udp") {
    uint16_t spts[2] = {0, 0xffff}, dpts[2] = {0, 0xffff};
    uint8_t inv = 0;
    for (const Rule::Option& o : m.options) {
      auto [lo, hi] = ParsePortRange(o.value);
      uint16_t* p = o.name == "--dport" ? dpts : spts;
      p[0] = lo;
      p[1] = hi;
      if (o.negated) inv = static_cast<uint8_t>(inv | (o.name == "--dport" ? XT_TCP_INV_DSTPT : XT_TCP_INV_SRCPT));
    }
    if (m.name == "tcp") {
      xt_tcp t{};
      std::memcpy(t.spts, spts, sizeof spts);
      std::memcpy(t.dpts, dpts, sizeof dpts);
      t.invflags = inv;
      return MakeMatch("tcp", 0, t);
    }
    xt_udp u{};
    std::memcpy(u.spts, spts, sizeof spts);
    std::memcpy(u.dpts, dpts, sizeof dpts);
    u.invflags = inv;
    return MakeMatch("udp", 0, u);
  }
  if (m.name == "sctp") {  // as libxt_sctp fills it: no chunk types, unused flag slots at 0xff
    xt_sctp_info s{};
    for (xt_sctp_flag_info& fi : s.flag_info) fi.chunktype = 0xff;
    for (const Rule::Option& o : m.options) {
      auto [lo, hi] = ParsePortRange(o.value);
      uint32_t bit = o.name == "--dport" ? XT_SCTP_DEST_PORTS : XT_SCTP_SRC_PORTS;
      uint16_t* p = o.name == "--dport" ? s.dpts : s.spts;
      p[0] = lo;
      p[1] = hi;
      s.flags |= bit;
      if (o.negated) s.invflags |= bit;
    }
    return MakeMatch("sctp", 0, s);
  }
  if (m.name == "comment") {
    xt_comment_info c{};
    for (const Rule::Option& o : m.options) {
      if (o.value.size() >= XT_MAX_COMMENT_LEN) throw Error(kInternal, "COMMENT must be shorter than 256 characters");
      std::strncpy(c.comment, o.value.c_str(), XT_MAX_COMMENT_LEN - 1);
    }
    return MakeMatch("comment", 0, c);
  }
  if (m.name == "multiport") {
    xt_multiport_v1 mp{};
    for (const Rule::Option& o : m.options) {
      mp.flags = o.name == "--dports" ? XT_MULTIPORT_DESTINATION
                 : o.name == "--sports" ? XT_MULTIPORT_SOURCE : XT_MULTIPORT_EITHER;
      mp.invert = o.negated;
      size_t pos = 0;
      while (pos <= o.value.size()) {
        size_t end = o.value.find(',', pos);
        if (end == std::string::npos) end = o.value.size();
        auto [lo, hi] = ParsePortRange(o.value.substr(pos, end - pos));
        pos = end + 1;
        size_t need = lo == hi ? 1 : 2;
        if (mp.count + need > XT_MULTI_PORTS) throw Error(kInternal, "multiport: too many ports specified");
        if (lo != hi) mp.pflags[mp.count] = 1;
        mp.ports[mp.count++] = lo;
        if (lo != hi) mp.ports[mp.count++] = hi;
      }
    }
    return MakeMatch("multiport", 1, mp);
  }
  if (m.name == "addrtype") {
    xt_addrtype_info_v1 a{};
    for (const Rule::Option& o : m.options) {
      if (o.name == "--src-type") {
        a.source = AddrTypeMask(o.value);
        if (o.negated) a.flags |= XT_ADDRTYPE_INVERT_SOURCE;
      } else if (o.name == "--dst-type") {
        a.dest = AddrTypeMask(o.value);
        if (o.negated) a.flags |= XT_ADDRTYPE_INVERT_DEST;
      } else if (o.name == "--limit-iface-in") {
        a.flags |= XT_ADDRTYPE_LIMIT_IFACE_IN;
      } else if (o.name == "--limit-iface-out") {
        a.flags |= XT_ADDRTYPE_LIMIT_IFACE_OUT;
      }
    }
    return MakeMatch("addrtype", 1, a);
  }
  if (m.name == "mark") {
    xt_mark_mtinfo1 k{};
    for (const Rule::Option& o : m.options) {
      auto [v, mask] = MarkPair(o.value);
      k.mark = v;
      k.mask = mask;
      k.invert = o.negated;
    }
    return MakeMatch("mark", 1, k);
  }
  if (m.name == "conntrack") {  // --ctstate only, revision 3 as iptables 1.8.9 sends it
    xt_conntrack_mtinfo3 ct{};
    for (const Rule::Option& o : m.options) {
      size_t pos = 0;
      while (pos <= o.value.size()) {
        size_t end = std::min(o.value.find(',', pos), o.value.size());
        std::string st = o.value.substr(pos, end - pos);
        pos = end + 1;
        bool found = false;
        for (const auto& [name, bit] : kCtStates) {
          if (st == name) {
            ct.state_mask = static_cast<uint16_t>(ct.state_mask | bit);
            found = true;
          }
        }
        if (!found) Unsupported("conntrack state \"" + st + "\"");
      }
      ct.match_flags = XT_CONNTRACK_STATE;
      if (o.negated) ct.invert_flags = XT_CONNTRACK_STATE;
    }
    return MakeMatch("conntrack", 3, ct);
  }
  Unsupported("match \"" + m.name + "\"");
}

namespace {

// "ip[-ip2][:port[-port2]]" (v6: "[ip]:port" or "ip") into a NAT range.
nf_nat_range2 NatRange(Family f, const std::string& spec) {
  nf_nat_range2 r{};
  std::string addr = spec, ports;
  if (f == Family::kIPv6 && !spec.empty() && spec[0] == '[') {
    size_t close = spec.find(']');
    addr = spec.substr(1, close - 1);
    if (close + 1 < spec.size() && spec[close + 1] == ':') ports = spec.substr(close + 2);
  } else if (f == Family::kIPv4) {
    size_t colon = spec.find(':');
    if (colon != std::string::npos) {
      addr = spec.substr(0, colon);
      ports = spec.substr(colon + 1);
    }
  }
  int af = f == Family::kIPv4 ? AF_INET : AF_INET6;
  if (!addr.empty()) {
    size_t dash = addr.find('-');
    std::string lo = addr.substr(0, dash), hi = dash == std::string::npos ? lo : addr.substr(dash + 1);
    if (inet_pton(af, lo.c_str(), &r.min_addr) != 1 || inet_pton(af, hi.c_str(), &r.max_addr) != 1)
      throw Error(kInternal, "Bad IP address \"" + addr + "\"");
    r.flags |= NF_NAT_RANGE_MAP_IPS;
  }
  if (!ports.empty()) {
    size_t dash = ports.find('-');
    uint16_t lo = ParsePort(ports.substr(0, dash));
    uint16_t hi = dash == std::string::npos ? lo : ParsePort(ports.substr(dash + 1));
    r.min_proto.all = htons(lo);
    r.max_proto.all = htons(hi);
    r.flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
  }
  return r;
}

}  // namespace

std::string NatText(Family f, const nf_nat_range2& r) {
  std::string s;
  if (r.flags & NF_NAT_RANGE_MAP_IPS) {
    int af = f == Family::kIPv4 ? AF_INET : AF_INET6;
    char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
    inet_ntop(af, &r.min_addr, lo, sizeof lo);
    inet_ntop(af, &r.max_addr, hi, sizeof hi);
    s = lo;
    if (std::strcmp(lo, hi) != 0) s += std::string("-") + hi;
    if (f == Family::kIPv6 && (r.flags & NF_NAT_RANGE_PROTO_SPECIFIED)) s = "[" + s + "]";
  }
  if (r.flags & NF_NAT_RANGE_PROTO_SPECIFIED) {
    uint16_t lo = ntohs(r.min_proto.all), hi = ntohs(r.max_proto.all);
    s += ":" + std::to_string(lo);
    if (lo != hi) s += "-" + std::to_string(hi);
  }
  return s;
}

Blob EncodeTarget(Family f, const Rule& r) {
  const std::string& t = r.target;
  if (t == "DNAT" || t == "SNAT") {
    nf_nat_range2 range{};
    for (const Rule::Option& o : r.target_options) {
      if (o.name == "--to-destination" || o.name == "--to-source") range = NatRange(f, o.value);
      else Unsupported(t + " option " + o.name);
    }
    // iptables 1.8.9 writes DNAT as revision 2 but SNAT as revision 0 for IPv4
    if (t == "SNAT" && f == Family::kIPv4) {
      nf_nat_ipv4_multi_range_compat c{};
      c.rangesize = 1;
      c.range[0].flags = range.flags;
      c.range[0].min_ip = range.min_addr.ip;
      c.range[0].max_ip = range.max_addr.ip;
      c.range[0].min = range.min_proto;
      c.range[0].max = range.max_proto;
      return MakeTarget(t, 0, c);
    }
    if (t == "SNAT") {  // and revision 1 for IPv6 (no port shift: nf_nat_range)
      nf_nat_range v6{};
      std::memcpy(&v6, &range, sizeof v6);
      return MakeTarget(t, 1, v6);
    }
    return MakeTarget(t, 2, range);
  }
  if (t == "MASQUERADE") {
    unsigned flags = 0;
    for (const Rule::Option& o : r.target_options) {
      if (o.name != "--random-fully") Unsupported("MASQUERADE option " + o.name);
      flags |= NF_NAT_RANGE_PROTO_RANDOM_FULLY;
    }
    if (f == Family::kIPv4) {
      nf_nat_ipv4_multi_range_compat m{};
      m.rangesize = 1;
      m.range[0].flags = flags;
      return MakeTarget(t, 0, m);
    }
    nf_nat_range m{};
    m.flags = flags;
    return MakeTarget(t, 0, m);
  }
  if (t == "MARK") {
    xt_mark_tginfo2 m{};
    for (const Rule::Option& o : r.target_options) {
      if (o.name != "--set-xmark") Unsupported("MARK option " + o.name);
      auto [v, mask] = MarkPair(o.value);
      m.mark = v;
      m.mask = mask;
    }
    return MakeTarget(t, 2, m);
  }
  if (!r.target_options.empty()) Unsupported("target \"" + t + "\"");
  // Verdicts and jumps: the standard target; libiptc maps the name (ACCEPT, RETURN, a chain).
  int verdict = 0;
  return MakeTarget(t, 0, verdict);
}

void CheckWritable(Family f, const Rule& r) {
  const std::string& p = r.proto;
  if (!p.empty() && p != "tcp" && p != "udp" && p != "sctp" && p != "icmp" &&
      !(f == Family::kIPv6 && p == "ipv6-icmp"))
    Unsupported("protocol \"" + p + "\"");
  if (r.in_iface == "+" || r.out_iface == "+") Unsupported("interface \"+\"");
  if ((r.src.empty() && r.src_neg) || (r.dst.empty() && r.dst_neg))
    Unsupported("negated match-everything address");
  if (r.proto.empty() && r.proto_neg) Unsupported("negated empty protocol");
  for (const Rule::Match& m : r.matches) {
    if (m.name == "tcp" || m.name == "udp" || m.name == "sctp") {
      if (r.proto != m.name || r.proto_neg) Unsupported("match \"" + m.name + "\" without -p " + m.name);
      if (m.options.empty()) Unsupported("match \"" + m.name + "\" without a port");
    }
    if (m.name == "multiport" && (r.proto_neg || (r.proto != "tcp" && r.proto != "udp" && r.proto != "sctp")))
      Unsupported("multiport without -p tcp, udp or sctp");
    EncodeMatch(m);
  }
  EncodeTarget(f, r);
}

}  // namespace cni::fw
