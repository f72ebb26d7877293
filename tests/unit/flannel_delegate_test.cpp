// flannel delegate construction and serialisation. The oracle is the reference's verified
// json.Marshal output in flannel.md §1.4 (the shipped kube-flannel conflist) and the expected
// configs of flannel_linux_test.go (§1.9 items 1-5, 10-12), plus Go's float64/string encoding.
#include <catch2/catch.hpp>

#include "cni/error.h"
#include "delegate.h"
#include "go_json.h"

using flannel::BuildDelegate;
using flannel::LoadNetConf;
using flannel::MarshalDelegate;
using flannel::ParseSubnetEnv;

namespace {

const char* kV4 = "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
const char* kV6 = "FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
const char* kDual =
    "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\n"
    "FLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
const char* kMulti = "FLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";

std::string Render(const std::string& conf, const char* env) {
  return MarshalDelegate(BuildDelegate(LoadNetConf(cni::ParseJson(conf)), ParseSubnetEnv(env, "subnet.env")));
}

std::string ErrorOf(const std::string& conf, const char* env = kV4) {
  try {
    Render(conf, env);
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "";
}

const std::string kTestConf = R"({"name":"cni-flannel","type":"flannel","subnetFile":"/x","dataDir":"/y")";

}  // namespace

TEST_CASE("flannel delegate: byte-identical to the reference for the kube-flannel conflist (flannel.md 1.4)", "[flannel]") {
  // What libcni hands the plugin from conf/10-flannel.conflist with portmap's capability set.
  const std::string conf = R"({"cniVersion":"0.3.1","name":"cbr0","type":"flannel",
    "delegate":{"hairpinMode":true,"isDefaultGateway":true},"runtimeConfig":{"portMappings":[]}})";
  const char* env = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
  CHECK(Render(conf, env) ==
        R"({"cniVersion":"0.3.1","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},"isDefaultGateway":true,"isGateway":true,"mtu":1450,"name":"cbr0","runtimeConfig":{"portMappings":[]},"type":"bridge"})");
}

TEST_CASE("flannel delegate: the reference's ADD fixtures (v4, two networks, v6, dual)", "[flannel]") {
  CHECK(Render(kTestConf + "}", kV4) ==
        R"({"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"})");
  CHECK(Render(kTestConf + "}", kMulti) ==
        R"({"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"},{"dst":"192.168.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"})");
  CHECK(Render(kTestConf + "}", kV6) ==
        R"({"ipMasq":false,"ipam":{"ranges":[[{"subnet":"fc00::/64"}]],"routes":[{"dst":"fc00::/48"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"})");
  CHECK(Render(kTestConf + "}", kDual) ==
        R"({"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}],[{"subnet":"fc00::/64"}]],"routes":[{"dst":"10.1.0.0/16"},{"dst":"fc00::/48"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"})");
}

TEST_CASE("flannel delegate: user ipam merge (getDelegateIPAM fixtures)", "[flannel]") {
  const std::string routes = R"("routes":[{"dst":"10.96.0.0/12"},{"dst":"192.168.244.0/24","gw":"10.1.17.20"}])";
  const std::string with_type = kTestConf + R"(,"ipam":{"type":"my-ipam","unknown-param":"unknown-value",)" + routes + "}}";
  CHECK(Render(with_type, kV4) ==
        R"({"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.96.0.0/12"},{"dst":"192.168.244.0/24","gw":"10.1.17.20"},{"dst":"10.1.0.0/16"}],"type":"my-ipam","unknown-param":"unknown-value"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"})");
  CHECK(Render(with_type, kV6) ==
        R"({"ipMasq":false,"ipam":{"ranges":[[{"subnet":"fc00::/64"}]],"routes":[{"dst":"10.96.0.0/12"},{"dst":"192.168.244.0/24","gw":"10.1.17.20"},{"dst":"fc00::/48"}],"type":"my-ipam","unknown-param":"unknown-value"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"})");
  CHECK(Render(with_type, kDual) ==
        R"({"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}],[{"subnet":"fc00::/64"}]],"routes":[{"dst":"10.96.0.0/12"},{"dst":"192.168.244.0/24","gw":"10.1.17.20"},{"dst":"10.1.0.0/16"},{"dst":"fc00::/48"}],"type":"my-ipam","unknown-param":"unknown-value"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"})");
  // No type: host-local; user ranges are always replaced; other keys (even subnet) pass through.
  const std::string no_type = kTestConf + R"(,"ipam":{"subnet":"10.9.0.0/24","ranges":[[{"subnet":"1.2.3.0/24"}]],)" + routes + "}}";
  CHECK(Render(no_type, kMulti) ==
        R"({"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.96.0.0/12"},{"dst":"192.168.244.0/24","gw":"10.1.17.20"},{"dst":"10.1.0.0/16"},{"dst":"192.168.0.0/16"}],"subnet":"10.9.0.0/24","type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"})");
}

TEST_CASE("flannel delegate: user keys win, runtimeConfig replaced, ipvlan has no isGateway", "[flannel]") {
  const std::string conf = kTestConf + R"(,"cniVersion":"1.0.0","delegate":{"type":"ipvlan","mtu":1400,"ipMasq":true,
    "runtimeConfig":{"old":1},"x":{"b":1,"a":[1.0,2.5e-7,1e21,"<&>"]}},"runtimeConfig":{"portMappings":[{"hostPort":8080}]},
    "capabilities":{"portMappings":true},"prevResult":{"cniVersion":"1.0.0"}})";
  CHECK(Render(conf, kV4) ==
        R"({"cniVersion":"1.0.0","ipMasq":true,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},"mtu":1400,"name":"cni-flannel","runtimeConfig":{"portMappings":[{"hostPort":8080}]},"type":"ipvlan","x":{"a":[1,2.5e-7,1e+21,"\u003c\u0026\u003e"],"b":1}})");
  // FLANNEL_IPMASQ=false: the bridge masquerades instead; user isGateway false is kept.
  CHECK(Render(kTestConf + R"(,"delegate":{"isGateway":false}})",
               "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=8951\nFLANNEL_IPMASQ=false\n") ==
        R"({"ipMasq":true,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},"isGateway":false,"mtu":8951,"name":"cni-flannel","type":"bridge"})");
}

TEST_CASE("flannel delegate: the three validation errors and the routes error", "[flannel]") {
  CHECK(ErrorOf(kTestConf + R"(,"delegate":{"type":1}})") == "'delegate' dictionary, if present, must have (string) 'type' field");
  CHECK(ErrorOf(kTestConf + R"(,"delegate":{"name":"x"}})") == "'delegate' dictionary must not have 'name' field, it'll be set by flannel");
  CHECK(ErrorOf(kTestConf + R"(,"delegate":{"ipam":{}}})") == "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel");
  // Map lookups are exact-case, as Go's: "Name" is just another key.
  CHECK(ErrorOf(kTestConf + R"(,"delegate":{"Name":"x"}})").empty());
  CHECK(ErrorOf(kTestConf + R"(,"ipam":{"routes":"x"}})") ==
        "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse ipam.routes: json: cannot unmarshal string into Go value of type []types.Route");
  CHECK(ErrorOf(kTestConf + R"(,"ipam":{"routes":[{"dst":"nope"}]}})").rfind(
            "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse ipam.routes: ", 0) == 0);
}

TEST_CASE("flannel netconf: defaults, case-insensitive keys, null, type errors", "[flannel]") {
  auto n = LoadNetConf(cni::ParseJson(R"({"name":"cni-flannel","type":"flannel"})"));
  CHECK(n.subnet_file == "/run/flannel/subnet.env");
  CHECK(n.data_dir == "/var/lib/cni/flannel");
  CHECK_FALSE(n.delegate);
  n = LoadNetConf(cni::ParseJson(R"({"name":"n","SubnetFile":"/a","datadir":"/b","Delegate":{"a":1},"delegate":{"b":2}})"));
  CHECK(n.subnet_file == "/a");
  CHECK(n.data_dir == "/b");
  CHECK(n.delegate->dump() == R"({"a":1,"b":2})");
  n = LoadNetConf(cni::ParseJson(R"({"name":"n","delegate":{"a":1},"Delegate":null})"));
  CHECK_FALSE(n.delegate);
  try {
    LoadNetConf(cni::ParseJson(R"({"name":"n","delegate":"bridge"})"));
    FAIL("no error");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "failed to load netconf: json: cannot unmarshal string into Go struct field NetConf.delegate of type map[string]interface {}");
  }
  try {
    LoadNetConf(cni::ParseJson(R"({"name":"n","subnetFile":5})"));
    FAIL("no error");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "failed to load netconf: json: cannot unmarshal number into Go struct field NetConf.subnetFile of type string");
  }
}

TEST_CASE("flannel Go JSON: float64 and string encoding as encoding/json", "[flannel]") {
  using flannel::GoFloat;
  CHECK(GoFloat(0) == "0");
  CHECK(GoFloat(-0.0) == "-0");
  CHECK(GoFloat(1400) == "1400");
  CHECK(GoFloat(1.5) == "1.5");
  CHECK(GoFloat(0.1) == "0.1");
  CHECK(GoFloat(1e-6) == "0.000001");
  CHECK(GoFloat(1e-7) == "1e-7");
  CHECK(GoFloat(1.25e-10) == "1.25e-10");
  CHECK(GoFloat(1e20) == "100000000000000000000");
  CHECK(GoFloat(1e21) == "1e+21");
  CHECK(GoFloat(12345678901234567890.0) == "12345678901234567000");
  CHECK(GoFloat(-3.25e300) == "-3.25e+300");
  CHECK(flannel::GoMarshal(cni::ParseJson(R"([9007199254740993, 18446744073709551615, 1E2])")) ==
        "[9007199254740992,18446744073709552000,100]");
  using flannel::GoString;
  CHECK(GoString("a<b>&c") == R"("a\u003cb\u003e\u0026c")");
  CHECK(GoString("\b\f\n\r\t\x01\x1f\x7f\"\\/") == "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\\\"\\\\/\"");
  CHECK(GoString("\xe2\x80\xa8\xe2\x80\xa9") == R"("\u2028\u2029")");
  CHECK(GoString("caf\xc3\xa9 \xff \xed\xa0\x80") == "\"caf\xc3\xa9 \\ufffd \\ufffd\\ufffd\\ufffd\"");
  CHECK(flannel::GoMarshal(cni::ParseJson(R"({"b":{"z":null,"B":true},"a":[],"A":{}})")) == R"({"A":{},"a":[],"b":{"B":true,"z":null}})");
}
