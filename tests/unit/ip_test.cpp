// cni::IP / cni::IPNet against Go's net package behaviour: the accept/reject table of
// net.ParseIP and net.ParseCIDR, net.IP.String (RFC 5952, mapped IPv4 as dotted quad, no
// "::a.b.c.d" compat form), and the arithmetic the plugins use.
#include <catch2/catch.hpp>

#include "cni/ip.h"

using cni::IP;
using cni::IPNet;

namespace {
std::string Canon(const char* s) {
  auto ip = IP::Parse(s);
  return ip ? ip->String() : "INVALID";
}
}  // namespace

TEST_CASE("ParseIP accepts what Go accepts and prints it like Go", "[ip]") {
  struct Case {
    const char* in;
    const char* out;
    int family;
  };
  const Case cases[] = {
      {"10.1.0.5", "10.1.0.5", 4},
      {"0.0.0.0", "0.0.0.0", 4},
      {"255.255.255.255", "255.255.255.255", 4},
      {"::ffff:1.2.3.4", "1.2.3.4", 4},
      {"::ffff:102:304", "1.2.3.4", 4},
      {"::FFFF:0A01:0005", "10.1.0.5", 4},
      {"::", "::", 6},
      {"::1", "::1", 6},
      {"1::", "1::", 6},
      {"::1.2.3.4", "::102:304", 6},
      {"64:ff9b::1.2.3.4", "64:ff9b::102:304", 6},
      {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304", 6},
      {"FD00:0000:0000:0000:0000:0000:0000:0001", "fd00::1", 6},
      {"fd00:0:0:1:0:0:0:1", "fd00:0:0:1::1", 6},     // longest run wins
      {"fd00:0:0:1:1:0:0:1", "fd00::1:1:0:0:1", 6},   // first run on a tie
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", 6},  // a single zero group is not compressed
      {"0:0:0:0:0:0:0:0", "::", 6},
      {"1:0:0:0:0:0:0:0", "1::", 6},
      {"0001:0002::", "1:2::", 6},
      {"fe80::1:2", "fe80::1:2", 6},
      {"::ffff:0:0", "0.0.0.0", 4},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    auto ip = IP::Parse(c.in);
    REQUIRE(ip);
    CHECK(ip->String() == c.out);
    CHECK(ip->family() == c.family);
    CHECK(IP::Parse(ip->String()) == ip);  // round trip
  }
}

TEST_CASE("ParseIP rejects what Go rejects", "[ip]") {
  const char* bad[] = {"", "010.1.0.5", "1.2.3.04", "00.1.2.3", "1.2.3", "1.2.3.4.5", "256.1.1.1",
                       "1.2.3.1000", "1..2.3", "1.2.3.4.", ".1.2.3.4", " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4",
                       "1.2.3.a", "bogus", ":", ":::", "1:::2", "1::2::3", ":1::2", "1::2:", "1:2",
                       "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
                       "fe80::1%eth0", "::ffff:010.1.2.3", "1:2:3:4:5:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
                       "::1.2.3", "g::1", "1.2.3.4/24", "[::1]"};
  for (const char* s : bad) {
    INFO(s);
    CHECK_FALSE(IP::Parse(s));
  }
}

TEST_CASE("IP values: bytes, families, predicates", "[ip]") {
  IP v4 = IP::V4(0x0a010005);
  CHECK(v4.String() == "10.1.0.5");
  CHECK(v4.size() == 4);
  CHECK(v4.bits() == 32);
  const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 5};
  CHECK(IP::FromBytes(mapped, 16) == v4);
  CHECK(IP().String() == "<nil>");
  CHECK_FALSE(IP().valid());
  CHECK(IP::Parse("127.1.2.3")->IsLoopback());
  CHECK(IP::Parse("::1")->IsLoopback());
  CHECK_FALSE(IP::Parse("::2")->IsLoopback());
  CHECK(IP::Parse("0.0.0.0")->IsUnspecified());
  CHECK(IP::Parse("::")->IsUnspecified());
  CHECK_FALSE(IP::Parse("::1")->IsUnspecified());
  CHECK(*IP::Parse("10.0.0.1") < *IP::Parse("10.0.0.2"));
}

TEST_CASE("Next and Prev carry and wrap", "[ip]") {
  CHECK(IP::Parse("10.0.0.255")->Next().String() == "10.0.1.0");
  CHECK(IP::Parse("10.0.1.0")->Prev().String() == "10.0.0.255");
  CHECK(IP::Parse("255.255.255.255")->Next().String() == "0.0.0.0");
  CHECK(IP::Parse("0.0.0.0")->Prev().String() == "255.255.255.255");
  CHECK(IP::Parse("fd00::ffff")->Next().String() == "fd00::1:0");
  CHECK(IP::Parse("fd00::1:0")->Prev().String() == "fd00::ffff");
  CHECK(IP::Parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")->Next().String() == "::");
  CHECK(IP::Parse("::")->Prev().String() == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST_CASE("ParseCIDR: accept, reject, keep host bits", "[ip]") {
  auto n = IPNet::Parse("10.1.2.3/24");
  REQUIRE(n);
  CHECK(n->String() == "10.1.2.3/24");
  CHECK(n->Network().String() == "10.1.2.0");
  CHECK(n->Masked().String() == "10.1.2.0/24");
  CHECK(IPNet::Parse("10.1.2.3/024")->prefix == 24);  // Go's dtoi allows leading zeros
  CHECK(IPNet::Parse("fd00::5/64")->String() == "fd00::5/64");
  CHECK(IPNet::Parse("0.0.0.0/0")->String() == "0.0.0.0/0");
  CHECK(IPNet::Parse("::/0")->String() == "::/0");
  CHECK(IPNet::Parse("1.2.3.4/32")->prefix == 32);
  CHECK(IPNet::Parse("::1/128")->prefix == 128);
  // A mapped IPv4 in IPv6 form takes an IPv6 prefix; Go prints the IPv4 view of the mask.
  CHECK(IPNet::Parse("::ffff:1.2.3.4/120")->String() == "1.2.3.4/24");
  CHECK(IPNet::Parse("::ffff:1.2.3.4/64")->String() == "1.2.3.4/0");
  const char* bad[] = {"10.1.2.3", "10.1.2.3/33", "fd00::/129", "10.1.2.3/", "10.1.2.3/-1", "10.1.2.3/+8",
                       "10.1.2.3/8x", "010.1.2.3/8", "bogus", "", "/8", "fe80::1%eth0/64", "10.1.2.3/24/1",
                       "10.1.2.3/ 8", "10.1.2.3/99999"};
  for (const char* s : bad) {
    INFO(s);
    CHECK_FALSE(IPNet::Parse(s));
  }
  CHECK(IPNet{}.String() == "<nil>");
}

TEST_CASE("Broadcast, Contains, MaskHex", "[ip]") {
  CHECK(IPNet::Parse("10.1.2.3/24")->Broadcast().String() == "10.1.2.255");
  CHECK(IPNet::Parse("10.1.2.3/30")->Broadcast().String() == "10.1.2.3");
  CHECK(IPNet::Parse("10.1.2.3/32")->Broadcast().String() == "10.1.2.3");
  CHECK(IPNet::Parse("10.1.2.3/0")->Broadcast().String() == "255.255.255.255");
  CHECK(IPNet::Parse("fd00::5/64")->Broadcast().String() == "fd00::ffff:ffff:ffff:ffff");
  CHECK(IPNet::Parse("fd00::5/120")->Broadcast().String() == "fd00::ff");

  auto n = *IPNet::Parse("10.1.2.0/23");
  CHECK(n.Contains(*IP::Parse("10.1.3.255")));
  CHECK(n.Contains(*IP::Parse("::ffff:10.1.2.9")));
  CHECK_FALSE(n.Contains(*IP::Parse("10.1.4.0")));
  CHECK_FALSE(n.Contains(*IP::Parse("::ffff:a01:400")));
  CHECK_FALSE(n.Contains(*IP::Parse("::a01:201")));  // IPv6, not mapped
  CHECK_FALSE(n.Contains(IP()));
  CHECK(IPNet::Parse("0.0.0.0/0")->Contains(*IP::Parse("1.2.3.4")));
  CHECK_FALSE(IPNet::Parse("::/0")->Contains(*IP::Parse("1.2.3.4")));
  CHECK(IPNet::Parse("fd00::/64")->Contains(*IP::Parse("fd00::ffff:0:0:1")));

  CHECK(IPNet::Parse("10.0.0.0/24")->MaskHex() == "ffffff00");
  CHECK(IPNet::Parse("10.0.0.0/17")->MaskHex() == "ffff8000");
  CHECK(IPNet::Parse("10.0.0.0/0")->MaskHex() == "00000000");
  CHECK(IPNet::Parse("fd00::/64")->MaskHex() == "ffffffffffffffff0000000000000000");
  CHECK(IPNet::Parse("fd00::/128")->MaskHex() == "ffffffffffffffffffffffffffffffff");
  CHECK(Canon("::ffff:1.2.3.4") == "1.2.3.4");
}

TEST_CASE("Overlaps and NextBlock (subnet allocation steps, v4 and v6)", "[ip]") {
  auto N = [](const char* s) { return *IPNet::Parse(s); };
  CHECK(N("10.244.0.0/16").Overlaps(N("10.244.3.0/24")));
  CHECK(N("10.244.3.0/24").Overlaps(N("10.244.0.0/16")));
  CHECK_FALSE(N("10.244.3.0/24").Overlaps(N("10.244.4.0/24")));
  CHECK_FALSE(N("10.244.3.0/24").Overlaps(N("::/0")));
  CHECK(N("fc00::/48").Overlaps(N("fc00:0:0:5::/64")));
  CHECK(N("10.244.1.0/24").NextBlock().String() == "10.244.2.0/24");
  CHECK(N("10.244.255.0/24").NextBlock().String() == "10.245.0.0/24");
  CHECK(N("10.0.0.4/30").NextBlock().String() == "10.0.0.8/30");
  CHECK(N("255.255.255.0/24").NextBlock().String() == "0.0.0.0/24");  // wraps
  CHECK(N("fc00:0:0:1::/64").NextBlock().String() == "fc00:0:0:2::/64");
  CHECK(N("fc00:0:0:ffff::/64").NextBlock().String() == "fc00:0:1::/64");
  CHECK(N("fc00::/56").NextBlock().String() == "fc00:0:0:100::/56");
}
