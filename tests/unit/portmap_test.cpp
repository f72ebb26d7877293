// portmap, pure: config parsing and validation with the reference's messages (cni-plugins.md
// §4.1, §5.4 portmap_test.go), the container address choice, backend choice, and the generated
// iptables chains and nftables batch compared with the reference's test expectations.
#include <catch2/catch.hpp>

#include "cni/error.h"
#include "cni/fw/fw.h"
#include "cni/json.h"
#include "config.h"
#include "rules.h"
#include "support.h"

namespace {

using weft::test::ErrorOf;

// The interface and container ID of the reference's portmap_test.go.
cni::CallArgs Args(const std::string& json) {
  return weft::test::Args(json, "container", "icee6giejonei6so");
}

const char* kPrev = R"("prevResult": {"cniVersion": "1.0.0",
  "interfaces": [{"name": "host"}, {"name": "container", "sandbox": "netns"}],
  "ips": [{"address": "10.0.0.1/24", "gateway": "10.0.0.1", "interface": 0},
          {"address": "2001:db8:1::2/64", "gateway": "2001:db8:1::1", "interface": 1},
          {"address": "10.0.0.2/24", "gateway": "10.0.0.1", "interface": 1}]})";

std::string Conf(const std::string& extra) {
  return std::string(R"({"name": "test", "type": "portmap", "cniVersion": "1.0.0", )") + extra + "}";
}

}  // namespace

TEST_CASE("portmap: parses an ADD config and picks the sandbox addresses", "[portmap][unit]") {
  portmap::Config c = portmap::ParseConfig(Args(Conf(std::string(R"("snat": false, "conditionsV4": ["a", "b"], "conditionsV6": ["c", "d"],
    "runtimeConfig": {"portMappings": [{"HostPort": 8080, "ContainerPort": 80, "Protocol": "tcp"}]}, )") + kPrev)));
  REQUIRE(c.cont_v4);
  CHECK(c.cont_v4->String() == "10.0.0.2/24");  // 10.0.0.1 sits on a host interface: skipped
  REQUIRE(c.cont_v6);
  CHECK(c.cont_v6->String() == "2001:db8:1::2/64");
  CHECK_FALSE(c.snat);
  CHECK(*c.conditions_v4 == std::vector<std::string>{"a", "b"});
  REQUIRE(c.mappings.size() == 1);  // capitalised keys (containerd) match
  CHECK(c.mappings[0].host_port == 8080);
  CHECK(c.mappings[0].container_port == 80);
  CHECK(c.mark_masq_bit == 13);
}

TEST_CASE("portmap: a DEL config needs neither runtimeConfig nor prevResult", "[portmap][unit]") {
  portmap::Config c = portmap::ParseConfig(Args(Conf(R"("snat": true)")));
  CHECK(c.mappings.empty());
  CHECK_FALSE(c.prev_result);
  CHECK_FALSE(c.cont_v4);
}

TEST_CASE("portmap: validation messages", "[portmap][unit]") {
  CHECK(ErrorOf([] { portmap::ParseConfig(Args(Conf(R"("runtimeConfig": {"portMappings": [{"hostPort": 0, "containerPort": 80, "protocol": "tcp"}]})"))); }) ==
        "Invalid host port number: 0");
  CHECK(ErrorOf([] { portmap::ParseConfig(Args(Conf(R"("runtimeConfig": {"portMappings": [{"hostPort": 1, "containerPort": -1, "protocol": "tcp"}]})"))); }) ==
        "Invalid container port number: -1");
  CHECK(ErrorOf([] { portmap::ParseConfig(Args(Conf(R"("markMasqBit": 32)"))); }) == "MasqMarkBit must be between 0 and 31");
  CHECK(ErrorOf([] { portmap::ParseConfig(Args(Conf(R"("markMasqBit": 1, "externalSetMarkChain": "X")"))); }) ==
        "Cannot specify externalSetMarkChain and markMasqBit");
  CHECK(ErrorOf([] { portmap::ParseConfig(Args(Conf(R"("snat": "yes")"))).snat; }).starts_with(
      "failed to parse network configuration: json: cannot unmarshal string"));
}

TEST_CASE("portmap: backend choice and option consistency", "[portmap][unit]") {
  auto backend = [](const std::string& extra) { return portmap::ChooseBackend(portmap::ParseConfig(Args(Conf(extra)))); };
  CHECK(backend(R"("backend": "nftables")") == portmap::Backend::kNftables);
  CHECK(backend(R"("backend": "iptables")") == portmap::Backend::kIptables);
  CHECK(backend(R"("backend": "nftables", "conditionsV4": ["aaa", "bbbb"], "conditionsV6": ["ccc"])") ==
        portmap::Backend::kNftables);
  CHECK(backend(R"("conditionsV4": ["!", "-s", "1.2.3.4"])") == portmap::Backend::kIptables);
  CHECK(ErrorOf([&] { backend(R"("backend": "iptables", "conditionsV4": ["aaa", "bbbb"], "conditionsV6": ["ccc"])"); }) ==
        "iptables backend was requested but configuration contains nftables-specific options [conditionsV4 conditionsV6]");
  CHECK(ErrorOf([&] { backend(R"("backend": "nftables", "externalSetMarkChain": "KUBE-MARK-MASQ", "conditionsV4": ["-a", "b"], "conditionsV6": ["-c", "d"])"); }) ==
        "nftables backend was requested but configuration contains iptables-specific options [externalSetMarkChain conditionsV4 conditionsV6]");
  CHECK(ErrorOf([&] { backend(R"("backend": "bpf")"); }) == "unrecognized backend \"bpf\"");
}

TEST_CASE("portmap: chain names match the reference's vectors", "[portmap][unit]") {
  // The hash input is name + containerID, the same as ipMasq's chain ([seen] rsnet/ctrA).
  CHECK(portmap::DnatChainName("rsnet", "ctrA") == "CNI-DN-2b4e9115543feb1195448");
  CHECK(portmap::DnatChainName("test", "1234").substr(0, 7) == "CNI-DN-");
  CHECK(portmap::DnatChainName("test", "1234").size() == 28);
}

TEST_CASE("portmap: iptables rules as the reference generates them", "[portmap][unit]") {
  portmap::Config c = portmap::ParseConfig(Args(Conf(std::string(R"("snat": true,
    "conditionsV4": ["-a", "b"], "conditionsV6": ["-c", "d"],
    "runtimeConfig": {"portMappings": [
      {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
      {"hostPort": 8081, "containerPort": 80, "protocol": "tcp"},
      {"hostPort": 8080, "containerPort": 81, "protocol": "udp"},
      {"hostPort": 8082, "containerPort": 82, "protocol": "udp"},
      {"hostPort": 8083, "containerPort": 83, "protocol": "tcp", "hostIP": "192.168.0.2"},
      {"hostPort": 8084, "containerPort": 84, "protocol": "tcp", "hostIP": "0.0.0.0"},
      {"hostPort": 8085, "containerPort": 85, "protocol": "tcp", "hostIP": "2001:db8:a::1"},
      {"hostPort": 8086, "containerPort": 86, "protocol": "tcp", "hostIP": "::"}]}, )") + kPrev)));
  cni::fw::Chain ch = portmap::DnatChain(c, *c.cont_v4);
  const std::string comment = "dnat name: \"test\" id: \"icee6giejonei6so\"";
  REQUIRE(ch.entry_rules.size() == 2);
  CHECK(ch.entry_rules[0] == cni::fw::Args{"-m", "comment", "--comment", comment, "-m", "multiport", "-p", "tcp",
                                           "--destination-ports", "8080,8081,8083,8084,8085,8086", "-a", "b"});
  CHECK(ch.entry_rules[1] == cni::fw::Args{"-m", "comment", "--comment", comment, "-m", "multiport", "-p", "udp",
                                           "--destination-ports", "8080,8082", "-a", "b"});
  CHECK(ch.entry_chains == std::vector<std::string>{"CNI-HOSTPORT-DNAT"});
  // 3 rules per v4 mapping, 6 applicable mappings.
  REQUIRE(ch.rules.size() == 18);
  CHECK(ch.rules[0] == cni::fw::Args{"-p", "tcp", "--dport", "8080", "-s", "10.0.0.2/24", "-j", "CNI-HOSTPORT-SETMARK"});
  CHECK(ch.rules[1] == cni::fw::Args{"-p", "tcp", "--dport", "8080", "-s", "127.0.0.1", "-j", "CNI-HOSTPORT-SETMARK"});
  CHECK(ch.rules[2] == cni::fw::Args{"-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "10.0.0.2:80"});
  CHECK(ch.rules[12] == cni::fw::Args{"-p", "tcp", "--dport", "8083", "-d", "192.168.0.2", "-s", "10.0.0.2/24", "-j", "CNI-HOSTPORT-SETMARK"});
  CHECK(ch.rules[17] == cni::fw::Args{"-p", "tcp", "--dport", "8084", "-j", "DNAT", "--to-destination", "10.0.0.2:84"});

  cni::fw::Chain ch6 = portmap::DnatChain(c, *c.cont_v6);
  REQUIRE(ch6.rules.size() == 12);  // 2 per mapping (no 127.0.0.1), 6 v6-applicable mappings
  CHECK(ch6.rules[1] == cni::fw::Args{"-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "[2001:db8:1::2]:80"});
  CHECK(ch6.entry_rules[0].back() == "d");

  c.snat = false;
  CHECK(portmap::DnatChain(c, *c.cont_v4).rules.size() == 6);
  c.snat = true;
  c.external_set_mark_chain = "PLZ-SET-MARK";
  CHECK(portmap::DnatChain(c, *c.cont_v4).rules[0].back() == "PLZ-SET-MARK");
  CHECK(portmap::SetupChains(c, *c.cont_v4).size() == 2);  // no SETMARK/MASQ chains then
  c.external_set_mark_chain.reset();
  c.mark_masq_bit = 5;
  auto chains = portmap::SetupChains(c, *c.cont_v4);
  REQUIRE(chains.size() == 4);
  CHECK(chains[0].rules[0] == cni::fw::Args{"-m", "comment", "--comment", "CNI portfwd masquerade mark", "-j", "MARK",
                                            "--set-xmark", "0x20/0x20"});
  CHECK(chains[1].rules[0] == cni::fw::Args{"-m", "mark", "--mark", "0x20/0x20", "-j", "MASQUERADE"});
  CHECK(chains[1].prepend_entry);
  CHECK(chains[2].entry_chains == std::vector<std::string>{"PREROUTING", "OUTPUT"});
  CHECK(chains[2].entry_rules == std::vector<cni::fw::Args>{{"-m", "addrtype", "--dst-type", "LOCAL"}});
}

TEST_CASE("portmap: more than 15 ports are split into multiport chunks", "[portmap][unit]") {
  std::string maps;
  for (int i = 0; i < 17; ++i) maps += (i ? "," : "") + std::string(R"({"hostPort": )") + std::to_string(9000 + i) + R"(, "containerPort": 80, "protocol": "tcp"})";
  portmap::Config c = portmap::ParseConfig(Args(Conf(R"("runtimeConfig": {"portMappings": [)" + maps + "]}, " + kPrev)));
  cni::fw::Chain ch = portmap::DnatChain(c, *c.cont_v4);
  REQUIRE(ch.entry_rules.size() == 2);
  CHECK(ch.entry_rules[1][9] == "9015,9016");
}

TEST_CASE("portmap: nftables batch in the reference's newest layout", "[portmap][unit]") {
  portmap::Config c = portmap::ParseConfig(Args(Conf(std::string(R"("snat": true, "backend": "nftables",
    "runtimeConfig": {"portMappings": [
      {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
      {"hostPort": 8083, "containerPort": 83, "protocol": "tcp", "hostIP": "192.168.0.2"},
      {"hostPort": 8085, "containerPort": 85, "protocol": "tcp", "hostIP": "2001:db8:a::1"}]}, )") + kPrev)));
  std::vector<std::string> sk = portmap::NftSkeleton(c, *c.cont_v4);
  CHECK(sk == std::vector<std::string>{
                  "add table ip cni_hostport { comment \"CNI portmap plugin\" ; }",
                  "add chain ip cni_hostport hostports",
                  "add chain ip cni_hostport hostip_hostports",
                  "add chain ip cni_hostport hostports_all",
                  "flush chain ip cni_hostport hostports_all",
                  "add rule ip cni_hostport hostports_all jump hostip_hostports",
                  "add rule ip cni_hostport hostports_all jump hostports",
                  "add chain ip cni_hostport prerouting { type nat hook prerouting priority -100 ; }",
                  "flush chain ip cni_hostport prerouting",
                  "add rule ip cni_hostport prerouting fib daddr type local jump hostports_all",
                  "add chain ip cni_hostport output { type nat hook output priority -100 ; }",
                  "flush chain ip cni_hostport output",
                  "add rule ip cni_hostport output fib daddr type local jump hostports_all",
                  "add chain ip cni_hostport masquerading { type nat hook postrouting priority 100 ; }"});
  CHECK(portmap::NftContainerRules(c, *c.cont_v4) == std::vector<std::string>{
            "add rule ip cni_hostport hostports tcp dport 8080 dnat to 10.0.0.2:80 comment \"icee6giejonei6so\"",
            "add rule ip cni_hostport hostports ip daddr 192.168.0.2 tcp dport 8083 dnat to 10.0.0.2:83 comment \"icee6giejonei6so\"",
            "add rule ip cni_hostport masquerading ip saddr 10.0.0.2 ip daddr 10.0.0.2 masquerade comment \"icee6giejonei6so\"",
            "add rule ip cni_hostport masquerading ip saddr 127.0.0.1 ip daddr 10.0.0.2 masquerade comment \"icee6giejonei6so\""});
  auto v6 = portmap::NftContainerRules(c, *c.cont_v6);
  REQUIRE(v6.size() == 3);
  CHECK(v6[0] == "add rule ip6 cni_hostport hostports tcp dport 8080 dnat to [2001:db8:1::2]:80 comment \"icee6giejonei6so\"");
  CHECK(v6[1] == "add rule ip6 cni_hostport hostports ip6 daddr 2001:db8:a::1 tcp dport 8085 dnat to [2001:db8:1::2]:85 comment \"icee6giejonei6so\"");
  CHECK(portmap::NftExpectedHostports(c, *c.cont_v4) == 2);
  CHECK(portmap::NftExpectedMasq(c, *c.cont_v4) == 2);
  c.masq_all = true;
  CHECK(portmap::NftContainerRules(c, *c.cont_v4).back() ==
        "add rule ip cni_hostport masquerading ip saddr 0.0.0.0/0 ip daddr 10.0.0.2 masquerade comment \"icee6giejonei6so\"");
  CHECK(portmap::NftExpectedMasq(c, *c.cont_v4) == 1);
  c.snat = false;
  CHECK(portmap::NftSkeleton(c, *c.cont_v6).size() == 13);  // no masquerading chain
  c.conditions_v4 = std::vector<std::string>{"iifname", "eth0"};
  CHECK(portmap::NftSkeleton(c, *c.cont_v4)[9] == "add rule ip cni_hostport prerouting iifname eth0 fib daddr type local jump hostports_all");
}
