// The iptables-legacy backend: libiptc in-process. One call = /run/xtables.lock taken with a
// bounded wait (the iptables CLI, kube-proxy and other CNI plugins take the same lock, so nobody
// races us between read and commit; the libiptc HOWTO warns it does no locking itself), one
// iptc_init per table, the operations of plan.h on that handle, one iptc_commit. A lock that
// stays busy fails with CNI code 11 (try again later) instead of hanging the runtime.
// Entries are built by hand for the extensions our rules use (tcp, udp, comment, multiport v1,
// addrtype v1, mark v1; DNAT/SNAT v2, MASQUERADE v0, MARK v2, standard verdicts and jumps), with
// the revisions iptables 1.8.9 picks, and decoded back into canonical text to read the tables,
// so "already there?" is the same comparison as on the other backends. Rules of extensions we
// don't know are kept as opaque text: never equal to ours, never touched except by chain target.
#include <arpa/inet.h>
#include <fcntl.h>
#include <libiptc/libiptc.h>
extern "C" {  // libip6tc.h, unlike libiptc.h, has no C++ guard
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_multiport.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "cni/error.h"
#include "cni/files.h"
#include "plan.h"

namespace cni::fw {

namespace {

[[noreturn]] void Unsupported(const std::string& what) {
  throw Error(kInternal, "iptables-legacy backend: unsupported " + what);
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
  if (p == "ipv6-icmp" || p == "icmpv6") return IPPROTO_ICMPV6;
  if (p == "all") return 0;
  if (!p.empty() && p.find_first_not_of("0123456789") == std::string::npos)
    return static_cast<uint16_t>(std::stoul(p));
  if (const protoent* pe = getprotobyname(p.c_str())) return static_cast<uint16_t>(pe->p_proto);
  throw Error(kInternal, "unknown protocol \"" + p + "\" specified");
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

std::pair<uint32_t, uint32_t> MarkPair(const std::string& s) {
  size_t slash = s.find('/');
  uint32_t v = static_cast<uint32_t>(std::stoul(s.substr(0, slash), nullptr, 0));
  uint32_t m = slash == std::string::npos ? 0xffffffffU
                                          : static_cast<uint32_t>(std::stoul(s.substr(slash + 1), nullptr, 0));
  return {v, m};
}

// One match or target as bytes (header included), XT_ALIGN'ed.
struct Blob {
  std::vector<uint8_t> bytes;
};

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

// conntrack states in the order iptables-save prints them.
constexpr std::pair<const char*, unsigned> kCtStates[] = {
    {"INVALID", XT_CONNTRACK_STATE_INVALID},
    {"NEW", XT_CONNTRACK_STATE_BIT(IP_CT_NEW)},
    {"RELATED", XT_CONNTRACK_STATE_BIT(IP_CT_RELATED)},
    {"ESTABLISHED", XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED)},
    {"UNTRACKED", XT_CONNTRACK_STATE_UNTRACKED},
    {"SNAT", XT_CONNTRACK_STATE_SNAT},
    {"DNAT", XT_CONNTRACK_STATE_DNAT},
};

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
    return MakeTarget(t, 2, range);
  }
  if (t == "MASQUERADE") {
    for (const Rule::Option& o : r.target_options) Unsupported("MASQUERADE option " + o.name);
    if (f == Family::kIPv4) {
      nf_nat_ipv4_multi_range_compat m{};
      m.rangesize = 1;
      return MakeTarget(t, 0, m);
    }
    nf_nat_range m{};
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

// Decodes one match into canonical options; unknown matches become an opaque marker.
Rule::Match DecodeMatch(const xt_entry_match* m) {
  Rule::Match out{m->u.user.name, {}};
  const std::string& n = out.name;
  const uint8_t rev = m->u.user.revision;
  auto ports = [&](const uint16_t* spts, const uint16_t* dpts, bool sinv, bool dinv) {
    if (spts[0] != 0 || spts[1] != 0xffff) out.options.push_back({"--sport", PortRange(spts[0], spts[1]), sinv});
    if (dpts[0] != 0 || dpts[1] != 0xffff) out.options.push_back({"--dport", PortRange(dpts[0], dpts[1]), dinv});
  };
  if (n == "tcp" && rev == 0) {
    const auto* t = reinterpret_cast<const xt_tcp*>(m->data);
    ports(t->spts, t->dpts, t->invflags & XT_TCP_INV_SRCPT, t->invflags & XT_TCP_INV_DSTPT);
    if (t->option || t->flg_mask) out.options.push_back({"--opaque", "tcp-flags", false});
  } else if (n == "udp" && rev == 0) {
    const auto* u = reinterpret_cast<const xt_udp*>(m->data);
    ports(u->spts, u->dpts, u->invflags & XT_UDP_INV_SRCPT, u->invflags & XT_UDP_INV_DSTPT);
  } else if (n == "comment") {
    const auto* c = reinterpret_cast<const xt_comment_info*>(m->data);
    out.options.push_back({"--comment", std::string(c->comment, strnlen(c->comment, XT_MAX_COMMENT_LEN)), false});
  } else if (n == "multiport" && rev == 1) {
    const auto* mp = reinterpret_cast<const xt_multiport_v1*>(m->data);
    std::string list;
    for (unsigned i = 0; i < mp->count && i < XT_MULTI_PORTS; ++i) {
      list += list.empty() ? "" : ",";
      list += std::to_string(mp->ports[i]);
      if (mp->pflags[i] && i + 1 < mp->count) list += ":" + std::to_string(mp->ports[++i]);
    }
    const char* opt = mp->flags == XT_MULTIPORT_DESTINATION ? "--dports"
                      : mp->flags == XT_MULTIPORT_SOURCE   ? "--sports" : "--ports";
    out.options.push_back({opt, list, mp->invert != 0});
  } else if (n == "addrtype" && rev == 1) {
    const auto* a = reinterpret_cast<const xt_addrtype_info_v1*>(m->data);
    if (a->source) out.options.push_back({"--src-type", AddrTypeText(a->source), (a->flags & XT_ADDRTYPE_INVERT_SOURCE) != 0});
    if (a->dest) out.options.push_back({"--dst-type", AddrTypeText(a->dest), (a->flags & XT_ADDRTYPE_INVERT_DEST) != 0});
    if (a->flags & XT_ADDRTYPE_LIMIT_IFACE_IN) out.options.push_back({"--limit-iface-in", "", false});
    if (a->flags & XT_ADDRTYPE_LIMIT_IFACE_OUT) out.options.push_back({"--limit-iface-out", "", false});
  } else if (n == "mark" && rev == 1) {
    const auto* k = reinterpret_cast<const xt_mark_mtinfo1*>(m->data);
    out.options.push_back({"--mark", k->mask == 0xffffffffU ? Hex(k->mark) : Hex(k->mark) + "/" + Hex(k->mask), k->invert != 0});
  } else if (n == "conntrack" && rev == 3 &&
             reinterpret_cast<const xt_conntrack_mtinfo3*>(m->data)->match_flags == XT_CONNTRACK_STATE) {
    const auto* ct = reinterpret_cast<const xt_conntrack_mtinfo3*>(m->data);
    std::string list;
    for (const auto& [name, bit] : kCtStates) {
      if (ct->state_mask & bit) list += (list.empty() ? "" : ",") + std::string(name);
    }
    out.options.push_back({"--ctstate", list, (ct->invert_flags & XT_CONNTRACK_STATE) != 0});
  } else {
    out.options.push_back({"--opaque", "rev" + std::to_string(rev), false});
  }
  return out;
}

// ---- the two families behind one interface

struct Ops4 {
  using Entry = ipt_entry;
  static constexpr auto init = iptc_init;
  static constexpr auto free = iptc_free;
  static constexpr auto first_chain = iptc_first_chain;
  static constexpr auto next_chain = iptc_next_chain;
  static constexpr auto first_rule = iptc_first_rule;
  static constexpr auto next_rule = iptc_next_rule;
  static constexpr auto get_target = iptc_get_target;
  static constexpr auto create_chain = iptc_create_chain;
  static constexpr auto flush = iptc_flush_entries;
  static constexpr auto delete_chain = iptc_delete_chain;
  static constexpr auto append = iptc_append_entry;
  static constexpr auto insert = iptc_insert_entry;
  static constexpr auto delete_num = iptc_delete_num_entry;
  static constexpr auto commit = iptc_commit;
  static constexpr auto strerror = iptc_strerror;
  static constexpr Family kFamily = Family::kIPv4;

  static void FillHeader(Entry* e, const Rule& r) {
    ipt_ip& ip = e->ip;
    if (!r.src.empty()) NetBytes(kFamily, r.src, &ip.src, &ip.smsk);
    if (!r.dst.empty()) NetBytes(kFamily, r.dst, &ip.dst, &ip.dmsk);
    if (r.src_neg) ip.invflags |= IPT_INV_SRCIP;
    if (r.dst_neg) ip.invflags |= IPT_INV_DSTIP;
    if (!r.in_iface.empty()) IfaceBytes(r.in_iface, ip.iniface, ip.iniface_mask);
    if (!r.out_iface.empty()) IfaceBytes(r.out_iface, ip.outiface, ip.outiface_mask);
    if (r.in_neg) ip.invflags |= IPT_INV_VIA_IN;
    if (r.out_neg) ip.invflags |= IPT_INV_VIA_OUT;
    if (!r.proto.empty()) ip.proto = ProtoNumber(r.proto);
    if (r.proto_neg) ip.invflags |= XT_INV_PROTO;
  }
  static void ReadHeader(const Entry* e, Rule& r) {
    const ipt_ip& ip = e->ip;
    r.src = NetText(kFamily, &ip.src, &ip.smsk);
    r.dst = NetText(kFamily, &ip.dst, &ip.dmsk);
    r.src_neg = ip.invflags & IPT_INV_SRCIP;
    r.dst_neg = ip.invflags & IPT_INV_DSTIP;
    r.in_iface = ip.iniface;
    r.out_iface = ip.outiface;
    r.in_neg = ip.invflags & IPT_INV_VIA_IN;
    r.out_neg = ip.invflags & IPT_INV_VIA_OUT;
    if (ip.proto) r.proto = ProtoText(ip.proto);
    r.proto_neg = ip.invflags & XT_INV_PROTO;
  }
};

struct Ops6 {
  using Entry = ip6t_entry;
  static constexpr auto init = ip6tc_init;
  static constexpr auto free = ip6tc_free;
  static constexpr auto first_chain = ip6tc_first_chain;
  static constexpr auto next_chain = ip6tc_next_chain;
  static constexpr auto first_rule = ip6tc_first_rule;
  static constexpr auto next_rule = ip6tc_next_rule;
  static constexpr auto get_target = ip6tc_get_target;
  static constexpr auto create_chain = ip6tc_create_chain;
  static constexpr auto flush = ip6tc_flush_entries;
  static constexpr auto delete_chain = ip6tc_delete_chain;
  static constexpr auto append = ip6tc_append_entry;
  static constexpr auto insert = ip6tc_insert_entry;
  static constexpr auto delete_num = ip6tc_delete_num_entry;
  static constexpr auto commit = ip6tc_commit;
  static constexpr auto strerror = ip6tc_strerror;
  static constexpr Family kFamily = Family::kIPv6;

  static void FillHeader(Entry* e, const Rule& r) {
    ip6t_ip6& ip = e->ipv6;
    if (!r.src.empty()) NetBytes(kFamily, r.src, &ip.src, &ip.smsk);
    if (!r.dst.empty()) NetBytes(kFamily, r.dst, &ip.dst, &ip.dmsk);
    if (r.src_neg) ip.invflags |= IP6T_INV_SRCIP;
    if (r.dst_neg) ip.invflags |= IP6T_INV_DSTIP;
    if (!r.in_iface.empty()) IfaceBytes(r.in_iface, ip.iniface, ip.iniface_mask);
    if (!r.out_iface.empty()) IfaceBytes(r.out_iface, ip.outiface, ip.outiface_mask);
    if (r.in_neg) ip.invflags |= IP6T_INV_VIA_IN;
    if (r.out_neg) ip.invflags |= IP6T_INV_VIA_OUT;
    if (!r.proto.empty()) {
      ip.proto = ProtoNumber(r.proto);
      if (ip.proto) ip.flags |= IP6T_F_PROTO;
    }
    if (r.proto_neg) ip.invflags |= XT_INV_PROTO;
  }
  static void ReadHeader(const Entry* e, Rule& r) {
    const ip6t_ip6& ip = e->ipv6;
    r.src = NetText(kFamily, &ip.src, &ip.smsk);
    r.dst = NetText(kFamily, &ip.dst, &ip.dmsk);
    r.src_neg = ip.invflags & IP6T_INV_SRCIP;
    r.dst_neg = ip.invflags & IP6T_INV_DSTIP;
    r.in_iface = ip.iniface;
    r.out_iface = ip.outiface;
    r.in_neg = ip.invflags & IP6T_INV_VIA_IN;
    r.out_neg = ip.invflags & IP6T_INV_VIA_OUT;
    if (ip.flags & IP6T_F_PROTO) r.proto = ProtoText(ip.proto);
    r.proto_neg = ip.invflags & XT_INV_PROTO;
  }
};

template <typename O>
class Table {
 public:
  explicit Table(const std::string& name) : name_(name), h_(O::init(name.c_str())) {
    if (!h_) throw Error(kInternal, "can't initialize iptables table `" + name + "': " + O::strerror(errno));
  }
  ~Table() {
    if (h_) O::free(h_);
  }
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  TableState State() {
    TableState st;
    for (const char* c = O::first_chain(h_); c; c = O::next_chain(h_)) {
      std::string chain = c;
      st.chain_order.push_back(chain);
      std::vector<std::string>& rules = st.chains[chain];
      for (const auto* e = O::first_rule(chain.c_str(), h_); e; e = O::next_rule(e, h_))
        rules.push_back(Decode(e));
    }
    return st;
  }

  void Run(const Op& op) {
    int ok = 1;
    const char* chain = op.chain.c_str();
    std::vector<uint8_t> entry;
    switch (op.kind) {
      case Op::kNewChain: ok = O::create_chain(chain, h_); break;
      case Op::kAppend:
        entry = Encode(op.parsed);
        ok = O::append(chain, reinterpret_cast<typename O::Entry*>(entry.data()), h_);
        break;
      case Op::kInsertFirst:
        entry = Encode(op.parsed);
        ok = O::insert(chain, reinterpret_cast<typename O::Entry*>(entry.data()), 0, h_);
        break;
      case Op::kDelete: ok = O::delete_num(chain, static_cast<unsigned>(op.index), h_); break;
      case Op::kFlush: ok = O::flush(chain, h_); break;
      case Op::kDeleteChain: ok = O::delete_chain(chain, h_); break;
    }
    if (!ok) {
      std::string what = op.kind == Op::kNewChain ? "create chain " : op.kind == Op::kDeleteChain ? "delete chain " : "";
      throw Error(kInternal, "iptables-legacy " + name_ + " " + what + op.chain +
                                 (op.rule.empty() ? "" : " [" + op.rule + "]") + ": " + O::strerror(errno));
    }
  }

  void Commit() {
    if (!O::commit(h_)) throw Error(kInternal, "iptables-legacy commit " + name_ + ": " + O::strerror(errno));
  }

 private:
  std::string Decode(const typename O::Entry* e) {
    Rule r;
    O::ReadHeader(e, r);
    const auto* base = reinterpret_cast<const uint8_t*>(e);
    for (size_t off = sizeof(typename O::Entry); off < e->target_offset;) {
      const auto* m = reinterpret_cast<const xt_entry_match*>(base + off);
      if (m->u.match_size == 0) break;
      r.matches.push_back(DecodeMatch(m));
      off += m->u.match_size;
    }
    const char* target = O::get_target(e, h_);
    r.target = target ? target : "";
    const auto* t = reinterpret_cast<const xt_entry_target*>(base + e->target_offset);
    if (r.target == "DNAT" || r.target == "SNAT") {
      nf_nat_range2 range{};
      size_t have = t->u.target_size - sizeof(xt_entry_target);
      if (t->u.user.revision == 2 || t->u.user.revision == 1) {
        std::memcpy(&range, t->data, std::min(have, sizeof range));
      } else if (O::kFamily == Family::kIPv4 && have >= sizeof(nf_nat_ipv4_multi_range_compat)) {
        const auto* c = reinterpret_cast<const nf_nat_ipv4_multi_range_compat*>(t->data);
        range.flags = c->range[0].flags;
        range.min_addr.ip = c->range[0].min_ip;
        range.max_addr.ip = c->range[0].max_ip;
        range.min_proto = c->range[0].min;
        range.max_proto = c->range[0].max;
      }
      r.target_options.push_back({r.target == "DNAT" ? "--to-destination" : "--to-source", NatText(O::kFamily, range), false});
    } else if (r.target == "MARK" && t->u.user.revision == 2) {
      const auto* m = reinterpret_cast<const xt_mark_tginfo2*>(t->data);
      r.target_options.push_back({"--set-xmark", Hex(m->mark) + "/" + Hex(m->mask), false});
    } else if (r.target != "MASQUERADE" && t->u.user.name[0] != '\0' &&
               std::strcmp(t->u.user.name, "ERROR") != 0 && r.target == t->u.user.name &&
               t->u.target_size > XT_ALIGN(sizeof(xt_standard_target))) {
      r.target_options.push_back({"--opaque", "", false});  // an extension target we don't decode
    }
    return r.Canonical();
  }

  std::vector<uint8_t> Encode(const Rule& r) {
    std::vector<Blob> matches;
    for (const Rule::Match& m : r.matches) matches.push_back(EncodeMatch(m));
    Blob target = EncodeTarget(O::kFamily, r);
    size_t size = sizeof(typename O::Entry);
    for (const Blob& b : matches) size += b.bytes.size();
    std::vector<uint8_t> out(size + target.bytes.size(), 0);
    auto* e = reinterpret_cast<typename O::Entry*>(out.data());
    O::FillHeader(e, r);
    size_t off = sizeof(typename O::Entry);
    for (const Blob& b : matches) {
      std::memcpy(out.data() + off, b.bytes.data(), b.bytes.size());
      off += b.bytes.size();
    }
    std::memcpy(out.data() + off, target.bytes.data(), target.bytes.size());
    e->target_offset = static_cast<uint16_t>(size);
    e->next_offset = static_cast<uint16_t>(out.size());
    return out;
  }

  std::string name_;
  xtc_handle* h_;
};

class IptcBackend : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::kIptablesLegacy; }

  void Ensure(Family family, std::span<const Chain> chains) override {
    Transaction(family, chains, [&](std::map<std::string, TableState>& st) { return PlanEnsure(family, chains, st); });
  }

  void Remove(Family family, std::span<const Chain> chains) override {
    Transaction(family, chains, [&](std::map<std::string, TableState>& st) { return PlanRemove(family, chains, st); });
  }

  std::optional<std::string> Check(Family family, std::span<const Chain> chains) override {
    UniqueFd lock = Lock();
    std::map<std::string, TableState> states;
    for (const std::string& t : TablesOf(chains)) states[t] = ReadTable(family, t);
    return CheckState(family, chains, states);
  }

  bool ChainExists(Family family, std::string_view table, std::string_view chain) override {
    UniqueFd lock = Lock();
    return ReadTable(family, std::string(table)).Has(chain);
  }

  std::map<std::string, std::vector<std::string>> List(Family family, std::string_view table) override {
    UniqueFd lock = Lock();
    TableState st = ReadTable(family, std::string(table));
    std::map<std::string, std::vector<std::string>> out;
    for (auto& [name, rules] : st.chains) out[name] = rules;
    return out;
  }

  bool Usable(Family family) override {
    try {
      UniqueFd lock = Lock();
      ReadTable(family, "nat");
      return true;
    } catch (const Error&) {
      return false;
    }
  }

 private:
  static UniqueFd Lock() {
    UniqueFd fd(open(kXtablesLock, O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) throw Error::Errno(errno, std::string("open ") + kXtablesLock);
    if (!FlockWithTimeout(fd.get(), std::chrono::milliseconds(kLockTimeoutMs)))
      throw Error(kTryAgainLater, std::string("timed out waiting for lock ") + kXtablesLock);
    return fd;
  }

  static TableState ReadTable(Family family, const std::string& table) {
    if (family == Family::kIPv4) return Table<Ops4>(table).State();
    return Table<Ops6>(table).State();
  }

  template <typename Plan>
  void Transaction(Family family, std::span<const Chain> chains, Plan plan) {
    if (family == Family::kIPv4) Run<Ops4>(chains, plan);
    else Run<Ops6>(chains, plan);
  }

  template <typename O, typename Plan>
  void Run(std::span<const Chain> chains, Plan plan) {
    UniqueFd lock = Lock();
    std::map<std::string, std::unique_ptr<Table<O>>> tables;
    std::map<std::string, TableState> states;
    for (const std::string& t : TablesOf(chains)) {
      tables[t] = std::make_unique<Table<O>>(t);
      states[t] = tables[t]->State();
    }
    std::vector<Op> ops = plan(states);
    if (ops.empty()) return;  // nothing to change: no commit, no RCU grace period
    for (const Op& op : ops) tables[op.table]->Run(op);
    for (auto& [name, table] : tables) table->Commit();
  }
};

}  // namespace

std::unique_ptr<Backend> MakeIptcBackend() { return std::make_unique<IptcBackend>(); }

}  // namespace cni::fw
