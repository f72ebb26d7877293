// weftd kube mode reads net-conf.json like flanneld's kube manager: subnet.ParseConfig only, so
// none of CheckNetworkConfig's defaults (SubnetLen, SubnetMin/Max) and no "please define a
// Network" error; the Network, when given, must still be an IPv4 CIDR, and the backend checks
// are shared with etcd mode. The etcd manager's full check is unchanged (agent_config_test).
#include <catch2/catch.hpp>

#include "agent/subnet/config.h"
#include "cni/error.h"

using namespace weft::agent;

namespace {
std::string ErrorOf(const char* json) {
  try {
    ParseConfig(json);
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("agent kube: net-conf.json parsed without CheckNetworkConfig defaults", "[agent][kube]") {
  NetworkConfig c = ParseConfig(R"({"Network":"10.42.0.0/16","EnableNFTables":false,"Backend":{"Type":"vxlan"}})");
  CHECK(c.network.String() == "10.42.0.0/16");
  CHECK(c.enable_ipv4);
  CHECK(c.subnet_len == 0);
  CHECK_FALSE(c.subnet_min.valid());
  CHECK_FALSE(c.subnet_max.valid());
  CHECK(c.backend.type == "vxlan");
  CHECK(c.backend.vni == 1);

  // A /30 network or a SubnetLen of 31: the etcd manager refuses them, the kube manager does not.
  CHECK(ParseConfig(R"({"Network":"10.42.0.0/30","SubnetLen":31,"Backend":{"Type":"host-gw"}})").subnet_len == 31);
  CHECK_THROWS(ParseNetworkConfig(R"({"Network":"10.42.0.0/30","SubnetLen":31,"Backend":{"Type":"host-gw"}})"));
  // No Network: parsed (the own podCIDR check then fails with flanneld's "doesn't contain").
  CHECK_FALSE(ParseConfig(R"({"Backend":{"Type":"vxlan"}})").network.ip.valid());
  CHECK(ErrorOf(R"({"Network":"10.42.0.0/33","Backend":{"Type":"vxlan"}})") == "invalid CIDR address: 10.42.0.0/33");
  CHECK(ErrorOf(R"({"Network":"fd00::/48","Backend":{"Type":"vxlan"}})") == "invalid IPv4 CIDR format");
  CHECK(ErrorOf(R"({"Network":"10.42.0.0/16"})") == "unknown backend type: udp");  // Backend absent: udp
  CHECK(ErrorOf(R"({"Network":"10.42.0.0/16","Backend":{}})") == "unknown backend type: ");
  CHECK(ErrorOf(R"({"Network":"10.42.0.0/16","Backend":{"Type":"vxlan"})") .rfind("error parsing subnet config", 0) == 0);
}
