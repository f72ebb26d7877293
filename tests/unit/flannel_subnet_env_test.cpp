// flannel subnet.env parsing: every variant of the reference's tests (flannel.md §1.9 items
// 8-9, plus the inputs of items 1-5), the "is missing" message per group, Go's error texts, and
// weft's deliberate difference (a known key without '=' does not crash).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cni/error.h"
#include "subnet_env.h"

namespace fs = std::filesystem;
using flannel::ParseSubnetEnv;

namespace {

std::string Strings(const std::vector<cni::IPNet>& v) {
  std::string s;
  for (const auto& n : v) s += (s.empty() ? "" : ",") + n.String();
  return s;
}

std::string ErrorOf(std::string_view text) {
  try {
    ParseSubnetEnv(text, "/run/flannel/subnet.env");
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "";
}

}  // namespace

TEST_CASE("flannel subnet.env: IPv4 only", "[flannel]") {
  auto env = ParseSubnetEnv("\nFLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n", "f");
  CHECK(Strings(env.networks) == "10.1.0.0/16");
  REQUIRE(env.subnet);
  CHECK(env.subnet->String() == "10.1.17.0/24");  // the network, not the .1 gateway
  CHECK(env.ipv6_networks.empty());
  CHECK_FALSE(env.ipv6_subnet);
  CHECK(env.mtu == 1472u);
  CHECK(env.ipmasq == true);
}

TEST_CASE("flannel subnet.env: IPv6 only", "[flannel]") {
  auto env = ParseSubnetEnv("\nFLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n", "f");
  CHECK(env.networks.empty());
  CHECK_FALSE(env.subnet);
  CHECK(Strings(env.ipv6_networks) == "fc00::/48");
  REQUIRE(env.ipv6_subnet);
  CHECK(env.ipv6_subnet->String() == "fc00::/64");
}

TEST_CASE("flannel subnet.env: dual stack", "[flannel]") {
  auto env = ParseSubnetEnv(
      "\nFLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\n"
      "FLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n", "f");
  CHECK(Strings(env.networks) == "10.1.0.0/16");
  CHECK(env.subnet->String() == "10.1.17.0/24");
  CHECK(Strings(env.ipv6_networks) == "fc00::/48");
  CHECK(env.ipv6_subnet->String() == "fc00::/64");
}

TEST_CASE("flannel subnet.env: several networks, masking, duplicates, later line wins", "[flannel]") {
  auto env = ParseSubnetEnv("FLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n", "f");
  CHECK(Strings(env.networks) == "10.1.0.0/16,192.168.0.0/16");
  env = ParseSubnetEnv("FLANNEL_NETWORK=10.1.2.3/16,10.1.0.0/16,192.168.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1\nFLANNEL_IPMASQ=x\n", "f");
  CHECK(Strings(env.networks) == "10.1.0.0/16,192.168.0.0/16");
  CHECK(env.ipmasq == false);  // anything but "true" is false, but present
  env = ParseSubnetEnv("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_NETWORK=10.9.0.0/16\nFLANNEL_SUBNET=10.9.1.1/24\nFLANNEL_MTU=1\nFLANNEL_IPMASQ=false\n", "f");
  CHECK(Strings(env.networks) == "10.9.0.0/16");
}

TEST_CASE("flannel subnet.env: what flanneld writes, CRLF, no final newline, unknown keys", "[flannel]") {
  auto env = ParseSubnetEnv("FLANNEL_NETWORK=10.42.0.0/16\r\nFLANNEL_SUBNET=10.42.3.1/24\r\nFOO=bar\r\nFLANNEL_MTU=1450\r\nFLANNEL_IPMASQ=true", "f");
  CHECK(Strings(env.networks) == "10.42.0.0/16");
  CHECK(env.subnet->String() == "10.42.3.0/24");
  CHECK(env.mtu == 1450u);
  CHECK(env.ipmasq == true);
}

TEST_CASE("flannel subnet.env: the is-missing message lists the absent groups in order", "[flannel]") {
  const std::string all = "FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ";
  CHECK(ErrorOf("foo=bar") == "/run/flannel/subnet.env is missing " + all);
  CHECK(ErrorOf("") == "/run/flannel/subnet.env is missing " + all);
  CHECK(ErrorOf("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n") ==
        "/run/flannel/subnet.env is missing FLANNEL_MTU, FLANNEL_IPMASQ");
  CHECK(ErrorOf("FLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1\nFLANNEL_IPMASQ=true\n") ==
        "/run/flannel/subnet.env is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK");
  // A v4 network with only a v6 subnet passes, as in the reference.
  CHECK(ErrorOf("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1\nFLANNEL_IPMASQ=true\n").empty());
  // Keys are exact and case-sensitive, nothing is trimmed.
  CHECK(ErrorOf("flannel_mtu=1\nFLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n FLANNEL_IPMASQ=true\n") ==
        "/run/flannel/subnet.env is missing FLANNEL_MTU, FLANNEL_IPMASQ");
}

TEST_CASE("flannel subnet.env: a known key without '=' is reported missing, not a crash", "[flannel]") {
  CHECK(ErrorOf("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU\nFLANNEL_IPMASQ=true\n") ==
        "/run/flannel/subnet.env is missing FLANNEL_MTU");
  CHECK(ErrorOf("FLANNEL_NETWORK\nFLANNEL_SUBNET\nFLANNEL_MTU\nFLANNEL_IPMASQ\n") ==
        "/run/flannel/subnet.env is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, "
        "FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ");
}

TEST_CASE("flannel subnet.env: Go's parse errors", "[flannel]") {
  CHECK(ErrorOf("FLANNEL_NETWORK=10.1.0.0/16 \n") == "invalid CIDR address: 10.1.0.0/16 ");
  CHECK(ErrorOf("FLANNEL_NETWORK=10.1.0.0/16,\n") == "invalid CIDR address: ");
  CHECK(ErrorOf("FLANNEL_SUBNET=\"10.1.17.1/24\"\n") == "invalid CIDR address: \"10.1.17.1/24\"");
  CHECK(ErrorOf("FLANNEL_MTU=abc\n") == "strconv.ParseUint: parsing \"abc\": invalid syntax");
  CHECK(ErrorOf("FLANNEL_MTU=-1\n") == "strconv.ParseUint: parsing \"-1\": invalid syntax");
  CHECK(ErrorOf("FLANNEL_MTU=\n") == "strconv.ParseUint: parsing \"\": invalid syntax");
  CHECK(ErrorOf("FLANNEL_MTU=4294967296\n") == "strconv.ParseUint: parsing \"4294967296\": value out of range");
  CHECK(ErrorOf(std::string(70000, 'x')) == "bufio.Scanner: token too long");
}

TEST_CASE("flannel subnet.env: a missing file is error 11 with Go's open text", "[flannel]") {
  std::string dir = (fs::temp_directory_path() / ("weft-fl-env-" + std::to_string(getpid()))).string();
  fs::create_directories(dir);
  try {
    flannel::LoadSubnetEnv(dir + "/absent.env");
    FAIL("no error");
  } catch (const cni::Error& e) {
    CHECK(e.code() == cni::kTryAgainLater);
    CHECK(e.msg() == "open " + dir + "/absent.env: no such file or directory");
  }
  try {
    flannel::LoadSubnetEnv(dir);
    FAIL("no error");
  } catch (const cni::Error& e) {
    CHECK(e.code() == cni::kInternal);
    CHECK(e.msg() == "read " + dir + ": is a directory");
  }
  std::ofstream(dir + "/real.env") << "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
  fs::create_symlink(dir + "/real.env", dir + "/link.env");  // os.Open follows symlinks
  CHECK(flannel::LoadSubnetEnv(dir + "/link.env").mtu == 1472u);
  fs::remove_all(dir);
}
