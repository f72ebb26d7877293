// Hostile input, in-process (docs/reliability.md "Hostile input"): a table of malformed and
// adversarial calls of host-local and flannel, the two plugins that touch no kernel state, run
// through the skel dispatcher exactly as the binaries do. Each row asserts the exit status, the
// exact CNI error code, a clear message, and that nothing changed on disk: the whole throw-away
// root (dataDir, subnet.env, a "victim" file and directory that planted symlinks point at) is
// listed with types, modes, sizes, contents and link targets before and after. Rows here can use
// what exec cannot carry (NUL bytes in CNI_* values). CNI_PATH is an empty directory, so no
// delegate can ever run. The bridge and portmap rows, which need a node namespace, are in
// tests/netns/hostile_inputs.sh. Symlinks planted where state files go are covered at the end.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "bandwidth.h"
#include "cni/json.h"
#include "cni/skel.h"
#include "firewall.h"
#include "flannel.h"
#include "host_local.h"

namespace fs = std::filesystem;

namespace {

struct Root {
  fs::path dir;
  Root() {
    char tmpl[] = "/tmp/weft-hostile.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    fs::create_directories(dir / "data");
    fs::create_directories(dir / "bin");  // CNI_PATH: deliberately empty
    fs::create_directories(dir / "victim-dir");
    Write("victim", "precious\n");
    Write("subnet.env", "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n");
  }
  ~Root() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void Write(const std::string& rel, const std::string& content) const {
    std::ofstream(dir / rel, std::ios::binary) << content;
  }
  std::string Sub(std::string s) const {  // "@R@" stands for the root directory
    for (size_t p; (p = s.find("@R@")) != std::string::npos;) s.replace(p, 3, dir.string());
    return s;
  }
};

// Every entry under root, without following symlinks: path, type, mode, size, and the content
// of regular files (or the target of symlinks).
std::string Snapshot(const fs::path& root) {
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    REQUIRE(lstat(it->path().c_str(), &st) == 0);
    std::ostringstream l;
    l << fs::relative(it->path(), root).string() << " mode=" << std::oct << st.st_mode << std::dec;
    if (S_ISLNK(st.st_mode)) {
      l << " -> " << fs::read_symlink(it->path()).string();
    } else if (S_ISREG(st.st_mode)) {
      std::ifstream f(it->path(), std::ios::binary);
      l << " size=" << st.st_size << " content=" << std::string(std::istreambuf_iterator<char>(f), {});
    }
    lines.push_back(l.str());
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

struct Outcome {
  int rc;
  std::string out;
  cni::Json json;
};

Outcome Run(const cni::PluginFuncs& funcs, const cni::Env& env, const std::string& stdin_data) {
  std::istringstream in(stdin_data);
  std::ostringstream out, err;
  int rc = cni::Dispatch(funcs, "hostile", cni::Invocation{env, in, out, err});
  Outcome o{rc, out.str(), nullptr};
  if (!o.out.empty()) o.json = cni::Json::parse(o.out, nullptr, false);
  return o;
}

struct Row {
  const char* name;
  const char* plugin;  // "host-local", "flannel", or "bandwidth"/"firewall" failing before kernel work
  std::vector<std::pair<std::string, std::string>> env;  // overrides; "" value = unset
  std::string stdin_data;
  unsigned code;
  std::string msg;  // substring of the error message (after @R@ substitution)
  std::function<void(const Root&)> setup = nullptr;
};

const std::string kHL = R"({"cniVersion":"1.0.0","name":"hlnet","type":"bridge","ipam":{"type":"host-local","dataDir":"@R@/data",)";
std::string HL(const std::string& ipam) { return kHL + ipam + "}}"; }
const std::string kGood = HL(R"("subnet":"10.9.0.0/24")");
std::string FL(const std::string& extra = "") {
  return R"({"cniVersion":"1.0.0","name":"cbr0","type":"flannel","subnetFile":"@R@/subnet.env","dataDir":"@R@/data/flannel")" +
         extra + "}";
}
std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  REQUIRE(p != std::string::npos);
  return s.replace(p, from.size(), to);
}
std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}
std::string RangeSets(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += std::string(i ? "," : "") + R"([{"subnet":"10.9.0.0/24"}])";
  return out;
}
std::string BW(const std::string& extra) {
  return R"({"cniVersion":"1.0.0","name":"bwnet","type":"bandwidth",)" + extra +
         R"(,"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"veth0"},{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":1,"address":"10.9.0.2/24"}]}})";
}
std::string FW(const std::string& extra, const std::string& bridge = "br0") {
  return R"({"cniVersion":"1.0.0","name":"fwnet","type":"firewall",)" + extra +
         R"(,"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":")" + bridge +
         R"("},{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":1,"address":"10.9.0.2/24"}]}})";
}
auto SubnetEnv(std::string content) {
  return [content](const Root& r) { r.Write("subnet.env", content); };
}
const char* kIncomplete = "is missing";

std::vector<Row> Rows() {
  const std::string deep = R"({"cniVersion":"1.0.0","name":"hlnet","x":)" + Repeat("[", 100000) + Repeat("]", 100000) + "}";
  const std::string envOK = "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
  return {
      // --- the dispatcher (same for every plugin): bad JSON, wrong types, names, versions
      {"empty stdin", "host-local", {}, "", 6, "error unmarshall network config: unexpected end of JSON input"},
      {"not JSON", "host-local", {}, "not json", 6, "error unmarshall network config: invalid character"},
      {"truncated JSON", "host-local", {}, R"({"cniVersion":"1.0.0","name":)", 6, "unexpected end of JSON input"},
      {"top-level array", "host-local", {}, "[]", 6, "json: cannot unmarshal array into Go value of type struct"},
      {"top-level string", "flannel", {}, R"("x")", 6, "json: cannot unmarshal string into Go value of type struct"},
      {"name is a number", "host-local", {}, R"({"cniVersion":"1.0.0","name":5})", 6,
       "cannot unmarshal number into Go struct field .name of type string"},
      {"name missing", "host-local", {}, R"({"cniVersion":"1.0.0","ipam":{}})", 7, "missing network name"},
      {"name ../etc", "host-local", {}, Replace(kGood, "hlnet", "../etc"), 7, "invalid characters found in network name"},
      {"name a/b", "host-local", {}, Replace(kGood, "hlnet", "a/b"), 7, "invalid characters found in network name"},
      {"name .hidden", "host-local", {}, Replace(kGood, "hlnet", ".hidden"), 7, "invalid characters found in network name"},
      {"name with NUL", "host-local", {}, Replace(kGood, "hlnet", "a\\u0000b"), 7, "invalid characters found in network name"},
      {"name 64 KiB", "flannel", {}, Replace(FL(), "cbr0", Repeat("n", 65536) + "/"), 7, "invalid characters found in network name"},
      {"cniVersion 99.0.0", "host-local", {}, Replace(kGood, "1.0.0", "99.0.0"), 1, "incompatible CNI versions"},
      {"cniVersion a number", "host-local", {}, Replace(kGood, "\"1.0.0\"", "1"), 6,
       "decoding version from network config: json: cannot unmarshal number"},
      {"cniVersion 1.x.0", "flannel", {}, Replace(FL(), "1.0.0", "1.x.0"), 1, "incompatible CNI versions"},
      {"CHECK with 0.3.1", "host-local", {{"CNI_COMMAND", "CHECK"}}, Replace(kGood, "1.0.0", "0.3.1"), 1,
       "config version does not allow CHECK"},
      {"GC with 0.4.0", "flannel", {{"CNI_COMMAND", "GC"}}, Replace(FL(), "1.0.0", "0.4.0"), 1, "config version does not allow GC"},
      {"nesting 100000 deep", "host-local", {}, deep, 6, "invalid character '[' exceeded max depth"},
      {"NUL then junk after the document", "host-local", {}, kGood + std::string(1, '\0') + "junk", 6,
       "error unmarshall network config: invalid character '\\x00'"},
      {"number 1e400", "host-local", {}, Replace(kGood, "\"type\":\"bridge\"", "\"type\":\"bridge\",\"mtu\":1e400"), 6,
       "json: cannot unmarshal number 1e400 into Go value of type float64"},
      // --- the CNI_* environment
      {"unknown CNI_COMMAND", "host-local", {{"CNI_COMMAND", "FOO"}}, kGood, 4, "unknown CNI_COMMAND: FOO"},
      {"CNI_PATH missing", "flannel", {{"CNI_PATH", ""}}, FL(), 4, "required env variables [CNI_PATH] missing"},
      {"container id ../x", "host-local", {{"CNI_CONTAINERID", "../x"}}, kGood, 4, "invalid characters in containerID"},
      {"container id a/b", "flannel", {{"CNI_CONTAINERID", "a/b"}}, FL(), 4, "invalid characters in containerID"},
      {"container id ../../victim", "flannel", {{"CNI_CONTAINERID", "../../victim"}}, FL(), 4,
       "invalid characters in containerID"},
      {"container id with NUL", "host-local", {{"CNI_CONTAINERID", std::string("c1\0/x", 5)}}, kGood, 4,
       "invalid characters in containerID"},
      {"container id with newline", "host-local", {{"CNI_CONTAINERID", "c1\neth0"}}, kGood, 4,
       "invalid characters in containerID"},
      {"ifname 17 chars", "host-local", {{"CNI_IFNAME", "abcdefghijklmnopq"}}, kGood, 4, "interface name is too long"},
      {"ifname eth/0", "flannel", {{"CNI_IFNAME", "eth/0"}}, FL(), 4, "interface name contains / or : or whitespace"},
      {"ifname ..", "host-local", {{"CNI_IFNAME", ".."}}, kGood, 4, "interface name is . or .."},
      {"ifname with NUL", "host-local", {{"CNI_IFNAME", std::string("et\0h0", 5)}}, kGood, 4,
       "interface name contains / or : or whitespace"},
      {"CNI_ARGS IP=garbage", "host-local", {{"CNI_ARGS", "IP=garbage"}}, kGood, 999,
       R"(ARGS: error parsing value of pair "IP=garbage": invalid IP address garbage)"},
      {"CNI_ARGS a=b=c", "host-local", {{"CNI_ARGS", "a=b=c"}}, kGood, 999, R"(ARGS: invalid pair "a=b=c")"},
      {"CNI_ARGS unknown key", "host-local", {{"CNI_ARGS", "FOO=bar"}}, kGood, 999, R"(ARGS: unknown args ["FOO=bar"])"},
      {"CNI_ARGS IP with NUL", "host-local", {{"CNI_ARGS", std::string("IP=10.9.0.5\0x", 13)}}, kGood, 999,
       "ARGS: error parsing value of pair"},
      {"CNI_ARGS IP with a /33", "host-local", {{"CNI_ARGS", "IP=10.9.0.5/33"}}, kGood, 999,
       R"(ARGS: error parsing value of pair "IP=10.9.0.5/33": invalid IP address 10.9.0.5/33)"},
      // --- host-local's IPAM config
      {"ipam missing", "host-local", {}, R"({"cniVersion":"1.0.0","name":"hlnet","type":"bridge"})", 999,
       "IPAM config missing 'ipam' key"},
      {"ipam a string", "host-local", {}, R"({"cniVersion":"1.0.0","name":"hlnet","type":"bridge","ipam":"x"})", 999,
       "json: cannot unmarshal string into Go struct field Net.ipam of type allocator.IPAMConfig"},
      {"dataDir a number", "host-local", {},
       R"({"cniVersion":"1.0.0","name":"hlnet","ipam":{"type":"host-local","dataDir":7,"subnet":"10.9.0.0/24"}})", 999,
       "cannot unmarshal number into Go struct field IPAMConfig.ipam.dataDir of type string"},
      {"subnet /33", "host-local", {}, HL(R"("subnet":"10.9.0.0/33")"), 999, "invalid CIDR address: 10.9.0.0/33"},
      {"subnet 200 KB", "host-local", {}, HL(R"("subnet":")" + Repeat("1", 200000) + "\""), 999, "invalid CIDR address: 111"},
      {"subnet with host bits", "host-local", {}, HL(R"("subnet":"10.9.0.5/24")"), 999,
       "invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.9.0.0"},
      {"subnet /32", "host-local", {}, HL(R"("subnet":"10.9.0.5/32")"), 999, "Network 10.9.0.5/32 too small to allocate from"},
      {"rangeStart outside", "host-local", {}, HL(R"("subnet":"10.9.0.0/24","rangeStart":"10.8.0.1")"), 999,
       "invalid range set 0: RangeStart 10.8.0.1 not in network 10.9.0.0/24"},
      {"ranges empty", "host-local", {}, HL(R"("ranges":[])"), 999, "no IP ranges specified"},
      {"range set empty", "host-local", {}, HL(R"("ranges":[[]])"), 999, "invalid range set 0: empty range set"},
      {"ranges overlap", "host-local", {}, HL(R"("ranges":[[{"subnet":"10.9.0.0/24"}],[{"subnet":"10.9.0.0/25"}]])"), 999,
       "range set 0 overlaps with 1"},
      {"5000 range sets", "host-local", {}, HL(R"("ranges":[)" + RangeSets(5000) + "]"), 999, "range set 0 overlaps with 1"},
      {"ranges a string", "host-local", {}, HL(R"("ranges":"10.9.0.0/24")"), 999, "json: cannot unmarshal string"},
      {"route dst bogus", "host-local", {}, HL(R"("subnet":"10.9.0.0/24","routes":[{"dst":"bogus"}])"), 999,
       "invalid CIDR address: bogus"},
      {"gateway bogus", "host-local", {}, HL(R"("subnet":"10.9.0.0/24","gateway":"10.9.0.300")"), 999, "10.9.0.300"},
      // --- flannel's netconf and subnet.env
      {"flannel subnetFile a number", "flannel", {}, Replace(FL(), "\"@R@/subnet.env\"", "5"), 999,
       "failed to load flannel netconf file: failed to load netconf: json: cannot unmarshal number"},
      {"flannel delegate a string", "flannel", {}, FL(R"(,"delegate":"x")"), 999, "json: cannot unmarshal string"},
      {"flannel delegate type a number", "flannel", {}, FL(R"(,"delegate":{"type":5})"), 999, "type"},
      {"flannel ipam routes bogus", "flannel", {}, FL(R"(,"ipam":{"routes":[{"dst":"x"}]})"), 999,
       "failed to assemble Delegate IPAM: failed to read IPAM routes"},
      {"subnet.env missing", "flannel", {}, FL(), 11, "failed to load flannel 'subnet.env' file: open @R@/subnet.env",
       [](const Root& r) { fs::remove(r.dir / "subnet.env"); }},
      {"subnet.env a directory", "flannel", {}, FL(), 999, "read @R@/subnet.env: is a directory",
       [](const Root& r) { fs::remove(r.dir / "subnet.env"); fs::create_directory(r.dir / "subnet.env"); }},
      {"subnet.env garbage", "flannel", {}, FL(), 999, kIncomplete, SubnetEnv("xyz\n\x01\x02\xff\n")},
      {"subnet.env empty", "flannel", {}, FL(), 999, kIncomplete, SubnetEnv("")},
      {"subnet.env FLANNEL_SUBNET bogus", "flannel", {}, FL(), 999, "invalid CIDR address: bogus",
       SubnetEnv("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=bogus\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n")},
      {"subnet.env MTU abc", "flannel", {}, FL(), 999, "strconv.ParseUint: parsing \"abc\": invalid syntax",
       SubnetEnv("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=abc\nFLANNEL_IPMASQ=true\n")},
      {"subnet.env MTU 2^66", "flannel", {}, FL(), 999, "value out of range",
       SubnetEnv("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=73786976294838206464\nFLANNEL_IPMASQ=true\n")},
      {"subnet.env NUL in network", "flannel", {}, FL(), 999, "invalid CIDR address: 10.1.0.0/16",
       SubnetEnv(std::string("FLANNEL_NETWORK=10.1.0.0/16") + '\0' + "\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n")},
      {"subnet.env key without =", "flannel", {}, FL(), 999, "is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK",
       SubnetEnv("FLANNEL_NETWORK\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n")},
      {"subnet.env 70 KB line", "flannel", {}, FL(), 999, "bufio.Scanner: token too long",
       SubnetEnv(envOK + "X=" + Repeat("a", 70000) + "\n")},
      {"subnet.env empty network in list", "flannel", {}, FL(), 999, "invalid CIDR address: . Check the flannel pod log",
       SubnetEnv("FLANNEL_NETWORK=10.0.0.0/8,,x\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n")},
      {"flannel delegate not installed", "flannel", {}, FL(), 999,
       R"(failed to delegate add: failed to find plugin "bridge" in path [@R@/bin])"},
      // --- bandwidth and firewall: refused before any kernel or firewall state is touched
      {"bandwidth netns missing", "bandwidth", {}, BW(R"("ingressRate":1000,"ingressBurst":1000)"), 999,
       "failed to open netns \"@R@/no-such-netns\""},
      {"bandwidth NUL in CNI_IFNAME", "bandwidth", {{"CNI_IFNAME", std::string("eth0\0x", 6)}}, BW(R"("ingressRate":1)"), 4,
       "interface name contains / or : or whitespace characters"},
      {"bandwidth fractional runtime rate", "bandwidth", {}, BW(R"("runtimeConfig":{"bandwidth":{"ingressRate":1.5}})"), 999,
       "cannot unmarshal number 1.5 into Go struct field BandwidthEntry.runtimeConfig.bandwidth.ingressRate of type uint64"},
      {"bandwidth burst 2^35", "bandwidth", {}, BW(R"("egressRate":1,"egressBurst":34359738368)"), 999,
       "burst cannot be more than 4GB"},
      {"firewall admin chain starting with -", "firewall", {}, FW(R"("iptablesAdminChainName":"-X")"), 999,
       "iptablesAdminChainName: invalid chain name"},
      {"firewall admin chain with NUL", "firewall", {}, FW(R"("iptablesAdminChainName":"A\u0000B")"), 999,
       "iptablesAdminChainName: invalid chain name"},
      {"firewall bridge name with NUL", "firewall", {}, FW(R"("ingressPolicy":"same-bridge")", "br0\\u0000x"), 999,
       "invalid interface name"},
      {"firewall firewalld", "firewall", {}, FW(R"("backend":"firewalld")"), 999, "firewalld backend is not supported"},
      // --- symlinks planted in dataDir
      {"host-local lock is a symlink", "host-local", {}, kGood, 999, "open @R@/data/hlnet/lock",
       [](const Root& r) {
         fs::create_directories(r.dir / "data/hlnet");
         fs::create_symlink(r.dir / "victim", r.dir / "data/hlnet/lock");
       }},
      {"host-local network dir is a symlink", "host-local", {}, kGood, 999, "open @R@/data/hlnet",
       [](const Root& r) { fs::create_directory_symlink(r.dir / "victim-dir", r.dir / "data/hlnet"); }},
      {"host-local network dir is a dangling symlink", "host-local", {}, kGood, 999, "open @R@/data/hlnet",
       [](const Root& r) { fs::create_directory_symlink(r.dir / "victim-dir/gone", r.dir / "data/hlnet"); }},
  };
}

}  // namespace

TEST_CASE("hostile inputs: exact code, clear message, no change on disk", "[hostile]") {
  const auto rows = Rows();
  CHECK(rows.size() >= 60);
  for (const Row& row : rows) {
    DYNAMIC_SECTION(row.name) {
      Root root;
      if (row.setup) row.setup(root);
      cni::Env env{{"CNI_COMMAND", "ADD"},       {"CNI_CONTAINERID", "c1"},
                   {"CNI_NETNS", root.Sub("@R@/no-such-netns")}, {"CNI_IFNAME", "eth0"},
                   {"CNI_PATH", root.Sub("@R@/bin")}, {"PATH", "/usr/bin:/bin"}};
      for (const auto& [k, v] : row.env) {
        if (v.empty()) env.erase(k);
        else env[k] = v;
      }
      const std::string before = Snapshot(root.dir);
      const std::string plugin = row.plugin;
      const auto funcs = plugin == "flannel"     ? flannel::Funcs()
                         : plugin == "bandwidth" ? bandwidth::Funcs()
                         : plugin == "firewall"  ? firewall::Funcs()
                                                 : hostlocal::Funcs();
      Outcome o = Run(funcs, env, root.Sub(row.stdin_data));
      INFO("output: " << o.out.substr(0, 600));
      CHECK(o.rc == 1);
      REQUIRE(o.json.is_object());
      CHECK(o.json.value("code", 0u) == row.code);
      const std::string msg = o.json.value("msg", std::string()) + " " + o.json.value("details", std::string());
      CHECK_THAT(msg, Catch::Contains(root.Sub(row.msg)));
      CHECK(Snapshot(root.dir) == before);
    }
  }
}

namespace {

cni::Env AddEnv(const Root& r, const std::string& command = "ADD") {
  return {{"CNI_COMMAND", command}, {"CNI_CONTAINERID", "c1"}, {"CNI_NETNS", r.Sub("@R@/no-such-netns")},
          {"CNI_IFNAME", "eth0"},   {"CNI_PATH", r.Sub("@R@/bin")}, {"PATH", "/usr/bin:/bin"}};
}

}  // namespace

TEST_CASE("hostile inputs: symlinks planted where host-local keeps state are never followed", "[hostile]") {
  Root r;
  const std::string victim_before = Snapshot(r.dir / "victim-dir");
  fs::create_directories(r.dir / "data/hlnet");

  SECTION("last_reserved_ip.0 -> victim: read refused, replaced by a regular file") {
    fs::create_symlink(r.dir / "victim", r.dir / "data/hlnet/last_reserved_ip.0");
    Outcome o = Run(hostlocal::Funcs(), AddEnv(r), r.Sub(kGood));
    REQUIRE(o.rc == 0);
    CHECK(o.json["ips"][0]["address"] == "10.9.0.2/24");
    CHECK(fs::is_regular_file(fs::symlink_status(r.dir / "data/hlnet/last_reserved_ip.0")));
  }
  SECTION("a reservation name -> victim: the address counts as taken, the victim is untouched") {
    fs::create_symlink(r.dir / "victim", r.dir / "data/hlnet/10.9.0.2");
    Outcome o = Run(hostlocal::Funcs(), AddEnv(r), r.Sub(kGood));
    REQUIRE(o.rc == 0);
    CHECK(o.json["ips"][0]["address"] == "10.9.0.3/24");
    REQUIRE(Run(hostlocal::Funcs(), AddEnv(r, "DEL"), r.Sub(kGood)).rc == 0);
    CHECK(fs::is_symlink(r.dir / "data/hlnet/10.9.0.2"));
    CHECK_FALSE(fs::exists(fs::symlink_status(r.dir / "data/hlnet/10.9.0.3")));
  }
  SECTION("the index directory -> victim-dir: the index stays in memory, nothing lands in the victim") {
    fs::create_directory_symlink(r.dir / "victim-dir", r.dir / "data/.weft-host-local");
    for (int i = 0; i < 2; ++i) {
      Outcome o = Run(hostlocal::Funcs(), AddEnv(r), r.Sub(kGood));
      REQUIRE(o.rc == (i == 0 ? 0 : 1));  // the second ADD is a duplicate, found without the index file
    }
    CHECK(fs::is_symlink(r.dir / "data/.weft-host-local"));
  }
  SECTION("the index file -> victim: not followed") {
    fs::create_directories(r.dir / "data/.weft-host-local");
    fs::create_symlink(r.dir / "victim", r.dir / "data/.weft-host-local/hlnet.index");
    REQUIRE(Run(hostlocal::Funcs(), AddEnv(r), r.Sub(kGood)).rc == 0);
    REQUIRE(Run(hostlocal::Funcs(), AddEnv(r, "DEL"), r.Sub(kGood)).rc == 0);
  }
  std::ifstream v(r.dir / "victim");
  CHECK(std::string(std::istreambuf_iterator<char>(v), {}) == "precious\n");
  CHECK(Snapshot(r.dir / "victim-dir") == victim_before);
}

TEST_CASE("hostile inputs: a flannel saved file planted as a symlink is neither read nor written through",
          "[hostile]") {
  Root r;
  fs::create_directories(r.dir / "data/flannel");
  fs::create_symlink(r.dir / "victim", r.dir / "data/flannel/c1");
  // DEL: the saved config is unreadable (a symlink), so flannel rebuilds it from subnet.env and
  // asks the delegate, which is not installed: the error is reported and the link is kept.
  Outcome o = Run(flannel::Funcs(), AddEnv(r, "DEL"), r.Sub(FL()));
  CHECK(o.rc == 1);
  CHECK_THAT(o.json.value("msg", std::string()), Catch::Contains("failed to find plugin \"bridge\""));
  CHECK(fs::is_symlink(r.dir / "data/flannel/c1"));
  std::ifstream v(r.dir / "victim");
  CHECK(std::string(std::istreambuf_iterator<char>(v), {}) == "precious\n");
}
