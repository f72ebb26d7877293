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
