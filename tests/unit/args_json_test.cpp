// CNI_ARGS (types.LoadArgs) and the Go-like JSON key matching of cni::Field / cni::Decoder.
#include <catch2/catch.hpp>

#include "cni/args.h"
#include "cni/error.h"
#include "cni/json.h"
#include "support.h"

using weft::test::ErrorOf;

TEST_CASE("CNI_ARGS parsing", "[args]") {
  auto ip_check = [](std::string_view, std::string_view v) -> std::optional<std::string> {
    if (v == "notanip") return "invalid IP address notanip";
    return std::nullopt;
  };
  auto a = cni::CniArgs::Parse("IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.0.0.5", {"IP"}, ip_check);
  CHECK(a.Get("IP") == "10.0.0.5");
  CHECK_FALSE(a.Get("ip"));
  CHECK_FALSE(a.Get("K8S_POD_NAME"));  // unknown keys are not kept
  CHECK(cni::CniArgs::Parse("", {"IP"}).pairs().empty());
  CHECK(ErrorOf([] { cni::CniArgs::Parse("FOO=bar", {"IP"}); }) == "ARGS: unknown args [\"FOO=bar\"]");
  CHECK(ErrorOf([] { cni::CniArgs::Parse("FOO=bar;ip=1;IP=1", {"IP"}); }) == "ARGS: unknown args [\"FOO=bar\" \"ip=1\"]");
  CHECK(ErrorOf([] { cni::CniArgs::Parse("FOO", {}); }) == "ARGS: invalid pair \"FOO\"");
  CHECK(ErrorOf([] { cni::CniArgs::Parse("A=b=c", {"A"}); }) == "ARGS: invalid pair \"A=b=c\"");
  CHECK(ErrorOf([] { cni::CniArgs::Parse("IP=1;", {"IP"}); }) == "ARGS: invalid pair \"\"");
  CHECK(ErrorOf([&] { cni::CniArgs::Parse("IP=notanip", {"IP"}, ip_check); }) ==
        "ARGS: error parsing value of pair \"IP=notanip\": invalid IP address notanip");
  CHECK(ErrorOf([] { cni::CniArgs::Parse("IgnoreUnknown=yes", {}); }) ==
        "ARGS: error parsing value of pair \"IgnoreUnknown=yes\": boolean unmarshal error: invalid input yes");
  CHECK_NOTHROW(cni::CniArgs::Parse("FOO=bar;IgnoreUnknown=TRUE", {}));
  CHECK(ErrorOf([] { cni::CniArgs::Parse("FOO=bar;IgnoreUnknown=false", {}); }) == "ARGS: unknown args [\"FOO=bar\"]");
}

TEST_CASE("JSON keys match like Go encoding/json", "[json]") {
  auto j = cni::ParseJson(R"({"MTU": 1400, "ipam": {"type": "a", "subnet": "x"}, "IPAM": {"type": "b"}})");
  cni::Decoder d(j, "NetConf");
  CHECK(d.Int("mtu") == 1400);
  // Later keys that fold to the same field merge into it, field by field.
  auto ipam = d.Object("ipam", "IPAMConfig");
  REQUIRE(ipam);
  CHECK(ipam->String("type") == "b");
  CHECK(ipam->String("subnet") == "x");
  CHECK_FALSE(d.String("missing"));
  // null leaves the field unset.
  CHECK_FALSE(cni::Decoder(cni::ParseJson(R"({"a":null})"), "T").String("a"));
}

TEST_CASE("JSON type mismatches use Go's messages", "[json]") {
  auto j = cni::ParseJson(R"({"mtu": "1500", "snat": "yes", "f": 1.5, "big": 18446744073709551615, "ipam": {"subnet": 5}})");
  cni::Decoder d(j, "NetConf");
  CHECK(ErrorOf([&] { d.Int("mtu"); }) == "json: cannot unmarshal string into Go struct field NetConf.mtu of type int");
  CHECK(ErrorOf([&] { d.Bool("snat"); }) == "json: cannot unmarshal string into Go struct field NetConf.snat of type bool");
  CHECK(ErrorOf([&] { d.Int("f"); }) == "json: cannot unmarshal number 1.5 into Go struct field NetConf.f of type int");
  CHECK(ErrorOf([&] { d.Int("big"); }) ==
        "json: cannot unmarshal number 18446744073709551615 into Go struct field NetConf.big of type int");
  CHECK(ErrorOf([&] { d.Object("ipam", "IPAMConfig")->String("subnet"); }) ==
        "json: cannot unmarshal number into Go struct field NetConf.ipam.subnet of type string");
  CHECK(ErrorOf([&] { d.Int("mtu", "uint16"); }) == "json: cannot unmarshal string into Go struct field NetConf.mtu of type uint16");
}

TEST_CASE("JSON printing matches Go's MarshalIndent", "[json]") {
  cni::Json j = cni::Json::object();
  j["a"] = "<tag> & co";
  j["b"] = cni::Json::object();
  j["c"] = cni::Json::array({1, 2});
  CHECK(cni::MarshalIndent(j) ==
        "{\n    \"a\": \"\\u003ctag\\u003e \\u0026 co\",\n    \"b\": {},\n    \"c\": [\n        1,\n        2\n    ]\n}");
  CHECK(cni::Marshal(j) == "{\"a\":\"\\u003ctag\\u003e \\u0026 co\",\"b\":{},\"c\":[1,2]}");
}
