// tuning config decoding (no kernel): keys and Go-style type errors, MAC/MTU precedence
// (mac < CNI_ARGS MAC < runtimeConfig < args.cni), args.cni.sysctl merging, the sysctl path rules
// (dots, IFNAME after dots, cleaning, net/ only), the raw-text duplicate scan, the allowlist file,
// and the state-file path. Hostile-input rows for the parser are here too (the kernel-side rows
// are in tests/netns/tuning.sh).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "cni/error.h"
#include "cni/json.h"
#include "tuning.h"

using cni::Json;

namespace {

tuning::Conf P(const char* j, const char* args = "") { return tuning::ParseConf(Json::parse(j), args); }

template <typename Fn>
std::string Err(Fn&& fn) {
  try {
    fn();
  } catch (const cni::Error& e) {
    return std::to_string(e.code()) + " " + e.msg();
  }
  return "no error";
}

std::string ParseErr(const char* j, const char* args = "") { return Err([&] { P(j, args); }); }

}  // namespace

TEST_CASE("tuning config: defaults and keys", "[tuning]") {
  auto c = P(R"({"name":"n","type":"tuning"})");
  CHECK(c.data_dir == "/run/cni/tuning");
  CHECK(c.sysctls.empty());
  CHECK_FALSE(c.ChangesLink());
  c = P(R"({"name":"n","DATADIR":"/tmp/x","sysctl":{"net.core.somaxconn":"500","b":"1"},"mac":"02:00:00:00:00:01",
           "mtu":1400,"promisc":true,"allmulti":false,"txQLen":0})");
  CHECK(c.data_dir == "/tmp/x");
  REQUIRE(c.sysctls.size() == 2);
  CHECK(c.sysctls[0] == std::pair<std::string, std::string>{"net.core.somaxconn", "500"});
  CHECK(c.mac == "02:00:00:00:00:01");
  CHECK(c.mtu == 1400);
  CHECK(c.promisc);
  CHECK(c.allmulti == false);
  CHECK(c.txqlen == 0);  // present: a change to 0
  CHECK(c.ChangesLink());
  CHECK(P(R"({"name":"n","promisc":false})").ChangesLink() == false);
  CHECK(P(R"({"name":"n","allmulti":false})").ChangesLink());
}

TEST_CASE("tuning config: precedence of mac and mtu", "[tuning]") {
  CHECK(P(R"({"name":"n","mac":"02:00:00:00:00:01"})", "IgnoreUnknown=1;MAC=02:00:00:00:00:02").mac == "02:00:00:00:00:02");
  CHECK(P(R"({"name":"n","mac":"02:00:00:00:00:01","runtimeConfig":{"mac":"02:00:00:00:00:03"}})",
          "MAC=02:00:00:00:00:02").mac == "02:00:00:00:00:03");
  CHECK(P(R"({"name":"n","runtimeConfig":{"mac":"02:00:00:00:00:03"},"args":{"cni":{"mac":"02:00:00:00:00:04"}}})",
          "MAC=02:00:00:00:00:02").mac == "02:00:00:00:00:04");
  CHECK(P(R"({"name":"n","mtu":1400,"runtimeConfig":{"mtu":1300}})").mtu == 1300);
  CHECK(P(R"({"name":"n","mtu":1400,"runtimeConfig":{"mtu":1300},"args":{"cni":{"mtu":1200}}})").mtu == 1200);
  CHECK(P(R"({"name":"n","mtu":1400,"runtimeConfig":{"mtu":0}})").mtu == 1400);
  auto c = P(R"({"name":"n","promisc":true,"args":{"cni":{"promisc":false,"allmulti":true,"txQLen":9}}})");
  CHECK_FALSE(c.promisc);
  CHECK(c.allmulti == true);
  CHECK(c.txqlen == 9);
}

TEST_CASE("tuning config: args.cni.sysctl merges into sysctl, also without one", "[tuning]") {
  auto c = P(R"({"name":"n","sysctl":{"a":"1","b":"2"},"args":{"cni":{"sysctl":{"b":"3","c":"4"}}}})");
  REQUIRE(c.sysctls.size() == 3);
  CHECK(c.sysctls[1].second == "3");
  CHECK(c.sysctls[2].first == "c");
  CHECK(P(R"({"name":"n","args":{"cni":{"sysctl":{"x":"1"}}}})").sysctls.size() == 1);  // the reference panics
}

TEST_CASE("tuning config: Go type errors (hostile input)", "[tuning][hostile]") {
  const std::string pre = "999 failed to load netconf: json: cannot unmarshal ";
  CHECK(ParseErr(R"({"name":"n","mtu":"1400"})") == pre + "string into Go struct field TuningConf.mtu of type int");
  CHECK(ParseErr(R"({"name":"n","mtu":1e10})").starts_with(pre + "number"));
  CHECK(ParseErr(R"({"name":"n","mtu":9223372036854775808})") ==
        pre + "number 9223372036854775808 into Go struct field TuningConf.mtu of type int");
  CHECK(ParseErr(R"({"name":"n","promisc":"yes"})") == pre + "string into Go struct field TuningConf.promisc of type bool");
  CHECK(ParseErr(R"({"name":"n","sysctl":"x"})") == pre + "string into Go struct field TuningConf.sysctl of type map[string]string");
  CHECK(ParseErr(R"({"name":"n","sysctl":{"a":1}})") == pre + "number into Go struct field TuningConf.sysctl of type string");
  CHECK(ParseErr(R"({"name":"n","runtimeConfig":{"mac":5}})") == pre + "number into Go struct field .runtimeConfig.mac of type string");
  CHECK(ParseErr(R"({"name":"n","args":{"cni":{"mtu":"x"}}})") == pre + "string into Go struct field IPAMArgs.args.cni.mtu of type int");
  CHECK(ParseErr(R"({"name":"n","args":{"cni":{"sysctl":[1]}}})") ==
        pre + "array into Go struct field IPAMArgs.args.cni.sysctl of type map[string]string");
  CHECK(ParseErr(R"({"name":"n"})", "FOO=1") == "999 ARGS: unknown args [\"FOO=1\"]");
  CHECK(ParseErr(R"({"name":"n"})", "MAC") == "999 ARGS: invalid pair \"MAC\"");
}

TEST_CASE("tuning sysctl paths: dots, IFNAME, cleaning, net only", "[tuning][hostile]") {
  using tuning::SysctlPath;
  CHECK(SysctlPath("net.core.somaxconn", "eth0") == "/proc/sys/net/core/somaxconn");
  CHECK(SysctlPath("net.ipv4.conf.IFNAME.arp_filter", "eth0") == "/proc/sys/net/ipv4/conf/eth0/arp_filter");
  CHECK(SysctlPath("net.ipv4.conf.IFNAME.arp_filter", "eth0.100") == "/proc/sys/net/ipv4/conf/eth0.100/arp_filter");
  CHECK(SysctlPath("net/ipv4/conf/IFNAME/IFNAME", "e") == "/proc/sys/net/ipv4/conf/e/IFNAME");  // first only
  CHECK(SysctlPath("net//ipv4/./ip_forward", "e") == "/proc/sys/net/ipv4/ip_forward");
  CHECK(SysctlPath("net/../kernel/core_pattern", "e") == "/proc/sys/net/kernel/core_pattern");  // ".." became "//"
  CHECK(Err([] { SysctlPath("kernel.core_pattern", "e"); }) == "999 invalid net sysctl key: \"kernel.core_pattern\"");
  CHECK(Err([] { SysctlPath("net", "e"); }) == "999 invalid net sysctl key: \"net\"");
  CHECK(Err([] { SysctlPath("net.", "e"); }) == "999 invalid net sysctl key: \"net.\"");
  CHECK(Err([] { SysctlPath("", "e"); }) == "999 invalid net sysctl key: \"\"");
  CHECK(Err([] { SysctlPath("netfilter.x", "e"); }) == "999 invalid net sysctl key: \"netfilter.x\"");
  CHECK(Err([] { SysctlPath("IFNAME.x", ".."); }) == "999 invalid net sysctl key: \"...x\"");
  CHECK(Err([] { SysctlPath("net/IFNAME/../../kernel/x", ".."); }) == "999 invalid net sysctl key: \"net/../../../kernel/x\"");
}

TEST_CASE("tuning duplicate sysctl keys (raw text scan)", "[tuning][hostile]") {
  using tuning::CheckDuplicateSysctls;
  const std::string dup = "999 duplicated sysctl keys are not allowed";
  CHECK(Err([] { CheckDuplicateSysctls(R"({"name":"n","sysctl":{"a":"1","b":"2"}})"); }) == "no error");
  CHECK(Err([] { CheckDuplicateSysctls(R"({"name":"n","sysctl":{"a":"1","a":"2"}})"); }) == dup);
  CHECK(Err([] { CheckDuplicateSysctls(R"({"name":"n","sysctl":{"a":"1"},"SysCtl":{"a":"2"}})"); }) == dup);
  CHECK(Err([] { CheckDuplicateSysctls(R"({"name":"n","sysctl":{"a":"1"},"x":{"sysctl":{"a":"1"}}})"); }) == "no error");
  CHECK(Err([] { CheckDuplicateSysctls(R"({"name":"n","args":{"cni":{"sysctl":{"a":"1","a":"1"}}}})"); }) == "no error");
  CHECK(Err([] { CheckDuplicateSysctls(R"({"name":"n","sysctl":{"a":{"b":1,"b":2}}})"); }) == "no error");
  CHECK(Err([] { CheckDuplicateSysctls(R"({"name":"n","sysctl":{"a":"1", "A":"1"}})"); }) == "no error");  // map keys are exact
  CHECK(Err([] { CheckDuplicateSysctls("{\"sysctl\":{\"a\":\"1\"}"); }) == "no error");  // truncated: skel reports it
}

TEST_CASE("tuning allowlist file", "[tuning][hostile]") {
  char dir[] = "/tmp/wpa-allow.XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string path = std::string(dir) + "/allowlist.conf";
  auto c = P(R"({"name":"n","sysctl":{"net.core.somaxconn":"1","net.ipv4.conf.IFNAME.arp_filter":"1"}})");
  CHECK(Err([&] { tuning::CheckAllowlist(c, path); }) == "no error");  // no file: no check
  std::ofstream(path) << "^net\\.core\\.somaxconn$\n\n   ^net\\.ipv4\\.conf\\.IFNAME\\.\n";
  CHECK(Err([&] { tuning::CheckAllowlist(c, path); }) == "no error");
  std::ofstream(path) << "^net\\.core\\.somaxconn$\n";
  CHECK(Err([&] { tuning::CheckAllowlist(c, path); }) ==
        "999 Sysctl net.ipv4.conf.IFNAME.arp_filter is not allowed. Only the following sysctls are allowed: [^net\\.core\\.somaxconn$]");
  std::ofstream(path) << "([\n";
  CHECK(Err([&] { tuning::CheckAllowlist(c, path); }).starts_with("999 error parsing regexp: "));
  std::remove(path.c_str());
  rmdir(dir);
}

TEST_CASE("tuning state file path", "[tuning]") {
  auto c = P(R"({"name":"n"})");
  CHECK(tuning::StatePath(c, "abc", "eth0") == "/run/cni/tuning/abc_eth0.json");
}
