// flannel commands run in-process through the skel dispatcher, with a recording fake delegate
// (a shell script named "bridge" on CNI_PATH): the saved file and the delegate's stdin are the
// same bytes, the error codes and texts, and every place where weft does better than the
// reference (flannel.h): undo of a failed ADD, retry-safe DEL, DEL without a usable saved file,
// CHECK, GC and STATUS.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cni/skel.h"
#include "flannel.h"

namespace fs = std::filesystem;

namespace {

const char* kFakeBridge = R"(#!/bin/sh
input=$(cat)
printf '%s %s\n' "$CNI_COMMAND" "$input" >> "$FAKE_LOG"
case "$CNI_COMMAND" in
  ADD) if [ -n "$FAKE_FAIL_ADD" ]; then printf '{"code":11,"msg":"no IP addresses available","details":"range 10.1.17.0/24"}'; exit 1; fi
       printf '{"cniVersion":"1.0.0","ips":[{"address":"10.1.17.2/24","gateway":"10.1.17.1"}],"dns":{}}' ;;
  DEL) if [ -n "$FAKE_FAIL_DEL" ]; then printf '{"code":7,"msg":"del failed"}'; exit 1; fi ;;
  CHECK) if [ -n "$FAKE_FAIL_CHECK" ]; then printf '{"code":999,"msg":"check failed"}'; exit 1; fi ;;
esac
exit 0
)";

const char* kEnv = "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
const char* kSaved =
    R"({"cniVersion":"1.0.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"fnet","type":"bridge"})";

struct Fixture {
  fs::path dir;
  fs::path data, env_file, log;
  cni::Env extra;

  Fixture() {
    std::string tmpl = (fs::temp_directory_path() / "weft-fl-cmd-XXXXXX").string();
    dir = mkdtemp(tmpl.data());
    data = dir / "data";
    env_file = dir / "subnet.env";
    log = dir / "log";
    fs::create_directories(dir / "bin");
    std::ofstream(dir / "bin" / "bridge") << kFakeBridge;
    fs::permissions(dir / "bin" / "bridge", fs::perms::owner_all);
    WriteEnv(kEnv);
  }
  ~Fixture() { fs::remove_all(dir); }

  void WriteEnv(const std::string& s) { std::ofstream(env_file, std::ios::trunc) << s; }
  std::string Conf(const std::string& extra_keys = "") const {
    return R"({"cniVersion":"1.1.0","name":"fnet","type":"flannel","subnetFile":")" + env_file.string() +
           R"(","dataDir":")" + data.string() + "\"" + extra_keys + "}";
  }
  std::string Log() const {
    std::ifstream f(log);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  void ClearLog() const { fs::remove(log); }

  struct Call {
    int rc;
    std::string out;
  };
  Call Run(const std::string& command, const std::string& id, const std::string& conf) const {
    cni::Env env{{"CNI_COMMAND", command}, {"CNI_PATH", (dir / "bin").string()}, {"FAKE_LOG", log.string()},
                 {"PATH", "/usr/bin:/bin"}};
    for (const auto& [k, v] : extra) env[k] = v;
    if (!id.empty()) {
      env["CNI_CONTAINERID"] = id;
      env["CNI_IFNAME"] = "eth0";
    }
    if (command == "ADD" || command == "CHECK") env["CNI_NETNS"] = "/var/run/netns/weft-fl-absent";
    std::istringstream in(conf);
    std::ostringstream out, err;
    int rc = cni::Dispatch(flannel::Funcs(), "flannel", cni::Invocation{env, in, out, err});
    return {rc, out.str()};
  }
  std::string Saved(const std::string& id) const {
    std::ifstream f(data / id);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
};

}  // namespace

TEST_CASE("flannel ADD saves the delegate bytes before running it, then prints its result", "[flannel]") {
  Fixture f;
  auto r = f.Run("ADD", "c1", f.Conf());
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("\"address\": \"10.1.17.2/24\"") != std::string::npos);
  std::string saved = R"({"cniVersion":"1.1.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"fnet","type":"bridge"})";
  CHECK(f.Saved("c1") == saved);
  CHECK(f.Log() == "ADD " + saved + "\n");
  struct stat st {};
  REQUIRE(stat((f.data / "c1").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(f.data.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("flannel ADD without subnet.env is error 11 with the reference's text", "[flannel]") {
  Fixture f;
  fs::remove(f.env_file);
  auto r = f.Run("ADD", "c1", f.Conf());
  CHECK(r.rc == 1);
  CHECK(r.out == "{\n    \"code\": 11,\n    \"msg\": \"failed to load flannel 'subnet.env' file: open " + f.env_file.string() +
                     ": no such file or directory. Check the flannel pod log for this node.\"\n}");
  CHECK(f.Log().empty());
  f.WriteEnv("FLANNEL_NETWORK=10.1.0.0/16\n");
  r = f.Run("ADD", "c1", f.Conf());
  CHECK(r.out.find("\"code\": 999") != std::string::npos);
  CHECK(r.out.find("is missing FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ. Check the flannel pod log") != std::string::npos);
}

TEST_CASE("flannel ADD failure runs the delegate DEL and removes the saved file", "[flannel]") {
  Fixture f;
  f.extra["FAKE_FAIL_ADD"] = "1";
  auto r = f.Run("ADD", "c1", f.Conf());
  CHECK(r.rc == 1);
  CHECK(r.out == "{\n    \"code\": 999,\n    \"msg\": \"failed to delegate add: no IP addresses available; range 10.1.17.0/24\"\n}");
  std::string log = f.Log();
  CHECK(log.rfind("ADD {", 0) == 0);
  CHECK(log.find("\nDEL {\"cniVersion\":\"1.1.0\"") != std::string::npos);
  CHECK_FALSE(fs::exists(f.data / "c1"));

  // If that undo fails too, the file stays for the runtime's DEL.
  f.extra["FAKE_FAIL_DEL"] = "1";
  r = f.Run("ADD", "c2", f.Conf());
  CHECK(r.rc == 1);
  CHECK(fs::exists(f.data / "c2"));
}

TEST_CASE("flannel DEL replays the saved bytes; a failed delegate DEL keeps the file", "[flannel]") {
  Fixture f;
  fs::create_directories(f.data);
  std::ofstream(f.data / "c1") << kSaved;
  f.WriteEnv("FLANNEL_NETWORK=10.9.0.0/16\nFLANNEL_SUBNET=10.9.9.1/24\nFLANNEL_MTU=1\nFLANNEL_IPMASQ=false\n");  // changed since ADD
  f.extra["FAKE_FAIL_DEL"] = "1";
  auto r = f.Run("DEL", "c1", f.Conf());
  CHECK(r.rc == 1);
  CHECK(r.out == "{\n    \"code\": 7,\n    \"msg\": \"del failed\"\n}");  // the delegate's error, unwrapped
  CHECK(f.Saved("c1") == kSaved);
  f.extra.clear();
  f.ClearLog();
  r = f.Run("DEL", "c1", f.Conf());
  CHECK(r.rc == 0);
  CHECK(f.Log() == std::string("DEL ") + kSaved + "\n");
  CHECK_FALSE(fs::exists(f.data / "c1"));
}

TEST_CASE("flannel DEL without a usable saved file rebuilds the config and still releases", "[flannel]") {
  Fixture f;
  fs::create_directories(f.data);
  std::ofstream(f.data / "c1") << R"({"cniVersion":"1.1.0","ipMa)";  // truncated by a crash
  auto r = f.Run("DEL", "c1", f.Conf());
  CHECK(r.rc == 0);
  std::string rebuilt = R"({"cniVersion":"1.1.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"fnet","type":"bridge"})";
  CHECK(f.Log() == "DEL " + rebuilt + "\n");
  CHECK_FALSE(fs::exists(f.data / "c1"));

  f.ClearLog();
  r = f.Run("DEL", "c1", f.Conf());  // missing file: same rebuild, DEL stays idempotent
  CHECK(r.rc == 0);
  CHECK(f.Log() == "DEL " + rebuilt + "\n");

  f.ClearLog();
  fs::remove(f.env_file);  // flanneld gone too: nothing can be rebuilt, DEL succeeds
  r = f.Run("DEL", "c1", f.Conf());
  CHECK(r.rc == 0);
  CHECK(f.Log().empty());
}

TEST_CASE("flannel CHECK runs the saved delegate's CHECK with prevResult", "[flannel]") {
  Fixture f;
  fs::create_directories(f.data);
  std::ofstream(f.data / "c1") << kSaved;
  const std::string prev = R"(,"prevResult":{"cniVersion":"1.1.0","ips":[{"address":"10.1.17.2/24"}]})";
  auto r = f.Run("CHECK", "c1", f.Conf(prev));
  CHECK(r.rc == 0);
  CHECK(f.Log() ==
        R"(CHECK {"cniVersion":"1.0.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"fnet","prevResult":{"cniVersion":"1.1.0","ips":[{"address":"10.1.17.2/24"}]},"type":"bridge"})"
        "\n");
  f.extra["FAKE_FAIL_CHECK"] = "1";
  r = f.Run("CHECK", "c1", f.Conf(prev));
  CHECK(r.rc == 1);
  CHECK(r.out.find("check failed") != std::string::npos);
}

TEST_CASE("flannel GC removes this network's stale saved files and forwards GC", "[flannel]") {
  for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
    Fixture f;
    fs::create_directories(f.data);
    std::ofstream(f.data / "c1") << kSaved;                                            // valid
    std::ofstream(f.data / "c2") << kSaved;                                            // stale
    std::ofstream(f.data / "c3") << R"({"name":"othernet","type":"bridge"})";          // another network
    std::ofstream(f.data / "c4") << "{";                                               // corrupt, stale
    std::ofstream(f.data / ".c5.tmp1.0") << "{";                                       // an ADD in flight
    std::string list = std::string(",\"") + key + R"(":[{"containerID":"c1","ifname":"eth0"}])";
    auto r = f.Run("GC", "", f.Conf(list));
    CHECK(r.rc == 0);
    CHECK(fs::exists(f.data / "c1"));
    CHECK_FALSE(fs::exists(f.data / "c2"));
    CHECK(fs::exists(f.data / "c3"));
    CHECK_FALSE(fs::exists(f.data / "c4"));
    CHECK(fs::exists(f.data / ".c5.tmp1.0"));
    std::string log = f.Log();
    CHECK(log.rfind("GC {", 0) == 0);
    CHECK(log.find(std::string("\"") + key + R"(":[{"containerID":"c1","ifname":"eth0"}])") != std::string::npos);
    CHECK(log.find(R"("name":"fnet")") != std::string::npos);
  }
}

TEST_CASE("flannel STATUS is 50 while subnet.env is missing or incomplete", "[flannel]") {
  Fixture f;
  auto r = f.Run("STATUS", "", f.Conf());
  CHECK(r.rc == 0);
  CHECK(f.Log().rfind("STATUS {", 0) == 0);
  f.WriteEnv("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n");
  r = f.Run("STATUS", "", f.Conf());
  CHECK(r.rc == 1);
  CHECK(r.out.find("\"code\": 50") != std::string::npos);
  CHECK(r.out.find("is missing FLANNEL_MTU, FLANNEL_IPMASQ") != std::string::npos);
  fs::remove(f.env_file);
  r = f.Run("STATUS", "", f.Conf());
  CHECK(r.out.find("\"code\": 50") != std::string::npos);
  CHECK(r.out.find("no such file or directory") != std::string::npos);
}

TEST_CASE("flannel GC without an attachment list treats every saved file of the network as stale", "[flannel]") {
  // libcni omits both keys when the runtime gives no list (cnitool gc) after DELing every
  // cached attachment, so nothing of this network is valid any more.
  Fixture f;
  fs::create_directories(f.data);
  std::ofstream(f.data / "c1") << kSaved;
  std::ofstream(f.data / "c2") << R"({"name":"othernet","type":"bridge"})";
  auto r = f.Run("GC", "", f.Conf());
  CHECK(r.rc == 0);
  CHECK_FALSE(fs::exists(f.data / "c1"));
  CHECK(fs::exists(f.data / "c2"));
  // Without subnet.env the delegate cannot be configured: the stale files still go, and the
  // error says why GC could not reach the delegate.
  std::ofstream(f.data / "c3") << kSaved;
  fs::remove(f.env_file);
  r = f.Run("GC", "", f.Conf());
  CHECK(r.rc == 1);
  CHECK(r.out.find("no such file or directory") != std::string::npos);
  CHECK_FALSE(fs::exists(f.data / "c3"));
}
