// bridge-floor: the kernel's own cost of the changes one bridge + host-local ADD makes, made in
// one process with no exec, no IPAM delegation and no configuration parsing, so that bench/run
// can put "the same changes plus the required process starts" under bridge's ADD row
// (docs/benchmarks.md, "Where the time goes"). The list is read off `strace -f` of a real bridge
// ADD with the live scenario's conf (hairpinMode, isGateway, isDefaultGateway, ipMasq off) onto
// an existing bridge whose gateway address is already set and with ip_forward already 1, so
// bridge itself writes neither of those:
//   host namespace   one RTM_NEWLINK: the veth pair, its peer created in the pod namespace,
//                    the host end attached to the bridge and up in the same request;
//                    ipv6 accept_ra=0 of the host end; the port's hairpin flag (RTM_SETLINK
//                    AF_BRIDGE)
//   pod namespace    ipv6 accept_dad=0 and ipv4 arp_notify=1 of the pod end; its address; link
//                    up; with isDefaultGateway (--default-route) the default route via the gateway
//   host-local       under the flock of <dataDir>/<network>/lock: the reservation file (O_EXCL,
//                    "<container id>\r\n<ifname>") and last_reserved_ip.0
// The lookups libcni's net layer makes on the way (the bridge, the new host end, the pod end) are
// included; the reads bridge makes beyond them (its MAC again, its addresses, ip_forward) are not.
// DEL undoes it: the pod end deleted (the kernel removes the pair), the reservation removed under
// the lock. Every step goes through libcni's net layer (netlink.h, sysctl.h), the same requests
// the plugin sends.
//
// Usage: bridge-floor --bridge NAME --netns PATH --addr IP/PREFIX --gw IP --datadir DIR
//                     [--ifname eth0] [--id ID] [--network NAME] [--hairpin]
//                     [--default-route] [--setup] [--runs N] [--keep]
//   --setup  first (untimed) create the bridge with the gateway address and up when it is missing
//            (the bare scenario and the tests; the live scenario's bridge already exists)
//   --runs   ADD+DEL pairs to time (default 1)
//   --keep   ADD only, once, untimed, and leave the result (the test compares it with a real
//            bridge ADD's)
// Prints one line per run: "<add wall us> <add cpu us> <del wall us> <del cpu us>", CPU being
// this process's user+system time (CLOCK_PROCESS_CPUTIME_ID). Exit status 0, 1 on any error,
// 2 on bad usage.
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "../lib/clock.h"
#include "cni/error.h"
#include "cni/files.h"
#include "cni/ip.h"
#include "cni/net/netlink.h"
#include "cni/net/netns.h"
#include "cni/net/sysctl.h"

namespace {

namespace net = cni::net;
using cni::IP;
using cni::IPNet;

struct Options {
  std::string bridge, netns, datadir, ifname = "eth0", id = "bridge-floor", network = "bridge-floor";
  IPNet addr{};
  IP gw{};
  bool hairpin = false, default_route = false, setup = false, keep = false;
  int runs = 1;
};

void TrySysctl(const std::string& name, const std::string& value) {
  try {
    net::WriteSysctl(name, value);
  } catch (const cni::Error&) {  // as bridge: a namespace without IPv6 has no such entry
  }
}

void WriteAll(int fd, std::string_view data, const std::string& what) {
  if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw cni::Error::Errno(errno, "write " + what);
}

/// host-local's store changes for one reservation (flock, the O_EXCL file, last_reserved_ip.0).
void Reserve(const Options& o, const std::string& dir) {
  cni::FileLock lock(dir + "/lock", 0600, std::chrono::seconds(5));
  std::string ip = o.addr.ip.String();
  cni::UniqueFd fd(::open((dir + "/" + ip).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw cni::Error::Errno(errno, "open " + dir + "/" + ip);
  WriteAll(fd.get(), o.id + "\r\n" + o.ifname, ip);
  cni::UniqueFd last(::open((dir + "/last_reserved_ip.0").c_str(),
                            O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!last) throw cni::Error::Errno(errno, "open " + dir + "/last_reserved_ip.0");
  WriteAll(last.get(), ip, "last_reserved_ip.0");
}

void Release(const Options& o, const std::string& dir) {
  cni::FileLock lock(dir + "/lock", 0600, std::chrono::seconds(5));
  std::string path = dir + "/" + o.addr.ip.String();
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw cni::Error::Errno(errno, "unlink " + path);
}

void Add(const Options& o, const std::string& dir, const std::string& veth) {
  net::Socket host = net::Socket::Open();
  net::Link br = host.GetLink(o.bridge);
  net::Netns ns = net::Netns::Open(o.netns);
  net::Socket cont = net::Socket::OpenIn(ns);
  net::Link hv = host.CreateVeth({.name = veth, .peer_name = o.ifname, .peer_netns_fd = ns.fd(),
                                  .master = br.index, .up = true});
  TrySysctl("net/ipv6/conf/" + veth + "/accept_ra", "0");
  if (o.hairpin) host.SetPortFlags(hv.index, {.hairpin = true});
  net::Link cv = cont.GetLink(o.ifname);
  {
    net::NetnsGuard g(ns);
    TrySysctl("net/ipv6/conf/" + o.ifname + "/accept_dad", "0");
    TrySysctl("net/ipv4/conf/" + o.ifname + "/arp_notify", "1");
  }
  Reserve(o, dir);
  cont.AddAddr({.index = cv.index, .addr = o.addr});
  cont.SetUp(cv.index);
  if (!o.default_route) return;
  net::Route def;
  def.dst = IPNet{o.gw.is4() ? *IP::Parse("0.0.0.0") : *IP::Parse("::"), 0};
  def.gw = o.gw;
  def.index = cv.index;
  cont.AddRoute(def);
}

void Del(const Options& o, const std::string& dir) {
  net::Netns ns = net::Netns::Open(o.netns);
  net::Socket cont = net::Socket::OpenIn(ns);
  cont.DeleteLink(o.ifname);
  Release(o, dir);
}

/// --setup: the bridge with its gateway address, up (untimed).
void Setup(const Options& o) {
  net::Socket host = net::Socket::Open();
  net::Link br = host.EnsureBridge({.name = o.bridge});
  bool have = false;
  for (const net::Addr& a : host.Addrs(br.index, o.gw.af())) have |= a.addr.ip == o.gw;
  if (!have) host.AddAddr({.index = br.index, .addr = IPNet{o.gw, o.addr.prefix}});
  host.SetUp(br.index);
}

std::optional<Options> Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    if (a == "--hairpin") o.hairpin = true;
    else if (a == "--default-route") o.default_route = true;
    else if (a == "--setup") o.setup = true;
    else if (a == "--keep") o.keep = true;
    else if (!(v = val())) return std::nullopt;
    else if (a == "--bridge") o.bridge = *v;
    else if (a == "--netns") o.netns = *v;
    else if (a == "--datadir") o.datadir = *v;
    else if (a == "--ifname") o.ifname = *v;
    else if (a == "--id") o.id = *v;
    else if (a == "--network") o.network = *v;
    else if (a == "--runs") o.runs = std::atoi(v->c_str());
    else if (a == "--addr") {
      auto n = IPNet::Parse(*v);
      if (!n) return std::nullopt;
      o.addr = *n;
    } else if (a == "--gw") {
      auto g = IP::Parse(*v);
      if (!g) return std::nullopt;
      o.gw = *g;
    } else {
      return std::nullopt;
    }
  }
  if (o.bridge.empty() || o.netns.empty() || o.datadir.empty() || !o.addr.ip.valid() || !o.gw.valid() ||
      o.runs < 1)
    return std::nullopt;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Options> o = Parse(argc, argv);
  if (!o) {
    std::fputs("usage: bridge-floor --bridge NAME --netns PATH --addr IP/PREFIX --gw IP --datadir DIR\n"
               "                    [--ifname eth0] [--id ID] [--network NAME] [--hairpin]\n"
               "                    [--default-route] [--setup] [--runs N] [--keep]\n",
               stderr);
    return 2;
  }
  try {
    if (o->setup) Setup(*o);
    std::string dir = o->datadir + "/" + o->network;
    cni::EnsureDir(dir, 0755);
    char veth[16];
    std::snprintf(veth, sizeof veth, "vethfl%08x", static_cast<unsigned>(::getpid()));
    if (o->keep) {
      Add(*o, dir, veth);
      return 0;
    }
    for (int i = 0; i < o->runs; ++i) {
      Clock t0 = Clock::Now();
      Add(*o, dir, veth);
      Clock t1 = Clock::Now();
      Del(*o, dir);
      Clock t2 = Clock::Now();
      std::printf("%lld %lld %lld %lld\n", t1.wall_us - t0.wall_us, t1.cpu_us - t0.cpu_us,
                  t2.wall_us - t1.wall_us, t2.cpu_us - t1.cpu_us);
    }
    return 0;
  } catch (const cni::Error& e) {
    std::fprintf(stderr, "bridge-floor: %s\n", e.msg().c_str());
    return 1;
  }
}
