// The dispatcher's environment and config validation, every code and message of
// cni-plugins.md §1.1/§1.2, driven in-process through cni::Dispatch.
#include <catch2/catch.hpp>

#include <sstream>

#include "cni/error.h"
#include "cni/skel.h"

namespace {

struct Run {
  int rc;
  std::string out, err;
  cni::Json json() const { return cni::Json::parse(out); }
};

Run Call(cni::Env env, const std::string& stdin_data, cni::PluginFuncs funcs = {}) {
  std::istringstream in(stdin_data);
  std::ostringstream out, err;
  int rc = cni::Dispatch(funcs, "test", {std::move(env), in, out, err});
  return {rc, out.str(), err.str()};
}

cni::Env FullEnv(std::string cmd) {
  return {{"CNI_COMMAND", std::move(cmd)}, {"CNI_CONTAINERID", "ctr1"}, {"CNI_NETNS", "/var/run/netns/x"},
          {"CNI_IFNAME", "eth0"},          {"CNI_PATH", "/opt/cni/bin"}};
}

const std::string kConf = R"({"cniVersion":"1.0.0","name":"net1","type":"test"})";

void ExpectError(const Run& r, unsigned code, const std::string& msg, const std::string& details = "") {
  INFO(r.out);
  CHECK(r.rc == 1);
  auto j = r.json();
  CHECK(j["code"] == code);
  CHECK(j["msg"] == msg);
  if (details.empty()) {
    CHECK_FALSE(j.contains("details"));
  } else {
    CHECK(j["details"] == details);
  }
}

}  // namespace

TEST_CASE("no CNI_COMMAND prints the about text to stderr and succeeds", "[skel]") {
  Run r = Call({}, "");
  CHECK(r.rc == 0);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("CNI test plugin ", 0) == 0);
  CHECK(r.err.find("CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0") !=
        std::string::npos);
}

TEST_CASE("VERSION prints one line with a trailing newline", "[skel]") {
  Run r = Call({{"CNI_COMMAND", "VERSION"}}, "not json at all");
  CHECK(r.rc == 0);
  CHECK(r.out ==
        "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\",\"0.4.0\","
        "\"1.0.0\",\"1.1.0\"]}\n");
}

TEST_CASE("missing variables are reported together in the reference's order", "[skel]") {
  ExpectError(Call({{"CNI_COMMAND", "ADD"}}, kConf), 4,
              "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing");
  // DEL does not need CNI_NETNS; GC and STATUS need only CNI_PATH.
  ExpectError(Call({{"CNI_COMMAND", "DEL"}}, kConf), 4, "required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing");
  ExpectError(Call({{"CNI_COMMAND", "GC"}}, kConf), 4, "required env variables [CNI_PATH] missing");
  ExpectError(Call({{"CNI_COMMAND", "STATUS"}}, kConf), 4, "required env variables [CNI_PATH] missing");
  // Empty counts as missing.
  auto env = FullEnv("CHECK");
  env["CNI_IFNAME"] = "";
  ExpectError(Call(env, kConf), 4, "required env variables [CNI_IFNAME] missing");
}

TEST_CASE("container id and interface name rules", "[skel]") {
  auto env = FullEnv("ADD");
  env["CNI_CONTAINERID"] = "-bad";
  ExpectError(Call(env, kConf), 4, "invalid characters in containerID", "-bad");
  env["CNI_CONTAINERID"] = "a/../b";
  ExpectError(Call(env, kConf), 4, "invalid characters in containerID", "a/../b");
  env = FullEnv("ADD");
  env["CNI_IFNAME"] = "0123456789abcdef";
  ExpectError(Call(env, kConf), 4, "interface name is too long", "interface name should be less than 16 characters");
  for (const char* bad : {"a/b", "a:b", "a b", "a\tb"}) {
    env["CNI_IFNAME"] = bad;
    ExpectError(Call(env, kConf), 4, "interface name contains / or : or whitespace characters");
  }
  env["CNI_IFNAME"] = "..";
  ExpectError(Call(env, kConf), 4, "interface name is . or ..");
  CHECK_THROWS_AS(cni::ValidateContainerID(""), cni::Error);
  try {
    cni::ValidateContainerID("");
  } catch (const cni::Error& e) {
    CHECK(e.code() == 3);
    CHECK(e.msg() == "missing containerID");
  }
  // An invalid container id is found before missing variables are reported (the reference's loop).
  ExpectError(Call({{"CNI_COMMAND", "ADD"}, {"CNI_CONTAINERID", "_x"}}, kConf), 4, "invalid characters in containerID",
              "_x");
}

TEST_CASE("network config checks", "[skel]") {
  auto env = FullEnv("ADD");
  ExpectError(Call(env, "{"), 6, "error unmarshall network config: unexpected end of JSON input");
  ExpectError(Call(env, "x"), 6, "error unmarshall network config: invalid character 'x' looking for beginning of value");
  ExpectError(Call(env, R"({"cniVersion":"1.0.0"})"), 7, "missing network name");
  ExpectError(Call(env, R"({"name":"bad/name"})"), 7, "invalid characters found in network name", "bad/name");
  ExpectError(Call(env, R"({"name":5})"), 6,
              "error unmarshall network config: json: cannot unmarshal number into Go struct field .name of type string");
  // Keys match case-insensitively, like Go.
  cni::PluginFuncs f;
  std::string seen;
  f.add = [&](const cni::CallArgs& a) {
    seen = a.name + " " + a.cni_version;
    return cni::Result{};
  };
  Run r = Call(env, R"({"NAME":"n1","CNIVersion":"1.0.0"})", f);
  CHECK(r.rc == 0);
  CHECK(seen == "n1 1.0.0");
}

TEST_CASE("version negotiation", "[skel]") {
  auto env = FullEnv("ADD");
  ExpectError(Call(env, R"({"cniVersion":"9.9.9","name":"n"})"), 1, "incompatible CNI versions",
              "config is \"9.9.9\", plugin supports [\"0.1.0\" \"0.2.0\" \"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]");
  ExpectError(Call(FullEnv("CHECK"), R"({"cniVersion":"0.3.1","name":"n"})"), 1, "config version does not allow CHECK");
  ExpectError(Call(FullEnv("GC"), R"({"cniVersion":"1.0.0","name":"n"})"), 1, "config version does not allow GC");
  ExpectError(Call(FullEnv("STATUS"), R"({"cniVersion":"1.0.0","name":"n"})"), 1, "config version does not allow STATUS");
  // No GC/STATUS function: silent success.
  Run r = Call(FullEnv("GC"), R"({"cniVersion":"1.1.0","name":"n"})");
  CHECK(r.rc == 0);
  CHECK(r.out.empty());
  // A missing cniVersion means 0.1.0.
  cni::PluginFuncs f;
  std::string version;
  f.del = [&](const cni::CallArgs& a) { version = a.cni_version; };
  CHECK(Call(FullEnv("DEL"), R"({"name":"n"})", f).rc == 0);
  CHECK(version == "0.1.0");
  ExpectError(Call(FullEnv("FOO"), kConf), 4, "unknown CNI_COMMAND: FOO");
}

TEST_CASE("plugin errors keep their code; other exceptions become 999", "[skel]") {
  cni::PluginFuncs f;
  f.del = [](const cni::CallArgs&) { throw cni::Error(11, "try later", "why"); };
  ExpectError(Call(FullEnv("DEL"), kConf, f), 11, "try later", "why");
  f.del = [](const cni::CallArgs&) { throw std::runtime_error("boom"); };
  ExpectError(Call(FullEnv("DEL"), kConf, f), 999, "boom");
  // The error JSON is printed with a 4-space indent and no trailing newline.
  Run r = Call(FullEnv("DEL"), kConf, f);
  CHECK(r.out == "{\n    \"code\": 999,\n    \"msg\": \"boom\"\n}");
}

TEST_CASE("CNI_NETNS equal to the plugin's own namespace is refused before any work", "[skel]") {
  auto env = FullEnv("ADD");
  env["CNI_NETNS"] = "/proc/self/ns/net";
  bool called = false;
  cni::PluginFuncs f;
  f.add = [&](const cni::CallArgs&) {
    called = true;
    return cni::Result{};
  };
  ExpectError(Call(env, kConf, f), 8, "plugin's netns and netns from CNI_NETNS should not be the same");
  CHECK_FALSE(called);
  env["CNI_NETNS_OVERRIDE"] = "TRUE";
  CHECK(Call(env, kConf, f).rc == 0);
  CHECK(called);
}

TEST_CASE("ErrorList joins and keeps going", "[skel]") {
  cni::ErrorList errs;
  int steps = 0;
  errs.Try([&] { ++steps; throw cni::Error(999, "a"); });
  errs.Try([&] { ++steps; });
  errs.Try([&] { ++steps; throw std::runtime_error("b"); });
  CHECK(steps == 3);
  try {
    errs.ThrowIfAny();
    FAIL("expected a throw");
  } catch (const cni::Error& e) {
    CHECK(e.msg() == "a; b");
    CHECK(e.code() == 999);
  }
  cni::ErrorList none;
  CHECK_NOTHROW(none.ThrowIfAny());
}
