// portmap's rules as data. See rules.h; every string here is the reference's.
#include "rules.h"

#include <cstdio>
#include <map>

#include "cni/fw/names.h"

namespace portmap {

namespace {

using cni::fw::Args;
using cni::fw::Chain;

bool IsV6(const cni::IPNet& n) { return n.ip.is6(); }

std::string Hex(uint32_t v) {
  char b[16];
  snprintf(b, sizeof b, "%#x", v);
  return b;
}

// "dnat name: \"n\" id: \"c\"", cut to iptables' 256-byte comment limit as the reference does.
std::string DnatComment(const Config& c) {
  std::string s = "dnat name: \"" + c.name + "\" id: \"" + c.container_id + "\"";
  if (s.size() > 255) s = s.substr(0, 253) + "...";
  return s;
}

// A mapping applies to a family unless its hostIP is of the other one.
struct HostDst {
  bool skip = false;
  std::string dst;  // "" for no -d / daddr match
};

HostDst ForFamily(const PortMapping& m, bool v6) {
  HostDst h;
  if (m.host_ip.empty()) return h;
  std::optional<cni::IP> ip = cni::IP::Parse(m.host_ip);
  bool host_v6 = !ip || ip->is6();  // Go: To4() == nil
  if (host_v6 != v6) {
    h.skip = true;
    return h;
  }
  if (!ip || !ip->IsUnspecified()) h.dst = m.host_ip;
  return h;
}

std::string IpPort(const cni::IP& ip, int port) {
  return ip.is6() ? "[" + ip.String() + "]:" + std::to_string(port)
                  : ip.String() + ":" + std::to_string(port);
}

}  // namespace

std::string DnatChainName(const std::string& name, const std::string& container_id) {
  return cni::fw::FormatChainName(name, container_id, "DN-");
}

Chain DnatChain(const Config& c, const cni::IPNet& cont) {
  bool v6 = IsV6(cont);
  Chain ch;
  ch.table = "nat";
  ch.name = DnatChainName(c.name, c.container_id);
  ch.entry_chains = {kTopLevelDnatChain};
  std::string set_mark = c.external_set_mark_chain.value_or(kSetMarkChain);

  // Entry rules: host ports grouped by protocol string (sorted), 15 per multiport rule.
  std::map<std::string, std::vector<int>> by_proto;
  for (const PortMapping& m : c.mappings) by_proto[m.protocol].push_back(m.host_port);
  const std::optional<std::vector<std::string>>& cond = v6 ? c.conditions_v6 : c.conditions_v4;
  for (const auto& [proto, ports] : by_proto) {
    for (size_t i = 0; i < ports.size(); i += 15) {
      std::string list;
      for (size_t j = i; j < std::min(ports.size(), i + 15); ++j)
        list += (j > i ? "," : "") + std::to_string(ports[j]);
      Args r{"-m", "comment", "--comment", DnatComment(c), "-m", "multiport", "-p", proto,
             "--destination-ports", list};
      if (cond) r.insert(r.end(), cond->begin(), cond->end());
      ch.entry_rules.push_back(std::move(r));
    }
  }

  for (const PortMapping& m : c.mappings) {
    HostDst h = ForFamily(m, v6);
    if (h.skip) continue;
    Args base{"-p", m.protocol, "--dport", std::to_string(m.host_port)};
    if (!h.dst.empty()) base.insert(base.end(), {"-d", h.dst});
    if (c.snat) {
      Args hairpin = base;
      hairpin.insert(hairpin.end(), {"-s", c.masq_all ? (v6 ? "::/0" : "0.0.0.0/0") : cont.String(),
                                     "-j", set_mark});
      ch.rules.push_back(std::move(hairpin));
      if (!v6 && !c.masq_all) {
        Args local = base;
        local.insert(local.end(), {"-s", "127.0.0.1", "-j", set_mark});
        ch.rules.push_back(std::move(local));
      }
    }
    Args dnat = base;
    dnat.insert(dnat.end(), {"-j", "DNAT", "--to-destination", IpPort(cont.ip, m.container_port)});
    ch.rules.push_back(std::move(dnat));
  }
  return ch;
}

std::vector<Chain> SetupChains(const Config& c, const cni::IPNet& cont) {
  std::vector<Chain> out;
  if (c.snat && !c.external_set_mark_chain) {
    uint32_t mark = 1U << c.mark_masq_bit;
    std::string mm = Hex(mark) + "/" + Hex(mark);
    Chain setmark;
    setmark.name = kSetMarkChain;
    setmark.rules = {{"-m", "comment", "--comment", "CNI portfwd masquerade mark", "-j", "MARK",
                      "--set-xmark", mm}};
    setmark.teardown = cni::fw::TeardownPolicy::kNever;
    out.push_back(std::move(setmark));
    Chain masq;
    masq.name = kMasqChain;
    masq.entry_chains = {"POSTROUTING"};
    masq.entry_rules = {{"-m", "comment", "--comment", "CNI portfwd requiring masquerade"}};
    masq.rules = {{"-m", "mark", "--mark", mm, "-j", "MASQUERADE"}};
    masq.prepend_entry = true;
    masq.teardown = cni::fw::TeardownPolicy::kNever;
    out.push_back(std::move(masq));
  }
  Chain top;
  top.name = kTopLevelDnatChain;
  top.entry_chains = {"PREROUTING", "OUTPUT"};
  top.entry_rules = {{"-m", "addrtype", "--dst-type", "LOCAL"}};
  top.teardown = cni::fw::TeardownPolicy::kNever;
  out.push_back(std::move(top));
  out.push_back(DnatChain(c, cont));
  return out;
}

std::vector<Chain> TeardownChains(const std::string& name, const std::string& container_id) {
  Chain dn;
  dn.name = DnatChainName(name, container_id);
  dn.entry_chains = {kTopLevelDnatChain};
  Chain sn;
  sn.name = cni::fw::FormatChainName(name, container_id, "SN-");
  sn.entry_chains = {kOldTopLevelSnatChain};
  return {dn, sn};
}

std::string NftFamily(const cni::IPNet& cont) { return IsV6(cont) ? "ip6" : "ip"; }

std::vector<std::string> NftSkeleton(const Config& c, const cni::IPNet& cont) {
  std::string t = NftFamily(cont) + " " + kNftTable;
  const std::optional<std::vector<std::string>>& cond = IsV6(cont) ? c.conditions_v6 : c.conditions_v4;
  std::string pre;
  if (cond) {
    for (const std::string& w : *cond) pre += w + " ";
  }
  std::vector<std::string> out = {
      "add table " + t + " { comment \"CNI portmap plugin\" ; }",
      "add chain " + t + " hostports",
      "add chain " + t + " hostip_hostports",
      "add chain " + t + " hostports_all",
      "flush chain " + t + " hostports_all",
      "add rule " + t + " hostports_all jump hostip_hostports",
      "add rule " + t + " hostports_all jump hostports",
      "add chain " + t + " prerouting { type nat hook prerouting priority -100 ; }",
      "flush chain " + t + " prerouting",
      "add rule " + t + " prerouting " + pre + "fib daddr type local jump hostports_all",
      "add chain " + t + " output { type nat hook output priority -100 ; }",
      "flush chain " + t + " output",
      "add rule " + t + " output " + pre + "fib daddr type local jump hostports_all",
  };
  if (c.snat) out.push_back("add chain " + t + " masquerading { type nat hook postrouting priority 100 ; }");
  return out;
}

std::vector<std::string> NftContainerRules(const Config& c, const cni::IPNet& cont) {
  bool v6 = IsV6(cont);
  std::string fam = NftFamily(cont);
  std::string t = fam + " " + kNftTable;
  std::string comment = cni::fw::NftComment(c.container_id);
  std::vector<std::string> out;
  for (const PortMapping& m : c.mappings) {
    HostDst h = ForFamily(m, v6);
    if (h.skip) continue;
    std::string proto = m.protocol;
    for (char& ch : proto) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    std::string r = "add rule " + t + " hostports ";
    if (!h.dst.empty()) r += fam + " daddr " + h.dst + " ";
    r += proto + " dport " + std::to_string(m.host_port) + " dnat to " +
         IpPort(cont.ip, m.container_port) + " comment " + comment;
    out.push_back(std::move(r));
  }
  if (c.snat) {
    std::string ip = cont.ip.String();
    std::string any = v6 ? "::/0" : "0.0.0.0/0";
    out.push_back("add rule " + t + " masquerading " + fam + " saddr " + (c.masq_all ? any : ip) +
                  " " + fam + " daddr " + ip + " masquerade comment " + comment);
    if (!v6 && !c.masq_all)
      out.push_back("add rule " + t + " masquerading ip saddr 127.0.0.1 ip daddr " + ip +
                    " masquerade comment " + comment);
  }
  return out;
}

size_t NftExpectedHostports(const Config& c, const cni::IPNet& cont) {
  size_t n = 0;
  for (const PortMapping& m : c.mappings) n += ForFamily(m, IsV6(cont)).skip ? 0 : 1;
  return n;
}

size_t NftExpectedMasq(const Config& c, const cni::IPNet& cont) {
  if (!c.snat) return 0;
  return (!IsV6(cont) && !c.masq_all) ? 2 : 1;
}

}  // namespace portmap
