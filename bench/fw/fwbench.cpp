// bench/fw driver: adds and removes one per-container chain of 4 rules (plus its jump from a
// shared chain) through one of weft's firewall backends, `runs` times, inside the namespace it
// is started in, and prints one line per run: "<add_ms> <remove_ms>". For the native nftables
// backend it does what portmap does there: list the table once and run one batch that adds the
// container's 4 rules; removal lists once and deletes them by handle in one batch.
#include <chrono>
#include <cstdio>
#include <string>

#include "cni/fw/fw.h"
#include "cni/fw/nft.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::vector<cni::fw::Chain> Chains(int i) {
  cni::fw::Chain top;
  top.name = "BENCH-HOSTPORT-DNAT";
  top.entry_chains = {"PREROUTING", "OUTPUT"};
  top.entry_rules = {{"-m", "addrtype", "--dst-type", "LOCAL"}};
  top.teardown = cni::fw::TeardownPolicy::kNever;
  cni::fw::Chain c;
  c.name = "BENCH-DN-" + std::to_string(i);
  c.entry_chains = {top.name};
  c.entry_rules = {{"-m", "comment", "--comment", "bench " + std::to_string(i), "-m", "multiport",
                    "-p", "tcp", "--destination-ports", "8080,8081"}};
  c.rules = {{"-p", "tcp", "--dport", "8080", "-s", "10.99.0.2/24", "-j", "MARK", "--set-xmark", "0x2000/0x2000"},
             {"-p", "tcp", "--dport", "8080", "-s", "127.0.0.1", "-j", "MARK", "--set-xmark", "0x2000/0x2000"},
             {"-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "10.99.0.2:80"},
             {"-p", "tcp", "--dport", "8081", "-j", "DNAT", "--to-destination", "10.99.0.2:81"}};
  return {top, c};
}

void Nft(int i, bool add) {
  cni::fw::Nft nft;
  std::string id = "bench-" + std::to_string(i);
  std::string batch;
  auto rules = nft.ListRules("ip", "cni_hostport");
  for (const auto& r : rules) {
    if (r.comment == id)
      batch += "delete rule ip cni_hostport " + r.chain + " handle " + std::to_string(r.handle) + "\n";
  }
  if (add) {
    batch += "add table ip cni_hostport\nadd chain ip cni_hostport hostports\n"
             "add chain ip cni_hostport masquerading { type nat hook postrouting priority 100 ; }\n";
    for (int p : {8080, 8081})
      batch += "add rule ip cni_hostport hostports tcp dport " + std::to_string(p) +
               " dnat to 10.99.0.2:" + std::to_string(p - 8000) + " comment \"" + id + "\"\n";
    batch += "add rule ip cni_hostport masquerading ip saddr 10.99.0.2 ip daddr 10.99.0.2 masquerade comment \"" + id + "\"\n";
    batch += "add rule ip cni_hostport masquerading ip saddr 127.0.0.1 ip daddr 10.99.0.2 masquerade comment \"" + id + "\"\n";
  }
  if (!batch.empty()) nft.Run(batch);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fwbench legacy|nft|nftables RUNS\n");
    return 2;
  }
  std::string kind = argv[1];
  int runs = std::stoi(argv[2]);
  try {
    std::unique_ptr<cni::fw::Backend> b;
    if (kind == "legacy") b = cni::fw::MakeIptcBackend();
    if (kind == "nft") b = cni::fw::MakeRestoreBackend(false);
    for (int i = 0; i < runs; ++i) {
      auto t0 = Clock::now();
      if (b) b->Ensure(cni::fw::Family::kIPv4, Chains(i));
      else Nft(i, true);
      auto t1 = Clock::now();
      if (b) b->Remove(cni::fw::Family::kIPv4, Chains(i));
      else Nft(i, false);
      auto t2 = Clock::now();
      printf("%.3f %.3f\n", Ms(t0, t1), Ms(t1, t2));
    }
  } catch (const std::exception& e) {
    fprintf(stderr, "fwbench: %s\n", e.what());
    return 1;
  }
  return 0;
}
