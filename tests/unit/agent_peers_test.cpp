// weftd peer programming: the kernel entries per lease and the change sets between states.
#include <catch2/catch.hpp>

#include <cstdio>

#include "agent/backend/hostgw/hostgw.h"
#include "agent/backend/vxlan/vxlan.h"
#include "cni/error.h"

using namespace weft::agent;

static cni::IP IP(const char* s) { return *cni::IP::Parse(s); }
static cni::IPNet Net(const char* s) { return *cni::IPNet::Parse(s); }
static Mac M(const char* s) { return *ParseMac(s); }

static BackendContext Vxlan(bool direct = false, bool connected = false) {
  BackendContext ctx;
  ctx.backend.type = "vxlan";
  ctx.backend.direct_routing = direct;
  ctx.vxlan_dev = "flannel.1";
  ctx.ext_dev = "eth0";
  ctx.directly_connected = [connected](const cni::IP&) { return connected; };
  return ctx;
}

static Lease Peer(const char* sn, const char* pub, const char* mac, const char* type = "vxlan") {
  Lease l;
  l.subnet = Net(sn);
  l.attrs.public_ip = IP(pub);
  l.attrs.backend_type = type;
  if (auto m = ParseMac(mac)) l.attrs.backend_data = MarshalVxlanData(1, *m);
  return l;
}

TEST_CASE("agent peers: a vxlan peer needs ARP, FDB and an onlink route", "[agent][peers]") {
  PeerEntries e = VxlanPeerEntries(Vxlan(), Peer("10.244.2.0/24", "192.168.77.2", "0e:bb:bb:bb:bb:02"));
  CHECK(e.skip_reason.empty());
  REQUIRE(e.neighs.size() == 1);
  CHECK(e.neighs[0] == NeighEntry{IP("10.244.2.0"), M("0e:bb:bb:bb:bb:02")});
  REQUIRE(e.fdbs.size() == 1);
  CHECK(e.fdbs[0] == FdbEntry{M("0e:bb:bb:bb:bb:02"), IP("192.168.77.2")});
  REQUIRE(e.routes.size() == 1);
  CHECK(e.routes[0] == RouteEntry{Net("10.244.2.0/24"), IP("10.244.2.0"), "flannel.1", true});
}

TEST_CASE("agent peers: DirectRouting uses a plain route only for L2-adjacent peers", "[agent][peers]") {
  PeerEntries e = VxlanPeerEntries(Vxlan(true, true), Peer("10.244.2.0/24", "192.168.77.2", "0e:bb:bb:bb:bb:02"));
  REQUIRE(e.routes.size() == 1);
  CHECK(e.routes[0] == RouteEntry{Net("10.244.2.0/24"), IP("192.168.77.2"), "eth0", false});
  CHECK(e.neighs.empty());
  CHECK(e.fdbs.empty());
  e = VxlanPeerEntries(Vxlan(true, false), Peer("10.244.2.0/24", "10.9.9.9", "0e:bb:bb:bb:bb:02"));
  CHECK(e.fdbs.size() == 1);  // routed peer: VXLAN
}

TEST_CASE("agent peers: host-gw and foreign leases", "[agent][peers]") {
  BackendContext hg = Vxlan();
  hg.backend.type = "host-gw";
  PeerEntries e = HostGwPeerEntries(hg, Peer("10.244.3.0/24", "192.168.77.3", "", "host-gw"));
  REQUIRE(e.routes.size() == 1);
  CHECK(e.routes[0] == RouteEntry{Net("10.244.3.0/24"), IP("192.168.77.3"), "eth0", false});
  e = VxlanPeerEntries(Vxlan(), Peer("10.244.3.0/24", "192.168.77.3", "", "host-gw"));
  CHECK(e.routes.empty());
  CHECK(e.skip_reason.find("host-gw") != std::string::npos);
  e = VxlanPeerEntries(Vxlan(), Peer("10.244.3.0/24", "192.168.77.3", "bad"));
  CHECK(e.skip_reason == "no VtepMAC in BackendData");
}

TEST_CASE("agent peers: removal deletes every entry; MAC change swaps FDB in place", "[agent][peers]") {
  BackendContext ctx = Vxlan();
  PeerEntries old = VxlanPeerEntries(ctx, Peer("10.244.2.0/24", "192.168.77.2", "0e:bb:bb:bb:bb:02"));
  Changes del = Diff(old, {});
  CHECK(del.del_routes.size() == 1);
  CHECK(del.del_neighs.size() == 1);
  CHECK(del.del_fdbs.size() == 1);
  CHECK(del.add_routes.empty());

  PeerEntries now = VxlanPeerEntries(ctx, Peer("10.244.2.0/24", "192.168.77.2", "0e:bb:bb:bb:bb:03"));
  Changes c = Diff(old, now);
  CHECK(c.del_routes.empty());   // same route: untouched
  CHECK(c.add_routes.empty());
  CHECK(c.del_neighs.empty());   // replaced in place (neigh replace)
  REQUIRE(c.add_neighs.size() == 1);
  CHECK(c.add_neighs[0].mac == M("0e:bb:bb:bb:bb:03"));
  REQUIRE(c.del_fdbs.size() == 1);  // flanneld leaves this one behind
  CHECK(c.del_fdbs[0].mac == M("0e:bb:bb:bb:bb:02"));
  REQUIRE(c.add_fdbs.size() == 1);
  CHECK(Diff(now, now).empty());
}

TEST_CASE("agent peers: start-up reconcile removes peers that vanished while down", "[agent][peers]") {
  BackendContext ctx = Vxlan();
  std::map<cni::IPNet, PeerEntries> want;
  want[Net("10.244.2.0/24")] = VxlanPeerEntries(ctx, Peer("10.244.2.0/24", "192.168.77.2", "0e:bb:bb:bb:bb:02"));
  PeerEntries gone = VxlanPeerEntries(ctx, Peer("10.244.5.0/24", "192.168.77.5", "0e:bb:bb:bb:bb:05"));
  KernelState k;
  k.routes = {want.begin()->second.routes[0], gone.routes[0]};
  k.neighs = {gone.neighs[0]};
  k.fdbs = {gone.fdbs[0], want.begin()->second.fdbs[0]};
  Changes c = Reconcile(k, Union(want));
  CHECK(c.del_routes == gone.routes);
  CHECK(c.del_neighs == gone.neighs);
  CHECK(c.del_fdbs == gone.fdbs);
  CHECK(c.add_routes.empty());
  CHECK(c.add_fdbs.empty());
  CHECK(c.add_neighs == want.begin()->second.neighs);
}

TEST_CASE("agent peers: stable VtepMAC is locally administered unicast", "[agent][peers]") {
  Mac a = StableMac("machine|198.18.0.1|1");
  CHECK(a == StableMac("machine|198.18.0.1|1"));
  CHECK(a != StableMac("machine|198.18.0.2|1"));
  CHECK((a[0] & 0x01) == 0);
  CHECK((a[0] & 0x02) == 0x02);
}

TEST_CASE("agent peers: reconcile at scale finds exactly the changed peers", "[agent][peers]") {
  BackendContext ctx = Vxlan();
  std::map<cni::IPNet, PeerEntries> want;
  KernelState k;
  char sn[32], pub[32], mac[32];
  for (int i = 0; i < 4000; ++i) {
    std::snprintf(sn, sizeof sn, "10.%d.%d.0/24", 1 + i / 250, i % 250);
    std::snprintf(pub, sizeof pub, "198.19.%d.%d", i / 250, 1 + i % 250);
    std::snprintf(mac, sizeof mac, "0e:00:00:00:%02x:%02x", i >> 8, i & 255);
    PeerEntries e = VxlanPeerEntries(ctx, Peer(sn, pub, mac));
    if (i % 100 != 0) {  // every 100th peer is new to the kernel
      k.routes.push_back(e.routes[0]);
      k.neighs.push_back(e.neighs[0]);
      k.fdbs.push_back(e.fdbs[0]);
    }
    if (i % 100 != 1) want[e.routes[0].dst] = e;  // every 100th + 1 vanished
  }
  Changes c = Reconcile(k, Union(want));
  CHECK(c.add_routes.size() == 40);
  CHECK(c.add_neighs.size() == 40);
  CHECK(c.add_fdbs.size() == 40);
  CHECK(c.del_routes.size() == 40);
  CHECK(c.del_neighs.size() == 40);
  CHECK(c.del_fdbs.size() == 40);
  for (const RouteEntry& r : c.del_routes) CHECK(want.count(r.dst) == 0);
  for (const RouteEntry& r : c.add_routes) CHECK(want.count(r.dst) == 1);
}

static Lease DualPeer(const char* sn, const char* pub, const char* mac, const char* sn6, const char* pub6,
                      const char* mac6, const char* type = "vxlan") {
  Lease l = Peer(sn, pub, mac, type);
  l.subnet6 = Net(sn6);
  l.attrs.public_ipv6 = IP(pub6);
  if (auto m = ParseMac(mac6)) l.attrs.backend_v6_data = MarshalVxlanData(1, *m);
  return l;
}

static BackendContext Vxlan6(bool direct = false, bool connected = false) {
  BackendContext ctx = Vxlan(direct, connected);
  ctx.vxlan_dev = "flannel-v6.1";
  ctx.v6 = true;
  return ctx;
}

TEST_CASE("agent peers: the IPv6 side of a dual-stack lease (NDP, FDB to PublicIPv6, onlink route)",
          "[agent][peers][dualstack]") {
  Lease l = DualPeer("10.244.2.0/24", "192.168.77.2", "0e:bb:bb:bb:bb:02", "fc00:0:0:2::/64", "fd77::2",
                     "0e:66:66:66:66:02");
  PeerEntries e = VxlanPeerEntries(Vxlan6(), l);
  CHECK(e.skip_reason.empty());
  REQUIRE(e.neighs.size() == 1);
  CHECK(e.neighs[0] == NeighEntry{IP("fc00:0:0:2::"), M("0e:66:66:66:66:02")});
  REQUIRE(e.fdbs.size() == 1);
  CHECK(e.fdbs[0] == FdbEntry{M("0e:66:66:66:66:02"), IP("fd77::2")});
  REQUIRE(e.routes.size() == 1);
  CHECK(e.routes[0] == RouteEntry{Net("fc00:0:0:2::/64"), IP("fc00:0:0:2::"), "flannel-v6.1", true});
  // the IPv4 side of the same lease is unchanged
  e = VxlanPeerEntries(Vxlan(), l);
  REQUIRE(e.fdbs.size() == 1);
  CHECK(e.fdbs[0] == FdbEntry{M("0e:bb:bb:bb:bb:02"), IP("192.168.77.2")});
  // DirectRouting and host-gw for v6: a plain route via PublicIPv6
  e = VxlanPeerEntries(Vxlan6(true, true), l);
  REQUIRE(e.routes.size() == 1);
  CHECK(e.routes[0] == RouteEntry{Net("fc00:0:0:2::/64"), IP("fd77::2"), "eth0", false});
  CHECK(e.neighs.empty());
  BackendContext hg = Vxlan6();
  hg.backend.type = "host-gw";
  e = HostGwPeerEntries(hg, DualPeer("10.244.3.0/24", "192.168.77.3", "", "fc00:0:0:3::/64", "fd77::3", "", "host-gw"));
  REQUIRE(e.routes.size() == 1);
  CHECK(e.routes[0] == RouteEntry{Net("fc00:0:0:3::/64"), IP("fd77::3"), "eth0", false});
}

TEST_CASE("agent peers: a v4-only lease has nothing for the IPv6 side, a v6 lease without BackendV6Data is skipped",
          "[agent][peers][dualstack]") {
  PeerEntries e = VxlanPeerEntries(Vxlan6(), Peer("10.244.2.0/24", "192.168.77.2", "0e:bb:bb:bb:bb:02"));
  CHECK(e.routes.empty());
  CHECK(e.skip_reason == "no IPv6 subnet");
  e = VxlanPeerEntries(Vxlan6(), DualPeer("10.244.2.0/24", "192.168.77.2", "0e:bb:bb:bb:bb:02", "fc00:0:0:2::/64",
                                          "fd77::2", "bad"));
  CHECK(e.skip_reason == "no VtepMAC in BackendV6Data");
  Lease only6;
  only6.subnet6 = Net("fc00:0:0:4::/64");
  only6.attrs.public_ip = IP("0.0.0.0");
  only6.attrs.backend_type = "vxlan";
  e = VxlanPeerEntries(Vxlan(), only6);
  CHECK(e.skip_reason == "no IPv4 subnet");
}

TEST_CASE("agent backends: wireguard takes EnableIPv6; a Mode without its family is refused", "[agent][peers][dualstack]") {
  NetworkConfig cfg = ParseNetworkConfig(
      R"({"Network":"10.42.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","Backend":{"Type":"wireguard"}})");
  CHECK(MakeBackend(cfg, ExtIface{})->Type() == "wireguard");  // no device before Init
  NetworkConfig v4 = ParseNetworkConfig(R"({"Network":"10.42.0.0/16","Backend":{"Type":"wireguard","Mode":"ipv6"}})");
  try {
    MakeBackend(v4, ExtIface{});
    FAIL("expected a refusal");
  } catch (const cni::Error& e) {
    CHECK(e.code() == cni::kInvalidNetworkConfig);
    CHECK(e.msg() == "wireguard Mode ipv6 needs IPv6 (EnableIPv6 is false)");
  }
}
