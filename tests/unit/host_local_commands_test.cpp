// host-local commands run in-process through the skel dispatcher: ADD/DEL/CHECK round trip,
// GC with both attachment keys, STATUS (code 50) and the network-name guard.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cni/skel.h"
#include "host_local.h"
#include "support.h"

namespace fs = std::filesystem;

namespace {

using weft::test::TempDir;

struct Call {
  int rc;
  std::string out;
};

Call Run(const std::string& command, const std::string& id, const std::string& ifname, const std::string& conf) {
  cni::Env env{{"CNI_COMMAND", command}, {"CNI_PATH", "/nonexistent"}};
  if (!id.empty()) env["CNI_CONTAINERID"] = id;
  if (!ifname.empty()) env["CNI_IFNAME"] = ifname;
  if (command == "ADD" || command == "CHECK") env["CNI_NETNS"] = "/var/run/netns/weft-hl-absent";
  std::istringstream in(conf);
  std::ostringstream out, err;
  int rc = cni::Dispatch(hostlocal::Funcs(), "host-local", cni::Invocation{env, in, out, err});
  return {rc, out.str()};
}

std::string Conf(const fs::path& data, const std::string& extra = "", const std::string& version = "1.1.0") {
  return R"({"cniVersion":")" + version + R"(","name":"cmdnet","ipam":{"type":"host-local","dataDir":")" +
         data.string() + R"(","ranges":[[{"subnet":"10.30.0.0/29"}],[{"subnet":"fd30::/125"}]]})" + extra + "}";
}

std::vector<std::string> Files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("host-local commands: ADD, CHECK, DEL", "[host-local]") {
  TempDir t;
  Call add = Run("ADD", "a1", "eth0", Conf(t.path));
  REQUIRE(add.rc == 0);
  CHECK_THAT(add.out, Catch::Contains(R"("address": "10.30.0.2/29")"));
  CHECK_THAT(add.out, Catch::Contains(R"("address": "fd30::2/125")"));
  CHECK(Run("CHECK", "a1", "eth0", Conf(t.path)).rc == 0);
  Call miss = Run("CHECK", "a2", "eth0", Conf(t.path));
  CHECK(miss.rc == 1);
  CHECK_THAT(miss.out, Catch::Contains("host-local: Failed to find address added by container a2"));
  CHECK(Run("DEL", "a1", "eth0", Conf(t.path)).rc == 0);
  CHECK(Run("DEL", "a1", "eth0", Conf(t.path)).rc == 0);
  CHECK(Files(t.path / "cmdnet") == std::vector<std::string>{"last_reserved_ip.0", "last_reserved_ip.1", "lock"});
}

TEST_CASE("host-local commands: GC keeps valid attachments only", "[host-local]") {
  TempDir t;
  for (const char* id : {"g1", "g2", "g3"}) REQUIRE(Run("ADD", id, "eth0", Conf(t.path)).rc == 0);
  REQUIRE(Run("ADD", "g1", "net1", Conf(t.path)).rc == 0);
  Call gc = Run("GC", "", "", Conf(t.path, R"(,"cni.dev/valid-attachments":[{"containerID":"g1","ifname":"net1"},{"containerID":"g3","ifname":"eth0"}])"));
  CHECK(gc.rc == 0);
  CHECK(gc.out.empty());
  CHECK(Files(t.path / "cmdnet") == std::vector<std::string>{"10.30.0.4", "10.30.0.5", "fd30::4", "fd30::5",
                                                               "last_reserved_ip.0", "last_reserved_ip.1", "lock"});
  // The older key is accepted; the newer one wins when both are present.
  CHECK(Run("GC", "", "", Conf(t.path, R"(,"cni.dev/attachments":[{"containerID":"g1","ifname":"net1"}])")).rc == 0);
  CHECK(Files(t.path / "cmdnet").size() == 5);
  CHECK(Run("GC", "", "", Conf(t.path, R"(,"cni.dev/valid-attachments":[],"cni.dev/attachments":[{"containerID":"g1","ifname":"net1"}])")).rc == 0);
  CHECK(Files(t.path / "cmdnet") == std::vector<std::string>{"last_reserved_ip.0", "last_reserved_ip.1", "lock"});
  // After GC the index agrees with the directory: CHECK finds nothing, ADD starts fresh.
  CHECK(Run("CHECK", "g1", "net1", Conf(t.path)).rc == 1);
  CHECK(Run("ADD", "g4", "eth0", Conf(t.path)).rc == 0);
}

TEST_CASE("host-local commands: STATUS", "[host-local]") {
  TempDir t;
  CHECK(Run("STATUS", "", "", Conf(t.path)).rc == 0);
  // Fill the /29 (.2-.6 after the gateway .1): the v4 set has no address left.
  for (int i = 0; i < 5; ++i) REQUIRE(Run("ADD", "s" + std::to_string(i), "eth0", Conf(t.path)).rc == 0);
  Call full = Run("STATUS", "", "", Conf(t.path));
  CHECK(full.rc == 1);
  CHECK_THAT(full.out, Catch::Contains(R"("code": 50)"));
  CHECK_THAT(full.out, Catch::Contains("no IP addresses available in range set: 10.30.0.1-10.30.0.6"));
  CHECK(Run("DEL", "s0", "eth0", Conf(t.path)).rc == 0);
  CHECK(Run("STATUS", "", "", Conf(t.path)).rc == 0);
  // A store that cannot be created is not available.
  std::ofstream(t.path / "file") << "x";
  Call broken = Run("STATUS", "", "", Conf(t.path / "file"));
  CHECK(broken.rc == 1);
  CHECK_THAT(broken.out, Catch::Contains(R"("code": 50)"));
  CHECK_THAT(broken.out, Catch::Contains("host-local store is not usable"));
  CHECK_THAT(Run("STATUS", "", "", Conf(t.path, "", "1.0.0")).out, Catch::Contains("config version does not allow STATUS"));
}

TEST_CASE("host-local commands: network names cannot escape dataDir", "[host-local]") {
  TempDir t;
  std::string conf = R"({"cniVersion":"1.0.0","name":"../escape","ipam":{"dataDir":")" + t.path.string() +
                     R"(","subnet":"10.31.0.0/24"}})";
  Call c = Run("ADD", "x", "eth0", conf);
  CHECK(c.rc == 1);
  CHECK_THAT(c.out, Catch::Contains("invalid characters found in network name"));
  CHECK_FALSE(fs::exists(t.path.parent_path() / "escape"));
}
