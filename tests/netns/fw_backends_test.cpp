// Firewall layer against the real kernel, inside throw-away namespaces: for each iptables
// backend (iptables-legacy through libiptc, iptables-nft through iptables-restore) apply, check
// and remove chains and verify them with the backend's own iptables-save inside the namespace;
// ensure twice (no duplicates), remove twice, 20 parallel callers on one namespace (no lost or
// duplicated rules). The nftables wrapper gets the same treatment with `nft list ruleset`.
// The in-process iptables-nft writer is checked against iptables-restore on every rule shape the
// plugins and weftd emit: the same iptables-save text, the same raw rule attributes, and rules
// each side can delete for the other.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "../../libcni/src/fw/gencache.h"
#include "../../libcni/src/fw/nfnl.h"
#include "../../libcni/src/fw/nftwrite.h"
#include "../../libcni/src/fw/plan.h"
#include "../../libcni/src/fw/proc.h"
#include "agent/firewall.h"
#include "rules.h"
#include "cni/error.h"
#include "cni/files.h"
#include "cni/fw/fw.h"
#include "cni/fw/names.h"
#include "cni/fw/nft.h"
#include "netns_fixture.h"

namespace {

using cni::fw::Args;
using cni::fw::BackendKind;
using cni::fw::Chain;
using cni::fw::Family;

// Runs fn on a thread that has joined the namespace at `path` (children it spawns inherit it).
void InNetns(const std::string& path, const std::function<void()>& fn) {
  std::exception_ptr err;
  std::thread t([&] {
    try {
      int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("setns " + path);
      close(fd);
      fn();
    } catch (...) {
      err = std::current_exception();
    }
  });
  t.join();
  if (err) std::rethrow_exception(err);
}

std::string Save(BackendKind kind, Family f) {
  std::string tool = f == Family::kIPv4 ? "iptables" : "ip6tables";
  tool += kind == BackendKind::kIptablesLegacy ? "-legacy-save" : "-save";
  cni::fw::ProcResult r = cni::fw::RunProcess({tool, "-t", "nat"}, "");
  REQUIRE(r.status == 0);
  return r.out;
}

// iptables-save output without its "# Generated/Completed on <time>" lines.
std::string WithoutComments(const std::string& save) {
  std::string out;
  std::istringstream in(save);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("#")) out += line + "\n";
  }
  return out;
}

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  std::istringstream in(hay);
  for (std::string line; std::getline(in, line);) n += line == needle ? 1 : 0;
  return n;
}

std::unique_ptr<cni::fw::Backend> Make(BackendKind k) {
  return k == BackendKind::kIptablesLegacy ? cni::fw::MakeIptcBackend() : cni::fw::MakeRestoreBackend(false);
}

// A portmap-like set: a shared chain with a jump from PREROUTING/OUTPUT and a per-container
// chain with 4 rules jumped to from the shared chain.
std::vector<Chain> Chains(Family f, const std::string& name, int port) {
  bool v6 = f == Family::kIPv6;
  std::string ip = v6 ? "fd00::2" : "10.0.0.2";
  std::string to = v6 ? "[fd00::2]:80" : "10.0.0.2:80";
  Chain top;
  top.name = "WEFT-TEST-DNAT";
  top.entry_chains = {"PREROUTING", "OUTPUT"};
  top.entry_rules = {{"-m", "addrtype", "--dst-type", "LOCAL"}};
  top.teardown = cni::fw::TeardownPolicy::kNever;
  Chain c;
  c.name = name;
  c.entry_chains = {"WEFT-TEST-DNAT"};
  std::string p = std::to_string(port);
  c.entry_rules = {{"-m", "comment", "--comment", "dnat name: \"t\" id: \"" + name + "\"", "-m",
                    "multiport", "-p", "tcp", "--destination-ports", p}};
  c.rules = {{"-p", "tcp", "--dport", p, "-s", ip + (v6 ? "/64" : "/24"), "-j", "MARK", "--set-xmark", "0x2000/0x2000"},
             {"-p", "udp", "--dport", p, "-d", v6 ? "fd00::1" : "10.0.0.1", "-j", "ACCEPT"},
             {"-m", "mark", "--mark", "0x2000/0x2000", "-j", "RETURN"},
             {"-p", "tcp", "--dport", p, "-j", "DNAT", "--to-destination", to}};
  return {top, c};
}

void Lifecycle(BackendKind kind, Family f, bool big_table_mode = false) {
  weft_test::TempNetns ns("wfw");
  // The restore backend reads per chain (`iptables -S CHAIN`) once a namespace is marked as
  // holding a big table; the marker is keyed by the namespace inode (see restore.cpp).
  std::string marker;
  if (big_table_mode) {
    struct stat st;
    REQUIRE(stat(ns.path().c_str(), &st) == 0);
    marker = "/run/weft/fw-big-" + std::to_string(st.st_ino) + (f == Family::kIPv4 ? "-ipv4" : "-ipv6");
    cni::EnsureDir("/run/weft", 0755);
    cni::WriteFileAtomic(marker, "", 0644);
  }
  struct Unmark {
    std::string path;
    ~Unmark() {
      if (!path.empty()) unlink(path.c_str());
    }
  } unmark{marker};
  InNetns(ns.path(), [&] {
    auto b = Make(kind);
    std::vector<Chain> chains = Chains(f, "WEFT-TEST-C1", 8080);
    REQUIRE(b->Check(f, chains));  // nothing there yet
    b->Ensure(f, chains);
    std::string s1 = Save(kind, f);
    CHECK(Count(s1, ":WEFT-TEST-C1 - [0:0]") == 1);
    CHECK(Count(s1, "-A PREROUTING -m addrtype --dst-type LOCAL -j WEFT-TEST-DNAT") == 1);
    CHECK(Count(s1, "-A OUTPUT -m addrtype --dst-type LOCAL -j WEFT-TEST-DNAT") == 1);
    CHECK(Count(s1, "-A WEFT-TEST-DNAT -p tcp -m comment --comment \"dnat name: \\\"t\\\" id: "
                    "\\\"WEFT-TEST-C1\\\"\" -m multiport --dports 8080 -j WEFT-TEST-C1") == 1);
    std::string dnat = f == Family::kIPv4 ? "10.0.0.2:80" : "[fd00::2]:80";
    CHECK(Count(s1, "-A WEFT-TEST-C1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination " + dnat) == 1);
    CHECK(Count(s1, "-A WEFT-TEST-C1 -m mark --mark 0x2000/0x2000 -j RETURN") == 1);
    std::string src = f == Family::kIPv4 ? "10.0.0.0/24" : "fd00::/64";
    CHECK(Count(s1, "-A WEFT-TEST-C1 -s " + src + " -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x2000/0x2000") == 1);
    CHECK_FALSE(b->Check(f, chains));

    b->Ensure(f, chains);  // twice: nothing added
    CHECK(WithoutComments(Save(kind, f)) == WithoutComments(s1));  // (its time stamps may differ)

    // A rule deleted behind our back is reported by Check and restored by Ensure.
    chains[1].rules.push_back({"-p", "udp", "--dport", "9", "-j", "RETURN"});
    auto missing = b->Check(f, chains);
    REQUIRE(missing);
    CHECK(missing->find("in chain WEFT-TEST-C1 not found in table nat") != std::string::npos);
    b->Ensure(f, chains);
    CHECK_FALSE(b->Check(f, chains));

    b->Remove(f, chains);
    std::string s2 = Save(kind, f);
    CHECK(s2.find("WEFT-TEST-C1") == std::string::npos);
    CHECK(Count(s2, ":WEFT-TEST-DNAT - [0:0]") == 1);  // shared chain kept (kNever)
    CHECK(Count(s2, "-A PREROUTING -m addrtype --dst-type LOCAL -j WEFT-TEST-DNAT") == 1);
    b->Remove(f, chains);  // twice: "does not exist" is success
    REQUIRE(b->Check(f, chains));
    CHECK(*b->Check(f, chains) == "chain WEFT-TEST-C1 not found in iptables table nat");
    CHECK_FALSE(b->ChainExists(f, "nat", "WEFT-TEST-C1"));
    CHECK(b->ChainExists(f, "nat", "WEFT-TEST-DNAT"));
  });
}

void Parallel(BackendKind kind, Family f) {
  weft_test::TempNetns ns("wfp");
  constexpr int kCallers = 20;
  auto run_all = [&](bool ensure) {
    std::vector<std::thread> threads;
    std::vector<std::string> errors(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      threads.emplace_back([&, i] {
        try {
          InNetns(ns.path(), [&] {
            auto b = Make(kind);
            auto chains = Chains(f, "WEFT-P-" + std::to_string(i), 10000 + i);
            if (ensure) b->Ensure(f, chains);
            else b->Remove(f, chains);
          });
        } catch (const std::exception& e) {
          errors[static_cast<size_t>(i)] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (const std::string& e : errors) CHECK(e.empty());
  };
  run_all(true);
  InNetns(ns.path(), [&] {
    std::string s = Save(kind, f);
    CHECK(Count(s, "-A PREROUTING -m addrtype --dst-type LOCAL -j WEFT-TEST-DNAT") == 1);
    for (int i = 0; i < kCallers; ++i) {
      std::string c = "WEFT-P-" + std::to_string(i);
      CHECK(Count(s, ":" + c + " - [0:0]") == 1);
      size_t jumps = 0, rules = 0;
      std::istringstream in(s);
      for (std::string line; std::getline(in, line);) {
        if (line.starts_with("-A WEFT-TEST-DNAT ") && line.ends_with("-j " + c)) ++jumps;
        if (line.starts_with("-A " + c + " ")) ++rules;
      }
      CHECK(jumps == 1);
      CHECK(rules == 4);
    }
  });
  run_all(false);
  InNetns(ns.path(), [&] {
    std::string s = Save(kind, f);
    CHECK(s.find("WEFT-P-") == std::string::npos);
  });
}

}  // namespace

TEST_CASE("fw: iptables-legacy (libiptc) apply/check/remove", "[netns][fw]") {
  Lifecycle(BackendKind::kIptablesLegacy, Family::kIPv4);
  Lifecycle(BackendKind::kIptablesLegacy, Family::kIPv6);
}

TEST_CASE("fw: iptables-nft (iptables-restore) apply/check/remove", "[netns][fw]") {
  Lifecycle(BackendKind::kIptablesNft, Family::kIPv4);
  Lifecycle(BackendKind::kIptablesNft, Family::kIPv6);
}

TEST_CASE("fw: iptables-nft with per-chain reads (big-table mode)", "[netns][fw]") {
  Lifecycle(BackendKind::kIptablesNft, Family::kIPv4, true);
  Lifecycle(BackendKind::kIptablesNft, Family::kIPv6, true);
}

TEST_CASE("fw: 20 parallel callers on one namespace, iptables-legacy", "[netns][fw]") {
  Parallel(BackendKind::kIptablesLegacy, Family::kIPv4);
}

TEST_CASE("fw: 20 parallel callers on one namespace, iptables-nft", "[netns][fw]") {
  Parallel(BackendKind::kIptablesNft, Family::kIPv4);
  Parallel(BackendKind::kIptablesNft, Family::kIPv6);
}

TEST_CASE("fw: iptables-nft reuses its recorded state only while nobody else changed the ruleset",
          "[netns][fw]") {
  weft_test::TempNetns ns("wfg");
  InNetns(ns.path(), [&] {
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
      std::string ipt = f == Family::kIPv4 ? "iptables" : "ip6tables";
      auto b = Make(BackendKind::kIptablesNft);
      std::vector<Chain> chains = Chains(f, "WEFT-G1", 8080);
      b->Ensure(f, chains);

      // The record carries the generation our restore produced, and is the namespace's lock.
      cni::fw::NftGeneration gen;
      REQUIRE(gen.ok());
      auto text = cni::ReadFile(cni::fw::StateCachePath(gen.netns_inode()));
      REQUIRE(text);
      cni::fw::StateCache rec = cni::fw::StateCache::Parse(*text);
      REQUIRE(rec.genid);
      CHECK(rec.cookie == gen.cookie());
      CHECK(*rec.genid == gen.Get());
      CHECK(rec.tables.at({static_cast<int>(f), "nat"}).chains.count("WEFT-G1") == 1);

      // Behind our back: a rule of the chain and the jumps into it are deleted.
      std::string mark_rule = Save(BackendKind::kIptablesNft, f);
      size_t at = mark_rule.find("-A WEFT-G1 -s ");
      REQUIRE(at != std::string::npos);
      mark_rule = mark_rule.substr(at + 3, mark_rule.find('\n', at) - at - 3);
      std::vector<std::string> del{ipt, "-t", "nat", "-D"};
      std::istringstream words(mark_rule);
      for (std::string w; words >> w;) del.push_back(w);
      REQUIRE(cni::fw::RunProcess(del, "").status == 0);
      REQUIRE(cni::fw::RunProcess({ipt, "-t", "nat", "-F", "WEFT-TEST-DNAT"}, "").status == 0);
      b->Ensure(f, chains);  // the generation moved: read again and repair
      std::string s = Save(BackendKind::kIptablesNft, f);
      CHECK(Count(s, "-A " + mark_rule) == 1);  // mark_rule starts with the chain name
      CHECK(Count(s, "-A WEFT-TEST-DNAT -p tcp -m comment --comment \"dnat name: \\\"t\\\" id: "
                     "\\\"WEFT-G1\\\"\" -m multiport --dports 8080 -j WEFT-G1") == 1);
      b->Ensure(f, chains);  // and from the record: still no duplicate
      CHECK(WithoutComments(Save(BackendKind::kIptablesNft, f)) == WithoutComments(s));

      // The chain removed behind our back: Remove succeeds and leaves nothing.
      REQUIRE(cni::fw::RunProcess({ipt, "-t", "nat", "-F", "WEFT-TEST-DNAT"}, "").status == 0);
      REQUIRE(cni::fw::RunProcess({ipt, "-t", "nat", "-F", "WEFT-G1"}, "").status == 0);
      REQUIRE(cni::fw::RunProcess({ipt, "-t", "nat", "-X", "WEFT-G1"}, "").status == 0);
      b->Remove(f, chains);
      b->Ensure(f, chains);  // and back, from a fresh read
      CHECK_FALSE(b->Check(f, chains));
      b->Remove(f, chains);
      CHECK(Save(BackendKind::kIptablesNft, f).find("WEFT-G1") == std::string::npos);
    }
  });
}

// Runs fn with PATH starting at a directory whose `tools` log their arguments to <dir>/reads and
// run the real tool; returns the log.
std::string LoggingTools(const std::vector<std::string>& tools, const std::function<void()>& fn) {
  char tmpl[] = "/tmp/weft-fwreads-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  std::string dir = tmpl;
  for (const std::string& tool : tools) {
    cni::WriteFileAtomic(dir + "/" + tool,
                         "#!/bin/sh\necho \"" + tool + " $*\" >> " + dir + "/reads\nexec /usr/sbin/" +
                             tool + " \"$@\"\n",
                         0755);
  }
  std::string old = getenv("PATH") ? getenv("PATH") : "";
  setenv("PATH", (dir + ":" + old).c_str(), 1);
  std::exception_ptr err;
  try {
    fn();
  } catch (...) {
    err = std::current_exception();
  }
  setenv("PATH", old.c_str(), 1);
  std::string log = cni::ReadFile(dir + "/reads").value_or("");
  std::filesystem::remove_all(dir);
  if (err) std::rethrow_exception(err);
  return log;
}

// The same for the reading tools: iptables, ip6tables, iptables-save and ip6tables-save.
std::string LoggingReads(const std::function<void()>& fn) {
  return LoggingTools({"iptables", "ip6tables", "iptables-save", "ip6tables-save"}, fn);
}

TEST_CASE("fw: iptables-nft keeps trusting chains whose digest is unchanged after foreign commits",
          "[netns][fw]") {
  weft_test::TempNetns ns("wfp");
  InNetns(ns.path(), [&] {
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
      std::string ipt = f == Family::kIPv4 ? "iptables" : "ip6tables";
      auto run = [&](std::vector<std::string> argv) {
        argv.insert(argv.begin(), {ipt, "-t", "nat"});
        REQUIRE(cni::fw::RunProcess(argv, "").status == 0);
      };
      auto b = Make(BackendKind::kIptablesNft);
      std::vector<Chain> chains = Chains(f, "WEFT-D1", 8081);
      b->Ensure(f, chains);
      cni::fw::NftGeneration gen;
      REQUIRE(gen.ok());
      auto rec = [&] {
        auto text = cni::ReadFile(cni::fw::StateCachePath(gen.netns_inode()));
        REQUIRE(text);
        return cni::fw::StateCache::Parse(*text).tables[{static_cast<int>(f), "nat"}];
      };
      auto now = [&] {
        auto g = gen.Get();
        REQUIRE(g);
        return *g;
      };
      // The record holds the kernel's digest of each chain it knows.
      auto t = rec();
      REQUIRE(t.prints.count("WEFT-D1") == 1);
      REQUIRE(t.prints.count("WEFT-TEST-DNAT") == 1);
      CHECK(gen.Print(f, "nat", "WEFT-D1", now()) == t.prints["WEFT-D1"]);
      CHECK_FALSE(gen.Print(f, "nat", "WEFT-D1", now() + 1));  // not served from that generation
      CHECK(gen.HasChain(f, "nat", "WEFT-D1") == true);
      CHECK(gen.HasChain(f, "nat", "WEFT-NONE") == false);

      // Counters are not part of the digest, the rules are.
      run({"-N", "WEFT-OTHER"});
      run({"-A", "WEFT-OTHER", "-j", "RETURN", "-c", "5", "300"});
      auto p1 = gen.Print(f, "nat", "WEFT-OTHER", now());
      REQUIRE(p1);
      run({"-Z", "WEFT-OTHER"});
      CHECK(gen.Print(f, "nat", "WEFT-OTHER", now()) == p1);
      run({"-A", "WEFT-OTHER", "-j", "ACCEPT"});
      CHECK(gen.Print(f, "nat", "WEFT-OTHER", now()) != p1);
      CHECK(gen.Print(f, "nat", "WEFT-D1", now()) == t.prints["WEFT-D1"]);

      // Foreign commits elsewhere: the same chains again and a new container's chain (absent so
      // far) cost no iptables read.
      std::vector<Chain> more = Chains(f, "WEFT-D2", 8082);
      std::string reads = LoggingReads([&] {
        b->Ensure(f, chains);
        b->Ensure(f, more);
      });
      CHECK(reads.empty());
      std::string s = Save(BackendKind::kIptablesNft, f);
      CHECK(Count(s, "-A PREROUTING -m addrtype --dst-type LOCAL -j WEFT-TEST-DNAT") == 1);
      CHECK(s.find("-A WEFT-TEST-DNAT") != std::string::npos);
      CHECK_FALSE(b->Check(f, more));

      // A rule of a recorded chain changed behind our back: that is read and repaired.
      run({"-F", "WEFT-D1"});
      reads = LoggingReads([&] { b->Ensure(f, chains); });
      CHECK_FALSE(reads.empty());
      CHECK_FALSE(b->Check(f, chains));
      b->Remove(f, chains);
      b->Remove(f, more);
      s = Save(BackendKind::kIptablesNft, f);
      CHECK(s.find("WEFT-D1") == std::string::npos);
      CHECK(s.find("WEFT-D2") == std::string::npos);
    }
  });
}

TEST_CASE("fw: iptables-nft callers queued behind the lock are committed in one transaction",
          "[netns][fw]") {
  weft_test::TempNetns ns("wfq");
  constexpr int kCallers = 6;
  for (Family f : {Family::kIPv4, Family::kIPv6}) {
    for (bool ensure : {true, false}) {
      cni::fw::NftGeneration* gen = nullptr;
      std::unique_ptr<cni::fw::NftGeneration> gen_holder;
      std::string lock_path, queue_dir;
      InNetns(ns.path(), [&] {
        if (ensure) Make(BackendKind::kIptablesNft)->Ensure(f, Chains(f, "WEFT-Q0", 9000));
        gen_holder = std::make_unique<cni::fw::NftGeneration>();
        REQUIRE(gen_holder->ok());
        lock_path = cni::fw::StateCachePath(gen_holder->netns_inode());
        queue_dir = "/run/weft/fwq-" + std::to_string(gen_holder->netns_inode());
      });
      gen = gen_holder.get();
      // Hold the namespace's lock, as a caller in the middle of its transaction would.
      int held = open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
      REQUIRE(held >= 0);
      REQUIRE(flock(held, LOCK_EX) == 0);
      std::vector<std::thread> callers;
      std::vector<std::exception_ptr> errors(kCallers);
      for (int i = 1; i <= kCallers; ++i) {
        callers.emplace_back([&, i] {
          try {
            InNetns(ns.path(), [&] {
              auto b = Make(BackendKind::kIptablesNft);
              auto chains = Chains(f, "WEFT-Q" + std::to_string(i), 9000 + i);
              ensure ? b->Ensure(f, chains) : b->Remove(f, chains);
            });
          } catch (...) {
            errors[static_cast<size_t>(i - 1)] = std::current_exception();
          }
        });
      }
      auto queued = [&] {
        int n = 0;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(queue_dir, ec))
          n += e.path().extension() == ".req" ? 1 : 0;
        return n;
      };
      for (int tries = 0; tries < 500 && queued() < kCallers; ++tries) usleep(10000);  // <= 5 s
      CHECK(queued() == kCallers);
      std::optional<uint32_t> before;
      InNetns(ns.path(), [&] { before = gen->Get(); });
      close(held);  // the first caller to get the lock commits all six
      for (std::thread& t : callers) t.join();
      for (auto& e : errors)
        if (e) std::rethrow_exception(e);
      std::optional<uint32_t> after;
      std::string s;
      InNetns(ns.path(), [&] {
        after = gen->Get();
        s = Save(BackendKind::kIptablesNft, f);
      });
      REQUIRE(before);
      CHECK(after == *before + 1);
      for (int i = 1; i <= kCallers; ++i) {
        std::string jump = "-A WEFT-TEST-DNAT -p tcp -m comment --comment \"dnat name: \\\"t\\\" id: "
                           "\\\"WEFT-Q" + std::to_string(i) + "\\\"\" -m multiport --dports " +
                           std::to_string(9000 + i) + " -j WEFT-Q" + std::to_string(i);
        CHECK(Count(s, jump) == (ensure ? 1 : 0));
        CHECK(Count(s, ":WEFT-Q" + std::to_string(i) + " - [0:0]") == (ensure ? 1 : 0));
      }
      CHECK(Count(s, ":WEFT-Q0 - [0:0]") == 1);  // not part of the batch, untouched
      std::error_code ec;
      CHECK(std::filesystem::is_empty(queue_dir, ec));  // nothing left queued
    }
  }
}

TEST_CASE("fw: a held xtables lock fails with code 11 after the bounded wait", "[netns][fw]") {
  // We hold /run/xtables.lock (flock belongs to the open file description, so the backend's own
  // open() contends with ours) and expect kTryAgainLater after the backend's bounded wait.
  weft_test::TempNetns ns("wfl");
  int fd = open(cni::fw::kXtablesLock, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(cni::FlockWithTimeout(fd, std::chrono::milliseconds(30000)));
  InNetns(ns.path(), [&] {
    auto b = cni::fw::MakeIptcBackend();
    auto chains = Chains(Family::kIPv4, "WEFT-L", 1);
    try {
      b->Ensure(Family::kIPv4, chains);
      FAIL("Ensure succeeded while the lock was held");
    } catch (const cni::Error& e) {
      CHECK(e.code() == cni::kTryAgainLater);
    }
  });
  close(fd);
}

TEST_CASE("fw: nftables batch, listing by handle, parallel writers", "[netns][fw]") {
  weft_test::TempNetns ns("wfn");
  if (!cni::fw::Nft::Usable()) {
    WARN("skipped: libnftables unusable here");
    return;
  }
  InNetns(ns.path(), [&] {
    cni::fw::Nft nft;
    nft.Run("add table ip weft_t { comment \"t\" ; }\nadd chain ip weft_t c\n");
    nft.Run("add rule ip weft_t c tcp dport 80 dnat to 10.0.0.2:80 comment \"a\"\n"
            "add rule ip weft_t c tcp dport 81 accept comment \"b\"\n");
    auto rules = nft.ListRules("ip", "weft_t");
    REQUIRE(rules.size() == 2);
    CHECK(rules[0].comment == "a");
    CHECK(rules[1].chain == "c");
    nft.Run("delete rule ip weft_t c handle " + std::to_string(rules[0].handle) + "\n");
    CHECK(nft.ListRules("ip", "weft_t").size() == 1);
    CHECK(nft.ListRules("ip", "absent_table").empty());
    CHECK_THROWS_AS(nft.Run("add rule ip weft_t nochain accept\n"), cni::Error);
    cni::fw::ProcResult r = cni::fw::RunProcess({"nft", "list", "ruleset"}, "");
    CHECK(r.out.find("tcp dport 81 accept comment \"b\"") != std::string::npos);
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      InNetns(ns.path(), [&] {
        cni::fw::Nft nft;
        nft.Run("add table ip weft_t\nadd chain ip weft_t c\nadd rule ip weft_t c tcp dport " +
                std::to_string(2000 + i) + " accept comment \"p" + std::to_string(i) + "\"\n");
      });
    });
  }
  for (auto& t : threads) t.join();
  InNetns(ns.path(), [&] {
    cni::fw::Nft nft;
    auto rules = nft.ListRules("ip", "weft_t");
    CHECK(rules.size() == 21);
    for (int i = 0; i < 20; ++i) {
      CHECK(std::count_if(rules.begin(), rules.end(), [&](const cni::fw::NftRule& r) {
              return r.comment == "p" + std::to_string(i);
            }) == 1);
    }
  });
}

// ---- iptables-nft rules written in-process (nftwrite.h) against iptables-restore as the oracle

namespace {

constexpr uint16_t NftMsg(int msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }

std::string HexOf(const char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[static_cast<unsigned char>(p[i]) >> 4];
    s += d[static_cast<unsigned char>(p[i]) & 15];
  }
  return s;
}

// The raw attributes of every rule of `table`, chain by chain (NFT_MSG_GETRULE dump): each
// attribute as type=hex, the expressions one by one as name:hex of their data, leaving out
// only what differs between two copies of the same rules (handle, position, counter values).
std::map<std::string, std::vector<std::string>> RuleAttrs(Family f, const std::string& table) {
  cni::fw::NfnlSocket sock;
  REQUIRE(sock.ok());
  cni::fw::NfnlRequest req(NftMsg(NFT_MSG_GETRULE), NLM_F_DUMP, f == Family::kIPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
  req.PutString(NFTA_RULE_TABLE, table);
  std::map<std::string, std::vector<std::string>> out;
  int rc = sock.Ask(req, [&](const nlmsghdr& nh) {
    std::string chain, text;
    cni::fw::ForEachAttr(nh, [&](uint16_t type, const char* p, size_t len) {
      if (type == NFTA_RULE_HANDLE || type == NFTA_RULE_POSITION) return;
      if (type == NFTA_RULE_CHAIN) chain = std::string(p, strnlen(p, len));
      if (type != NFTA_RULE_EXPRESSIONS) {
        text += " " + std::to_string(type) + "=" + HexOf(p, len);
        return;
      }
      cni::fw::ForEachAttr(p, len, [&](uint16_t, const char* ep, size_t elen) {
        std::string name, data;
        cni::fw::ForEachAttr(ep, elen, [&](uint16_t t, const char* v, size_t vlen) {
          if (t == NFTA_EXPR_NAME) name = std::string(v, strnlen(v, vlen));
          if (t == NFTA_EXPR_DATA) data = HexOf(v, vlen);
        });
        text += " [" + name + (name == "counter" ? "" : ":" + data) + "]";
      });
    });
    out[chain].push_back(text);
    return true;
  });
  REQUIRE(rc == 0);
  return out;
}

// Every user chain's attributes but its handle (NFT_MSG_GETCHAIN dump).
std::map<std::string, std::string> ChainAttrs(Family f, const std::string& table) {
  cni::fw::NfnlSocket sock;
  REQUIRE(sock.ok());
  cni::fw::NfnlRequest req(NftMsg(NFT_MSG_GETCHAIN), NLM_F_DUMP, f == Family::kIPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
  std::map<std::string, std::string> out;
  int rc = sock.Ask(req, [&](const nlmsghdr& nh) {
    std::string name, t, text;
    cni::fw::ForEachAttr(nh, [&](uint16_t type, const char* p, size_t len) {
      if (type == NFTA_CHAIN_NAME) name = std::string(p, strnlen(p, len));
      if (type == NFTA_CHAIN_TABLE) t = std::string(p, strnlen(p, len));
      if (type != NFTA_CHAIN_HANDLE) text += " " + std::to_string(type) + "=" + HexOf(p, len);
    });
    if (t == table) out[name] = text;
    return true;
  });
  REQUIRE(rc == 0);
  return out;
}

std::string SaveTable(Family f, const std::string& table) {
  cni::fw::ProcResult r =
      cni::fw::RunProcess({f == Family::kIPv4 ? "iptables-save" : "ip6tables-save", "-t", table}, "");
  REQUIRE(r.status == 0);
  return WithoutComments(r.out);
}

void Restore(Family f, const std::string& script) {
  cni::fw::ProcResult r =
      cni::fw::RunProcess({f == Family::kIPv4 ? "iptables-restore" : "ip6tables-restore", "--noflush"}, script);
  INFO(script << r.err);
  REQUIRE(r.status == 0);
}

// The built-in chains of `table`, created the way iptables-restore creates them, so that the
// writes under test find them (creating tables and built-in chains is left to iptables-restore).
void Builtins(Family f, const std::string& table) {
  std::string s = "*" + table + "\n";
  for (const char* c : table == "nat" ? std::vector<const char*>{"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}
                                      : std::vector<const char*>{"INPUT", "FORWARD", "OUTPUT"})
    s += ":" + std::string(c) + " ACCEPT [0:0]\n";
  Restore(f, s + "COMMIT\n");
}

// The iptables-restore script of `ops` (what the restore backend would feed it).
std::string Script(const std::vector<cni::fw::Op>& ops) {
  std::string s, table;
  for (const cni::fw::Op& op : ops) {
    if (op.table != table) {
      if (!table.empty()) s += "COMMIT\n";
      table = op.table;
      s += "*" + table + "\n";
    }
    switch (op.kind) {
      case cni::fw::Op::kNewChain: s += ":" + op.chain + " - [0:0]\n"; break;
      case cni::fw::Op::kAppend: s += "-A " + op.chain + " " + op.rule + "\n"; break;
      case cni::fw::Op::kInsertFirst: s += "-I " + op.chain + " 1 " + op.rule + "\n"; break;
      case cni::fw::Op::kDelete: s += "-D " + op.chain + " " + op.rule + "\n"; break;
      case cni::fw::Op::kFlush: s += "-F " + op.chain + "\n"; break;
      case cni::fw::Op::kDeleteChain: s += "-X " + op.chain + "\n"; break;
    }
  }
  return s + "COMMIT\n";
}

struct Shape {
  std::string what;
  Family family;
  std::vector<Chain> chains;  // all in one table
};

portmap::Config PortmapConfig(Family f, bool masq_all) {
  portmap::Config c;
  c.name = "nftw";
  c.container_id = "ctr-1";
  c.snat = true;
  c.masq_all = masq_all;
  bool v4 = f == Family::kIPv4;
  c.mappings = {{8080, 80, "tcp", ""},
                {8443, 443, "tcp", v4 ? "192.168.7.1" : "fd07::1"},
                {5353, 53, "udp", ""},
                {9999, 99, "sctp", ""}};
  for (int p = 20000; p < 20017; ++p) c.mappings.push_back({p, p, "tcp", ""});  // two multiport rules
  (v4 ? c.conditions_v4 : c.conditions_v6) =
      std::vector<std::string>{"!", "-i", "lo+", "-s", v4 ? "10.88.0.0/14" : "fd88::/20"};
  return c;
}

std::vector<Shape> Shapes() {
  std::vector<Shape> out;
  for (Family f : {Family::kIPv4, Family::kIPv6}) {
    const bool v4 = f == Family::kIPv4;
    const std::string fam = v4 ? " v4" : " v6";
    cni::IPNet cont = *cni::IPNet::Parse(v4 ? "10.88.0.5/24" : "fd88::5/64");
    for (bool masq_all : {false, true}) {
      std::vector<Chain> pm = portmap::SetupChains(PortmapConfig(f, masq_all), cont);
      out.push_back({"portmap (snat, setmark, masq, conditions" + std::string(masq_all ? ", masqAll)" : ")") + fam, f, pm});
    }
    // bridge ipMasq (plugins/bridge/masq.cpp)
    Chain bm;
    bm.name = "CNI-0123456789abcdef01234567";
    bm.entry_chains = {"POSTROUTING"};
    std::string comment = "name: \"nftw\" id: \"ctr-1\"";
    bm.entry_rules = {{"-s", v4 ? "10.88.0.5" : "fd88::5", "-m", "comment", "--comment", comment}};
    bm.rules = {{"-d", v4 ? "10.88.0.0/24" : "fd88::/64", "-j", "ACCEPT", "-m", "comment", "--comment", comment},
                {"!", "-d", v4 ? "224.0.0.0/4" : "ff00::/8", "-j", "MASQUERADE", "-m", "comment", "--comment", comment}};
    out.push_back({"bridge ipMasq" + fam, f, {bm}});
    // the firewall plugin's chains (plugins/firewall/firewall.cpp)
    const std::string a = v4 ? "10.88.0.5/32" : "fd88::5/128";
    Chain fwd;
    fwd.table = "filter";
    fwd.name = "CNI-FORWARD";
    fwd.entry_chains = {"FORWARD"};
    fwd.entry_rules = {{"-m", "comment", "--comment", "CNI firewall plugin rules"}};
    fwd.prepend_entry = true;
    fwd.rules = {{"-d", a, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
                 {"-s", a, "-j", "ACCEPT"}};
    fwd.teardown = cni::fw::TeardownPolicy::kRulesOnly;
    Chain admin;
    admin.table = "filter";
    admin.name = "CNI-ADMIN";
    admin.entry_chains = {"CNI-FORWARD"};
    admin.entry_rules = {{"-m", "comment", "--comment", "CNI firewall plugin admin overrides"}};
    admin.prepend_entry = true;
    const char* iso = "CNI firewall plugin rules (ingressPolicy: same-bridge)";
    Chain s1;
    s1.table = "filter";
    s1.name = "CNI-ISOLATION-STAGE-1";
    s1.entry_chains = {"FORWARD"};
    s1.entry_rules = {{"-m", "comment", "--comment", iso}};
    s1.rules = {{"-j", "RETURN", "-m", "comment", "--comment", iso}};
    Chain s2;
    s2.table = "filter";
    s2.name = "CNI-ISOLATION-STAGE-2";
    s2.entry_chains = {"CNI-ISOLATION-STAGE-1"};
    s2.entry_rules = {{"-i", "cni0", "!", "-o", "cni0", "-m", "comment", "--comment", iso}};
    s2.head_rules = {{"-o", "cni0", "-j", "DROP", "-m", "comment", "--comment", iso}};
    s2.rules = {{"-j", "RETURN", "-m", "comment", "--comment", iso}};
    out.push_back({"firewall plugin" + fam, f, {fwd, admin, s1, s2}});
    // weftd's flannel chains (agent/firewall.cpp)
    cni::IPNet net = *cni::IPNet::Parse(v4 ? "10.244.0.0/16" : "fd44::/56");
    cni::IPNet sub = *cni::IPNet::Parse(v4 ? "10.244.3.0/24" : "fd44:0:0:3::/64");
    out.push_back({"FLANNEL-POSTRTG" + fam, f, {weft::agent::MasqChain(net, sub, true)}});
    out.push_back({"FLANNEL-POSTRTG without --random-fully" + fam, f, {weft::agent::MasqChain(net, sub, false)}});
    out.push_back({"FLANNEL-FWD" + fam, f, {weft::agent::ForwardChain(net)}});
    // what else Rule::Parse knows: ports by range and negation, tcp source and destination
    // ports together, exact and wildcard interfaces, marks without a mask, SNAT, addrtype with
    // both types, other conntrack states, icmp (by number for v4)
    Chain misc;
    misc.name = "WEFT-MISC";  // reached from no hook, so DNAT and SNAT may share it
    misc.rules = {{"-p", "tcp", "--sport", "1000", "--dport", "2000", "-j", "RETURN"},
                  {"-p", "tcp", "!", "--sport", "1000", "!", "--dport", "2000", "-j", "RETURN"},
                  {"-p", "tcp", "--sport", "1000", "!", "--dport", "2000", "-j", "RETURN"},
                  {"-p", "udp", "--dport", "3000:3010", "-j", "RETURN"},
                  {"-p", "udp", "!", "--sport", "5:6", "-j", "RETURN"},
                  {"!", "-p", "tcp", "-j", "RETURN"},
                  {"-p", v4 ? "1" : "ipv6-icmp", "-j", "RETURN"},
                  {"-p", "sctp", "!", "--dport", "7:9", "-j", "RETURN"},
                  {"-i", "eth0", "-j", "RETURN"},
                  {"!", "-i", "veth+", "-o", "cni0", "-j", "RETURN"},
                  {"-m", "mark", "--mark", "0x1", "-j", "RETURN"},
                  {"-m", "mark", "!", "--mark", "0x10/0x30", "-j", "RETURN"},
                  {"-m", "addrtype", "!", "--src-type", "LOCAL,MULTICAST", "--dst-type", "UNICAST", "--limit-iface-in", "-j", "RETURN"},
                  {"-m", "conntrack", "!", "--ctstate", "INVALID,NEW,UNTRACKED,SNAT,DNAT", "-j", "RETURN"},
                  {"-p", "udp", "-m", "multiport", "--sports", "1,2:4", "-j", "RETURN"},
                  {"-p", "tcp", "-m", "multiport", "!", "--ports", "80", "-j", "RETURN"},
                  {"-s", v4 ? "10.1.2.3/31" : "fd00::/63", "!", "-d", v4 ? "10.0.0.0/9" : "fd00::/9", "-j", "RETURN"},
                  {"-p", "tcp", "--dport", "80", "-j", "DNAT", "--to-destination", v4 ? "10.0.0.9" : "fd00::9"},
                  {"-p", "tcp", "-j", "SNAT", "--to-source", v4 ? "10.0.0.9-10.0.0.12:1000-2000" : "[fd00::9]:1000-2000"},
                  {"-j", "MARK", "--set-mark", "0x4"},
                  {"-m", "comment", "--comment", "no target"}};
    out.push_back({"other options" + fam, f, {misc}});
  }
  return out;
}

}  // namespace

TEST_CASE("fw: iptables-nft rules written in-process are iptables-restore's, byte for byte",
          "[netns][fw]") {
  for (const Shape& shape : Shapes()) {
    INFO(shape.what);
    const Family f = shape.family;
    const std::string table = shape.chains.front().table;
    // For the removal half every chain is torn down (shared ones included), the chains that
    // jump to others first.
    std::vector<Chain> all(shape.chains.rbegin(), shape.chains.rend());
    for (Chain& c : all) {
      if (c.teardown == cni::fw::TeardownPolicy::kNever) c.teardown = cni::fw::TeardownPolicy::kOnComplete;
    }
    std::map<std::string, cni::fw::TableState> none;
    const std::string add = Script(cni::fw::PlanEnsure(f, shape.chains, none));
    weft_test::TempNetns ref("wnr"), ours("wno");
    std::map<std::string, std::vector<std::string>> ref_rules, our_rules;
    std::map<std::string, std::string> ref_chains, our_chains;
    std::string ref_save, our_save, restores;
    InNetns(ref.path(), [&] {
      Builtins(f, table);
      Restore(f, add);
      ref_rules = RuleAttrs(f, table);
      ref_chains = ChainAttrs(f, table);
      ref_save = SaveTable(f, table);
    });
    InNetns(ours.path(), [&] {
      Builtins(f, table);
      auto b = Make(BackendKind::kIptablesNft);
      restores = LoggingTools({"iptables-restore", "ip6tables-restore"}, [&] { b->Ensure(f, shape.chains); });
      our_rules = RuleAttrs(f, table);
      our_chains = ChainAttrs(f, table);
      our_save = SaveTable(f, table);
    });
    CHECK(restores.empty());  // written in-process, no iptables-restore
    CHECK(our_save == ref_save);
    CHECK(our_chains == ref_chains);
    REQUIRE(our_rules.size() == ref_rules.size());
    for (const auto& [chain, rules] : ref_rules) {
      INFO(chain);
      REQUIRE(our_rules.count(chain) == 1);
      REQUIRE(our_rules[chain].size() == rules.size());
      for (size_t i = 0; i < rules.size(); ++i) CHECK(our_rules[chain][i] == rules[i]);
    }

    // iptables-nft finds and deletes every rule weft wrote (its -D compares the parsed rule)...
    InNetns(ours.path(), [&] {
      std::istringstream lines(our_save);
      int deleted = 0;
      for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("-A ")) continue;
        cni::fw::ProcResult r = cni::fw::RunProcess(
            {"sh", "-c", std::string(f == Family::kIPv4 ? "iptables" : "ip6tables") + " -t " + table + " -D " + line.substr(3)}, "");
        INFO(line << ": " << r.err);
        CHECK(r.status == 0);
        ++deleted;
      }
      CHECK(deleted > 0);
      CHECK(SaveTable(f, table).find("-A ") == std::string::npos);
    });
    // ...and weft deletes, in-process and by handle, what iptables-restore wrote.
    InNetns(ref.path(), [&] {
      auto b = Make(BackendKind::kIptablesNft);
      restores = LoggingTools({"iptables-restore", "ip6tables-restore"}, [&] { b->Remove(f, all); });
      CHECK(restores.empty());
      std::string s = SaveTable(f, table);
      for (const Chain& c : all) {
        if (c.teardown == cni::fw::TeardownPolicy::kRulesOnly) {
          CHECK(s.find("-A " + c.name + " ") == std::string::npos);
        } else {
          CHECK(s.find(c.name) == std::string::npos);
        }
      }
    });
  }
}

TEST_CASE("fw: the in-process iptables-nft writer creates missing tables through iptables-restore",
          "[netns][fw]") {
  weft_test::TempNetns ns("wnb");
  InNetns(ns.path(), [&] {
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
      auto b = Make(BackendKind::kIptablesNft);
      std::vector<Chain> chains = Chains(f, "WEFT-B1", 8080);
      // A fresh namespace has no nat table: the batch is refused and iptables-restore makes it.
      std::string restores = LoggingTools({"iptables-restore", "ip6tables-restore"}, [&] { b->Ensure(f, chains); });
      CHECK(restores.find("restore") != std::string::npos);
      CHECK_FALSE(b->Check(f, chains));
      // From then on: in-process.
      chains = Chains(f, "WEFT-B2", 8081);
      restores = LoggingTools({"iptables-restore", "ip6tables-restore"}, [&] {
        b->Ensure(f, chains);
        b->Remove(f, chains);
      });
      CHECK(restores.empty());
      std::string s = Save(BackendKind::kIptablesNft, f);
      CHECK(s.find("WEFT-B2") == std::string::npos);
      CHECK(Count(s, ":WEFT-B1 - [0:0]") == 1);
    }
  });
}

TEST_CASE("fw: an in-process iptables-nft batch planned at an older generation changes nothing",
          "[netns][fw]") {
  weft_test::TempNetns ns("wnr");
  InNetns(ns.path(), [&] {
    const Family f = Family::kIPv4;
    Builtins(f, "nat");
    auto b = Make(BackendKind::kIptablesNft);
    std::vector<Chain> chains = Chains(f, "WEFT-R1", 8080);
    b->Ensure(f, chains);
    cni::fw::NftGeneration gen;
    REQUIRE(gen.ok());
    std::optional<uint32_t> g0 = gen.Get();
    REQUIRE(g0);
    std::map<std::string, cni::fw::TableState> before;
    before["nat"] = cni::fw::ParseSave(SaveTable(f, "nat"), "nat");
    std::map<std::string, cni::fw::TableState> states = before;
    std::vector<Chain> more = Chains(f, "WEFT-R2", 8081);
    std::vector<cni::fw::Op> add = cni::fw::PlanEnsure(f, more, states);
    states = before;
    std::vector<cni::fw::Op> del = cni::fw::PlanRemove(f, chains, states);
    // Someone else commits: both batches are refused whole, add and delete alike.
    REQUIRE(cni::fw::RunProcess({"iptables", "-t", "nat", "-N", "FOREIGN"}, "").status == 0);
    std::string s0 = SaveTable(f, "nat");
    CHECK(cni::fw::WriteBatch(gen.socket(), f, add, before, *g0) == cni::fw::BatchResult::kRestart);
    CHECK(cni::fw::WriteBatch(gen.socket(), f, del, before, *g0) == cni::fw::BatchResult::kRestart);
    CHECK(SaveTable(f, "nat") == s0);
    // At the current generation they commit.
    std::optional<uint32_t> g1 = gen.Get();
    REQUIRE(g1);
    before["nat"] = cni::fw::ParseSave(s0, "nat");
    states = before;
    add = cni::fw::PlanEnsure(f, more, states);
    CHECK(cni::fw::WriteBatch(gen.socket(), f, add, before, *g1) == cni::fw::BatchResult::kCommitted);
    CHECK_FALSE(b->Check(f, more));
    // A delete planned on a state that doesn't match the chain (a rule fewer) is refused too.
    std::optional<uint32_t> g2 = gen.Get();
    REQUIRE(g2);
    before["nat"] = cni::fw::ParseSave(SaveTable(f, "nat"), "nat");
    before["nat"].chains["WEFT-TEST-DNAT"].pop_back();
    states = before;
    del = cni::fw::PlanRemove(f, chains, states);
    CHECK(cni::fw::WriteBatch(gen.socket(), f, del, before, *g2) == cni::fw::BatchResult::kRestart);
    CHECK_FALSE(b->Check(f, chains));
  });
}
