// weftd's firewall rules in flanneld's two layouts (agent/firewall.*): the iptables chains
// against flannel §4.1/§4.2 and the nftables rule bodies, batch and fully-random probe against
// §4.4, for both families. The expected strings are written from the reference, as `nft list`
// and `iptables -S` print flanneld's rules.
#include <catch2/catch.hpp>

#include "agent/firewall.h"
#include "cni/fw/fw.h"

using namespace weft::agent;
using cni::fw::Family;

static cni::IPNet Net(const char* s) { return *cni::IPNet::Parse(s); }

TEST_CASE("agent firewall: nftables masquerade rules, IPv4, fully-random on and off", "[agent][unit]") {
  const std::vector<std::string> random = {
      "meta mark 0x00004000 return",
      "ip saddr 10.244.1.0/24 ip daddr 10.244.0.0/16 return",
      "ip saddr 10.244.0.0/16 ip daddr 10.244.1.0/24 return",
      "ip saddr != 10.244.1.0/24 ip daddr 10.244.0.0/16 return",
      "ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random",
      "ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random",
  };
  CHECK(NftMasqRules(Net("10.244.0.0/16"), Net("10.244.1.0/24"), true) == random);
  const std::vector<std::string> plain = {
      "meta mark 0x00004000 return",
      "ip saddr 10.244.1.0/24 ip daddr 10.244.0.0/16 return",
      "ip saddr 10.244.0.0/16 ip daddr 10.244.1.0/24 return",
      "ip saddr != 10.244.1.0/24 ip daddr 10.244.0.0/16 return",
      "ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade",
      "ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade",
  };
  CHECK(NftMasqRules(Net("10.244.0.0/16"), Net("10.244.1.0/24"), false) == plain);
  CHECK(NftForwardRules(Net("10.244.0.0/16")) ==
        std::vector<std::string>{"ip saddr 10.244.0.0/16 accept", "ip daddr 10.244.0.0/16 accept"});
}

TEST_CASE("agent firewall: nftables masquerade rules, IPv6", "[agent][unit]") {
  const std::vector<std::string> want = {
      "meta mark 0x00004000 return",
      "ip6 saddr fd42:0:0:3::/64 ip6 daddr fd42::/56 return",
      "ip6 saddr fd42::/56 ip6 daddr fd42:0:0:3::/64 return",
      "ip6 saddr != fd42:0:0:3::/64 ip6 daddr fd42::/56 return",
      "ip6 saddr fd42::/56 ip6 daddr != ff00::/8 masquerade fully-random",
      "ip6 saddr != fd42::/56 ip6 daddr fd42::/56 masquerade fully-random",
  };
  CHECK(NftMasqRules(Net("fd42::/56"), Net("fd42:0:0:3::/64"), true) == want);
  CHECK(NftMasqRules(Net("fd42::/56"), Net("fd42:0:0:3::/64"), false).back() ==
        "ip6 saddr != fd42::/56 ip6 daddr fd42::/56 masquerade");
  CHECK(NftForwardRules(Net("fd42::/56")) ==
        std::vector<std::string>{"ip6 saddr fd42::/56 accept", "ip6 daddr fd42::/56 accept"});
}

TEST_CASE("agent firewall: nftables batch and fully-random probe", "[agent][unit]") {
  CHECK(NftTable(Family::kIPv4) == "ip flannel-ipv4");
  CHECK(NftTable(Family::kIPv6) == "ip6 flannel-ipv6");
  const std::string b = NftBatch(Family::kIPv4, {"meta mark 0x00004000 return"}, {"ip saddr 10.1.0.0/16 accept"});
  CHECK(b ==
        "add table ip flannel-ipv4\n"
        "delete table ip flannel-ipv4\n"
        "add table ip flannel-ipv4 { comment \"rules for flannel-ipv4\" ; }\n"
        "add chain ip flannel-ipv4 postrtg { type nat hook postrouting priority srcnat ; "
        "comment \"chain to manage traffic masquerading by flannel\" ; }\n"
        "add rule ip flannel-ipv4 postrtg meta mark 0x00004000 return\n"
        "add chain ip flannel-ipv4 forward { type filter hook forward priority filter ; "
        "comment \"chain to accept flannel traffic\" ; }\n"
        "add rule ip flannel-ipv4 forward ip saddr 10.1.0.0/16 accept\n");
  // --ip-masq off: no postrtg chain at all; forward rules off: no forward chain.
  const std::string f = NftBatch(Family::kIPv6, {}, {"ip6 daddr fd42::/56 accept"});
  CHECK(f.find("postrtg") == std::string::npos);
  CHECK(f.find("add table ip6 flannel-ipv6 { comment \"rules for flannel-ipv6\" ; }\n") != std::string::npos);
  CHECK(NftBatch(Family::kIPv4, {"meta mark 0x00004000 return"}, {}).find("forward") == std::string::npos);
  const std::string p = NftFullyRandomProbe(Family::kIPv6);
  CHECK(p.find("add chain ip6 flannel-ipv6 masqueradeTest { type nat hook postrouting priority srcnat ;") !=
        std::string::npos);
  CHECK(p.find("add rule ip6 flannel-ipv6 masqueradeTest ip6 saddr != ::1 masquerade fully-random\n") !=
        std::string::npos);
  CHECK(NftFullyRandomProbe(Family::kIPv4).find("masqueradeTest ip saddr != 127.0.0.1 masquerade fully-random") !=
        std::string::npos);
}

TEST_CASE("agent firewall: iptables chains", "[agent][unit]") {
  cni::fw::Chain m = MasqChain(Net("10.244.0.0/16"), Net("10.244.1.0/24"), false);
  CHECK(m.table == "nat");
  CHECK(m.name == "FLANNEL-POSTRTG");
  REQUIRE(m.rules.size() == 6);
  CHECK(cni::fw::Rule::Parse(Family::kIPv4, m.rules[3]).Canonical() ==
        "! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment \"flanneld masq\" -j RETURN");
  CHECK(cni::fw::Rule::Parse(Family::kIPv4, m.rules[4]).Canonical() ==
        "-s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment \"flanneld masq\" -j MASQUERADE");
  cni::fw::Chain r = MasqChain(Net("fd42::/56"), Net("fd42:0:0:3::/64"), true);
  CHECK(cni::fw::Rule::Parse(Family::kIPv6, r.rules[4]).Canonical() ==
        "-s fd42::/56 ! -d ff00::/8 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully");
  cni::fw::Chain f = ForwardChain(Net("10.244.0.0/16"));
  CHECK(f.table == "filter");
  CHECK(cni::fw::Rule::Parse(Family::kIPv4, f.rules[1]).Canonical() ==
        "-d 10.244.0.0/16 -m comment --comment \"flanneld forward\" -j ACCEPT");
}
