// Firewall layer, pure: argument vectors -> canonical iptables-save text (compared with the
// lines the reference's rules produce, cni-plugins.md §2.6.2 and §4.2 [seen]), chain names and
// the Ensure/Remove/Check planning against a parsed iptables-save dump.
#include <catch2/catch.hpp>

#include "../../libcni/src/fw/plan.h"
#include "cni/digest.h"
#include "cni/error.h"
#include "cni/fw/fw.h"
#include "cni/fw/names.h"

using cni::fw::Args;
using cni::fw::Family;
using cni::fw::Rule;

namespace {
std::string Canon(Family f, const Args& a) { return Rule::Parse(f, a).Canonical(); }
}  // namespace

TEST_CASE("fw: chain names match the reference's vectors", "[fw][unit]") {
  CHECK(cni::fw::FormatChainName("test", "1234") == "CNI-2bbe0c48b91a7d1b8a6753a8");
  CHECK(cni::fw::FormatChainName("testalongnamethatdoesnotmakesense", "1234") ==
        "CNI-374f33fe84ab0ed84dcdebe3");
  CHECK(cni::fw::FormatChainName("test", "1234", "PREFIX-") == "CNI-PREFIX-2bbe0c48b91a7d1b8");
  CHECK(cni::fw::FormatChainName("rsnet", "ctrA") == "CNI-2b4e9115543feb11954486f6");
  CHECK(cni::fw::FormatChainName("rsnet", "ctrA", "DN-") == "CNI-DN-2b4e9115543feb1195448");
  CHECK_THROWS_AS(cni::fw::FormatChainName("a", "b", "123456789012345678901234"), cni::Error);
  CHECK(cni::Sha512Hex("").substr(0, 16) == "cf83e1357eefb8bd");
}

TEST_CASE("fw: Go %q quoting", "[fw][unit]") {
  CHECK(cni::fw::GoQuote("rsnet") == "\"rsnet\"");
  CHECK(cni::fw::GoQuote("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"");
}

TEST_CASE("fw: ipMasq rules render as iptables-save shows them", "[fw][unit]") {
  const std::string c = "name: \"rsnet\" id: \"ctrA\"";
  CHECK(Canon(Family::kIPv4, {"-s", "10.199.0.2", "-j", "CNI-2b4e9115543feb11954486f6", "-m",
                              "comment", "--comment", c}) ==
        "-s 10.199.0.2/32 -m comment --comment \"name: \\\"rsnet\\\" id: \\\"ctrA\\\"\" -j "
        "CNI-2b4e9115543feb11954486f6");
  CHECK(Canon(Family::kIPv4, {"-d", "10.199.0.2/24", "-j", "ACCEPT", "-m", "comment", "--comment", c}) ==
        "-d 10.199.0.0/24 -m comment --comment \"name: \\\"rsnet\\\" id: \\\"ctrA\\\"\" -j ACCEPT");
  CHECK(Canon(Family::kIPv4, {"!", "-d", "224.0.0.0/4", "-j", "MASQUERADE"}) ==
        "! -d 224.0.0.0/4 -j MASQUERADE");
  CHECK(Canon(Family::kIPv6, {"-s", "fd99::2", "-j", "X"}) == "-s fd99::2/128 -j X");
  CHECK(Canon(Family::kIPv4, {"-p", "tcp", "--dport", "80", "-s", "0.0.0.0/0", "-j", "X"}) ==
        "-p tcp -m tcp --dport 80 -j X");
  CHECK(Canon(Family::kIPv6, {"-s", "::/0", "-j", "X"}) == "-j X");
  CHECK(Canon(Family::kIPv6, {"-d", "fd99::2/64", "-j", "ACCEPT"}) == "-d fd99::/64 -j ACCEPT");
}

TEST_CASE("fw: portmap rules render as iptables-save shows them", "[fw][unit]") {
  CHECK(Canon(Family::kIPv4, {"-p", "tcp", "--dport", "9090", "-d", "192.168.55.1", "-s",
                              "10.199.0.2/24", "-j", "CNI-HOSTPORT-SETMARK"}) ==
        "-s 10.199.0.0/24 -d 192.168.55.1/32 -p tcp -m tcp --dport 9090 -j CNI-HOSTPORT-SETMARK");
  CHECK(Canon(Family::kIPv4, {"-p", "udp", "--dport", "8081", "-j", "DNAT", "--to-destination",
                              "10.199.0.2:81"}) ==
        "-p udp -m udp --dport 8081 -j DNAT --to-destination 10.199.0.2:81");
  CHECK(Canon(Family::kIPv4, {"-m", "comment", "--comment", "dnat name: \"rsnet\" id: \"ctrA\"", "-m",
                              "multiport", "-p", "tcp", "--destination-ports", "8080,9090,9091",
                              "-j", "CNI-DN-2b4e9115543feb1195448"}) ==
        "-p tcp -m comment --comment \"dnat name: \\\"rsnet\\\" id: \\\"ctrA\\\"\" -m multiport "
        "--dports 8080,9090,9091 -j CNI-DN-2b4e9115543feb1195448");
  CHECK(Canon(Family::kIPv4, {"-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"}) ==
        "-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT");
  CHECK(Canon(Family::kIPv4, {"-m", "mark", "--mark", "0x2000/0x2000", "-j", "MASQUERADE"}) ==
        "-m mark --mark 0x2000/0x2000 -j MASQUERADE");
  CHECK(Canon(Family::kIPv4, {"-m", "comment", "--comment", "CNI portfwd masquerade mark", "-j",
                              "MARK", "--set-xmark", "8192/8192"}) ==
        "-m comment --comment \"CNI portfwd masquerade mark\" -j MARK --set-xmark 0x2000/0x2000");
  CHECK(Canon(Family::kIPv6, {"-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination",
                              "[fd99::2]:80"}) ==
        "-p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd99::2]:80");
  CHECK(Canon(Family::kIPv4, {"-m", "comment", "--comment", "plain_word-1", "-j", "RETURN"}) ==
        "-m comment --comment plain_word-1 -j RETURN");
}

TEST_CASE("fw: unknown options and bad addresses are errors", "[fw][unit]") {
  CHECK_THROWS_AS(Rule::Parse(Family::kIPv4, Args{"--bogus", "1"}), cni::Error);
  CHECK_THROWS_AS(Rule::Parse(Family::kIPv4, Args{"-s", "fd00::1"}), cni::Error);
  CHECK_THROWS_AS(Rule::Parse(Family::kIPv4, Args{"-s", "10.0.0.1/33"}), cni::Error);
  CHECK_THROWS_AS(Rule::Parse(Family::kIPv4, Args{"-j"}), cni::Error);
}

TEST_CASE("fw: rules outside the closed set the writers encode are refused at parse time", "[fw][unit]") {
  auto refused = [](Args a) {
    INFO(a.size());
    CHECK_THROWS_AS(Rule::Parse(Family::kIPv4, a), cni::Error);
  };
  // target options weft never emits (iptables-save would print them differently, or the
  // writers don't encode them)
  refused({"-j", "MARK", "--and-mark", "0x1"});
  refused({"-j", "MARK", "--or-mark", "0x1"});
  refused({"-j", "MASQUERADE", "--to-ports", "1000"});
  refused({"-j", "MASQUERADE", "--random"});
  refused({"-p", "tcp", "-j", "DNAT", "--to-destination", "10.0.0.1", "--random"});
  refused({"-j", "SNAT", "--to-source", "10.0.0.1", "--persistent"});
  // values the encoders can't take
  refused({"-p", "tcp", "--dport", "http"});
  refused({"-p", "tcp", "--dport", "70000"});
  refused({"-p", "tcp", "-m", "multiport", "--dports", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"});
  refused({"-m", "addrtype", "--dst-type", "LOCALE"});
  refused({"-m", "conntrack", "--ctstate", "FRESH"});
  refused({"-m", "mark", "--mark", "0x1/zz"});
  refused({"-m", "comment", "--comment", std::string(256, 'x')});
  refused({"-p", "nosuchproto"});
  refused({"-p", "47"});      // iptables-save prints "-p gre"
  refused({"-p", "icmpv6"});  // ... "-p ipv6-icmp", and only in ip6tables
  refused({"-m", "owner"});
  // shapes iptables would write differently from their canonical text
  refused({"-p", "all"});
  refused({"-i", "+"});
  refused({"!", "-s", "0.0.0.0/0"});
  refused({"-m", "tcp", "--dport", "80"});                       // no -p tcp
  refused({"-p", "udp", "-m", "tcp", "--dport", "80"});          // another protocol
  refused({"-p", "tcp", "-m", "tcp"});                           // no port
  refused({"-p", "icmp", "-m", "multiport", "--dports", "80"});  // multiport needs ports
  // what weft's plugins and weftd emit is accepted
  CHECK(Rule::Parse(Family::kIPv4, Args{"-s", "10.0.0.0/8", "!", "-d", "224.0.0.0/4", "-m", "comment", "--comment",
                                        "flanneld masq", "-j", "MASQUERADE", "--random-fully"})
            .Canonical() == "-s 10.0.0.0/8 ! -d 224.0.0.0/4 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully");
  CHECK(Rule::Parse(Family::kIPv6, Args{"-p", "sctp", "--dport", "53", "-j", "DNAT", "--to-destination", "[fd00::2]:53"})
            .Canonical() == "-p sctp -m sctp --dport 53 -j DNAT --to-destination [fd00::2]:53");
  CHECK(Rule::Parse(Family::kIPv4, Args{"-j", "MARK", "--set-mark", "0x4"}).Canonical() ==
        "-j MARK --set-xmark 0x4/0xffffffff");
}

TEST_CASE("fw: planning against an iptables-save dump", "[fw][unit]") {
  const std::string save =
      "# Generated by iptables-save\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n*nat\n"
      ":PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:CNI-X - [0:0]\n"
      "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-X\n"
      "-A PREROUTING -s 1.2.3.4/32 -j CNI-X\n-A PREROUTING -j CNI-XY\n"
      "-A CNI-X -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.2:80\nCOMMIT\n";
  std::map<std::string, cni::fw::TableState> st{{"nat", cni::fw::ParseSave(save, "nat")}};
  REQUIRE(st["nat"].Has("CNI-X"));
  REQUIRE_FALSE(st["nat"].Has("INPUT"));
  CHECK(st["nat"].chains["PREROUTING"].size() == 3);

  cni::fw::Chain c;
  c.name = "CNI-X";
  c.entry_chains = {"PREROUTING", "OUTPUT"};
  c.entry_rules = {{"-m", "addrtype", "--dst-type", "LOCAL"}};
  c.rules = {{"-p", "tcp", "--dport", "80", "-j", "DNAT", "--to-destination", "10.0.0.2:80"},
             {"-p", "udp", "--dport", "53", "-j", "DNAT", "--to-destination", "10.0.0.2:53"}};
  auto check_state = st;
  auto missing = cni::fw::CheckState(Family::kIPv4, std::span(&c, 1), check_state);
  REQUIRE(missing);
  CHECK(*missing ==
        "rule [[-p tcp --dport 80 -j DNAT --to-destination 10.0.0.2:80] [-p udp --dport 53 -j DNAT "
        "--to-destination 10.0.0.2:53]] in chain CNI-X not found in table nat");

  auto ops = cni::fw::PlanEnsure(Family::kIPv4, std::span(&c, 1), st);
  REQUIRE(ops.size() == 2);  // the udp rule and the OUTPUT jump; nothing duplicated
  CHECK(ops[0].kind == cni::fw::Op::kAppend);
  CHECK(ops[0].chain == "CNI-X");
  CHECK(ops[1].chain == "OUTPUT");
  CHECK(cni::fw::PlanEnsure(Family::kIPv4, std::span(&c, 1), st).empty());
  CHECK_FALSE(cni::fw::CheckState(Family::kIPv4, std::span(&c, 1), st));

  auto rm = cni::fw::PlanRemove(cni::fw::Family::kIPv4, std::span(&c, 1), st);
  // Both PREROUTING jumps (any match) and the OUTPUT one go, but not the jump to CNI-XY.
  REQUIRE(rm.size() == 5);
  CHECK(rm[0].rule == "-m addrtype --dst-type LOCAL -j CNI-X");
  CHECK(rm[1].rule == "-s 1.2.3.4/32 -j CNI-X");
  CHECK(rm[3].kind == cni::fw::Op::kFlush);
  CHECK(rm[4].kind == cni::fw::Op::kDeleteChain);
  CHECK(st["nat"].chains["PREROUTING"] == std::vector<std::string>{"-j CNI-XY"});
  CHECK(cni::fw::PlanRemove(cni::fw::Family::kIPv4, std::span(&c, 1), st).empty());
}
