// weftd network config: flanneld's defaults and validation messages.
#include <catch2/catch.hpp>

#include "cni/error.h"
#include "agent/subnet/config.h"

using namespace weft::agent;

static std::string ErrorOf(const std::string& json) {
  try {
    ParseNetworkConfig(json);
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "";
}

TEST_CASE("agent config: defaults like flanneld", "[agent][config]") {
  NetworkConfig c = ParseNetworkConfig(R"({"Network":"10.3.0.0/16","Backend":{"Type":"vxlan"}})");
  CHECK(c.network.String() == "10.3.0.0/16");
  CHECK(c.subnet_len == 24);
  CHECK(c.subnet_min.String() == "10.3.1.0");
  CHECK(c.subnet_max.String() == "10.3.255.0");
  CHECK(c.enable_ipv4);
  CHECK_FALSE(c.enable_ipv6);
  CHECK(c.backend.type == "vxlan");
  CHECK(c.backend.vni == 1);
  CHECK(c.backend.port == 0);
  CHECK_FALSE(c.backend.direct_routing);
}

TEST_CASE("agent config: SubnetLen defaults by network size", "[agent][config]") {
  CHECK(ParseNetworkConfig(R"({"Network":"10.0.0.0/22","Backend":{"Type":"vxlan"}})").subnet_len == 24);
  CHECK(ParseNetworkConfig(R"({"Network":"10.0.0.0/23","Backend":{"Type":"vxlan"}})").subnet_len == 25);
  NetworkConfig c = ParseNetworkConfig(R"({"Network":"10.0.0.0/28","Backend":{"Type":"vxlan"}})");
  CHECK(c.subnet_len == 30);
  CHECK(c.subnet_min.String() == "10.0.0.4");
  CHECK(c.subnet_max.String() == "10.0.0.12");
}

TEST_CASE("agent config: keys are case-insensitive, backend options parsed", "[agent][config]") {
  NetworkConfig c = ParseNetworkConfig(
      R"({"network":"10.5.0.0/16","subnetlen":26,"SubnetMin":"10.5.10.0","subnetmax":"10.5.20.0",)"
      R"("backend":{"type":"VXLAN","vni":42,"port":4789,"directRouting":true,"MTU":1400}})");
  CHECK(c.subnet_len == 26);
  CHECK(c.subnet_min.String() == "10.5.10.0");
  CHECK(c.subnet_max.String() == "10.5.20.0");
  CHECK(c.backend.type == "vxlan");
  CHECK(c.backend.vni == 42);
  CHECK(c.backend.port == 4789);
  CHECK(c.backend.direct_routing);
  CHECK(c.backend.mtu == 1400);
  CHECK(ParseNetworkConfig(R"({"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}})").backend.type == "host-gw");
}

TEST_CASE("agent config: flanneld's validation errors", "[agent][config]") {
  CHECK(ErrorOf(R"({"Backend":{"Type":"vxlan"}})") == "please define a correct Network parameter in the flannel config");
  CHECK(ErrorOf(R"({"Network":"10.0.0.0/29","Backend":{"Type":"vxlan"}})") ==
        "network is too small. Minimum useful network prefix is /28");
  CHECK(ErrorOf(R"({"Network":"10.0.0.0/16","SubnetLen":31,"Backend":{"Type":"vxlan"}})") ==
        "SubnetLen must be less than /31");
  CHECK(ErrorOf(R"({"Network":"10.0.0.0/16","SubnetLen":17,"Backend":{"Type":"vxlan"}})") ==
        "network must be able to accommodate at least four subnets");
  CHECK(ErrorOf(R"({"Network":"10.0.0.0/16","SubnetMin":"10.0.1.5","Backend":{"Type":"vxlan"}})") ==
        "SubnetMin is not on a SubnetLen boundary: 10.0.1.5");
  CHECK(ErrorOf(R"({"Network":"10.0.0.0/16","SubnetMax":"10.1.0.0","Backend":{"Type":"vxlan"}})") ==
        "SubnetMax is not in the range of the Network");
  // Backend absent means "udp" in flanneld's code; "{}" is an empty type.
  CHECK(ErrorOf(R"({"Network":"10.0.0.0/16"})") == "unknown backend type: udp");
  CHECK(ErrorOf(R"({"Network":"10.0.0.0/16","Backend":{}})") == "unknown backend type: ");
  CHECK(ErrorOf(R"({"Network":"10.0.0.0/16","EnableIPv4":false,"Backend":{"Type":"vxlan"}})") == "none defined stack");
  CHECK(ErrorOf(R"({"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","VNI":"x"}})").find("cannot unmarshal string") !=
        std::string::npos);
}
