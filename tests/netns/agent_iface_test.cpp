// weftd's external interface selection for dual stack and IPv6 only (agent/iface.*), run inside a
// throw-away node namespace with two veth underlay devices: the v4 and v6 default routes must
// leave by the same interface, the chosen interface must carry an address of every enabled
// family, --public-ipv6 is checked and advertised, --iface-can-reach takes IPv6 destinations,
// and DirectRouting's "directly connected" test works for IPv6 prefixes.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "agent/iface.h"
#include "cni/error.h"
#include "netns_fixture.h"

namespace {

void Sh(const std::string& ns, const std::string& cmd) {
  REQUIRE(std::system(("ip -n " + ns + " " + cmd + " >/dev/null 2>&1").c_str()) == 0);
}

std::string LookupError(const weft::agent::IfaceOptions& o) {
  try {
    weft::agent::LookupExtIface(o);
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "";
}

}  // namespace

TEST_CASE("agent iface: dual stack and IPv6-only selection", "[netns][agent]") {
  weft_test::TempNetns node("wds-if");
  const std::string& n = node.name();
  for (std::string i : {"0", "1"}) {
    Sh(n, "link add wdsu" + i + " mtu 1400 type veth peer name wdsp" + i + " mtu 1400");
    Sh(n, "link set wdsu" + i + " up");
    Sh(n, "link set wdsp" + i + " up");
  }
  Sh(n, "addr add 10.77.0.1/24 dev wdsu0");
  Sh(n, "-6 addr add fd77::1/64 dev wdsu0 nodad");
  Sh(n, "-6 addr add fd78::1/64 dev wdsu1 nodad");
  Sh(n, "route add default via 10.77.0.254 dev wdsu0");
  Sh(n, "-6 route add default via fd78::254 dev wdsu1");
  cni::net::NetnsGuard in(node.ns());

  weft::agent::IfaceOptions dual;
  dual.ipv6 = true;
  CHECK(LookupError(dual) == "v6 default route interface (wdsu1) and v4 default route interface (wdsu0) are not the same");

  weft::agent::IfaceOptions v6only;
  v6only.ipv4 = false;
  v6only.ipv6 = true;
  auto e6 = weft::agent::LookupExtIface(v6only);
  CHECK(e6.name == "wdsu1");
  CHECK(e6.addr6.String() == "fd78::1");
  CHECK(e6.public_ip6.String() == "fd78::1");
  CHECK_FALSE(e6.addr.valid());

  // --iface naming an interface without IPv4 does not match in dual stack.
  weft::agent::IfaceOptions named = dual;
  named.iface = {"wdsu1"};
  CHECK(LookupError(named) == "Failed to find interface to use that matches the interfaces and/or regexes provided");
  named.iface = {"wdsu1", "wdsu0"};
  CHECK(weft::agent::LookupExtIface(named).name == "wdsu0");
  named.iface = {"fd77::1"};  // an IP of either family names its interface
  CHECK(weft::agent::LookupExtIface(named).name == "wdsu0");

  Sh(n, "-6 route replace default via fd77::254 dev wdsu0");
  auto e = weft::agent::LookupExtIface(dual);
  CHECK(e.name == "wdsu0");
  CHECK(e.mtu == 1400);
  CHECK(e.addr.String() == "10.77.0.1");
  CHECK(e.public_ip.String() == "10.77.0.1");
  CHECK(e.addr6.String() == "fd77::1");
  CHECK(e.public_ip6.String() == "fd77::1");

  weft::agent::IfaceOptions pub = dual;
  pub.public_ipv6 = "2001:db8::9";
  auto ep = weft::agent::LookupExtIface(pub);
  CHECK(ep.addr6.String() == "fd77::1");  // the VXLAN local address stays the interface's
  CHECK(ep.public_ip6.String() == "2001:db8::9");
  pub.public_ipv6 = "10.0.0.1";
  CHECK(LookupError(pub) == "invalid --public-ipv6 10.0.0.1");

  Sh(n, "-6 route del default");
  CHECK(LookupError(v6only) == "failed to get default interface: no IPv6 default route");
  CHECK(LookupError(dual) == "failed to get default v6 interface: no IPv6 default route");

  // --iface-can-reach with an IPv6 destination: the interface of the source the kernel picks
  // (fd78::/64 is on-link on wdsu1, fd77::/64 on wdsu0), which must carry every enabled family.
  weft::agent::IfaceOptions reach = v6only;
  reach.iface_can_reach = "fd78::99";
  CHECK(weft::agent::LookupExtIface(reach).name == "wdsu1");
  CHECK(weft::agent::LookupExtIface(reach).addr6.String() == "fd78::1");
  reach.iface_can_reach = "fd77::5";
  CHECK(weft::agent::LookupExtIface(reach).name == "wdsu0");
  reach = dual;
  reach.iface_can_reach = "fd77::5";
  auto er = weft::agent::LookupExtIface(reach);
  CHECK(er.name == "wdsu0");
  CHECK(er.addr.String() == "10.77.0.1");
  reach.iface_can_reach = "fd78::99";  // wdsu1 has no IPv4 address
  CHECK(LookupError(reach) == "Failed to find interface to use that matches the interfaces and/or regexes provided");
  reach.iface_can_reach = "fd79::1";  // no route at all
  CHECK(LookupError(reach) == "Failed to find interface to use that matches the interfaces and/or regexes provided");
  reach.iface_can_reach = "nonsense";
  CHECK(LookupError(reach) == "invalid --iface-can-reach nonsense");

  CHECK(weft::agent::IsDirectlyConnected(*cni::IP::Parse("fd77::5")));
  CHECK(weft::agent::IsDirectlyConnected(*cni::IP::Parse("10.77.0.9")));
  CHECK_FALSE(weft::agent::IsDirectlyConnected(*cni::IP::Parse("fd79::1")));
}
