// Addresses, routes (onlink, scope, table, metric, ECMP), neighbours and FDB entries through
// net::Socket inside throw-away namespaces, read back from kernel dumps.
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "cni/net/netlink.h"
#include "netns_fixture.h"

using namespace cni::net;
using cni::IP;
using cni::IPNet;

static IP I(const char* s) { return *IP::Parse(s); }
static IPNet N(const char* s) { return *IPNet::Parse(s); }

template <typename V, typename P>
static bool Any(const V& v, P p) {
  return std::any_of(v.begin(), v.end(), p);
}

TEST_CASE("net: addresses v4 and v6 add, replace, list, delete", "[netns][net]") {
  weft_test::TempNetns t("wtad");
  auto s = t.Socket();
  Link d = s.CreateSimple("veth", "d0");
  s.SetUp(d.index);

  s.AddAddr({.index = d.index, .addr = N("10.9.0.5/24")});
  s.AddAddr({.index = d.index, .addr = N("fd00:9::5/64"), .flags = IFA_F_NODAD});
  CHECK_THROWS_WITH(s.AddAddr({.index = d.index, .addr = N("10.9.0.5/24")}),
                    "failed to add IP addr 10.9.0.5/24 to link index " + std::to_string(d.index) +
                        ": File exists");
  s.ReplaceAddr({.index = d.index, .addr = N("10.9.0.5/24")});

  auto v4 = s.Addrs(d.index, AF_INET);
  REQUIRE(v4.size() == 1);
  CHECK(v4[0].addr == N("10.9.0.5/24"));
  CHECK(v4[0].index == d.index);
  auto v6 = s.Addrs(d.index, AF_INET6);
  auto it = std::find_if(v6.begin(), v6.end(), [](auto& a) { return a.addr == N("fd00:9::5/64"); });
  REQUIRE(it != v6.end());
  CHECK((it->flags & IFA_F_NODAD));
  CHECK_FALSE((it->flags & IFA_F_TENTATIVE));  // nodad: usable at once
  CHECK(s.Addrs(d.index).size() >= 2);

  CHECK(s.DeleteAddr({.index = d.index, .addr = N("10.9.0.5/24")}));
  CHECK_FALSE(s.DeleteAddr({.index = d.index, .addr = N("10.9.0.5/24")}));
  CHECK(s.Addrs(d.index, AF_INET).empty());
}

TEST_CASE("net: routes with gateway, onlink, scope, table, metric, ECMP", "[netns][net]") {
  weft_test::TempNetns t("wtrt");
  auto s = t.Socket();
  Link a = s.CreateSimple("veth", "da");
  Link b = s.CreateSimple("veth", "db");
  s.SetUp(a.index);
  s.SetUp(b.index);
  s.AddAddr({.index = a.index, .addr = N("10.1.0.1/24")});
  s.AddAddr({.index = b.index, .addr = N("10.2.0.1/24")});
  s.AddAddr({.index = a.index, .addr = N("fd01::1/64"), .flags = IFA_F_NODAD});

  // Link-scope route without gateway.
  s.AddRoute({.dst = N("10.50.0.0/16"), .index = a.index, .scope = RT_SCOPE_LINK});
  // Gateway route with metric.
  s.AddRoute({.dst = N("10.60.0.0/16"), .gw = I("10.1.0.254"), .index = a.index, .metric = 50});
  // Onlink gateway outside every connected subnet.
  s.AddRoute({.dst = N("10.70.0.0/16"), .gw = I("172.31.0.1"), .index = a.index, .onlink = true});
  // Default route in another table.
  s.AddRoute({.dst = N("0.0.0.0/0"), .gw = I("10.2.0.254"), .index = b.index, .table = 100});
  // ECMP.
  s.AddRoute({.dst = N("10.80.0.0/16"),
              .multipath = {{.gw = I("10.1.0.2"), .index = a.index, .weight = 1},
                            {.gw = I("10.2.0.2"), .index = b.index, .weight = 3}}});
  // IPv6 with a gateway.
  s.AddRoute({.dst = N("fd99::/48"), .gw = I("fd01::2"), .index = a.index});

  CHECK_THROWS_WITH(
      s.AddRoute({.dst = N("10.60.0.0/16"), .gw = I("10.1.0.254"), .index = a.index, .metric = 50}),
      "failed to add route \"10.60.0.0/16 via 10.1.0.254\": File exists");

  auto main4 = s.Routes(AF_INET);
  auto find = [&](const std::vector<Route>& v, const IPNet& dst) -> const Route* {
    for (auto& r : v)
      if (r.dst == dst) return &r;
    return nullptr;
  };
  const Route* r;
  REQUIRE((r = find(main4, N("10.50.0.0/16"))));
  CHECK(r->scope == RT_SCOPE_LINK);
  CHECK(r->index == a.index);
  CHECK_FALSE(r->gw.valid());
  REQUIRE((r = find(main4, N("10.60.0.0/16"))));
  CHECK(r->gw == I("10.1.0.254"));
  CHECK(r->metric == 50);
  REQUIRE((r = find(main4, N("10.70.0.0/16"))));
  CHECK(r->onlink);
  CHECK(r->gw == I("172.31.0.1"));
  REQUIRE((r = find(main4, N("10.80.0.0/16"))));
  REQUIRE(r->multipath.size() == 2);
  CHECK(r->multipath[0].gw == I("10.1.0.2"));
  CHECK(r->multipath[0].index == a.index);
  CHECK(r->multipath[1].gw == I("10.2.0.2"));
  CHECK(r->multipath[1].weight == 3);
  CHECK_FALSE(find(main4, N("0.0.0.0/0")));  // that one is in table 100

  auto t100 = s.Routes(AF_INET, 100);
  REQUIRE((r = find(t100, N("0.0.0.0/0"))));
  CHECK(r->gw == I("10.2.0.254"));
  CHECK(r->table == 100);
  auto all = s.Routes(0, 0);
  CHECK(find(all, N("0.0.0.0/0")));
  CHECK(find(all, N("fd99::/48")));
  auto main6 = s.Routes(AF_INET6);
  REQUIRE((r = find(main6, N("fd99::/48"))));
  CHECK(r->gw == I("fd01::2"));

  // Replace changes the gateway in place.
  s.ReplaceRoute({.dst = N("10.60.0.0/16"), .gw = I("10.1.0.253"), .index = a.index, .metric = 50});
  auto replaced = s.Routes(AF_INET);
  REQUIRE((r = find(replaced, N("10.60.0.0/16"))));
  CHECK(r->gw == I("10.1.0.253"));

  CHECK(s.DeleteRoute({.dst = N("10.60.0.0/16"), .metric = 50}));
  CHECK_FALSE(s.DeleteRoute({.dst = N("10.60.0.0/16"), .metric = 50}));
  CHECK(s.DeleteRoute({.dst = N("0.0.0.0/0"), .table = 100}));
  CHECK(s.DeleteRoute({.dst = N("10.80.0.0/16")}));
  CHECK(s.DeleteRoute({.dst = N("fd99::/48"), .gw = I("fd01::2"), .index = a.index}));
  auto after = s.Routes(0, 0);
  CHECK_FALSE(find(after, N("10.60.0.0/16")));
  CHECK_FALSE(find(after, N("0.0.0.0/0")));
  CHECK_FALSE(find(after, N("10.80.0.0/16")));
  CHECK_FALSE(find(after, N("fd99::/48")));
}

// The fail-closed route of weftd's wireguard backend: an unreachable route (no device), high metric,
// under a device route for the same prefix; the device going takes only the device route.
TEST_CASE("net: unreachable routes with metric beside device routes, v4 and v6", "[netns][net]") {
  weft_test::TempNetns t("wtbh");
  auto s = t.Socket();
  Link d = s.CreateSimple("veth", "d0");
  s.SetUp(d.index);
  for (const char* net : {"10.70.0.0/16", "fd70::/56"}) {
    INFO(net);
    s.ReplaceRoute({.dst = N(net), .type = RTN_UNREACHABLE, .metric = 16384});
    s.ReplaceRoute({.dst = N(net), .type = RTN_UNREACHABLE, .metric = 16384});  // idempotent
    s.ReplaceRoute({.dst = N(net), .index = d.index, .scope = RT_SCOPE_LINK, .metric = 10});
    auto rs = s.Routes(N(net).ip.af());
    auto mine = [&](const Route& r) { return r.dst == N(net); };
    CHECK(std::count_if(rs.begin(), rs.end(), mine) == 2);
    CHECK(Any(rs, [&](const Route& r) { return mine(r) && r.type == RTN_UNREACHABLE && r.metric == 16384; }));
    CHECK(Any(rs, [&](const Route& r) { return mine(r) && r.type == RTN_UNICAST && r.index == d.index; }));
  }
  s.DeleteLink(d.index);
  for (const char* net : {"10.70.0.0/16", "fd70::/56"}) {
    INFO(net);
    auto rs = s.Routes(N(net).ip.af());
    auto mine = [&](const Route& r) { return r.dst == N(net); };
    REQUIRE(std::count_if(rs.begin(), rs.end(), mine) == 1);
    CHECK(Any(rs, [&](const Route& r) { return mine(r) && r.type == RTN_UNREACHABLE && r.metric == 16384; }));
    CHECK(s.DeleteRoute({.dst = N(net), .type = RTN_UNREACHABLE, .metric = 16384}));
  }
}

TEST_CASE("net: permanent neighbours v4 and v6", "[netns][net]") {
  weft_test::TempNetns t("wtnb");
  auto s = t.Socket();
  Link d = s.CreateSimple("veth", "nb0");  // a veth pair inside the namespace, ARP-capable
  s.SetUp(d.index);
  Mac m1 = *Mac::Parse("02:00:00:00:aa:01"), m2 = *Mac::Parse("02:00:00:00:aa:02");
  s.AddNeigh({.index = d.index, .ip = I("10.3.0.9"), .mac = m1});
  s.AddNeigh({.index = d.index, .ip = I("fd03::9"), .mac = m1});
  CHECK_THROWS_WITH(s.AddNeigh({.index = d.index, .ip = I("10.3.0.9"), .mac = m1}),
                    "failed to add neighbour 10.3.0.9: File exists");
  s.ReplaceNeigh({.index = d.index, .ip = I("10.3.0.9"), .mac = m2});
  auto ns = s.Neighs(d.index);
  CHECK(Any(ns, [&](const Neigh& n) {
    return n.ip == I("10.3.0.9") && n.mac == m2 && n.state == NUD_PERMANENT;
  }));
  CHECK(Any(ns, [&](const Neigh& n) { return n.ip == I("fd03::9") && n.mac == m1; }));
  CHECK(s.Neighs(d.index, AF_INET6).size() >= 1);
  CHECK(s.DeleteNeigh({.index = d.index, .ip = I("10.3.0.9")}));
  CHECK_FALSE(s.DeleteNeigh({.index = d.index, .ip = I("10.3.0.9")}));
  CHECK_FALSE(Any(s.Neighs(d.index, AF_INET), [&](const Neigh& n) { return n.ip == I("10.3.0.9"); }));
}

TEST_CASE("net: FDB entries on a vxlan device and on a bridge port", "[netns][net]") {
  weft_test::TempNetns t("wtfd");
  auto s = t.Socket();
  Link vx = s.CreateVxlan({.name = "vx0", .vni = 1, .port = 8472});
  Mac m = *Mac::Parse("02:00:00:00:bb:01");
  s.AddFdb({.index = vx.index, .mac = m, .dst = I("192.0.2.7")});
  CHECK_THROWS_WITH(s.AddFdb({.index = vx.index, .mac = m, .dst = I("192.0.2.7")}),
                    "failed to add fdb entry 02:00:00:00:bb:01: File exists");
  s.ReplaceFdb({.index = vx.index, .mac = m, .dst = I("192.0.2.8")});
  Mac zero{};
  s.AppendFdb({.index = vx.index, .mac = zero, .dst = I("192.0.2.20")});
  s.AppendFdb({.index = vx.index, .mac = zero, .dst = I("192.0.2.21")});
  auto f = s.Fdbs(vx.index);
  CHECK(Any(f, [&](const Fdb& e) { return e.mac == m && e.dst == I("192.0.2.8"); }));
  CHECK_FALSE(Any(f, [&](const Fdb& e) { return e.mac == m && e.dst == I("192.0.2.7"); }));
  CHECK(std::count_if(f.begin(), f.end(), [&](const Fdb& e) { return e.mac == zero; }) == 2);
  CHECK(s.DeleteFdb({.index = vx.index, .mac = m, .dst = I("192.0.2.8")}));
  CHECK_FALSE(s.DeleteFdb({.index = vx.index, .mac = m, .dst = I("192.0.2.8")}));
  CHECK_FALSE(Any(s.Fdbs(vx.index), [&](const Fdb& e) { return e.mac == m; }));

  // A static entry on a bridge port (NTF_MASTER).
  Link br = s.CreateBridge({.name = "brf"});
  Link d = s.CreateSimple("veth", "port0");
  s.SetMaster(d.index, br.index);
  Mac m3 = *Mac::Parse("02:00:00:00:bb:03");
  s.AddFdb({.index = d.index, .mac = m3, .self = false});
  auto bf = s.Fdbs(d.index);
  CHECK(Any(bf, [&](const Fdb& e) { return e.mac == m3 && e.master == br.index && !e.self; }));
  CHECK(s.DeleteFdb({.index = d.index, .mac = m3, .self = false}));
  CHECK_FALSE(Any(s.Fdbs(d.index), [&](const Fdb& e) { return e.mac == m3; }));
}
