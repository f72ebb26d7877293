// portmap commands. See portmap.h.
#include "portmap.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "cni/error.h"
#include "cni/fw/conntrack.h"
#include "cni/fw/fw.h"
#include "cni/fw/names.h"
#include "cni/fw/nft.h"
#include "config.h"
#include "rules.h"

namespace portmap {

namespace {

using cni::Error;
using cni::fw::Family;

[[noreturn]] void Fail(std::string msg) { throw Error(cni::kInternal, std::move(msg)); }

Family FamilyOf(const cni::IPNet& n) { return n.ip.is6() ? Family::kIPv6 : Family::kIPv4; }
const char* FamilyWord(Family f) { return f == Family::kIPv4 ? "ipv4" : "ipv6"; }

std::vector<cni::IPNet> Addresses(const Config& c) {
  std::vector<cni::IPNet> out;
  if (c.cont_v4) out.push_back(*c.cont_v4);
  if (c.cont_v6) out.push_back(*c.cont_v6);
  return out;
}

Config Load(const cni::CallArgs& args, Backend* backend, bool wrap) {
  try {
    Config c = ParseConfig(args);
    *backend = ChooseBackend(c);
    return c;
  } catch (const Error& e) {
    if (wrap) throw e.Wrap("failed to parse config");
    throw;
  }
}

// Deletes conntrack entries of the UDP and SCTP host ports, so a flow that kept hitting an old
// DNAT target follows the new rules at once; one dump for all families, none when there is no
// UDP/SCTP mapping or no conntrack entry at all. Failures are informative only, as in the
// reference.
void FlushStaleConntrack(const Config& c, std::span<const Family> families, const std::string& who) {
  std::vector<cni::fw::ProtoPort> targets;
  for (const PortMapping& m : c.mappings) {
    std::string p = m.protocol;
    for (char& ch : p) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    if (m.host_port > 65535) continue;
    uint16_t port = static_cast<uint16_t>(m.host_port);
    if (p == "udp") targets.push_back({IPPROTO_UDP, port});
    if (p == "sctp") targets.push_back({IPPROTO_SCTP, port});
  }
  try {
    cni::fw::DeleteConntrackByDport(families, targets);
  } catch (const Error& e) {
    std::cerr << "failed to delete stale UDP conntrack entries for " << who << ": " << e.msg()
              << ", ignoring\n";
  }
}

// The interface the route to `ip` leaves through, by longest-prefix match over the main IPv4
// table (/proc/net/route); what RouteGet's first route gives for a container behind a bridge.
std::string RouteInterface(const cni::IP& ip) {
  std::ifstream f("/proc/net/route");
  std::string line, best;
  int best_len = -1;
  uint32_t addr = 0;
  std::memcpy(&addr, ip.data(), 4);  // network order, as /proc prints (host-endian hex)
  std::getline(f, line);
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string iface, dst_hex, gw_hex, flags, refcnt, use, metric, mask_hex;
    if (!(in >> iface >> dst_hex >> gw_hex >> flags >> refcnt >> use >> metric >> mask_hex)) continue;
    uint32_t dst = static_cast<uint32_t>(std::stoul(dst_hex, nullptr, 16));
    uint32_t mask = static_cast<uint32_t>(std::stoul(mask_hex, nullptr, 16));
    if ((addr & mask) != dst) continue;
    int len = __builtin_popcount(mask);
    if (len > best_len) {
      best_len = len;
      best = iface;
    }
  }
  return best;
}

void EnableRouteLocalnet(const cni::IP& ip) {
  std::string iface = RouteInterface(ip);
  if (iface.empty()) Fail("unable to enable route_localnet: no route to " + ip.String());
  std::string path = "/proc/sys/net/ipv4/conf/" + iface + "/route_localnet";
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "1", 1) != 1) {
    int err = errno;
    if (fd >= 0) close(fd);
    throw Error::Errno(err, "unable to enable route_localnet: " + path).Wrap("");
  }
  close(fd);
}

// ---- nftables

// "delete rule" commands for the container's rules in the per-container chains of a family.
void AppendNftDeletes(cni::fw::Nft& nft, const std::string& family, const std::string& id,
                      std::string& batch) {
  for (const cni::fw::NftRule& r : nft.ListRules(family, kNftTable)) {
    if (r.comment != id) continue;
    if (r.chain != "hostports" && r.chain != "hostip_hostports" && r.chain != "masquerading") continue;
    batch += "delete rule " + family + " " + kNftTable + " " + r.chain + " handle " +
             std::to_string(r.handle) + "\n";
  }
}

void NftAdd(const Config& c) {
  cni::fw::Nft nft;
  std::string batch;
  for (const cni::IPNet& a : Addresses(c)) {
    for (const std::string& cmd : NftSkeleton(c, a)) batch += cmd + "\n";
    // Unlike the reference, a repeated ADD replaces the container's rules instead of
    // duplicating them.
    AppendNftDeletes(nft, NftFamily(a), c.container_id, batch);
    for (const std::string& cmd : NftContainerRules(c, a)) batch += cmd + "\n";
  }
  try {
    nft.Run(batch);
  } catch (const Error& e) {
    throw e.Wrap("unable to set up nftables rules for port mappings");
  }
}

void NftDel(const Config& c, const std::vector<Family>& families) {
  if (!cni::fw::Nft::Usable()) return;
  cni::fw::Nft nft;
  std::string batch;
  for (Family f : families) AppendNftDeletes(nft, f == Family::kIPv4 ? "ip" : "ip6", c.container_id, batch);
  if (batch.empty()) return;
  try {
    nft.Run(batch);
  } catch (const Error& e) {
    throw e.Wrap("error deleting nftables rules");
  }
}

void NftCheck(const Config& c) {
  cni::fw::Nft nft;
  for (const cni::IPNet& a : Addresses(c)) {
    size_t hostports = 0, masq = 0;
    for (const cni::fw::NftRule& r : nft.ListRules(NftFamily(a), kNftTable)) {
      if (r.comment != c.container_id) continue;
      if (r.chain == "hostports" || r.chain == "hostip_hostports") ++hostports;
      if (r.chain == "masquerading") ++masq;
    }
    if (hostports < NftExpectedHostports(c, a)) Fail("missing hostport rules in \"hostports\" chain");
    if (masq < NftExpectedMasq(c, a)) Fail("missing hostport rules in \"masquerading\" chain");
  }
}

std::unique_ptr<cni::fw::Backend> Iptables() {
  return cni::fw::MakeIptablesBackend(cni::fw::DetectIptablesKind());
}

}  // namespace

cni::Result Add(const cni::CallArgs& args) {
  Backend backend;
  Config c = Load(args, &backend, true);
  if (!c.prev_result) Fail("must be called as chained plugin");
  if (c.mappings.empty()) return *c.prev_result;

  if (backend == Backend::kNftables) NftAdd(c);
  std::unique_ptr<cni::fw::Backend> ipt = backend == Backend::kIptables ? Iptables() : nullptr;
  std::vector<Family> families;
  std::string ips;
  for (const cni::IPNet& a : Addresses(c)) {
    Family f = FamilyOf(a);
    families.push_back(f);
    ips += (ips.empty() ? "" : ", ") + a.ip.String();
    if (ipt) {
      std::vector<cni::fw::Chain> chains = SetupChains(c, a);
      try {
        ipt->Ensure(f, chains);
      } catch (const Error& e) {
        throw e.Wrap("unable to setup DNAT");
      }
    }
    if (c.snat && f == Family::kIPv4) EnableRouteLocalnet(a.ip);
  }
  FlushStaleConntrack(c, families, ips);
  return *c.prev_result;
}

void Del(const cni::CallArgs& args) {
  Backend backend;
  Config c = Load(args, &backend, true);
  if (c.mappings.empty()) return;
  // Without prevResult (or its addresses) both families are cleaned, as the reference does.
  std::vector<Family> families;
  if (c.prev_result) {
    for (const cni::IPNet& a : Addresses(c)) families.push_back(FamilyOf(a));
  } else {
    families = {Family::kIPv4, Family::kIPv6};
  }
  // The reference flushes conntrack only on ADD; doing it on DEL too means no flow keeps
  // hitting a DNAT target that is gone. It runs once the rules are gone, even when removing
  // them failed somewhere.
  auto flush = [&] { FlushStaleConntrack(c, families, args.container_id); };
  if (backend == Backend::kNftables) {
    NftDel(c, families);
    flush();
    return;
  }
  std::unique_ptr<cni::fw::Backend> ipt = Iptables();
  std::vector<cni::fw::Chain> chains = TeardownChains(c.name, c.container_id);
  std::vector<Error> errors;
  size_t unusable = 0;
  for (Family f : families) {
    // The iptables-nft backend flushes while the kernel still frees the last family's rules.
    if (f == families.back()) ipt->RunAtCommit(flush);
    try {
      ipt->Remove(f, chains);
    } catch (const Error& e) {
      if (!ipt->Usable(f)) ++unusable;
      errors.push_back(e.Wrap(std::string("could not teardown ") + FamilyWord(f) + " dnat"));
    }
  }
  if (!ipt->RanAtCommit()) flush();
  if (errors.empty()) return;
  if (unusable == families.size() && families.size() == 2) {
    Fail("neither iptables nor ip6tables is usable, (iptables) " + errors[0].msg() +
         ", (ip6tables) " + errors[1].msg());
  }
  // A family whose tables can't be read at all has nothing of ours to remove.
  if (unusable < errors.size()) throw errors[0];
}

void Check(const cni::CallArgs& args) {
  Backend backend;
  Config c = Load(args, &backend, false);
  if (!c.prev_result) Fail("Required prevResult missing");
  if (c.mappings.empty()) return;
  if (backend == Backend::kNftables) {
    NftCheck(c);
    return;
  }
  std::unique_ptr<cni::fw::Backend> ipt = Iptables();
  for (const cni::IPNet& a : Addresses(c)) {
    cni::fw::Chain ch = DnatChain(c, a);
    if (auto missing = ipt->Check(FamilyOf(a), std::span(&ch, 1)))
      Fail(std::string("could not check ") + FamilyWord(FamilyOf(a)) + " dnat: " + *missing);
  }
}

void Gc(const cni::CallArgs& args) {
  Backend backend;
  Config c = Load(args, &backend, true);
  if (backend != Backend::kIptables) return;  // nft rules carry only the container ID
  std::set<std::string> valid;
  auto raw = cni::Field(args.config, "cni.dev/valid-attachments");
  if (raw && raw->is_array()) {
    for (const cni::Json& a : *raw) {
      if (auto id = cni::Field(a, "containerID"); id && id->is_string())
        valid.insert(DnatChainName(c.name, id->get<std::string>()));
    }
  }
  // Our jumps carry `dnat name: "<net>" ...`, which tells this network's chains from others'.
  std::string escaped;
  for (char ch : c.name) {
    if (ch == '"' || ch == '\\' || ch == '\'') escaped += '\\';
    escaped += ch;
  }
  std::string marker = "--comment \"dnat name: \\\"" + escaped + "\\\" id: ";
  std::unique_ptr<cni::fw::Backend> ipt = Iptables();
  cni::ErrorList errors;
  for (Family f : {Family::kIPv4, Family::kIPv6}) {
    errors.Try([&] {
      if (!ipt->Usable(f)) return;
      auto tables = ipt->List(f, "nat");
      std::vector<cni::fw::Chain> stale;
      std::set<std::string> seen;
      for (const std::string& rule : tables[kTopLevelDnatChain]) {
        size_t j = rule.rfind(" -j ");
        if (rule.find(marker) == std::string::npos || j == std::string::npos) continue;
        std::string target = rule.substr(j + 4);
        if (!target.starts_with("CNI-DN-") || valid.count(target) || !seen.insert(target).second) continue;
        cni::fw::Chain ch;
        ch.name = target;
        ch.entry_chains = {kTopLevelDnatChain};
        stale.push_back(std::move(ch));
      }
      if (!stale.empty()) ipt->Remove(f, stale);
    });
  }
  errors.ThrowIfAny();
}

cni::PluginFuncs Funcs() {
  cni::PluginFuncs f;
  f.add = Add;
  f.del = Del;
  f.check = Check;
  f.gc = Gc;
  return f;
}

}  // namespace portmap
