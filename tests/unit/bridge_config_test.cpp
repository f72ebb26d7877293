// bridge config decoding: defaults, Go-style type errors, VLAN/vlanTrunk validation messages,
// MAC precedence (CNI_ARGS < args.cni.mac < runtimeConfig.mac), Go ParseMAC forms, ipMasq names.
#include <catch2/catch.hpp>

#include "cni/error.h"
#include "config.h"
#include "masq.h"

using bridge::LoadNetConf;
using cni::Json;

static bridge::NetConf L(const char* j, const char* args = "") {
  return LoadNetConf(Json::parse(j), args);
}

static std::string Err(const char* j, const char* args = "") {
  try {
    L(j, args);
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "no error";
}

TEST_CASE("bridge config: defaults and keys", "[bridge]") {
  auto n = L(R"({"cniVersion":"1.0.0","name":"n","type":"bridge"})");
  CHECK(n.bridge == "cni0");
  CHECK_FALSE(n.is_gw);
  CHECK_FALSE(n.layer3());
  CHECK_FALSE(n.vlan_filtering());
  CHECK_FALSE(n.preserve_default_vlan);
  n = L(R"({"name":"n","BRIDGE":"br9","isgateway":true,"MTU":1400,"hairpinMode":true,
           "portIsolation":true,"ipam":{"type":"host-local"},"dns":{"nameservers":["1.1.1.1"]},
           "enabledad":true,"disableContainerInterface":false,"vlan":7})");
  CHECK(n.bridge == "br9");
  CHECK(n.is_gw);
  CHECK(n.mtu == 1400);
  CHECK(n.hairpin);
  CHECK(n.port_isolation);
  CHECK(n.layer3());
  CHECK(n.dns.nameservers == std::vector<std::string>{"1.1.1.1"});
  CHECK(n.enable_dad);
  CHECK(n.vlan == 7);
  CHECK(n.vlan_filtering());
  CHECK_FALSE(L(R"({"ipam":{}})").layer3());
}

TEST_CASE("bridge config: reference error messages", "[bridge]") {
  CHECK(Err(R"({"mtu":"x"})") ==
        "failed to load netconf: json: cannot unmarshal string into Go struct field NetConf.mtu of type int");
  CHECK(Err(R"({"vlan":5000})") == "invalid VLAN ID 5000 (must be between 0 and 4094)");
  CHECK(Err(R"({"vlan":-100})") == "invalid VLAN ID -100 (must be between 0 and 4094)");
  CHECK(Err(R"({"vlan":0})") == "no error");
  CHECK(Err(R"({"ipMasq":true,"ipMasqBackend":"pf"})") == "unknown ipmasq backend \"pf\"");
  CHECK(Err(R"({})", "FOO=bar") == "ARGS: unknown args [\"FOO=bar\"]");
  CHECK(Err(R"({})", "IgnoreUnknown=1;FOO=bar") == "no error");
}

TEST_CASE("bridge config: vlanTrunk", "[bridge]") {
  auto t = [](const char* j) { return bridge::CollectVlanTrunk(Json::parse(j)); };
  CHECK(t("[]").empty());
  CHECK(t(R"([{"minID":100,"maxID":105}])") == std::vector<int>{100, 101, 102, 103, 104, 105});
  CHECK(t(R"([{"id":10}])") == std::vector<int>{10});
  CHECK(t(R"([{"id":10,"minID":100,"maxID":102},{"id":101}])") == std::vector<int>{10, 100, 101, 102});
  CHECK(Err(R"({"vlanTrunk":[{"minID":100}]})") ==
        "minID and maxID should be configured simultaneously, maxID is missing");
  CHECK(Err(R"({"vlanTrunk":[{"maxID":100}]})") ==
        "minID and maxID should be configured simultaneously, minID is missing");
  CHECK(Err(R"({"vlanTrunk":[{"minID":-1,"maxID":10}]})") == "incorrect trunk minID parameter");
  CHECK(Err(R"({"vlanTrunk":[{"minID":5000,"maxID":10}]})") == "incorrect trunk minID parameter");
  CHECK(Err(R"({"vlanTrunk":[{"minID":1,"maxID":5000}]})") == "incorrect trunk maxID parameter");
  CHECK(Err(R"({"vlanTrunk":[{"id":5000}]})") == "incorrect trunk id parameter");
  CHECK(Err(R"({"vlanTrunk":[{"id":-1}]})") == "incorrect trunk id parameter");
  CHECK(Err(R"({"vlanTrunk":[{"minID":1000,"maxID":100}]})") ==
        "minID is greater than maxID in trunk parameter");
  // An empty trunk still makes the bridge filter VLANs (the reference checks != nil).
  CHECK(L(R"({"vlanTrunk":[]})").vlan_filtering());
}

TEST_CASE("bridge config: MAC precedence", "[bridge]") {
  CHECK(L("{}", "IgnoreUnknown=1;MAC=02:00:00:00:04:56").mac == "02:00:00:00:04:56");
  CHECK(L(R"({"args":{"cni":{"mac":"02:00:00:00:00:00"}}})", "MAC=02:00:00:00:04:56").mac ==
        "02:00:00:00:00:00");
  CHECK(L(R"({"args":{"cni":{"mac":"02:00:00:00:07:89"}},"runtimeConfig":{"mac":"02:00:00:00:00:00"}})",
          "MAC=02:00:00:00:04:56")
            .mac == "02:00:00:00:00:00");
}

TEST_CASE("bridge config: Go ParseMAC forms", "[bridge]") {
  CHECK(bridge::ParseMac("02:AA:bb:00:00:01") == "02:aa:bb:00:00:01");
  CHECK(bridge::ParseMac("02-aa-bb-00-00-01") == "02:aa:bb:00:00:01");
  CHECK(bridge::ParseMac("02aa.bb00.0001") == "02:aa:bb:00:00:01");
  CHECK_FALSE(bridge::ParseMac("zz:zz").has_value());
  CHECK_FALSE(bridge::ParseMac("02:aa-bb:00:00:01").has_value());
}

TEST_CASE("bridge ipMasq: comments as the reference writes them", "[bridge]") {
  CHECK(bridge::IptMasqComment("rsnet", "ctrA") == "name: \"rsnet\" id: \"ctrA\"");
  CHECK(bridge::NftMasqComment("unit-test", "eth0", "one") ==
        "6fd94d501e58f0aa-287fc69eff0574a2, net: unit-test, if: eth0, id: one");
}
