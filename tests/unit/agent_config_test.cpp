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

TEST_CASE("agent config: IPv6 defaults like flanneld", "[agent][config][dualstack]") {
  NetworkConfig c = ParseNetworkConfig(
      R"({"Network":"10.3.0.0/16","enableIPv6":true,"ipv6network":"fc00::/48","Backend":{"Type":"vxlan"}})");
  CHECK(c.enable_ipv4);
  CHECK(c.enable_ipv6);
  CHECK(c.network.String() == "10.3.0.0/16");
  CHECK(c.ipv6_network.String() == "fc00::/48");
  CHECK(c.ipv6_subnet_len == 64);
  CHECK(c.ipv6_subnet_min.String() == "fc00:0:0:1::");
  CHECK(c.ipv6_subnet_max.String() == "fc00:0:0:ffff::");
  // /62 or larger: /64; smaller: prefix + 2, down to a /124 network
  CHECK(ParseNetworkConfig(R"({"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/62","Backend":{"Type":"vxlan"}})")
            .ipv6_subnet_len == 64);
  CHECK(ParseNetworkConfig(R"({"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/63","Backend":{"Type":"vxlan"}})")
            .ipv6_subnet_len == 65);
  c = ParseNetworkConfig(R"({"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/124","Backend":{"Type":"vxlan"}})");
  CHECK(c.ipv6_subnet_len == 126);
  CHECK(c.ipv6_subnet_min.String() == "fd00::4");
  CHECK(c.ipv6_subnet_max.String() == "fd00::c");
  // IPv6-only: no IPv4 network needed, none kept
  CHECK_FALSE(c.enable_ipv4);
  CHECK_FALSE(c.network.ip.valid());
  // explicit values; "::" counts as unset (flanneld's ip.IsEmpty)
  c = ParseNetworkConfig(
      R"({"Network":"10.3.0.0/16","EnableIPv6":true,"IPv6Network":"2001:cafe:42::/56","IPv6SubnetLen":60,)"
      R"("IPv6SubnetMin":"2001:cafe:42:10::","IPv6SubnetMax":"::","Backend":{"Type":"vxlan"}})");
  CHECK(c.ipv6_subnet_len == 60);
  CHECK(c.ipv6_subnet_min.String() == "2001:cafe:42:10::");
  CHECK(c.ipv6_subnet_max.String() == "2001:cafe:42:f0::");
  // IPv6 keys are decoded while EnableIPv6 is off (Go's json.Unmarshal), but get no defaults
  c = ParseNetworkConfig(R"({"Network":"10.3.0.0/16","IPv6Network":"fc00::/48","Backend":{"Type":"vxlan"}})");
  CHECK_FALSE(c.enable_ipv6);
  CHECK(c.ipv6_network.String() == "fc00::/48");
  CHECK(c.ipv6_subnet_len == 0);
  CHECK(ErrorOf(R"({"Network":"10.3.0.0/16","IPv6Network":"bogus","Backend":{"Type":"vxlan"}})") ==
        "invalid CIDR address: bogus");
}

TEST_CASE("agent config: flanneld's IPv6 validation errors", "[agent][config][dualstack]") {
  const std::string v6only = R"("EnableIPv4":false,"EnableIPv6":true,"Backend":{"Type":"vxlan"})";
  CHECK(ErrorOf("{" + v6only + "}") == "please define a correct IPv6Network parameter in the flannel config");
  CHECK(ErrorOf(R"({"IPv6Network":"10.0.0.0/8",)" + v6only + "}") == "invalid IPv6 CIDR format");
  CHECK(ErrorOf(R"({"IPv6Network":"fd00::/125",)" + v6only + "}") ==
        "IPv6Network is too small. Minimum useful network prefix is /124");
  CHECK(ErrorOf(R"({"IPv6Network":"fd00::/48","IPv6SubnetLen":127,)" + v6only + "}") ==
        "SubnetLen must be less than /127");
  CHECK(ErrorOf(R"({"IPv6Network":"fd00::/48","IPv6SubnetLen":49,)" + v6only + "}") ==
        "network must be able to accommodate at least four subnets");
  CHECK(ErrorOf(R"({"IPv6Network":"fd00::/48","IPv6SubnetMin":"fd00:0:0:1::5",)" + v6only + "}") ==
        "IPv6SubnetMin is not on a SubnetLen boundary: fd00:0:0:1::5");
  CHECK(ErrorOf(R"({"IPv6Network":"fd00::/48","IPv6SubnetMax":"fd00:0:0:2::1",)" + v6only + "}") ==
        "IPv6SubnetMax is not on a SubnetLen boundary: fd00:0:0:2::1");
  CHECK(ErrorOf(R"({"IPv6Network":"fd00::/48","IPv6SubnetMin":"fd01::",)" + v6only + "}") ==
        "IPv6SubnetMin is not in the range of the IPv6Network");
  CHECK(ErrorOf(R"({"IPv6Network":"fd00::/48","IPv6SubnetMax":"fd01::",)" + v6only + "}") ==
        "IPv6SubnetMax is not in the range of the IPv6Network");
  // dual stack: the IPv4 part is still checked first
  CHECK(ErrorOf(R"({"EnableIPv6":true,"IPv6Network":"fd00::/48","Backend":{"Type":"vxlan"}})") ==
        "please define a correct Network parameter in the flannel config");
  CHECK(ErrorOf(R"({"EnableIPv4":false,"EnableIPv6":false,"Backend":{"Type":"vxlan"}})") == "none defined stack");
}
