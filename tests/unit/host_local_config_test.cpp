// host-local configuration: decoding, canonicalisation and validation with the reference's
// messages (config_test.go, range_test.go, range_set_test.go, dns_test.go; cni-plugins.md §5.3).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cni/error.h"
#include "cni/json.h"
#include "config.h"

namespace fs = std::filesystem;
using hostlocal::IpamConfig;
using hostlocal::LoadIpamConfig;
using hostlocal::Range;
using hostlocal::RangeSet;

namespace {

IpamConfig Load(const std::string& json, const std::string& args = "") {
  return LoadIpamConfig(cni::ParseJson(json), args);
}

std::string LoadError(const std::string& json, const std::string& args = "") {
  try {
    Load(json, args);
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "<no error>";
}

cni::IP Ip(const char* s) { return *cni::IP::Parse(s); }

Range MakeRange(const char* subnet, const char* start = nullptr, const char* end = nullptr, const char* gw = nullptr) {
  Range r;
  r.subnet = *cni::IPNet::Parse(subnet);
  r.mask_bits = std::string(subnet).find(':') != std::string::npos ? 128 : 32;
  if (start) r.range_start = Ip(start);
  if (end) r.range_end = Ip(end);
  if (gw) r.gateway = Ip(gw);
  return r;
}

std::string CanonError(Range r) {
  try {
    r.Canonicalize();
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("host-local config: old-style single range", "[host-local]") {
  auto c = Load(R"({"cniVersion":"0.3.1","name":"mynet","type":"ipvlan","master":"foo0",
    "ipam":{"type":"host-local","subnet":"10.1.2.0/24","rangeStart":"10.1.2.9","rangeEnd":"10.1.2.20","gateway":"10.1.2.30"}})");
  REQUIRE(c.name == "mynet");
  REQUIRE(c.data_dir == "/var/lib/cni/networks");
  REQUIRE(c.range_sets.size() == 1);
  REQUIRE(c.range_sets[0].ranges.size() == 1);
  const Range& r = c.range_sets[0].ranges[0];
  CHECK(r.range_start == Ip("10.1.2.9"));
  CHECK(r.range_end == Ip("10.1.2.20"));
  CHECK(r.gateway == Ip("10.1.2.30"));
  CHECK(r.subnet.String() == "10.1.2.0/24");
}

TEST_CASE("host-local config: new-style ranges with defaults", "[host-local]") {
  auto c = Load(R"({"cniVersion":"0.3.1","name":"mynet","ipam":{"type":"host-local","dataDir":"/tmp/x",
    "ranges":[[{"subnet":"10.1.2.0/24","rangeStart":"10.1.2.9","rangeEnd":"10.1.2.20","gateway":"10.1.2.30"},
               {"subnet":"10.1.4.0/24"}],
              [{"subnet":"11.1.2.0/24","rangeStart":"11.1.2.9","rangeEnd":"11.1.2.20","gateway":"11.1.2.30"}]]}})");
  REQUIRE(c.data_dir == "/tmp/x");
  REQUIRE(c.range_sets.size() == 2);
  const Range& d = c.range_sets[0].ranges[1];
  CHECK(d.range_start == Ip("10.1.4.1"));
  CHECK(d.range_end == Ip("10.1.4.254"));
  CHECK(d.gateway == Ip("10.1.4.1"));
  CHECK(c.range_sets[0].String() == "10.1.2.9-10.1.2.20,10.1.4.1-10.1.4.254");
}

TEST_CASE("host-local config: runtime ipRanges, legacy subnet and ranges are ordered", "[host-local]") {
  auto c = Load(R"({"cniVersion":"0.3.1","name":"mynet","runtimeConfig":{"ipRanges":[[{"subnet":"12.1.3.0/24"}]]},
    "ipam":{"type":"host-local","subnet":"10.1.2.0/24","ranges":[[{"subnet":"11.1.2.0/24"}]]}})");
  REQUIRE(c.range_sets.size() == 3);
  CHECK(c.range_sets[0].ranges[0].subnet.String() == "12.1.3.0/24");
  CHECK(c.range_sets[1].ranges[0].subnet.String() == "10.1.2.0/24");
  CHECK(c.range_sets[2].ranges[0].subnet.String() == "11.1.2.0/24");
}

TEST_CASE("host-local config: requested IPs from CNI_ARGS, args and runtimeConfig", "[host-local]") {
  const std::string base = R"({"cniVersion":"0.3.1","name":"mynet","ipam":{"type":"host-local","subnet":"10.1.2.0/24"}})";
  CHECK(Load(base, "IP=10.1.2.10").requested == std::vector<cni::IP>{Ip("10.1.2.10")});
  CHECK(Load(base, "IP=10.1.2.11/24").requested == std::vector<cni::IP>{Ip("10.1.2.11")});
  auto c = Load(R"({"cniVersion":"0.3.1","name":"mynet","args":{"cni":{"ips":["10.1.2.11","11.11.11.11/8","2001:db8:1::11"]}},
    "ipam":{"type":"host-local","subnet":"10.1.2.0/24"}})", "IP=10.1.2.10/24");
  CHECK(c.requested == std::vector<cni::IP>{Ip("10.1.2.10"), Ip("10.1.2.11"), Ip("11.11.11.11"), Ip("2001:db8:1::11")});
  auto r = Load(R"({"cniVersion":"0.3.1","name":"mynet","runtimeConfig":{"ips":["192.168.0.1","192.168.0.5/24","2001:db8::1/64"]},
    "ipam":{"type":"host-local","subnet":"192.168.0.0/24"}})");
  REQUIRE(r.requested.size() == 3);
  CHECK(r.requested[0].is4());
  CHECK(r.requested[1] == Ip("192.168.0.5"));
  CHECK(r.requested[2].is6());
  CHECK(LoadError(base, "IP=bogus") == "ARGS: error parsing value of pair \"IP=bogus\": invalid IP address bogus");
  CHECK(LoadError(base, "ip=10.1.2.3") == "ARGS: unknown args [\"ip=10.1.2.3\"]");
  CHECK(Load(base, "IgnoreUnknown=1;MAC=02:00:00:00:00:01").requested.empty());
  CHECK(LoadError(R"({"name":"n","args":{"cni":{"ips":["zz"]}},"ipam":{"subnet":"10.1.2.0/24"}})") ==
        "invalid IP address zz");
}

TEST_CASE("host-local config: validation errors", "[host-local]") {
  CHECK(LoadError(R"({"name":"n"})") == "IPAM config missing 'ipam' key");
  CHECK(LoadError(R"({"name":"n","ipam":{"type":"host-local"}})") == "no IP ranges specified");
  CHECK(LoadError(R"({"name":"n","ipam":{"ranges":[]}})") == "no IP ranges specified");
  CHECK(LoadError(R"({"name":"n","ipam":{"ranges":[[]]}})") == "invalid range set 0: empty range set");
  CHECK(LoadError(R"({"name":"n","ipam":{"ranges":[[{}]]}})") == "invalid range set 0: IP <nil> not v4 nor v6");
  CHECK(LoadError(R"({"name":"n","ipam":{"ranges":[[{"subnet":""}]]}})") == "invalid CIDR address: ");
  CHECK(LoadError(R"({"name":"n","ipam":{"ranges":[[{"subnet":"10.1.0.0/24","gateway":"x"}]]}})") ==
        "invalid IP address: x");
  CHECK(LoadError(R"({"name":"n","ipam":{"dataDir":5,"subnet":"10.1.0.0/24"}})") ==
        "json: cannot unmarshal number into Go struct field IPAMConfig.ipam.dataDir of type string");
  CHECK(LoadError(R"({"name":"n","ipam":{"ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"10.1.0.0/24"}]]}})") ==
        "range set 0 overlaps with 1");
  CHECK(LoadError(R"({"name":"n","ipam":{"ranges":[[{"subnet":"10.1.0.0/22"},{"subnet":"10.1.2.0/24"}]]}})") ==
        "invalid range set 0: subnets 10.1.0.1-10.1.3.254 and 10.1.2.1-10.1.2.254 overlap");
  CHECK(LoadError(R"({"name":"n","ipam":{"ranges":[[{"subnet":"10.1.0.0/24"},{"subnet":"2001:db8::/64"}]]}})") ==
        "invalid range set 0: mixed address families");
  CHECK(LoadError(R"({"cniVersion":"0.2.0","name":"n","ipam":{"ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"10.2.0.0/24"}]]}})") ==
        "CNI version 0.2.0 does not support more than 1 address per family");
  CHECK_NOTHROW(Load(R"({"cniVersion":"0.2.0","name":"n","ipam":{"ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"2001:db8::/64"}]]}})"));
  CHECK_NOTHROW(Load(R"({"cniVersion":"0.3.0","name":"n","ipam":{"ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"10.2.0.0/24"}]]}})"));
  // Go decoding: keys match case-insensitively.
  CHECK(Load(R"({"name":"n","IPAM":{"Subnet":"10.9.0.0/24","DATADIR":"/d"}})").data_dir == "/d");
}

TEST_CASE("host-local ranges: canonicalisation", "[host-local]") {
  Range r = MakeRange("192.0.2.0/24");
  r.Canonicalize();
  CHECK(r.range_start == Ip("192.0.2.1"));
  CHECK(r.range_end == Ip("192.0.2.254"));
  CHECK(r.gateway == Ip("192.0.2.1"));
  Range r25 = MakeRange("192.0.2.0/25");
  r25.Canonicalize();
  CHECK(r25.range_end == Ip("192.0.2.126"));
  Range v6 = MakeRange("2001:db8:1::/64");
  v6.Canonicalize();
  CHECK(v6.range_start == Ip("2001:db8:1::1"));
  CHECK(v6.range_end == Ip("2001:db8:1::ffff:ffff:ffff:ffff"));
  CHECK(v6.gateway == Ip("2001:db8:1::1"));

  CHECK(CanonError(MakeRange("192.0.2.12/24")) ==
        "Network has host bits set. For a subnet mask of length 24 the network address is 192.0.2.0");
  CHECK(CanonError(MakeRange("2001:db8:1::1/64")) ==
        "Network has host bits set. For a subnet mask of length 64 the network address is 2001:db8:1::");
  CHECK(CanonError(MakeRange("2001:DB8:24:19ff::/63")) ==
        "Network has host bits set. For a subnet mask of length 63 the network address is 2001:db8:24:19fe::");
  CHECK(CanonError(MakeRange("192.168.127.0/23")) ==
        "Network has host bits set. For a subnet mask of length 23 the network address is 192.168.126.0");
  CHECK(CanonError(MakeRange("192.0.2.0/31")) == "Network 192.0.2.0/31 too small to allocate from");
  CHECK(CanonError(MakeRange("192.0.2.0/32")) == "Network 192.0.2.0/32 too small to allocate from");
  CHECK(CanonError(MakeRange("2001:db8::/127")) == "Network 2001:db8::/127 too small to allocate from");
  CHECK(CanonError(MakeRange("192.0.2.0/24", "192.0.3.0")) == "RangeStart 192.0.3.0 not in network 192.0.2.0/24");
  CHECK(CanonError(MakeRange("192.0.2.0/24", nullptr, "192.0.4.0")) == "RangeEnd 192.0.4.0 not in network 192.0.2.0/24");
  CHECK(CanonError(MakeRange("192.0.2.0/24", "192.0.2.50", "192.0.2.40")) ==
        "RangeStart 192.0.2.50 not in network 192.0.2.0/24");
  // The gateway is not checked at all.
  CHECK(CanonError(MakeRange("192.0.2.0/24", nullptr, nullptr, "fd00::1")) == "<no error>");
}

TEST_CASE("host-local ranges: contains and overlaps", "[host-local]") {
  Range r = MakeRange("192.0.2.0/24", "192.0.2.40", "192.0.2.50");
  r.Canonicalize();
  CHECK_FALSE(r.Contains(Ip("192.0.2.39")));
  CHECK(r.Contains(Ip("192.0.2.40")));
  CHECK(r.Contains(Ip("192.0.2.50")));
  CHECK_FALSE(r.Contains(Ip("192.0.2.51")));
  CHECK_FALSE(r.Contains(Ip("2001:db8::40")));
  Range r6 = MakeRange("2001:db8:1::/64", "2001:db8:1::40", "2001:db8:1::50");
  r6.Canonicalize();
  CHECK_FALSE(r6.Contains(Ip("2001:db8:1::39")));
  CHECK(r6.Contains(Ip("2001:db8:1::40")));
  CHECK(r6.Contains(Ip("2001:db8:1::50")));
  CHECK_FALSE(r6.Contains(Ip("2001:db8:1::51")));

  auto canon = [](Range x) { x.Canonicalize(); return x; };
  CHECK_FALSE(canon(MakeRange("10.0.0.0/24")).Overlaps(canon(MakeRange("10.1.0.0/24"))));
  CHECK_FALSE(canon(MakeRange("10.0.0.0/24")).Overlaps(canon(MakeRange("2001:db8::/64"))));
  CHECK(canon(MakeRange("10.0.0.0/24")).Overlaps(canon(MakeRange("10.0.0.0/24"))));
  CHECK(canon(MakeRange("10.0.0.0/20")).Overlaps(canon(MakeRange("10.0.1.0/24"))));
  CHECK_FALSE(canon(MakeRange("10.0.0.0/24", nullptr, "10.0.0.127")).Overlaps(canon(MakeRange("10.0.0.0/24", "10.0.0.128"))));
  CHECK(canon(MakeRange("10.0.0.0/24", nullptr, "10.0.0.127")).Overlaps(canon(MakeRange("10.0.0.0/24", "10.0.0.127"))));
}

TEST_CASE("host-local range sets: membership and errors", "[host-local]") {
  RangeSet s{{MakeRange("192.168.0.0/24"), MakeRange("172.16.1.0/24")}};
  s.Canonicalize();
  CHECK(s.Contains(Ip("192.168.0.55")));
  CHECK(s.Contains(Ip("172.16.1.55")));
  CHECK_FALSE(s.Contains(Ip("192.168.99.99")));
  CHECK(s.String() == "192.168.0.1-192.168.0.254,172.16.1.1-172.16.1.254");
  RangeSet bad{{MakeRange("192.168.0.0/20"), MakeRange("192.168.2.0/24")}};
  try {
    bad.Canonicalize();
    FAIL("no error");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "subnets 192.168.0.1-192.168.15.254 and 192.168.2.1-192.168.2.254 overlap");
  }
  RangeSet a{{MakeRange("192.168.0.0/20")}}, b{{MakeRange("192.168.2.0/24")}};
  a.Canonicalize();
  b.Canonicalize();
  CHECK(a.Overlaps(b));
  CHECK(b.Overlaps(a));
}

TEST_CASE("host-local resolv.conf parsing", "[host-local]") {
  std::string path = (fs::temp_directory_path() / ("weft-hl-resolv-" + std::to_string(getpid()))).string();
  {
    std::ofstream f(path);
    f << "nameserver 192.0.2.0\n; a comment\n# another\n  nameserver 192.0.2.2  \ndomain example.com\n"
         "search example.net example.org\nsearch example.gov\noptions one two three\noptions four\nbogus\n";
  }
  cni::DNS dns = hostlocal::ParseResolvConf(path);
  fs::remove(path);
  CHECK(dns.nameservers == std::vector<std::string>{"192.0.2.0", "192.0.2.2"});
  CHECK(dns.domain == "example.com");
  CHECK(dns.search == std::vector<std::string>{"example.net", "example.org", "example.gov"});
  CHECK(dns.options == std::vector<std::string>{"one", "two", "three", "four"});
  try {
    hostlocal::ParseResolvConf("/nonexistent");
    FAIL("no error");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "open /nonexistent: no such file or directory");
  }
}
