// cnitool: libcni's config loading rules as a table of cases over temporary directories, the
// result cache format byte for byte, the request configs libcni builds, the CLI environment
// parsing, and the list operations against small fake plugins (shell scripts that log what they
// receive).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cache.h"
#include "cni/encoding.h"
#include "cni/error.h"
#include "conf.h"
#include "env.h"
#include "ops.h"
#include "support.h"

namespace fs = std::filesystem;
using namespace weft::cnitool;
using cni::Json;

namespace {

struct TmpDir : weft::test::TempDir {
  TmpDir() : TempDir("cnitool") {}
  std::string str() const { return path.string(); }
  void Write(const std::string& rel, const std::string& content) const {
    fs::path p = path / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  std::string Read(const std::string& rel) const {
    std::ifstream f(path / rel);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
};

std::vector<std::string> Types(const NetworkConfigList& l) {
  std::vector<std::string> out;
  for (const auto& p : l.plugins) out.push_back(p.type);
  return out;
}

}  // namespace

TEST_CASE("cnitool: config loading follows libcni's rules", "[cnitool]") {
  struct Case {
    const char* what;
    std::map<std::string, std::string> files;  // relative path -> content ("<dir>" makes a directory)
    std::string want_version;
    std::vector<std::string> want_types;
    std::string want_error;  // substring; empty means success
  };
  const std::string a = R"({"type":"a"})";
  std::vector<Case> cases = {
      {"conflists sorted by name, first match wins",
       {{"20-b.conflist", R"({"cniVersion":"1.0.0","name":"net","plugins":[{"type":"b"}]})"},
        {"10-a.conflist", R"({"cniVersion":"0.4.0","name":"net","plugins":[{"type":"a"}]})"}},
       "0.4.0", {"a"}, ""},
      {"lists of other networks are skipped",
       {{"10-x.conflist", R"({"name":"other","plugins":[{"type":"x"}]})"},
        {"20-b.conflist", R"({"cniVersion":"1.0.0","name":"net","plugins":[{"type":"b"}]})"}},
       "1.0.0", {"b"}, ""},
      {"<dir>/<network>/*.conf appended in sorted order, other extensions ignored",
       {{"10.conflist", R"({"cniVersion":"1.0.0","name":"net","plugins":[{"type":"a"}]})"},
        {"net/2.conf", R"({"type":"c"})"}, {"net/1.conf", R"({"type":"b"})"}, {"net/0.json", R"({"type":"z"})"}},
       "1.0.0", {"a", "b", "c"}, ""},
      {"loadOnlyInlinedPlugins skips the plugin directory",
       {{"10.conflist", R"({"name":"net","loadOnlyInlinedPlugins":"TRUE","plugins":[{"type":"a"}]})"},
        {"net/1.conf", R"({"type":"b"})"}},
       "", {"a"}, ""},
      {"a list without plugins takes them from the directory",
       {{"10.conflist", R"({"cniVersion":"1.1.0","name":"net"})"}, {"net/1.conf", R"({"type":"b"})"}},
       "1.1.0", {"b"}, ""},
      {"a list without any plugin",
       {{"10.conflist", R"({"cniVersion":"1.1.0","name":"net"})"}}, "", {}, "no plugin configs found"},
      {"loadOnlyInlinedPlugins without plugins",
       {{"10.conflist", R"({"name":"net","loadOnlyInlinedPlugins":true})"}}, "", {},
       "error parsing configuration list: `loadOnlyInlinedPlugins` is true, and no 'plugins' key"},
      {"single .conf fallback, up-converted",
       {{"10.conf", R"({"cniVersion":"0.4.0","name":"net","type":"bridge"})"}}, "0.4.0", {"bridge"}, ""},
      {"single .json fallback",
       {{"10.json", R"({"cniVersion":"0.3.1","name":"net","type":"ptp"})"}}, "0.3.1", {"ptp"}, ""},
      {"a conflist wins over a .conf of the same name",
       {{"00.conf", R"({"cniVersion":"0.4.0","name":"net","type":"single"})"},
        {"99.conflist", R"({"cniVersion":"1.0.0","name":"net","plugins":[{"type":"list"}]})"}},
       "1.0.0", {"list"}, ""},
      {"no match among lists",
       {{"10.conflist", R"({"name":"other","plugins":[{"type":"x"}]})"}}, "", {},
       "no net configuration with name \"net\" in "},
      {"no match among single confs",
       {{"10.conf", R"({"name":"other","type":"x"})"}}, "", {}, "no net configuration with name \"net\" in "},
      {"empty directory", {}, "", {}, "no net configurations found in "},
      {"directories named like configs are ignored",
       {{"10.conflist/x.conf", a}, {"20.conflist", R"({"name":"net","plugins":[{"type":"a"}]})"}}, "", {"a"}, ""},
      {"cniVersions: the highest supported one",
       {{"10.conflist",
         R"({"cniVersion":"0.3.1","cniVersions":["0.4.0","1.0.0","2.0.0"],"name":"net","plugins":[{"type":"a"}]})"}},
       "1.0.0", {"a"}, ""},
      {"cniVersions: cniVersion counts too",
       {{"10.conflist", R"({"cniVersion":"1.1.0","cniVersions":["0.4.0"],"name":"net","plugins":[{"type":"a"}]})"}},
       "1.1.0", {"a"}, ""},
      {"cniVersions: a malformed entry",
       {{"10.conflist", R"({"cniVersions":["1.0.0","x"],"name":"net","plugins":[{"type":"a"}]})"}}, "", {},
       "error parsing configuration list: invalid cniVersions entry x at index 1: "},
      {"cniVersions: not a list",
       {{"10.conflist", R"({"cniVersions":"1.0.0","name":"net","plugins":[{"type":"a"}]})"}}, "", {},
       "error parsing configuration list: invalid type for cniVersions: []interface {}"},
      {"a broken file of another network aborts the load",
       {{"05.conflist", "{"}, {"10.conflist", R"({"name":"net","plugins":[{"type":"a"}]})"}}, "", {},
       "error parsing configuration list: "},
      {"plugin without type",
       {{"10.conflist", R"({"name":"net","plugins":[{"type":"a"},{"mtu":1}]})"}}, "", {},
       "failed to parse plugin config 1: error parsing configuration: missing 'type'"},
      {"empty plugins", {{"10.conflist", R"({"name":"net","plugins":[]})"}}, "", {},
       "error parsing configuration list: no plugins in list"},
      {"plugins not a list", {{"10.conflist", R"({"name":"net","plugins":{}})"}}, "", {},
       "error parsing configuration list: invalid 'plugins' type map[string]interface {}"},
      {"name not a string", {{"10.conflist", R"({"name":5,"plugins":[{"type":"a"}]})"}}, "", {},
       "error parsing configuration list: invalid name type float64"},
      {"no name", {{"10.conflist", R"({"plugins":[{"type":"a"}]})"}}, "", {},
       "error parsing configuration list: no name"},
      {"disableCheck with a bad string",
       {{"10.conflist", R"({"name":"net","disableCheck":"Yes","plugins":[{"type":"a"}]})"}}, "", {},
       "error parsing configuration list: invalid value \"yes\" for disableCheck"},
      {"disableGC of a wrong type",
       {{"10.conflist", R"({"name":"net","disableGC":1,"plugins":[{"type":"a"}]})"}}, "", {},
       "error parsing configuration list: invalid type float64 for disableGC"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.what) {
      TmpDir dir;
      for (const auto& [rel, content] : c.files) dir.Write(rel, content);
      if (c.want_error.empty()) {
        NetworkConfigList l = LoadNetworkConf(dir.str(), "net");
        CHECK(l.name == "net");
        CHECK(l.cni_version == c.want_version);
        CHECK(Types(l) == c.want_types);
      } else {
        try {
          LoadNetworkConf(dir.str(), "net");
          FAIL("no error, wanted " << c.want_error);
        } catch (const ConfigError& e) {
          CHECK_THAT(e.what(), Catch::Contains(c.want_error));
        }
      }
    }
  }
  SECTION("a directory that does not exist has no configurations") {
    CHECK_THROWS_WITH(LoadNetworkConf("/nonexistent/weft", "net"),
                      "no net configurations found in /nonexistent/weft");
  }
}

TEST_CASE("cnitool: list bytes and flags as libcni keeps them", "[cnitool]") {
  TmpDir dir;
  const std::string text =
      "{\"cniVersion\":\"1.1.0\", \"name\":\"net\",\n \"disableCheck\":true, \"disableGC\":\"true\","
      " \"plugins\":[{\"type\":\"a\",\"z\":1,\"b\":{\"y\":2,\"x\":3},\"capabilities\":{\"portMappings\":true,\"mac\":false}}]}\n";
  dir.Write("10.conflist", text);
  NetworkConfigList l = LoadNetworkConf(dir.str(), "net");
  CHECK(l.bytes == text);  // cached verbatim (base64), as Go's []byte
  CHECK(l.disable_check);
  CHECK(l.disable_gc);
  REQUIRE(l.plugins.size() == 1);
  // Each plugin was re-marshalled from a Go map: keys sorted, compact.
  CHECK(l.plugins[0].bytes == R"({"b":{"x":3,"y":2},"capabilities":{"mac":false,"portMappings":true},"type":"a","z":1})");
  CHECK(l.plugins[0].capabilities == std::map<std::string, bool>{{"mac", false}, {"portMappings", true}});

  SECTION("a .conf is up-converted through a Go map") {
    TmpDir d2;
    d2.Write("1.conf", R"({"type":"bridge","name":"net","cniVersion":"0.4.0","ipam":{"type":"host-local"}})");
    NetworkConfigList s = LoadNetworkConf(d2.str(), "net");
    CHECK(s.bytes ==
          R"({"cniVersion":"0.4.0","name":"net","plugins":[{"cniVersion":"0.4.0","ipam":{"type":"host-local"},"name":"net","type":"bridge"}]})");
  }
}

TEST_CASE("cnitool: base64 as Go's StdEncoding", "[cnitool]") {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"a b", "YSBi"}, {std::string("\xff\xfe\x00", 3), "//4A"}};
  for (const auto& [plain, enc] : vectors) {
    CHECK(cni::Base64Encode(plain) == enc);
    CHECK(cni::Base64Decode(enc) == plain);
  }
  CHECK(cni::Base64Decode("Zm9v\r\nYmFy") == "foobar");
  CHECK_THROWS_WITH(cni::Base64Decode("Zm9"), Catch::Contains("illegal base64 data at input byte"));
  CHECK_THROWS_WITH(cni::Base64Decode("Zm9v!"), "illegal base64 data at input byte 4");
  CHECK_THROWS_WITH(cni::Base64Decode("Zg==Zg=="), "illegal base64 data at input byte 4");
  CHECK_THROWS_WITH(cni::Base64Decode("Z==="), Catch::Contains("illegal base64 data"));
}

TEST_CASE("cnitool: the result cache in libcni's format", "[cnitool]") {
  CacheEntry e;
  e.container_id = "cnitool-7b8a61d5d8e94d07cbe4";
  e.config = "a b";
  e.if_name = "eth0";
  e.network_name = "net";
  e.netns = "/var/run/netns/test";
  e.cni_args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "p<1>"}};
  e.capability_args = Json::parse(R"({"portMappings":[{"hostPort":8080,"containerPort":80}],"mac":"c2:11:22:33:44:55"})");
  e.result = Json::parse(R"({"cniVersion":"1.0.0","ips":[{"address":"10.1.0.2/24","interface":0}],"dns":{}})");
  const std::string want =
      R"({"kind":"cniCacheV1","containerId":"cnitool-7b8a61d5d8e94d07cbe4","config":"YSBi","ifName":"eth0",)"
      R"("networkName":"net","netns":"/var/run/netns/test","cniArgs":[["IgnoreUnknown","1"],["K8S_POD_NAME","p\u003c1\u003e"]],)"
      R"("capabilityArgs":{"mac":"c2:11:22:33:44:55","portMappings":[{"containerPort":80,"hostPort":8080}]},)"
      R"("result":{"cniVersion":"1.0.0","dns":{},"ips":[{"address":"10.1.0.2/24","interface":0}]}})";
  CHECK(EncodeCache(e) == want);

  SECTION("empty optional fields are omitted") {
    CacheEntry m;
    m.container_id = "c";
    m.if_name = "eth0";
    m.network_name = "n";
    m.config = "{}";
    m.capability_args = Json::object();
    CHECK(EncodeCache(m) == R"({"kind":"cniCacheV1","containerId":"c","config":"e30=","ifName":"eth0","networkName":"n"})");
  }
  SECTION("decoding round-trips and rejects other kinds") {
    std::optional<CacheEntry> d = DecodeCache(want);
    REQUIRE(d);
    CHECK(d->config == "a b");
    CHECK(d->cni_args == e.cni_args);
    CHECK(d->netns == e.netns);
    CHECK(d->result["ips"][0]["address"] == "10.1.0.2/24");
    CHECK_FALSE(DecodeCache(R"({"cniVersion":"0.4.0","ips":[]})"));             // legacy: a bare result
    CHECK_FALSE(DecodeCache(R"({"kind":"cniCacheV2","containerId":"c"})"));
    CHECK_FALSE(DecodeCache(R"({"kind":"cniCacheV1","config":"***"})"));         // bad base64
    CHECK_FALSE(DecodeCache("not json"));
  }
  SECTION("files, modes and attachment listing") {
    TmpDir dir;
    WriteCache(dir.str(), e);
    std::string path = dir.str() + "/results/net-cnitool-7b8a61d5d8e94d07cbe4-eth0";
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(stat((dir.str() + "/results").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    CHECK(dir.Read("results/net-cnitool-7b8a61d5d8e94d07cbe4-eth0") == want);

    CacheEntry other = e;
    other.container_id = "abc";
    other.network_name = "net2";
    WriteCache(dir.str(), other);
    dir.Write("results/net-legacy-eth0", R"({"cniVersion":"0.4.0"})");
    dir.Write("results/net-noif-eth0", R"({"kind":"cniCacheV1","containerId":"noif","networkName":"net"})");
    std::vector<CacheEntry> all = CachedAttachments(dir.str());
    REQUIRE(all.size() == 2);
    CHECK(all[0].container_id == "cnitool-7b8a61d5d8e94d07cbe4");
    CHECK(all[1].network_name == "net2");
    std::vector<CacheEntry> one = CachedAttachments(dir.str(), "abc");
    REQUIRE(one.size() == 1);
    CHECK(one[0].network_name == "net2");
    CHECK(CachedAttachments(dir.str(), "ab").empty());
    DeleteCache(dir.str(), "net2", "abc", "eth0");
    DeleteCache(dir.str(), "net2", "abc", "eth0");  // not found is fine
    CHECK(CachedAttachments(dir.str(), "abc").empty());
    CHECK(CachedAttachments(dir.str() + "/missing").empty());
  }
  CHECK_THROWS_WITH(CacheFilePath("/c", "net", "", "eth0"),
                    "cache file path requires network name (\"net\"), container ID (\"\"), and interface name (\"eth0\")");
}

TEST_CASE("cnitool: container ID, paths and environment as upstream cnitool", "[cnitool]") {
  // sha512("/var/run/netns/test") starts 7b8a61d5d8e94d07cbe4 (sha512sum).
  CHECK(ContainerIdForNetns("/var/run/netns/test") == "cnitool-7b8a61d5d8e94d07cbe4");
  CHECK(AbsPath("/var/run//netns/./x/") == "/var/run/netns/x");
  CHECK(AbsPath("/a/../../b") == "/b");
  CHECK(AbsPath("/") == "/");
  std::string cwd = fs::current_path().string();
  CHECK(AbsPath("ns") == (cwd == "/" ? "/ns" : cwd + "/ns"));

  CHECK(ParseCniArgsEnv("") == ArgPairs{});
  CHECK(ParseCniArgsEnv("IgnoreUnknown=1;IP=10.0.0.5") == ArgPairs{{"IgnoreUnknown", "1"}, {"IP", "10.0.0.5"}});
  for (const char* bad : {"A=b;", "A", "A=b=c", "=b", "A=", ";A=b"}) {
    CHECK_THROWS_AS(ParseCniArgsEnv(bad), ConfigError);
  }
  CHECK_THROWS_WITH(ParseCniArgsEnv("A=1;B"), "invalid CNI_ARGS pair \"B\"");
  CHECK(ParseCapArgs("") == Json::object());
  CHECK(ParseCapArgs("null") == Json::object());
  CHECK(ParseCapArgs(R"({"mac":"x"})")["mac"] == "x");
  CHECK_THROWS_WITH(ParseCapArgs("[1]"), "CAP_ARGS: json: cannot unmarshal array into Go value of type map[string]interface {}");
  CHECK_THROWS_AS(ParseCapArgs("{"), ConfigError);
  CHECK(ChooseIfName("net1", "eth5") == "net1");
  CHECK(ChooseIfName("", "eth5") == "eth5");
  CHECK(ChooseIfName("", "") == "eth0");
}

TEST_CASE("cnitool: request configs as libcni builds them", "[cnitool]") {
  PluginConf p = ParsePluginConf(
      R"({"type":"portmap","snat":true,"capabilities":{"portMappings":true,"bandwidth":false,"ips":true}})");
  RuntimeConf rt;
  rt.capability_args = Json::parse(R"({"portMappings":[{"hostPort":80,"containerPort":8080}],"bandwidth":{"a":1},"mac":"m"})");
  Json prev = Json::parse(R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[]})");

  SECTION("name, version, prevResult and the declared capabilities only") {
    Json got = Json::parse(BuildOneConfig("net", "1.0.0", p, prev, &rt));
    CHECK(got["name"] == "net");
    CHECK(got["cniVersion"] == "1.0.0");
    CHECK(got["prevResult"] == prev);
    CHECK(got["runtimeConfig"].dump() == R"({"portMappings":[{"containerPort":8080,"hostPort":80}]})");
    CHECK(got["capabilities"]["portMappings"] == true);  // libcni keeps the key
    CHECK(BuildOneConfig("net", "1.0.0", p, prev, &rt) ==
          R"({"capabilities":{"bandwidth":false,"ips":true,"portMappings":true},"cniVersion":"1.0.0","name":"net",)"
          R"("prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[]},)"
          R"("runtimeConfig":{"portMappings":[{"containerPort":8080,"hostPort":80}]},"snat":true,"type":"portmap"})");
  }
  SECTION("no runtimeConfig when nothing matches; prevResult keeps its order") {
    RuntimeConf none;
    none.capability_args = Json::parse(R"({"mac":"m"})");
    CHECK(BuildOneConfig("net", "1.1.0", p, Json::parse(R"({"z":1,"a":2})"), &none) ==
          R"({"capabilities":{"bandwidth":false,"ips":true,"portMappings":true},"cniVersion":"1.1.0","name":"net",)"
          R"("prevResult":{"z":1,"a":2},"snat":true,"type":"portmap"})");
    CHECK(Json::parse(BuildOneConfig("net", "1.1.0", p, nullptr, nullptr)).contains("prevResult") == false);
  }
  SECTION("the injected name and version replace the plugin's own") {
    PluginConf q = ParsePluginConf(R"({"type":"x","name":"own","cniVersion":"0.3.1"})");
    Json got = Json::parse(BuildOneConfig("net", "1.0.0", q, nullptr, &rt));
    CHECK(got["name"] == "net");
    CHECK(got["cniVersion"] == "1.0.0");
  }
}

namespace {

// A fake plugin: logs "<name> <command> <containerid> <ifname> <stdin>" to $FAKE_LOG, answers ADD
// with a result carrying its name as an interface, fails when $FAKE_FAIL names it.
const char* kFakePlugin = R"(#!/bin/sh
in=$(cat)
name=$(basename "$0")
printf '%s %s %s %s %s\n' "$name" "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_IFNAME" "$in" >> "$FAKE_LOG"
if [ "$FAKE_FAIL" = "$name" ]; then
  printf '{"code":11,"msg":"%s is unhappy","details":"try later"}' "$name"; exit 1
fi
case "$CNI_COMMAND" in
  ADD) printf '{"cniVersion":"1.1.0","interfaces":[{"name":"%s"}],"ips":[{"address":"10.9.0.5/24"}]}' "$name" ;;
  VERSION) printf '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}' ;;
esac
)";

struct FakeLab {
  TmpDir dir;
  std::string bin, cache, log;
  FakeLab() {
    bin = dir.str() + "/bin";
    cache = dir.str() + "/cache";
    log = dir.str() + "/log";
    for (const char* n : {"first", "second", "third"}) {
      dir.Write(std::string("bin/") + n, kFakePlugin);
      fs::permissions(dir.path / "bin" / n, fs::perms::owner_all);
    }
    dir.Write("log", "");
  }
  CniRunner Runner(const std::string& fail = "") const {
    cni::Env env{{"PATH", "/usr/bin:/bin"}, {"FAKE_LOG", log}, {"FAKE_FAIL", fail}};
    return CniRunner(bin, cache, env);
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    std::istringstream in(dir.Read("log"));
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  void ClearLog() const { dir.Write("log", ""); }
};

NetworkConfigList FakeList(const std::string& version = "1.1.0") {
  return ParseConfList(R"({"cniVersion":")" + version +
                       R"(","name":"fake","plugins":[{"type":"first"},{"type":"second","capabilities":{"mac":true}},{"type":"third"}]})");
}

RuntimeConf FakeRt(const std::string& id = "cid1") {
  RuntimeConf rt;
  rt.container_id = id;
  rt.netns = "/var/run/netns/x";
  rt.if_name = "eth0";
  rt.args = {{"IgnoreUnknown", "1"}};
  rt.capability_args = Json::parse(R"({"mac":"c2:11:22:33:44:55"})");
  return rt;
}

}  // namespace

TEST_CASE("cnitool: list operations against fake plugins", "[cnitool]") {
  FakeLab lab;
  NetworkConfigList list = FakeList();
  CniRunner runner = lab.Runner();

  cni::Result r = runner.AddList(list, FakeRt());
  REQUIRE(r.interfaces.size() == 1);
  CHECK(r.interfaces[0].name == "third");
  std::vector<std::string> lines = lab.Lines();
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[0], Catch::StartsWith("first ADD cid1 eth0 {"));
  CHECK_THAT(lines[0], !Catch::Contains("prevResult"));
  CHECK_THAT(lines[1], Catch::StartsWith("second ADD cid1 eth0 {"));
  // runtimeConfig makes libcni round-trip the document through a map: prevResult is sorted too.
  CHECK_THAT(lines[1], Catch::Contains(R"("prevResult":{"cniVersion":"1.1.0","dns":{},"interfaces":[{"name":"first"}])"));
  CHECK_THAT(lines[1], Catch::Contains(R"("runtimeConfig":{"mac":"c2:11:22:33:44:55"})"));
  CHECK_THAT(lines[2], Catch::Contains(R"("interfaces":[{"name":"second"}])"));
  CHECK_THAT(lines[2], !Catch::Contains("runtimeConfig"));

  std::optional<std::string> cached = ReadCacheFile(lab.cache, "fake", "cid1", "eth0");
  REQUIRE(cached);
  std::optional<CacheEntry> entry = DecodeCache(*cached);
  REQUIRE(entry);
  CHECK(entry->config == list.bytes);
  CHECK(entry->result["interfaces"][0]["name"] == "third");
  CHECK(entry->cni_args == ArgPairs{{"IgnoreUnknown", "1"}});

  SECTION("CHECK replays the cached result to every plugin in order") {
    lab.ClearLog();
    runner.CheckList(list, FakeRt());
    lines = lab.Lines();
    REQUIRE(lines.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK_THAT(lines[i], Catch::Contains(R"("interfaces":[{"name":"third"}])"));
    CHECK_THAT(lines[0], Catch::StartsWith("first CHECK"));
    NetworkConfigList old = FakeList("0.3.1");
    CHECK_THROWS_WITH(runner.CheckList(old, FakeRt()),
                      "configuration version \"0.3.1\" does not support the CHECK command");
  }
  SECTION("DEL runs in reverse with the cached result and drops the cache") {
    lab.ClearLog();
    runner.DelList(list, FakeRt());
    lines = lab.Lines();
    REQUIRE(lines.size() == 3);
    CHECK_THAT(lines[0], Catch::StartsWith("third DEL cid1 eth0"));
    CHECK_THAT(lines[2], Catch::StartsWith("first DEL cid1 eth0"));
    CHECK_THAT(lines[0], Catch::Contains(R"("prevResult":{"cniVersion":"1.1.0","interfaces":[{"name":"third"}])"));
    CHECK_FALSE(ReadCacheFile(lab.cache, "fake", "cid1", "eth0"));
    lab.ClearLog();
    runner.DelList(list, FakeRt());  // again: no cache, no prevResult, still succeeds
    CHECK_THAT(lab.Lines()[0], !Catch::Contains("prevResult"));
  }
  SECTION("a failing plugin is named and stops the list") {
    CniRunner bad = lab.Runner("second");
    lab.ClearLog();
    try {
      bad.DelList(list, FakeRt());
      FAIL("DEL should fail");
    } catch (const cni::Error& e) {
      CHECK(e.code() == 11);
      CHECK(std::string(e.msg()) == "plugin type=\"second\" failed (delete): second is unhappy; try later");
    }
    CHECK(lab.Lines().size() == 2);                                // third, second; first not run
    CHECK(ReadCacheFile(lab.cache, "fake", "cid1", "eth0"));     // kept for a retry
    CHECK_THROWS_WITH(bad.AddList(list, FakeRt("cid2")),
                      "plugin type=\"second\" failed (add): second is unhappy; try later");
    CHECK_FALSE(ReadCacheFile(lab.cache, "fake", "cid2", "eth0"));
  }
  SECTION("a missing plugin says where it was looked for") {
    NetworkConfigList l = ParseConfList(R"({"cniVersion":"1.1.0","name":"fake","plugins":[{"type":"nope"}]})");
    CHECK_THROWS_WITH(runner.AddList(l, FakeRt()),
                      Catch::StartsWith("plugin type=\"nope\" failed (add): failed to find plugin \"nope\" in path [" +
                                        lab.bin + "]") &&
                          Catch::Contains("CNI_PATH=" + lab.bin));
    CniRunner empty("", lab.cache, {});
    CHECK_THROWS_WITH(empty.AddList(l, FakeRt()), Catch::Contains("CNI_PATH is empty"));
  }
  SECTION("GC DELs stale attachments of this network only, then sends GC with the valid list") {
    runner.AddList(list, FakeRt("cid2"));
    CacheEntry foreign;
    foreign.container_id = "cid3";
    foreign.if_name = "eth0";
    foreign.network_name = "othernet";
    foreign.config = "{}";
    WriteCache(lab.cache, foreign);
    lab.ClearLog();
    runner.GcList(list, std::vector<Attachment>{{"cid2", "eth0"}});
    lines = lab.Lines();
    REQUIRE(lines.size() == 6);  // DEL cid1 x3, GC x3
    CHECK_THAT(lines[0], Catch::StartsWith("third DEL cid1 eth0"));
    CHECK_THAT(lines[3], Catch::StartsWith("first GC  "));
    CHECK_THAT(lines[3], Catch::Contains(R"("cni.dev/attachments":[{"containerID":"cid2","ifname":"eth0"}])"));
    CHECK_THAT(lines[3], Catch::Contains(R"("cni.dev/valid-attachments":[{"containerID":"cid2","ifname":"eth0"}])"));
    CHECK_FALSE(ReadCacheFile(lab.cache, "fake", "cid1", "eth0"));
    CHECK(ReadCacheFile(lab.cache, "fake", "cid2", "eth0"));
    CHECK(ReadCacheFile(lab.cache, "othernet", "cid3", "eth0"));

    lab.ClearLog();
    runner.GcList(list, std::nullopt);  // upstream cnitool: everything cached is stale, no keys
    lines = lab.Lines();
    REQUIRE(lines.size() == 6);
    CHECK_THAT(lines[3], !Catch::Contains("cni.dev/"));
    CHECK_FALSE(ReadCacheFile(lab.cache, "fake", "cid2", "eth0"));

    lab.ClearLog();
    NetworkConfigList no_gc = ParseConfList(
        R"({"cniVersion":"1.1.0","name":"fake","disableGC":true,"plugins":[{"type":"first"}]})");
    runner.GcList(no_gc, std::nullopt);
    CHECK(lab.Lines().empty());
  }
  SECTION("STATUS asks every plugin, only for 1.1.0 lists") {
    lab.ClearLog();
    runner.StatusList(list);
    lines = lab.Lines();
    REQUIRE(lines.size() == 3);
    CHECK_THAT(lines[1], Catch::StartsWith("second STATUS   {"));
    CHECK_THAT(lines[1], Catch::Contains(R"("cniVersion":"1.1.0")"));
    lab.ClearLog();
    runner.StatusList(FakeList("1.0.0"));
    CHECK(lab.Lines().empty());
    CHECK_THROWS_WITH(lab.Runner("first").StatusList(list),
                      "plugin type=\"first\" failed (status): first is unhappy; try later");
  }
  SECTION("VERSION and the plugins on CNI_PATH") {
    PluginVersions v = runner.Versions("second");
    CHECK(v.supported == std::vector<std::string>{"1.0.0", "1.1.0"});
    CHECK(v.path == lab.bin + "/second");
    CHECK(runner.PluginsOnPath() == std::vector<std::string>{"first", "second", "third"});
  }
}
