// bandwidth and firewall, pure: config parsing with the reference's messages and Go's decoding
// rules, the ifb name, the tbf arithmetic (values the reference programmed into the kernel, read
// back with `tc`), the firewall chains, and the skel version gate (VersionsStartingFrom).
#include <catch2/catch.hpp>

#include <sstream>

#include "bandwidth.h"
#include "cni/error.h"
#include "cni/json.h"
#include "firewall.h"
#include "support.h"

namespace {

using weft::test::Args;
using weft::test::ErrorOf;

std::string Bw(const std::string& extra) {
  return R"({"cniVersion":"1.0.0","name":"wpbnet","type":"bandwidth")" + extra + "}";
}

}  // namespace

TEST_CASE("bandwidth: the ifb name is the reference's", "[bandwidth]") {
  // Seen from /usr/lib/cni/bandwidth for network wpbnet, container ctr1 / ctrA.
  CHECK(bandwidth::IfbName("wpbnet", "ctr1") == "bwpe87a569dca5e");
  CHECK(bandwidth::IfbName("wpbnet", "ctrA") == "bwp7bf4a41e3246");
  CHECK(bandwidth::IfbName("wpbnet", "ctr1").size() == 15);
}

TEST_CASE("bandwidth: tbf parameters as the reference computes them", "[bandwidth]") {
  // 8 Mbit/s, 80000 bit burst: 1e6 B/s, 10000 B = 10 ms = 156250 ticks at 15.625 ticks/µs;
  // limit = 25 ms of rate + burst.
  cni::net::Tbf t = bandwidth::TbfFor(8000000, 80000);
  CHECK(t.rate == 1000000);
  CHECK(t.limit == 35000);
  CHECK(t.buffer == static_cast<uint32_t>(10000 * cni::net::TcTicksPerUsec()));
  // Above 4 GiB/s the rate keeps all 64 bits (the message adds TCA_TBF_RATE64).
  CHECK(bandwidth::TbfFor(40000000000ULL, 4000000).rate == 5000000000ULL);
  // Rates below 8 bit/s round to 0 B/s: no division by zero, Go's conversion of +Inf gives 0.
  CHECK(bandwidth::TbfFor(7, 8000).buffer == 0);
}

TEST_CASE("bandwidth: limits from the top level or from runtimeConfig", "[bandwidth]") {
  auto c = bandwidth::ParseConfig(Args(Bw(R"(,"ingressRate":1000,"ingressBurst":2000)")));
  REQUIRE(c.bandwidth);
  CHECK(c.bandwidth->ingress_rate == 1000);
  CHECK(c.bandwidth->ingress_burst == 2000);
  c = bandwidth::ParseConfig(Args(Bw(R"(,"runtimeConfig":{"bandwidth":{"egressRate":5,"egressBurst":6}})")));
  REQUIRE(c.bandwidth);
  CHECK(c.bandwidth->egress_rate == 5);
  // Go's embedded *BandwidthEntry exists as soon as one of its keys does, even null, and then
  // runtimeConfig is ignored; keys match case-insensitively.
  c = bandwidth::ParseConfig(Args(Bw(R"(,"INGRESSRATE":null,"runtimeConfig":{"bandwidth":{"egressRate":5,"egressBurst":6}})")));
  REQUIRE(c.bandwidth);
  CHECK(c.bandwidth->IsZero());
  c = bandwidth::ParseConfig(Args(Bw(R"(,"runtimeConfig":{"bandwidth":null})")));
  CHECK(!c.bandwidth);
  // The largest uint64 is a valid number (but its burst check still applies).
  c = bandwidth::ParseConfig(Args(Bw(R"(,"egressRate":18446744073709551615,"egressBurst":8000)")));
  CHECK(c.bandwidth->egress_rate == 18446744073709551615ULL);
  // shapedSubnets/unshapedSubnets (v1.5.x only) are unknown keys here, as in 1.1.1.
  CHECK(ErrorOf([] { bandwidth::ParseConfig(Args(Bw(R"(,"unshapedSubnets":["10.0.0.0/8"])"))); }).empty());
}

TEST_CASE("bandwidth: the reference's validation messages", "[bandwidth]") {
  auto msg = [](const std::string& extra) { return ErrorOf([&] { bandwidth::ParseConfig(Args(Bw(extra))); }); };
  CHECK(msg(R"(,"ingressRate":1000)") == "if rate is set, burst must also be set");
  CHECK(msg(R"(,"egressBurst":1000)") == "if burst is set, rate must also be set");
  CHECK(msg(R"(,"ingressRate":1,"ingressBurst":34359738360)") == "burst cannot be more than 4GB");
  CHECK(msg(R"(,"ingressRate":1,"ingressBurst":34359738359)").empty());
  CHECK(msg(R"(,"ingressRate":"fast")") ==
        "failed to parse network configuration: json: cannot unmarshal string into Go struct field "
        "PluginConf.ingressRate of type uint64");
  CHECK(msg(R"(,"runtimeConfig":{"bandwidth":{"egressRate":-1}})") ==
        "failed to parse network configuration: json: cannot unmarshal number -1 into Go struct field "
        "BandwidthEntry.runtimeConfig.bandwidth.egressRate of type uint64");
  CHECK(msg(R"(,"runtimeConfig":{"bandwidth":[]})").find("PluginConf.runtimeConfig.bandwidth of type main.BandwidthEntry") !=
        std::string::npos);
  CHECK(msg(R"(,"prevResult":{"ips":[{"address":"zz"}]})").starts_with("could not parse prevResult: "));
}

TEST_CASE("bandwidth and firewall accept the reference's spec versions only", "[bandwidth][firewall]") {
  auto run = [](const cni::PluginFuncs& f, const std::string& version) {
    std::istringstream in(R"({"cniVersion":")" + version + R"(","name":"n","type":"x"})");
    std::ostringstream out, err;
    cni::Env env{{"CNI_COMMAND", "ADD"}, {"CNI_CONTAINERID", "c"}, {"CNI_NETNS", "/x"},
                 {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/x"}};
    cni::Dispatch(f, "t", {env, in, out, err});
    return out.str();
  };
  CHECK(run(bandwidth::Funcs(), "0.2.0").find(R"(plugin supports [\"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"])") !=
        std::string::npos);
  CHECK(run(firewall::Funcs(), "0.3.1").find(R"(plugin supports [\"0.4.0\" \"1.0.0\" \"1.1.0\"])") != std::string::npos);
  CHECK(cni::VersionJson("0.4.0") == "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
}

namespace {
std::string Fw(const std::string& extra, const std::string& ips = R"({"interface":2,"address":"10.1.0.2/24"},{"interface":2,"address":"fd01::2/64"})") {
  return R"({"cniVersion":"1.0.0","name":"n","type":"firewall")" + extra +
         R"(,"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"br0"},{"name":"veth"},{"name":"eth0","sandbox":"/x"}],"ips":[)" +
         ips + "]}}";
}
}  // namespace

TEST_CASE("firewall: config and the reference's messages", "[firewall]") {
  auto c = firewall::ParseConfig(Args(Fw("")));
  CHECK(c.admin_chain == "CNI-ADMIN");
  CHECK(c.firewalld_zone == "trusted");
  c = firewall::ParseConfig(Args(Fw(R"(,"IPTABLESADMINCHAINNAME":"MY-ADMIN")")));
  CHECK(c.admin_chain == "MY-ADMIN");
  CHECK(ErrorOf([] { firewall::ParseConfig(Args(Fw(R"(,"backend":5)"))); }) ==
        "failed to load netconf: json: cannot unmarshal number into Go struct field FirewallNetConf.backend of type string");
  // A chain name that would break out of an iptables-restore line is refused before any work.
  CHECK(ErrorOf([] { firewall::ParseConfig(Args(Fw(R"(,"iptablesAdminChainName":"X\n-P FORWARD ACCEPT")"))); })
            .starts_with("iptablesAdminChainName: invalid chain name"));
  CHECK(ErrorOf([] { firewall::ParseConfig(Args(Fw(R"(,"iptablesAdminChainName":"A-NAME-LONGER-THAN-28-CHARSXX")"))); })
            .starts_with("iptablesAdminChainName: invalid chain name"));
  CHECK(ErrorOf([] { firewall::Add(Args(R"({"cniVersion":"1.0.0","name":"n","type":"firewall"})")); }) ==
        "missing prevResult from earlier plugin");
  CHECK(ErrorOf([] { firewall::Add(Args(Fw(R"(,"ingressPolicy":"bogus")"))); }) == "unknown ingress policy: \"bogus\"");
  CHECK(ErrorOf([] { firewall::Add(Args(Fw(R"(,"backend":"firewalld")"))); }).find("firewalld backend is not supported") !=
        std::string::npos);
}

TEST_CASE("firewall: chains per family, as the reference lays them out", "[firewall]") {
  using cni::fw::Family;
  auto c = firewall::ParseConfig(Args(Fw("")));
  auto v4 = firewall::AddChains(c, *c.prev_result, Family::kIPv4, "");
  REQUIRE(v4.size() == 2);
  CHECK(v4[0].name == "CNI-FORWARD");
  CHECK(v4[0].table == "filter");
  CHECK(v4[0].prepend_entry);
  CHECK(v4[0].teardown == cni::fw::TeardownPolicy::kRulesOnly);
  CHECK(cni::fw::Rule::Parse(Family::kIPv4, v4[0].rules[0]).Canonical() ==
        "-d 10.1.0.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
  CHECK(cni::fw::Rule::Parse(Family::kIPv4, v4[0].rules[1]).Canonical() == "-s 10.1.0.2/32 -j ACCEPT");
  CHECK(v4[1].name == "CNI-ADMIN");
  CHECK(v4[1].entry_chains == std::vector<std::string>{"CNI-FORWARD"});
  auto v6 = firewall::AddChains(c, *c.prev_result, Family::kIPv6, "br0");
  REQUIRE(v6.size() == 4);
  CHECK(cni::fw::Rule::Parse(Family::kIPv6, v6[0].rules[1]).Canonical() == "-s fd01::2/128 -j ACCEPT");
  CHECK(v6[2].name == "CNI-ISOLATION-STAGE-1");
  CHECK(v6[3].name == "CNI-ISOLATION-STAGE-2");
  CHECK(cni::fw::Rule::Parse(Family::kIPv6, v6[3].head_rules[0]).Canonical() ==
        "-o br0 -m comment --comment \"CNI firewall plugin rules (ingressPolicy: same-bridge)\" -j DROP");
  // No address of a family: no chains (and no transaction) for it.
  auto only4 = firewall::ParseConfig(Args(Fw("", R"({"interface":2,"address":"10.1.0.2/24"})")));
  CHECK(firewall::AddChains(only4, *only4.prev_result, Family::kIPv6, "").empty());
}

TEST_CASE("fw: names that could break out of a restore script are refused", "[fw]") {
  CHECK_THROWS(cni::fw::CheckChainName("A B"));
  CHECK_THROWS(cni::fw::CheckChainName("-X"));
  CHECK_THROWS(cni::fw::CheckChainName("A\nB"));
  CHECK_NOTHROW(cni::fw::CheckChainName("CNI-ISOLATION-STAGE-1"));
  CHECK_THROWS(cni::fw::Rule::Parse(cni::fw::Family::kIPv4, std::vector<std::string>{"-i", "br0\n-A", "-j", "DROP"}));
  CHECK_THROWS(cni::fw::Rule::Parse(cni::fw::Family::kIPv4, std::vector<std::string>{"-o", "a\"b", "-j", "DROP"}));
  CHECK_NOTHROW(cni::fw::Rule::Parse(cni::fw::Family::kIPv4, std::vector<std::string>{"-i", "veth+", "-j", "DROP"}));
}
