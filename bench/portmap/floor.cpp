// portmap-floor: the kernel's own cost of the changes one portmap ADD (and DEL) makes on an
// iptables-nft host, made in one process with no exec, no configuration parsing in the figure and
// no state record, so that bench/run can put "the same changes plus the required process start"
// under portmap's ADD and DEL rows (docs/benchmarks.md, "Where the time goes").
//
// The batch is built by libcni's own fw layer, not captured: the chains are portmap's
// (SetupChains / TeardownChains of plugins/portmap/rules.h, from the same conf portmap gets),
// planned by plan.h against the chains' state as iptables-save shows it, and written by
// nftwrite.h's WriteBatch, the writer the plugin uses. So the timed batch is message for message
// the one the plugin sends in that state (tests/netns/bench_portmap_floor.sh checks the result
// against a real ADD's in iptables-save), and it follows any change to portmap's rules or to the
// writer without a second copy to keep in step. Captured bytes would be that batch frozen at one
// generation and one set of rule handles, which the kernel refuses once either moves.
//
// Timed (CLOCK_PROCESS_CPUTIME_ID and CLOCK_MONOTONIC), per run:
//   ADD  the nf_tables batch (the per-container chain, its rules, the jumps from
//        CNI-HOSTPORT-DNAT; the mark chains are already there as after any earlier ADD), with
//        snat the route_localnet write of --localnet IFACE, and with a UDP or SCTP mapping the
//        conntrack walk portmap makes (cni::fw::DeleteConntrackByDport, the same call)
//   DEL  the batch that removes the per-container chain and its jumps, including the
//        NFT_MSG_GETRULE dump of each chain it deletes a single rule from (nf_tables deletes a
//        rule by handle only, so no writer can do without it; iptables-restore dumps more), and
//        with a UDP or SCTP mapping the same conntrack walk (weft flushes on DEL too, docs/portmap.md)
// Timed too: closing the netfilter socket, which after a DEL waits for an RCU grace period as
// the plugin's exit does. Not timed: opening the socket and NFT_MSG_GETGEN (part of any
// process's start-up work, not of the change), reading the chains' state (iptables-save) and
// planning.
//
// Usage: portmap-floor --id CONTAINER_ID [--localnet IFACE] [--runs N] [--keep] < portmap conf
//   The conf is what portmap gets on stdin (with prevResult). First (untimed) the shared chains
//   are made as portmap's own first ADD makes them (the fw layer's Ensure, then Remove of the
//   container's chain), so the timed batches are the steady-state ones.
//   --runs   ADD+DEL pairs to time (default 1)
//   --keep   ADD only, once, untimed, and leave the result (the test compares it with a real
//            portmap ADD's)
// Prints one line per run: "<add wall us> <add cpu us> <del wall us> <del cpu us>", as
// bridge-floor does. Exit status 0, 1 on any error, 2 on bad usage.
#include <fcntl.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include "../../libcni/src/fw/gencache.h"
#include "../../libcni/src/fw/nftwrite.h"
#include "../../libcni/src/fw/plan.h"
#include "../../libcni/src/fw/proc.h"
#include "../lib/clock.h"
#include "cni/error.h"
#include "cni/files.h"
#include "cni/fw/conntrack.h"
#include "cni/fw/fw.h"
#include "cni/json.h"
#include "config.h"
#include "rules.h"

namespace {

namespace fw = cni::fw;
using fw::Family;

struct Options {
  std::string id, localnet;
  bool keep = false;
  int runs = 1;
};

/// What one ADD or DEL sends, made ready before the clock starts.
struct Prepared {
  fw::NftGeneration gen;
  std::map<std::string, fw::TableState> before;
  std::vector<fw::Op> ops;
  uint32_t genid = 0;
};

/// The state of the nat table as iptables-save shows it (untimed).
std::map<std::string, fw::TableState> ReadNat() {
  std::vector<std::string> argv{"iptables-save", "-t", "nat"};
  fw::ProcResult r = fw::RunProcess(argv, "");
  if (r.status != 0) throw cni::Error(cni::kInternal, fw::DescribeFailure(argv, r));
  return {{"nat", fw::ParseSave(r.out, "nat")}};
}

/// Plans `ensure` (or the removal of `chains`) on the current state and gets the generation.
void Prepare(Prepared& p, bool ensure, const std::vector<fw::Chain>& chains) {
  if (!p.gen.ok()) throw cni::Error(cni::kInternal, "no NETLINK_NETFILTER socket");
  std::map<std::string, fw::TableState> states = ReadNat();
  p.before = states;
  p.ops = ensure ? fw::PlanEnsure(Family::kIPv4, chains, states) : fw::PlanRemove(Family::kIPv4, chains, states);
  std::optional<uint32_t> g = p.gen.Get();
  if (!g) throw cni::Error(cni::kInternal, "NFT_MSG_GETGEN failed");
  p.genid = *g;
}

void Commit(Prepared& p, const char* what) {
  if (p.ops.empty()) throw cni::Error(cni::kInternal, std::string(what) + ": nothing to do (state not as expected)");
  fw::BatchResult r = fw::WriteBatch(p.gen.socket(), Family::kIPv4, p.ops, p.before, p.genid);
  if (r != fw::BatchResult::kCommitted)
    throw cni::Error(cni::kInternal, std::string(what) + ": the batch did not commit (" +
                                         std::to_string(static_cast<int>(r)) + ")");
}

void RouteLocalnet(const std::string& iface) {
  std::string path = "/proc/sys/net/ipv4/conf/" + iface + "/route_localnet";
  cni::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), "1", 1) != 1) throw cni::Error::Errno(errno, "write " + path);
}

/// The UDP/SCTP host ports portmap walks conntrack for (as its FlushStaleConntrack).
std::vector<fw::ProtoPort> ConntrackTargets(const portmap::Config& c) {
  std::vector<fw::ProtoPort> out;
  for (const portmap::PortMapping& m : c.mappings) {
    std::string p = m.protocol;
    for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (m.host_port > 65535) continue;
    if (p == "udp") out.push_back({IPPROTO_UDP, static_cast<uint16_t>(m.host_port)});
    if (p == "sctp") out.push_back({IPPROTO_SCTP, static_cast<uint16_t>(m.host_port)});
  }
  return out;
}

std::optional<Options> Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--keep") {
      o.keep = true;
      continue;
    }
    if (i + 1 >= argc) return std::nullopt;
    std::string v = argv[++i];
    if (a == "--id") o.id = v;
    else if (a == "--localnet") o.localnet = v;
    else if (a == "--runs") o.runs = std::atoi(v.c_str());
    else return std::nullopt;
  }
  if (o.id.empty() || o.runs < 1) return std::nullopt;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Options> o = Parse(argc, argv);
  if (!o) {
    std::fputs("usage: portmap-floor --id CONTAINER_ID [--localnet IFACE] [--runs N] [--keep] < portmap conf\n",
               stderr);
    return 2;
  }
  try {
    cni::CallArgs args;
    args.command = "ADD";
    args.container_id = o->id;
    args.ifname = "eth0";
    args.stdin_data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    args.config = cni::ParseJson(args.stdin_data, "portmap-floor");
    args.name = args.config.value("name", "");
    args.cni_version = args.config.value("cniVersion", "0.1.0");
    portmap::Config c = portmap::ParseConfig(args);
    if (!c.cont_v4 || c.cont_v6) throw cni::Error(cni::kInternal, "the floor is measured for one IPv4 address");
    if (c.snat && o->localnet.empty()) throw cni::Error(cni::kInternal, "snat needs --localnet IFACE");
    const std::vector<fw::Chain> setup = portmap::SetupChains(c, *c.cont_v4);
    const std::vector<fw::Chain> teardown = portmap::TeardownChains(c.name, c.container_id);
    const std::vector<fw::ProtoPort> ct = ConntrackTargets(c);
    const Family v4[] = {Family::kIPv4};
    {  // the shared chains, as after portmap's first ADD and its DEL (untimed)
      std::unique_ptr<fw::Backend> b = fw::MakeIptablesBackend(fw::BackendKind::kIptablesNft);
      b->Ensure(Family::kIPv4, setup);
      b->Remove(Family::kIPv4, teardown);
    }
    for (int i = 0; i < (o->keep ? 1 : o->runs); ++i) {
      // The socket closes inside the figure, as at a plugin's exit: after a batch that deleted
      // rules, the close waits for the kernel to free them (an RCU grace period).
      auto a = std::make_unique<Prepared>();
      Prepare(*a, true, setup);
      Clock t0 = Clock::Now();
      Commit(*a, "ADD");
      a.reset();
      if (c.snat) RouteLocalnet(o->localnet);
      if (!ct.empty()) fw::DeleteConntrackByDport(v4, ct);
      Clock t1 = Clock::Now();
      if (o->keep) return 0;
      auto d = std::make_unique<Prepared>();
      Prepare(*d, false, teardown);
      Clock t2 = Clock::Now();
      Commit(*d, "DEL");
      if (!ct.empty()) fw::DeleteConntrackByDport(v4, ct);  // as portmap, during the grace period
      d.reset();
      Clock t3 = Clock::Now();
      std::printf("%lld %lld %lld %lld\n", t1.wall_us - t0.wall_us, t1.cpu_us - t0.cpu_us,
                  t3.wall_us - t2.wall_us, t3.cpu_us - t2.cpu_us);
    }
    return 0;
  } catch (const cni::Error& e) {
    std::fprintf(stderr, "portmap-floor: %s\n", e.msg().c_str());
    return 1;
  }
}
