// iproute2 batch data plane (see dataplane.h). Every batch is one `bridge -force -batch -`
// (FDB) and one `ip -force -batch -` (routes, neighbours) run with stdin and stdout in memfds:
// programming 1,000 peers costs two process starts, not 3,000. -force keeps going past a failed
// line; its message is logged and the entry is retried on the next resync.
#include "dataplane.h"

#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cni/error.h"
#include "cni/files.h"

extern char** environ;

namespace weft::agent {

using nlohmann::json;

namespace {

struct RunResult {
  int status = -1;
  std::string out, err;
};

std::string ReadAll(int fd) {
  std::string s;
  lseek(fd, 0, SEEK_SET);
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

RunResult Run(const std::vector<std::string>& argv, std::string_view input) {
  cni::UniqueFd in(memfd_create("weftd-in", MFD_CLOEXEC)), out(memfd_create("weftd-out", MFD_CLOEXEC)),
      err(memfd_create("weftd-err", MFD_CLOEXEC));
  if (!in || !out || !err) throw cni::Error::Errno(errno, "memfd_create");
  for (size_t off = 0; off < input.size();) {
    ssize_t n = write(in.get(), input.data() + off, input.size() - off);
    if (n < 0) throw cni::Error::Errno(errno, "write memfd");
    off += static_cast<size_t>(n);
  }
  lseek(in.get(), 0, SEEK_SET);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err.get(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw cni::Error::Errno(rc, "spawn " + argv[0]);
  RunResult r;
  while (waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  r.out = ReadAll(out.get());
  r.err = ReadAll(err.get());
  return r;
}

RunResult MustRun(const std::vector<std::string>& argv, std::string_view input = {}) {
  RunResult r = Run(argv, input);
  if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    while (!r.err.empty() && r.err.back() == '\n') r.err.pop_back();
    throw cni::Error(cni::kInternal, cmd + ": " + r.err);
  }
  return r;
}

void LogBatchErrors(const char* tool, const RunResult& r) {
  if (r.err.empty()) return;
  std::cerr << "weftd: " << tool << " batch: " << r.err << std::flush;
}

std::string RouteLine(const char* verb, const RouteEntry& r) {
  std::string s = std::string("route ") + verb + " " + r.dst.String() + " via " + r.gw.String();
  if (!r.dev.empty()) s += " dev " + r.dev;
  if (r.onlink) s += " onlink";
  return s + "\n";
}

class IprouteDataplane : public Dataplane {
 public:
  Mac EnsureVxlan(const VxlanDeviceSpec& s) override {
    RunResult r = Run({"ip", "-j", "-d", "link", "show", "dev", s.name}, {});
    if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
      json j = json::parse(r.out, nullptr, false);
      if (!j.is_discarded() && !j.empty()) {
        std::string why = Incompatible(j[0], s);
        if (why.empty()) return *ParseMac(j[0].value("address", ""));
        std::cerr << "weftd: \"" << s.name << "\" already exists with incompatible configuration: " << why
                  << "; recreating device\n";
        MustRun({"ip", "link", "del", "dev", s.name});
      }
    }
    std::vector<std::string> argv = {"ip", "link", "add", s.name, "address", MacString(s.mac), "mtu",
                                     std::to_string(s.mtu), "txqueuelen", "0", "type", "vxlan", "id",
                                     std::to_string(s.vni), "local", s.local.String(), "dev", s.dev,
                                     s.learning ? "learning" : "nolearning", "ttl", "0", "tos", "0",
                                     "noproxy", "norsc", "nol2miss", "nol3miss", "noudp6zerocsumtx",
                                     "noudp6zerocsumrx"};
    if (s.port) argv.insert(argv.end(), {"dstport", std::to_string(s.port)});
    if (s.gbp) argv.push_back("gbp");
    MustRun(argv);
    // flanneld sets accept_ra=0 on the device and ignores errors.
    if (FILE* f = std::fopen(("/proc/sys/net/ipv6/conf/" + s.name + "/accept_ra").c_str(), "w")) {
      std::fputs("0", f);
      std::fclose(f);
    }
    json j = json::parse(MustRun({"ip", "-j", "link", "show", "dev", s.name}).out);
    return *ParseMac(j[0].value("address", ""));
  }

  void EnsureAddress(const std::string& dev, const Ip4Net& addr, const Ip4Net& network) override {
    json j = json::parse(MustRun({"ip", "-j", "-4", "addr", "show", "dev", dev}).out, nullptr, false);
    bool have = false;
    std::string batch;
    if (j.is_array() && !j.empty())
      for (const auto& a : j[0].value("addr_info", json::array())) {
        auto ip = Ip4::Parse(a.value("local", ""));
        int len = a.value("prefixlen", 0);
        if (!ip) continue;
        if (*ip == addr.ip && len == addr.len) have = true;
        else if (network.Contains(*ip))
          batch += "addr del " + ip->String() + "/" + std::to_string(len) + " dev " + dev + "\n";
      }
    if (!have) batch += "addr add " + addr.ip.String() + "/32 dev " + dev + "\n";
    batch += "link set dev " + dev + " up\n";
    MustRun({"ip", "-batch", "-"}, batch);
  }

  void Apply(const std::string& dev, const Changes& c) override {
    if (c.empty()) return;
    std::string ip_del, fdb_del, fdb_add, ip_add;
    for (const auto& r : c.del_routes) ip_del += RouteLine("del", r);
    for (const auto& n : c.del_neighs) ip_del += "neigh del " + n.ip.String() + " dev " + dev + "\n";
    for (const auto& f : c.del_fdbs)
      fdb_del += "fdb del " + MacString(f.mac) + " dev " + dev + " dst " + f.dst.String() + " self\n";
    for (const auto& f : c.add_fdbs)
      fdb_add += "fdb replace " + MacString(f.mac) + " dev " + dev + " dst " + f.dst.String() +
                 " self permanent\n";
    for (const auto& n : c.add_neighs)
      ip_add += "neigh replace " + n.ip.String() + " lladdr " + MacString(n.mac) + " dev " + dev +
                " nud permanent\n";
    for (const auto& r : c.add_routes) ip_add += RouteLine("replace", r);
    if (!ip_del.empty()) LogBatchErrors("ip", Run({"ip", "-force", "-batch", "-"}, ip_del));
    if (!fdb_del.empty() || !fdb_add.empty())
      LogBatchErrors("bridge", Run({"bridge", "-force", "-batch", "-"}, fdb_del + fdb_add));
    if (!ip_add.empty()) LogBatchErrors("ip", Run({"ip", "-force", "-batch", "-"}, ip_add));
  }

  KernelState Dump(const std::string& dev, const Ip4Net& network) override {
    KernelState st;
    json routes = json::parse(MustRun({"ip", "-j", "-4", "route", "show", "table", "main"}).out, nullptr, false);
    for (const auto& r : routes.is_array() ? routes : json::array()) {
      auto dst = Ip4Net::Parse(r.value("dst", ""));
      auto gw = Ip4::Parse(r.value("gateway", ""));
      if (!dst || !gw || !network.Contains(dst->ip) || dst->len <= network.len) continue;
      RouteEntry e{*dst, *gw, r.value("dev", ""), false};
      for (const auto& f : r.value("flags", json::array()))
        if (f == "onlink") e.onlink = true;
      st.routes.push_back(e);
    }
    if (dev.empty()) return st;  // host-gw: routes only
    RunResult nr = Run({"ip", "-j", "-4", "neigh", "show", "dev", dev}, {});
    json neighs = json::parse(nr.out, nullptr, false);
    for (const auto& n : neighs.is_array() ? neighs : json::array()) {
      auto ip = Ip4::Parse(n.value("dst", ""));
      auto mac = ParseMac(n.value("lladdr", ""));
      if (ip && mac) st.neighs.push_back({*ip, *mac});
    }
    RunResult fr = Run({"bridge", "-j", "fdb", "show", "dev", dev}, {});
    json fdbs = json::parse(fr.out, nullptr, false);
    for (const auto& f : fdbs.is_array() ? fdbs : json::array()) {
      auto mac = ParseMac(f.value("mac", ""));
      auto dst = Ip4::Parse(f.value("dst", ""));
      if (mac && dst) st.fdbs.push_back({*mac, *dst});
    }
    return st;
  }

 private:
  static std::string Incompatible(const json& link, const VxlanDeviceSpec& s) {
    const json li = link.value("linkinfo", json::object());
    if (li.value("info_kind", "") != "vxlan") return "type " + li.value("info_kind", "") + " != vxlan";
    const json d = li.value("info_data", json::object());
    if (d.value("id", 0u) != s.vni) return "vni " + std::to_string(d.value("id", 0u)) + " != " + std::to_string(s.vni);
    if (d.contains("local") && d.value("local", "") != s.local.String())
      return "local " + d.value("local", "") + " != " + s.local.String();
    if (d.contains("link") && d.value("link", "") != s.dev) return "dev " + d.value("link", "") + " != " + s.dev;
    unsigned port = d.value("port", 0u);
    if (s.port && port && port != s.port) return "port " + std::to_string(port) + " != " + std::to_string(s.port);
    if (!s.port && port && port != 8472) return "port " + std::to_string(port) + " != 8472";
    return {};
  }
};

}  // namespace

std::unique_ptr<Dataplane> MakeIprouteDataplane() { return std::make_unique<IprouteDataplane>(); }

Mac StableMac(std::string_view seed) {
  // FNV-1a 64: stable across builds and architectures (std::hash is not).
  uint64_t h = 1469598103934665603ull;
  for (char ch : seed) {
    h ^= static_cast<uint8_t>(ch);
    h *= 1099511628211ull;
  }
  Mac m{};
  for (size_t i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(h >> (8 * i));
  m[0] = static_cast<uint8_t>((m[0] & 0xfe) | 0x02);
  return m;
}

}  // namespace weft::agent
