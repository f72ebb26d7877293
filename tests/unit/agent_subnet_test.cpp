// weftd lease model: etcd key/value bytes, the subnet allocator, subnet.env.
#include <catch2/catch.hpp>

#include <set>

#include "cni/error.h"
#include "agent/backend/vxlan/vxlan.h"
#include "agent/subnet/etcd/allocator.h"
#include "agent/subnet/lease.h"
#include "agent/subnet/subnet_env.h"

using namespace weft::agent;

static NetworkConfig Cfg(const char* json = R"({"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}})") {
  return ParseNetworkConfig(json);
}
static cni::IP IP(const char* s) { return *cni::IP::Parse(s); }
static cni::IPNet Net(const char* s) { return *cni::IPNet::Parse(s); }
static LeaseAttrs Attrs(const char* pub, const char* type, std::string backend_data = "") {
  LeaseAttrs a;
  a.public_ip = IP(pub);
  a.backend_type = type;
  a.backend_data = std::move(backend_data);
  return a;
}
static Lease L(const char* sn, const char* pub) {
  Lease l;
  l.subnet = Net(sn);
  l.attrs = Attrs(pub, "vxlan");
  return l;
}

TEST_CASE("agent subnet: lease value is flanneld's json.Marshal output", "[agent][subnet]") {
  LeaseAttrs a = Attrs("192.168.64.3", "vxlan", MarshalVxlanData(1, *ParseMac("c6:d2:32:6f:8f:44")));
  CHECK(MarshalLeaseAttrs(a) ==
        R"({"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}})");
  CHECK(MarshalLeaseAttrs(Attrs("10.0.0.1", "host-gw")) ==
        R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendType":"host-gw"})");
  auto back = ParseLeaseAttrs(MarshalLeaseAttrs(a));
  REQUIRE(back);
  CHECK(*back == a);
}

TEST_CASE("agent subnet: older lease values are read", "[agent][subnet]") {
  auto v013 = ParseLeaseAttrs(R"({"PublicIP":"10.1.1.1","BackendType":"vxlan","BackendData":{"VtepMAC":"0e:aa:aa:aa:aa:01"}})");
  REQUIRE(v013);
  VxlanData d = ParseVxlanData(v013->backend_data);
  CHECK(d.vni == 0);
  CHECK(MacString(*d.vtep_mac) == "0e:aa:aa:aa:aa:01");
  CHECK_FALSE(ParseLeaseAttrs("not json"));
  CHECK_FALSE(ParseLeaseAttrs(R"({"PublicIP":"10.1.1"})"));
}

TEST_CASE("agent subnet: key form", "[agent][subnet]") {
  CHECK(MakeSubnetKey(Net("10.5.52.0/24")) == "10.5.52.0-24");
  CHECK(ParseSubnetKey("/coreos.com/network/subnets/10.5.52.0-24")->subnet.String() == "10.5.52.0/24");
  CHECK(ParseSubnetKey("/coreos.com/network/subnets/10.5.52.0-24&fc00:0:0:1::-64")->subnet.String() == "10.5.52.0/24");
  CHECK_FALSE(ParseSubnetKey("/coreos.com/network/subnets/garbage"));
  CHECK_FALSE(cni::IP::Parse("10.01.0.1"));  // Go rejects leading zeros
}

TEST_CASE("agent subnet: own lease is reused by PublicIP", "[agent][subnet]") {
  std::mt19937_64 rng(1);
  auto c = ChooseSubnet(Cfg(), {L("10.244.7.0/24", "192.168.1.2"), L("10.244.9.0/24", "192.168.1.3")},
                        IP("192.168.1.3"), Net("10.244.1.0/24"), rng);
  CHECK(c.kind == AllocationChoice::kReuseOwn);
  CHECK(c.subnet.String() == "10.244.9.0/24");
  CHECK(c.stale_own.empty());
}

TEST_CASE("agent subnet: an own lease that no longer fits is deleted", "[agent][subnet]") {
  std::mt19937_64 rng(1);
  // SubnetLen changed to 25: the /24 lease of this node does not fit any more.
  auto cfg = Cfg(R"({"Network":"10.244.0.0/16","SubnetLen":25,"Backend":{"Type":"vxlan"}})");
  auto c = ChooseSubnet(cfg, {L("10.244.9.0/24", "192.168.1.3")}, IP("192.168.1.3"), std::nullopt, rng);
  CHECK(c.kind == AllocationChoice::kNew);
  REQUIRE(c.stale_own.size() == 1);
  CHECK(c.stale_own[0].String() == "10.244.9.0/24");
  CHECK(c.subnet.prefix == 25);
}

TEST_CASE("agent subnet: previous subnet from subnet.env is reused only while free", "[agent][subnet]") {
  std::mt19937_64 rng(1);
  auto c = ChooseSubnet(Cfg(), {L("10.244.7.0/24", "192.168.1.2")}, IP("192.168.1.3"), Net("10.244.3.0/24"), rng);
  CHECK(c.kind == AllocationChoice::kReusePrevious);
  CHECK(c.subnet.String() == "10.244.3.0/24");
  // held by another node (flannel#1289: flanneld's check happens here too, and the create
  // transaction catches the rest)
  c = ChooseSubnet(Cfg(), {L("10.244.3.0/24", "192.168.1.2")}, IP("192.168.1.3"), Net("10.244.3.0/24"), rng);
  CHECK(c.kind == AllocationChoice::kNew);
  CHECK(c.subnet != Net("10.244.3.0/24"));
  // outside SubnetMin..SubnetMax (the first subnet is skipped by default)
  c = ChooseSubnet(Cfg(), {}, IP("192.168.1.3"), Net("10.244.0.0/24"), rng);
  CHECK(c.kind == AllocationChoice::kNew);
}

TEST_CASE("agent subnet: new subnets are random among free ones, never taken ones", "[agent][subnet]") {
  std::mt19937_64 rng(42);
  auto cfg = Cfg(R"({"Network":"10.244.0.0/16","SubnetMin":"10.244.1.0","SubnetMax":"10.244.4.0","Backend":{"Type":"vxlan"}})");
  std::vector<Lease> leases = {L("10.244.2.0/24", "192.168.1.2")};
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto c = ChooseSubnet(cfg, leases, IP("192.168.1.9"), std::nullopt, rng);
    CHECK(c.kind == AllocationChoice::kNew);
    seen.insert(c.subnet.String());
  }
  CHECK(seen == std::set<std::string>{"10.244.1.0/24", "10.244.3.0/24", "10.244.4.0/24"});
  leases = {L("10.244.1.0/24", "1.1.1.4"), L("10.244.2.0/24", "1.1.1.1"), L("10.244.3.0/24", "1.1.1.2"),
            L("10.244.4.0/24", "1.1.1.3")};
  try {
    ChooseSubnet(cfg, leases, IP("192.168.1.9"), std::nullopt, rng);
    FAIL("expected out of subnets");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "out of subnets");
  }
}

TEST_CASE("agent subnet: subnet.env exactly as flanneld writes it", "[agent][subnet]") {
  CHECK(RenderSubnetEnv(Net("10.244.0.0/16"), Net("10.244.1.0/24"), 1450, true) ==
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
  CHECK(RenderSubnetEnv(Net("10.5.0.0/16"), Net("10.5.52.0/24"), 8951, false) ==
        "FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.52.1/24\nFLANNEL_MTU=8951\nFLANNEL_IPMASQ=false\n");
}

TEST_CASE("agent subnet: previous FLANNEL_SUBNET read like godotenv", "[agent][subnet]") {
  CHECK(ReadPreviousSubnet("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n")->String() == "10.244.1.0/24");
  CHECK(ReadPreviousSubnet("# comment\nexport FLANNEL_SUBNET=\"10.244.9.1/24\"\r\n")->String() == "10.244.9.0/24");
  CHECK_FALSE(ReadPreviousSubnet("FLANNEL_SUBNET=10.244.1.1/24,10.245.1.1/24\n"));
  CHECK_FALSE(ReadPreviousSubnet("FLANNEL_NETWORK=10.244.0.0/16\n"));
}

// ---- dual stack and IPv6-only (etcd mode): keys, values, allocation, subnet.env

static NetworkConfig Dual() {
  return Cfg(R"({"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","Backend":{"Type":"vxlan"}})");
}
static NetworkConfig V6Only() {
  return Cfg(R"({"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fc00::/48","Backend":{"Type":"vxlan"}})");
}
static Lease L6(const char* sn, const char* sn6, const char* pub, const char* pub6) {
  Lease l;
  if (*sn) l.subnet = Net(sn);
  l.subnet6 = Net(sn6);
  l.attrs = Attrs(*pub ? pub : "0.0.0.0", "vxlan");
  l.attrs.public_ipv6 = IP(pub6);
  return l;
}

TEST_CASE("agent subnet: dual-stack and IPv6-only keys as flanneld's MakeSubnetKey", "[agent][subnet][dualstack]") {
  CHECK(MakeSubnetKey(Net("10.5.52.0/24"), Net("fc00:0:0:1::/64")) == "10.5.52.0-24&fc00:0:0:1::-64");
  CHECK(MakeSubnetKey({}, Net("fc00:0:0:1::/64")) == "0.0.0.0-0&fc00:0:0:1::-64");
  auto k = ParseSubnetKey("/coreos.com/network/subnets/10.5.52.0-24&fc00:0:0:1::-64");
  REQUIRE(k);
  CHECK(k->subnet.String() == "10.5.52.0/24");
  CHECK(k->subnet6.String() == "fc00:0:0:1::/64");
  k = ParseSubnetKey("/coreos.com/network/subnets/0.0.0.0-0&fc00:0:0:1::-64");
  REQUIRE(k);
  CHECK_FALSE(k->subnet.ip.valid());  // IPv6-only
  CHECK(k->subnet6.String() == "fc00:0:0:1::/64");
  CHECK(L6("", "fc00:0:0:1::/64", "", "fd00::3").Key() == "0.0.0.0-0&fc00:0:0:1::-64");
  CHECK_FALSE(ParseSubnetKey("10.5.52.0-24&10.1.0.0-16"));
  CHECK_FALSE(ParseSubnetKey("10.5.52.0-24&fc00::-129"));
}

TEST_CASE("agent subnet: dual-stack and IPv6-only lease values byte for byte", "[agent][subnet][dualstack]") {
  const std::string v4 = MarshalVxlanData(1, *ParseMac("c6:d2:32:6f:8f:44"));
  const std::string v6 = MarshalVxlanData(1, *ParseMac("ae:12:00:11:22:33"));
  LeaseAttrs a = Attrs("198.18.0.3", "vxlan", v4);
  a.public_ipv6 = IP("fd00::3");
  a.backend_v6_data = v6;
  const std::string dual = MarshalLeaseAttrs(a);
  CHECK(dual == R"({"PublicIP":"198.18.0.3","PublicIPv6":"fd00::3","BackendType":"vxlan",)"
                R"("BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"BackendV6Data":{"VNI":1,"VtepMAC":"ae:12:00:11:22:33"}})");
  auto back = ParseLeaseAttrs(dual);
  REQUIRE(back);
  CHECK(*back == a);
  // IPv6-only: Go's zero PublicIP, no BackendData
  LeaseAttrs o;
  o.public_ipv6 = IP("fd00::3");
  o.backend_type = "vxlan";
  o.backend_v6_data = v6;
  const std::string only6 = MarshalLeaseAttrs(o);
  CHECK(only6 == R"({"PublicIP":"0.0.0.0","PublicIPv6":"fd00::3","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"ae:12:00:11:22:33"}})");
  back = ParseLeaseAttrs(only6);
  REQUIRE(back);
  CHECK(back->public_ip.String() == "0.0.0.0");
  CHECK(back->public_ipv6.String() == "fd00::3");
  CHECK(back->backend_data.empty());
  CHECK(ParseVxlanData(back->backend_v6_data).vtep_mac == ParseMac("ae:12:00:11:22:33"));
  CHECK_FALSE(ParseLeaseAttrs(R"({"PublicIP":"10.1.1.1","PublicIPv6":"10.1.1.2"})"));  // not IPv6
}

TEST_CASE("agent subnet: dual stack allocates the IPv6 subnet independently", "[agent][subnet][dualstack]") {
  std::mt19937_64 rng(3);
  NetworkConfig cfg = Dual();
  // previous subnets of both families reused while free
  auto c = ChooseSubnet(cfg, {}, IP("198.18.0.3"), Net("10.244.3.0/24"), rng, IP("fd00::3"), Net("fc00:0:0:7::/64"));
  CHECK(c.kind == AllocationChoice::kReusePrevious);
  CHECK(c.subnet.String() == "10.244.3.0/24");
  CHECK(c.subnet6.String() == "fc00:0:0:7::/64");
  // the v6 one is taken by another node: a new v6 subnet, the v4 previous kept
  std::vector<Lease> leases = {L6("10.244.9.0/24", "fc00:0:0:7::/64", "198.18.0.9", "fd00::9")};
  c = ChooseSubnet(cfg, leases, IP("198.18.0.3"), Net("10.244.3.0/24"), rng, IP("fd00::3"), Net("fc00:0:0:7::/64"));
  CHECK(c.subnet.String() == "10.244.3.0/24");
  CHECK(c.subnet6.prefix == 64);
  CHECK(c.subnet6 != Net("fc00:0:0:7::/64"));
  CHECK(Net("fc00::/48").Contains(c.subnet6.ip));
  CHECK(c.subnet6.ip != IP("fc00::"));  // IPv6SubnetMin skips the first subnet
  // random new ones never overlap a lease of the same family
  leases = {L6("10.244.1.0/24", "fc00:0:0:1::/64", "198.18.0.9", "fd00::9")};
  NetworkConfig small = Cfg(R"({"Network":"10.244.0.0/16","SubnetMax":"10.244.2.0","EnableIPv6":true,)"
                            R"("IPv6Network":"fc00::/48","IPv6SubnetMax":"fc00:0:0:2::","Backend":{"Type":"vxlan"}})");
  for (int i = 0; i < 20; ++i) {
    c = ChooseSubnet(small, leases, IP("198.18.0.3"), std::nullopt, rng, IP("fd00::3"));
    CHECK(c.kind == AllocationChoice::kNew);
    CHECK(c.subnet.String() == "10.244.2.0/24");
    CHECK(c.subnet6.String() == "fc00:0:0:2::/64");
  }
  // own dual-stack lease reused by PublicIP; a v4-only own lease no longer fits and goes
  leases = {L6("10.244.5.0/24", "fc00:0:0:5::/64", "198.18.0.3", "fd00::3")};
  c = ChooseSubnet(cfg, leases, IP("198.18.0.3"), std::nullopt, rng, IP("fd00::3"));
  CHECK(c.kind == AllocationChoice::kReuseOwn);
  CHECK(c.subnet6.String() == "fc00:0:0:5::/64");
  c = ChooseSubnet(cfg, {L("10.244.5.0/24", "198.18.0.3")}, IP("198.18.0.3"), std::nullopt, rng, IP("fd00::3"));
  REQUIRE(c.stale_own.size() == 1);
  CHECK(c.stale_own[0].Key() == "10.244.5.0-24");
  CHECK(c.subnet6.ip.valid());
  // and a dual-stack own lease is stale under an IPv4-only config (flanneld's isIPv6SubnetConfigCompat)
  c = ChooseSubnet(Cfg(), leases, IP("198.18.0.3"), std::nullopt, rng);
  REQUIRE(c.stale_own.size() == 1);
  CHECK(c.stale_own[0].Key() == "10.244.5.0-24&fc00:0:0:5::-64");
  CHECK_FALSE(c.subnet6.ip.valid());
}

TEST_CASE("agent subnet: IPv6-only allocation", "[agent][subnet][dualstack]") {
  std::mt19937_64 rng(5);
  NetworkConfig cfg = V6Only();
  // another IPv6-only node holds a lease (PublicIP 0.0.0.0, v4 part 0.0.0.0/0): not this node's,
  // and its zero IPv4 part takes nothing (flanneld reuses that lease for any IPv6-only node, and
  // its IPv4 overlap check makes the second IPv6-only node run out of subnets)
  std::vector<Lease> leases = {L6("", "fc00:0:0:1::/64", "", "fd00::9")};
  auto c = ChooseSubnet(cfg, leases, IP("0.0.0.0"), std::nullopt, rng, IP("fd00::3"));
  CHECK(c.kind == AllocationChoice::kNew);
  CHECK(c.stale_own.empty());
  CHECK_FALSE(c.subnet.ip.valid());
  CHECK(c.subnet6.prefix == 64);
  CHECK(c.subnet6 != Net("fc00:0:0:1::/64"));
  // its own lease is found by PublicIPv6
  leases.push_back(L6("", "fc00:0:0:4::/64", "", "fd00::3"));
  c = ChooseSubnet(cfg, leases, IP("0.0.0.0"), std::nullopt, rng, IP("fd00::3"));
  CHECK(c.kind == AllocationChoice::kReuseOwn);
  CHECK(c.subnet6.String() == "fc00:0:0:4::/64");
  CHECK(Lease{c.subnet, c.subnet6, {}, {}, {}}.Key() == "0.0.0.0-0&fc00:0:0:4::-64");
  // out of IPv6 subnets
  NetworkConfig tiny = Cfg(R"({"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/124","Backend":{"Type":"vxlan"}})");
  leases = {L6("", "fd00::4/126", "", "fd00::9"), L6("", "fd00::8/126", "", "fd00::a"), L6("", "fd00::c/126", "", "fd00::b")};
  try {
    ChooseSubnet(tiny, leases, IP("0.0.0.0"), std::nullopt, rng, IP("fd00::3"));
    FAIL("expected out of subnets");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "out of subnets");
  }
}

TEST_CASE("agent subnet: subnet.env with IPv6 in flanneld's order", "[agent][subnet][dualstack]") {
  CHECK(RenderSubnetEnv(Net("10.42.0.0/16"), Net("10.42.1.0/24"), 1450, true, Net("2001:cafe:42::/56"),
                        Net("2001:cafe:42::/64")) ==
        "FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.1.1/24\n"
        "FLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\n"
        "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
  CHECK(RenderSubnetEnv({}, {}, 1430, false, Net("fc00::/48"), Net("fc00:0:0:3::/64")) ==
        "FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00:0:0:3::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n");
  const char* env = "FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.1.1/24\nFLANNEL_IPV6_SUBNET=\"2001:cafe:42::1/64\"\n";
  CHECK(ReadPreviousSubnet(env)->String() == "10.42.1.0/24");
  CHECK(ReadPreviousSubnet(env, 6)->String() == "2001:cafe:42::/64");
  CHECK_FALSE(ReadPreviousSubnet("FLANNEL_IPV6_SUBNET=10.42.1.1/24\n", 6));  // wrong family
  CHECK_FALSE(ReadPreviousSubnet("FLANNEL_SUBNET=fc00::1/64\n"));
}
