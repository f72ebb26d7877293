// cni::Result: the version-conversion matrix (every from-version x to-version), the exact bytes
// of the reference examples in shared/reference/cni-plugins.md §1.3a, the L2-to-0.2.0 failure,
// parsing of 0.1/0.2 input, Go's address errors, and version comparison.
#include <catch2/catch.hpp>

#include <functional>
#include <map>

#include "cni/error.h"
#include "cni/result.h"

using cni::Json;
using cni::Result;

namespace {

cni::IPNet Net(const char* s) { return *cni::IPNet::Parse(s); }
cni::IP Addr(const char* s) { return *cni::IP::Parse(s); }

cni::Error ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const cni::Error& e) {
    return e;
  }
  return cni::Error(0, "no error");
}

// A dual-stack result using every field of the 1.1 model.
Result Full() {
  Result r;
  r.cni_version = "1.1.0";
  r.interfaces = {{"cni0", "aa:bb:cc:dd:ee:01", 1400, "", "", ""},
                  {"veth1", "aa:bb:cc:dd:ee:02", std::nullopt, "", "", ""},
                  {"eth0", "aa:bb:cc:dd:ee:03", std::nullopt, "/var/run/netns/p", "/s", "0000:00:01.0"}};
  r.ips = {{2, Net("10.1.0.5/24"), Addr("10.1.0.1")},
           {2, Net("fd00::5/64"), Addr("fd00::1")},
           {2, Net("10.2.0.5/16"), std::nullopt},
           {std::nullopt, Net("fd01::5/64"), std::nullopt}};
  cni::Route def4{Net("0.0.0.0/0"), Addr("10.1.0.1"), 1400, std::nullopt, std::nullopt, 0, std::nullopt};
  cni::Route def6{Net("::/0"), std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  cni::Route extra{Net("192.168.0.0/16"), std::nullopt, std::nullopt, 1200, 5, std::nullopt, 253};
  r.routes = {def4, def6, extra};
  r.dns.nameservers = {"10.1.0.10"};
  r.dns.domain = "cluster.local";
  r.dns.search = {"a"};
  r.dns.options = {"ndots:5"};
  return r;
}

const std::string kDNS =
    R"("dns":{"nameservers":["10.1.0.10"],"domain":"cluster.local","search":["a"],"options":["ndots:5"]})";
const std::string kIfFull =
    R"("interfaces":[{"name":"cni0","mac":"aa:bb:cc:dd:ee:01","mtu":1400},{"name":"veth1","mac":"aa:bb:cc:dd:ee:02"},)"
    R"({"name":"eth0","mac":"aa:bb:cc:dd:ee:03","sandbox":"/var/run/netns/p","socketPath":"/s","pciID":"0000:00:01.0"}],)";
const std::string kIf04 =
    R"("interfaces":[{"name":"cni0","mac":"aa:bb:cc:dd:ee:01"},{"name":"veth1","mac":"aa:bb:cc:dd:ee:02"},)"
    R"({"name":"eth0","mac":"aa:bb:cc:dd:ee:03","sandbox":"/var/run/netns/p"}],)";
const std::string kIps1 =
    R"("ips":[{"interface":2,"address":"10.1.0.5/24","gateway":"10.1.0.1"},{"interface":2,"address":"fd00::5/64","gateway":"fd00::1"},)"
    R"({"interface":2,"address":"10.2.0.5/16"},{"address":"fd01::5/64"}],)";
const std::string kIps04 =
    R"("ips":[{"version":"4","interface":2,"address":"10.1.0.5/24","gateway":"10.1.0.1"},{"version":"6","interface":2,"address":"fd00::5/64","gateway":"fd00::1"},)"
    R"({"version":"4","interface":2,"address":"10.2.0.5/16"},{"version":"6","address":"fd01::5/64"}],)";
const std::string kRoutesFull =
    R"("routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1","mtu":1400,"table":0},{"dst":"::/0"},)"
    R"({"dst":"192.168.0.0/16","advmss":1200,"priority":5,"scope":253}],)";

// What each target version must print, given how much the source version could carry.
std::string Expected(const std::string& from, const std::string& to) {
  bool to02 = to < "0.3.0", to04 = !to02 && to < "1.0.0";
  bool from02 = from < "0.3.0", from04 = !from02 && from < "1.0.0";
  std::string head = R"({"cniVersion":")" + to + R"(",)";
  if (to02) {
    return head +
           R"("ip4":{"ip":"10.1.0.5/24","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"192.168.0.0/16"}]},)"
           R"("ip6":{"ip":"fd00::5/64","gateway":"fd00::1","routes":[{"dst":"::/0"}]},)" +
           kDNS + "}";
  }
  if (from02) {
    std::string v4 = to04 ? R"("version":"4",)" : "", v6 = to04 ? R"("version":"6",)" : "";
    return head + R"("ips":[{)" + v4 + R"("address":"10.1.0.5/24","gateway":"10.1.0.1"},{)" + v6 +
           R"("address":"fd00::5/64","gateway":"fd00::1"}],)" +
           R"("routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"192.168.0.0/16"},{"dst":"::/0"}],)" + kDNS + "}";
  }
  if (to04) return head + kIf04 + kIps04 + kRoutesFull + kDNS + "}";
  return head + (from04 ? kIf04 : kIfFull) + kIps1 + kRoutesFull + kDNS + "}";
}

}  // namespace

TEST_CASE("Result: every from-version x to-version conversion", "[result]") {
  const Result full = Full();
  for (const std::string& from : cni::SupportedVersions()) {
    // The result as a plugin of version `from` would have printed it, read back.
    Result src = Result::FromJson(cni::ParseJson(full.Print(from)));
    CHECK(src.cni_version == from);
    for (const std::string& to : cni::SupportedVersions()) {
      INFO(from << " -> " << to);
      CHECK(cni::Marshal(src.ToJson(to)) == Expected(from, to));
    }
  }
}

TEST_CASE("Result: printing is Go's MarshalIndent with 4 spaces and no trailing newline", "[result]") {
  // Bytes printed by the reference static plugin (1.1.1) for ::ffff:1.2.3.4/120 and ::1.2.3.4/64.
  const std::string ref =
      "{\n    \"cniVersion\": \"1.0.0\",\n    \"ips\": [\n        {\n            \"address\": \"1.2.3.4/24\"\n"
      "        },\n        {\n            \"address\": \"::102:304/64\",\n            \"gateway\": \"::1\"\n"
      "        }\n    ],\n    \"routes\": [\n        {\n            \"dst\": \"0.0.0.0/0\"\n        }\n    ],\n"
      "    \"dns\": {}\n}";
  Result r;
  r.ips = {{std::nullopt, *cni::IPNet::Parse("::ffff:1.2.3.4/120"), std::nullopt},
           {std::nullopt, *cni::IPNet::Parse("::1.2.3.4/64"), cni::IP::Parse("0:0:0:0:0:0:0:1")}};
  r.routes = {cni::Route{Net("0.0.0.0/0"), std::nullopt, 0, std::nullopt, std::nullopt, std::nullopt, std::nullopt}};
  CHECK(r.Print("1.0.0") == ref);
  CHECK(Result::FromJson(cni::ParseJson(ref)).Print("1.0.0") == ref);
}

TEST_CASE("Result: reference examples of cni-plugins.md 1.3a, byte for byte", "[result]") {
  // The strings below are copied from the reference document (whitespace compacted there).
  const std::map<std::string, std::string> examples = {
      {"0.3.1",
       R"({"cniVersion":"0.3.1","interfaces":[{"name":"rsbr0","mac":"a6:06:d4:a1:b6:c1"},{"name":"veth33cbeeda","mac":"da:e9:3a:ad:96:a6"},{"name":"eth0","mac":"02:00:00:00:00:42","sandbox":"/var/run/netns/rsB"}],"ips":[{"version":"4","interface":2,"address":"10.199.0.3/24","gateway":"10.199.0.1"},{"version":"6","interface":2,"address":"fd99::3/64","gateway":"fd99::1"}],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"dns":{}})"},
      {"1.0.0",
       R"({"cniVersion":"1.0.0","interfaces":[{"name":"rsbr1","mac":"0a:82:0f:ac:3f:c5"},{"name":"veth2eed477c","mac":"0a:82:0f:ac:3f:c5"},{"name":"eth1","mac":"82:22:dd:59:e3:8c","sandbox":"/var/run/netns/rsB"}],"dns":{}})"},
      {"1.0.0-hl",
       R"({"cniVersion":"1.0.0","ips":[{"address":"10.198.0.2/29","gateway":"10.198.0.3"}],"routes":[{"dst":"192.168.0.0/16","gw":"10.198.0.4"},{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["1.1.1.1","8.8.8.8"],"domain":"ex.com","search":["a.com","b.com"],"options":["ndots:5","rotate"]}})"},
      {"0.4.0",
       R"({"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.197.0.2/30","gateway":"10.197.0.1"},{"version":"6","address":"fd97::2/126","gateway":"fd97::1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}})"},
      {"0.2.0",
       R"({"cniVersion":"0.2.0","ip4":{"ip":"10.197.0.2/30","gateway":"10.197.0.1","routes":[{"dst":"0.0.0.0/0"}]},"ip6":{"ip":"fd97::2/126","gateway":"fd97::1"},"dns":{}})"},
  };

  // Built from values, as the plugins do.
  Result bridge;
  bridge.interfaces = {{"rsbr0", "a6:06:d4:a1:b6:c1", {}, "", "", ""},
                       {"veth33cbeeda", "da:e9:3a:ad:96:a6", {}, "", "", ""},
                       {"eth0", "02:00:00:00:00:42", {}, "/var/run/netns/rsB", "", ""}};
  bridge.ips = {{2, Net("10.199.0.3/24"), Addr("10.199.0.1")}, {2, Net("fd99::3/64"), Addr("fd99::1")}};
  bridge.routes = {cni::Route{Net("0.0.0.0/0"), {}, {}, {}, {}, {}, {}}, cni::Route{Net("::/0"), {}, {}, {}, {}, {}, {}}};
  CHECK(cni::Marshal(bridge.ToJson("0.3.1")) == examples.at("0.3.1"));

  Result l2;
  l2.interfaces = {{"rsbr1", "0a:82:0f:ac:3f:c5", {}, "", "", ""},
                   {"veth2eed477c", "0a:82:0f:ac:3f:c5", {}, "", "", ""},
                   {"eth1", "82:22:dd:59:e3:8c", {}, "/var/run/netns/rsB", "", ""}};
  CHECK(cni::Marshal(l2.ToJson("1.0.0")) == examples.at("1.0.0"));
  auto e = ErrorOf([&] { l2.ToJson("0.2.0"); });
  CHECK(e.code() == 999);
  CHECK(e.msg() == "cannot convert: no valid IP addresses");
  CHECK(ErrorOf([&] { l2.Print("0.1.0"); }).msg() == "cannot convert: no valid IP addresses");

  Result hl;
  hl.ips = {{{}, Net("10.198.0.2/29"), Addr("10.198.0.3")}};
  hl.routes = {cni::Route{Net("192.168.0.0/16"), Addr("10.198.0.4"), {}, {}, {}, {}, {}},
               cni::Route{Net("0.0.0.0/0"), {}, {}, {}, {}, {}, {}}};
  hl.dns = {{"1.1.1.1", "8.8.8.8"}, "ex.com", {"a.com", "b.com"}, {"ndots:5", "rotate"}};
  CHECK(cni::Marshal(hl.ToJson("1.0.0")) == examples.at("1.0.0-hl"));

  Result hl4;
  hl4.ips = {{{}, Net("10.197.0.2/30"), Addr("10.197.0.1")}, {{}, Net("fd97::2/126"), Addr("fd97::1")}};
  hl4.routes = {cni::Route{Net("0.0.0.0/0"), {}, {}, {}, {}, {}, {}}};
  CHECK(cni::Marshal(hl4.ToJson("0.4.0")) == examples.at("0.4.0"));
  CHECK(cni::Marshal(hl4.ToJson("0.2.0")) == examples.at("0.2.0"));

  // Each example parses back to a result that prints the same bytes in its own version.
  for (const auto& [key, text] : examples) {
    INFO(key);
    std::string v = key.substr(0, 5);
    CHECK(cni::Marshal(Result::FromJson(cni::ParseJson(text)).ToJson(v)) == text);
  }
}

TEST_CASE("Result: parsing 0.1.0/0.2.0 input and version selection", "[result]") {
  const std::string prev020 =
      R"({"ip4":{"ip":"10.0.0.5/24","gateway":"10.0.0.1","routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1"}]},)"
      R"("ip6":{"ip":"fd00::5/64","routes":[{"dst":"::/0"}]},"dns":{"nameservers":["10.0.0.2"]}})";
  // No cniVersion inside: the caller's (config) version applies.
  Result r = Result::FromJson(cni::ParseJson(prev020), "0.2.0");
  CHECK(r.cni_version == "0.2.0");
  REQUIRE(r.ips.size() == 2);
  CHECK(r.ips[0].address.String() == "10.0.0.5/24");
  CHECK(r.ips[0].gateway == Addr("10.0.0.1"));
  CHECK_FALSE(r.ips[0].interface);
  CHECK(r.ips[1].address.String() == "fd00::5/64");
  CHECK_FALSE(r.ips[1].gateway);
  REQUIRE(r.routes.size() == 2);
  CHECK(r.routes[0].dst.String() == "0.0.0.0/0");
  CHECK(r.routes[1].dst.String() == "::/0");
  CHECK(r.dns.nameservers == std::vector<std::string>{"10.0.0.2"});
  CHECK(cni::Marshal(r.ToJson("0.2.0")) == R"({"cniVersion":"0.2.0",)" + prev020.substr(1));
  CHECK(cni::Marshal(r.ToJson("0.4.0")) ==
        R"({"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.5/24","gateway":"10.0.0.1"},{"version":"6","address":"fd00::5/64"}],)"
        R"("routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1"},{"dst":"::/0"}],"dns":{"nameservers":["10.0.0.2"]}})");

  // An embedded cniVersion wins over the caller's; none at all means 0.1.0.
  CHECK(Result::FromJson(cni::ParseJson(R"({"cniVersion":"0.3.1","ips":[]})"), "1.0.0").cni_version == "0.3.1");
  CHECK(Result::FromJson(cni::ParseJson(prev020)).cni_version == "0.1.0");
  CHECK(cni::Marshal(r.ToJson("")).rfind(R"({"cniVersion":"0.1.0","ip4":)", 0) == 0);

  // Keys match case-insensitively as in Go; 0.4 "version" is derived from the address.
  Result c = Result::FromJson(cni::ParseJson(R"({"CNIVersion":"0.4.0","IPs":[{"version":"6","Address":"10.0.0.5/24"}]})"));
  CHECK(cni::Marshal(c.ToJson("0.4.0")) ==
        R"({"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.5/24"}],"dns":{}})");
  // 1.1 interface fields do not exist in the 0.4 types, so they are dropped on parse.
  Result d = Result::FromJson(cni::ParseJson(R"({"cniVersion":"0.4.0","interfaces":[{"name":"x","mtu":9000}]})"));
  CHECK_FALSE(d.interfaces.at(0).mtu);
  // Zero is "unset" for the plain int fields, but table/scope are pointers in Go.
  Result z = Result::FromJson(cni::ParseJson(R"({"cniVersion":"1.1.0","routes":[{"dst":"::/0","mtu":0,"table":0,"scope":0}],"interfaces":[{"name":""}]})"));
  CHECK(cni::Marshal(z.ToJson("1.1.0")) ==
        R"({"cniVersion":"1.1.0","interfaces":[{"name":""}],"routes":[{"dst":"::/0","table":0,"scope":0}],"dns":{}})");
}

TEST_CASE("Result: malformed input gives Go's messages", "[result]") {
  auto err = [](const char* text) { return ErrorOf([&] { Result::FromJson(cni::ParseJson(text)); }); };
  CHECK(err(R"({"cniVersion":"1.0.0","ips":[{"address":"bogus"}]})").msg() == "invalid CIDR address: bogus");
  CHECK(err(R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1"}]})").msg() == "invalid CIDR address: 10.0.0.1");
  CHECK(err(R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/8","gateway":"010.0.0.1"}]})").msg() ==
        "invalid IP address: 010.0.0.1");
  CHECK(err(R"({"cniVersion":"1.0.0","routes":[{"dst":"10.0.0.0/33"}]})").msg() == "invalid CIDR address: 10.0.0.0/33");
  CHECK(err(R"({"cniVersion":"0.2.0","ip4":{"ip":"x"}})").msg() == "invalid CIDR address: x");
  CHECK(err(R"({"cniVersion":"1.0.0","ips":{}})").code() == cni::kDecodingFailure);
  CHECK(err(R"({"cniVersion":"1.0.0","interfaces":[{"mtu":"x"}]})").code() == cni::kDecodingFailure);
  CHECK(err(R"({"cniVersion":"9.9.9"})").msg() == "unsupported CNI result version \"9.9.9\"");
  CHECK(ErrorOf([] { Full().ToJson("2.0.0"); }).msg() == "no converter for CNI result version 1.1.0 to 2.0.0");
  // An empty gateway string is Go's nil IP, not an error.
  CHECK_FALSE(Result::FromJson(cni::ParseJson(R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/8","gateway":""}]})"))
                  .ips.at(0)
                  .gateway);
  CHECK(cni::Route::FromJson(cni::ParseJson(R"({"dst":"10.0.0.0/8","gw":"10.0.0.1","priority":3})")).ToJson().dump() ==
        R"({"dst":"10.0.0.0/8","gw":"10.0.0.1","priority":3})");
}

TEST_CASE("Versions: supported list and GreaterThanOrEqualTo semantics", "[result]") {
  CHECK(cni::SupportedVersions() ==
        std::vector<std::string>{"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"});
  CHECK(cni::IsSupportedVersion("0.3.1"));
  CHECK_FALSE(cni::IsSupportedVersion("0.3.2"));
  CHECK_FALSE(cni::IsSupportedVersion(""));
  CHECK(cni::CompareVersions("0.4.0", "0.4.0") == 0);
  CHECK(cni::CompareVersions("0.3.1", "0.4.0") < 0);
  CHECK(cni::CompareVersions("1.0.0", "0.4.0") > 0);
  CHECK(cni::CompareVersions("0.10.0", "0.4.0") > 0);  // numeric, not lexical
  CHECK(cni::CompareVersions("", "0.1.0") == 0);       // "" is 0.1.0
  CHECK(cni::CompareVersions("1", "1.0.0") == 0);      // missing parts are 0
  CHECK(cni::CompareVersions("1.1", "1.0.9") > 0);
  CHECK(ErrorOf([] { cni::CompareVersions("1.2.3.4", "1.0.0"); }).msg() == "invalid version \"1.2.3.4\": too many parts");
  auto e = ErrorOf([] { cni::CompareVersions("0.4.0", "x.1.0"); });
  CHECK(e.code() == cni::kDecodingFailure);
  CHECK(e.msg() == "failed to convert major version part \"x\": strconv.Atoi: parsing \"x\": invalid syntax");
  CHECK(ErrorOf([] { cni::CompareVersions("1..0", "1.0.0"); }).msg() ==
        "failed to convert minor version part \"\": strconv.Atoi: parsing \"\": invalid syntax");
}
