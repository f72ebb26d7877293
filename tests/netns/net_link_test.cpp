// Links through net::Socket inside throw-away namespaces: bridge, veth with its peer created
// directly in another namespace, vxlan, dummy; find, delete, up, MTU, MAC, master, port flags,
// promisc, rename, bridge VLANs.
#include <linux/if_addr.h>

#include <catch2/catch.hpp>

#include "cni/error.h"
#include "cni/net/netlink.h"
#include "netns_fixture.h"

using namespace cni::net;

static Mac M(const char* s) { return *Mac::Parse(s); }

TEST_CASE("net: Mac parse and print", "[netns][net]") {
  CHECK(M("AA:bb:0c:dd:ee:0F").String() == "aa:bb:0c:dd:ee:0f");
  CHECK(M("aa-bb-cc-dd-ee-ff").String() == "aa:bb:cc:dd:ee:ff");
  CHECK_FALSE(Mac::Parse("aa:bb:cc:dd:ee").has_value());
  CHECK_FALSE(Mac::Parse("aa:bb:cc:dd:ee:gg").has_value());
  Mac r = RandomMac();
  CHECK((r.b[0] & 0x03) == 0x02);
}

TEST_CASE("net: bridge create, read back, change, delete", "[netns][net]") {
  weft_test::TempNetns t("wtlk");
  auto s = t.Socket();
  Link br = s.CreateBridge({.name = "br-t", .mtu = 1400, .mac = M("02:11:22:33:44:55"),
                            .vlan_filtering = false});
  CHECK(br.kind == "bridge");
  CHECK(br.name == "br-t");
  CHECK(br.mtu == 1400);
  CHECK(br.mac == M("02:11:22:33:44:55"));
  CHECK_FALSE(br.vlan_filtering);
  CHECK_FALSE(br.up);

  CHECK_THROWS_WITH(s.CreateBridge({.name = "br-t"}), "failed to create bridge \"br-t\": File exists");

  s.SetUp(br.index);
  s.SetMtu(std::string("br-t"), 1300);
  s.SetMac(br.index, M("02:aa:bb:cc:dd:ee"));
  Link b2 = s.GetLink(br.index);
  CHECK(b2.up);
  CHECK(b2.mtu == 1300);
  CHECK(b2.mac == M("02:aa:bb:cc:dd:ee"));
  CHECK(s.FindLink(std::string("br-t"))->index == br.index);

  bool listed = false;
  for (const Link& l : s.Links()) listed |= l.name == "br-t";
  CHECK(listed);

  s.SetName(br.index, "br-u");
  CHECK_FALSE(s.FindLink(std::string("br-t")).has_value());
  CHECK(s.DeleteLink(std::string("br-u")));
  CHECK_FALSE(s.DeleteLink(std::string("br-u")));
  CHECK_FALSE(s.FindLink(br.index).has_value());
  CHECK_THROWS_WITH(s.GetLink(std::string("br-u")),
                    "failed to find link \"br-u\": Link not found");
  CHECK_THROWS_WITH(s.SetUp(std::string("nope0")), "failed to set up \"nope0\": No such device");
}

TEST_CASE("net: veth with the peer created directly in another namespace", "[netns][net]") {
  weft_test::TempNetns host("wtlk"), pod("wtlk");
  auto hs = host.Socket();
  auto ps = pod.Socket();
  Link v = hs.CreateVeth({.name = "veth-h",
                          .mtu = 1450,
                          .mac = M("02:00:00:00:00:01"),
                          .peer_name = "eth0",
                          .peer_mac = M("02:00:00:00:00:02"),
                          .peer_netns_fd = pod.ns().fd()});
  CHECK(v.kind == "veth");
  CHECK(v.mtu == 1450);
  CHECK(v.mac == M("02:00:00:00:00:01"));
  CHECK(v.link_netnsid >= 0);
  CHECK_FALSE(hs.FindLink(std::string("eth0")).has_value());
  auto peer = ps.FindLink(std::string("eth0"));
  REQUIRE(peer.has_value());
  CHECK(peer->kind == "veth");
  CHECK(peer->mtu == 1450);
  CHECK(peer->mac == M("02:00:00:00:00:02"));
  CHECK(peer->link == v.index);
  CHECK(v.link == peer->index);

  // A bridge port with flags.
  Link br = hs.CreateBridge({.name = "br0"});
  hs.SetMaster(v.index, br.index);
  hs.SetPortFlags(v.index, {.hairpin = true, .isolated = true, .learning = false});
  hs.SetPromisc(v.index, true);
  Link p = hs.GetLink(v.index);
  CHECK(p.master == br.index);
  CHECK(p.hairpin);
  CHECK(p.isolated);
  CHECK_FALSE(p.learning);
  CHECK(p.promisc);
  hs.SetPortFlags(v.index, {.hairpin = false});
  p = hs.GetLink(v.index);
  CHECK_FALSE(p.hairpin);
  CHECK(p.isolated);
  hs.SetMaster(v.index, 0);
  CHECK(hs.GetLink(v.index).master == 0);

  // Deleting one end removes both.
  CHECK(hs.DeleteLink(v.index));
  CHECK_FALSE(ps.FindLink(std::string("eth0")).has_value());
}

TEST_CASE("net: veth name conflict is reported with errno text", "[netns][net]") {
  weft_test::TempNetns host("wtlk");
  auto hs = host.Socket();
  hs.CreateSimple("veth", "d0");
  CHECK_THROWS_WITH(hs.CreateVeth({.name = "d0", .peer_name = "p0"}),
                    "failed to create veth \"d0\": File exists");
}

TEST_CASE("net: vxlan create and read back", "[netns][net]") {
  weft_test::TempNetns t("wtlk");
  auto s = t.Socket();
  Link d = s.CreateSimple("veth", "under0", 1500);
  s.AddAddr({.index = d.index, .addr = *cni::IPNet::Parse("192.0.2.10/24")});
  Link vx = s.CreateVxlan({.name = "vx.1",
                           .vni = 42,
                           .port = 4789,
                           .local = *cni::IP::Parse("192.0.2.10"),
                           .dev = d.index,
                           .learning = false,
                           .mtu = 1450,
                           .mac = M("02:42:00:00:00:01")});
  CHECK(vx.kind == "vxlan");
  CHECK(vx.vni == 42);
  CHECK(vx.vxlan_port == 4789);
  CHECK(vx.vxlan_local == *cni::IP::Parse("192.0.2.10"));
  CHECK(vx.vxlan_dev == d.index);
  CHECK_FALSE(vx.vxlan_learning);
  CHECK(vx.mtu == 1450);
  CHECK(vx.mac == M("02:42:00:00:00:01"));
  CHECK(s.DeleteLink(vx.index));
}

TEST_CASE("net: bridge VLANs on a port", "[netns][net]") {
  weft_test::TempNetns host("wtlk"), pod("wtlk");
  auto hs = host.Socket();
  Link br = hs.CreateBridge({.name = "brv"});
  try {
    hs.SetBridgeVlanFiltering(br.index, true);
  } catch (const cni::Error& e) {
    // Kernels built without CONFIG_BRIDGE_VLAN_FILTERING: nothing more can be tested here.
    REQUIRE(std::string(e.what()) == "failed to set vlan_filtering on \"index " +
                                         std::to_string(br.index) + "\": Operation not supported");
    WARN("kernel has no bridge VLAN filtering; VLAN membership not tested");
    return;
  }
  CHECK(hs.GetLink(br.index).vlan_filtering);
  Link v = hs.CreateVeth({.name = "vp", .peer_name = "eth0", .peer_netns_fd = pod.ns().fd()});
  hs.SetMaster(v.index, br.index);
  hs.DelBridgeVlan(v.index, 1);
  hs.AddBridgeVlan(v.index, {.vid = 100, .pvid = true, .untagged = true});
  hs.AddBridgeVlan(v.index, {.vid = 200});
  hs.AddBridgeVlan(br.index, {.vid = 100}, true);
  auto vl = hs.BridgeVlans(v.index);
  REQUIRE(vl.size() == 2);
  CHECK(vl[0] == BridgeVlan{100, true, true});
  CHECK(vl[1] == BridgeVlan{200, false, false});
  bool self100 = false;
  for (auto& x : hs.BridgeVlans(br.index)) self100 |= x.vid == 100;
  CHECK(self100);
  hs.DelBridgeVlan(v.index, 200);
  CHECK(hs.BridgeVlans(v.index).size() == 1);
}

TEST_CASE("net: EnsureBridge creates once, accepts an existing bridge, rejects other kinds",
          "[netns][net]") {
  weft_test::TempNetns t("wtlk");
  auto s = t.Socket();
  bool created = false;
  Link a = s.EnsureBridge({.name = "bre", .mac = M("02:00:00:00:0e:01")}, &created);
  CHECK(created);
  CHECK(a.mac == M("02:00:00:00:0e:01"));
  Link b = s.EnsureBridge({.name = "bre", .mtu = 1000}, &created);
  CHECK_FALSE(created);
  CHECK(b.index == a.index);
  CHECK(b.mtu == a.mtu);  // an existing bridge is not changed
  s.CreateSimple("veth", "notbr");
  CHECK_THROWS_WITH(s.EnsureBridge({.name = "notbr"}), "\"notbr\" already exists but is not a bridge");
}

TEST_CASE("net: veth created with master and up in one request", "[netns][net]") {
  weft_test::TempNetns host("wtlk"), pod("wtlk");
  auto hs = host.Socket();
  Link br = hs.CreateBridge({.name = "brm"});
  Link v = hs.CreateVeth({.name = "vm0", .peer_name = "eth0", .peer_netns_fd = pod.ns().fd(),
                          .master = br.index, .up = true});
  CHECK(v.master == br.index);
  CHECK(v.up);
  try {
    hs.CreateVeth({.name = "vm0", .peer_name = "eth1", .peer_netns_fd = pod.ns().fd()});
    FAIL("no throw");
  } catch (const NetlinkError& e) {
    CHECK(e.err() == EEXIST);
  }
}
