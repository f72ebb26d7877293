// The iptables backend for hosts whose `iptables` is iptables-nft (and, in the static build, for
// iptables-legacy through iptables-legacy-restore): a read of the current rules of the chains
// involved, then every change of the call as a single transaction. On nf_tables that transaction
// is one netlink batch written in-process with exactly the expressions iptables-nft writes
// (nftwrite.h), so rules land where and how the host's iptables tools show them; only a batch the
// kernel refuses (a table or built-in chain that does not exist yet) goes through one
// `iptables-restore --noflush`, which creates them as iptables-nft wants them.
//
// On nf_tables the read is usually skipped: the state the previous weft call in this namespace
// left behind is recorded with the ruleset generation its transaction produced, and reused while
// the generation is unchanged or, when it moved, while in-process digests of the chains still
// match (see gencache.h), so a call is a few netlink queries and one batch. Otherwise the read is
// scoped to the chains of the call (see ReadChains), so a big nat table does not slow every call
// down, and a small one costs one read. Callers that find the lock taken queue their request,
// and the holder commits it with its own (see queue.h).
// Read-modify-write is serialised across weft processes by a per-namespace lock file with a
// bounded wait (iptables-nft takes no lock itself, so holding ours around both steps cannot
// deadlock, and callers in other namespaces never wait for it); the batch is also tied to the
// generation its plan was made at, so a foreign commit in between makes it plan again. For the
// legacy flavour the child takes the xtables lock itself (-w), and our read-modify-write is
// serialised by a separate weft lock.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "cni/error.h"
#include "cni/files.h"
#include "gencache.h"
#include "nftwrite.h"
#include "plan.h"
#include "proc.h"
#include "queue.h"

namespace cni::fw {

namespace {

class RestoreBackend : public Backend {
 public:
  explicit RestoreBackend(bool legacy) : legacy_(legacy) {}

  BackendKind kind() const override {
    return legacy_ ? BackendKind::kIptablesLegacy : BackendKind::kIptablesNft;
  }

  void Ensure(Family family, std::span<const Chain> chains) override {
    Transact(family, chains, true, [&](std::map<std::string, TableState>& states) {
      return PlanEnsure(family, chains, states);
    });
  }

  void Remove(Family family, std::span<const Chain> chains) override {
    Transact(family, chains, false,
             [&](std::map<std::string, TableState>& states) { return PlanRemove(family, chains, states); });
  }

  std::optional<std::string> Check(Family family, std::span<const Chain> chains) override {
    return CheckState(family, chains, ReadChains(family, chains, nullptr));
  }

  bool ChainExists(Family family, std::string_view table, std::string_view chain) override {
    return Read(family, {std::string(table)})[std::string(table)].Has(chain);
  }

  std::map<std::string, std::vector<std::string>> List(Family family,
                                                       std::string_view table) override {
    std::map<std::string, std::vector<std::string>> out;
    // Keep the map alive: a range-for over a member of a temporary's element dangles.
    auto tables = Read(family, {std::string(table)});
    for (auto& [name, rules] : tables[std::string(table)].chains) out[name] = rules;
    return out;
  }

  bool Usable(Family family) override {
    try {
      ProcResult r = RunProcess({Tool(family, "save"), "-t", "nat"}, "");
      return r.status == 0;
    } catch (const Error&) {
      return false;
    }
  }

 private:
  std::string Tool(Family family, std::string_view verb) const {
    std::string base = family == Family::kIPv4 ? "iptables" : "ip6tables";
    if (legacy_) base += "-legacy";
    return base + "-" + std::string(verb);
  }

  static UniqueFd OpenLock(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw Error::Errno(errno, "open " + path);
    return fd;
  }

  static void WaitLock(int fd, const std::string& path) {
    if (!FlockWithTimeout(fd, std::chrono::milliseconds(kLockTimeoutMs)))
      throw Error(kTryAgainLater, "timed out waiting for lock " + path);
  }

  static UniqueFd Lock(const std::string& path) {
    UniqueFd fd = OpenLock(path);
    WaitLock(fd.get(), path);
    return fd;
  }

  // One read-modify-write: the state of the chains involved (recorded or read), the plan, one
  // restore. `plan` turns the state into operations and updates it to the result; `ensure`
  // says which of the two it is, for callers that queue (see queue.h).
  template <class Plan>
  void Transact(Family family, std::span<const Chain> chains, bool ensure, Plan plan) {
    if (legacy_) {
      UniqueFd lock = Lock("/run/weft-iptables.lock");
      std::map<std::string, TableState> states = ReadChains(family, chains, nullptr);
      Apply(family, plan(states));
      CommitDone();
      return;
    }
    // Declared before the lock, so the socket closes after the lock is released: closing a
    // netfilter socket can wait for the kernel to free deleted rules (an RCU grace period).
    NftGeneration gen;
    std::string path;
    if (gen.ok()) {
      try {
        EnsureDir("/run/weft", 0755);
        path = StateCachePath(gen.netns_inode());
      } catch (const Error&) {
        // no record, no per-namespace lock: read every time under the xtables lock
      }
    }
    if (path.empty()) {
      UniqueFd lock = Lock(kXtablesLock);
      std::map<std::string, TableState> states = ReadChains(family, chains, nullptr);
      Apply(family, plan(states));
      CommitDone();
      return;
    }
    // The lock busy: queue the request for the holder to commit with its own, then wait.
    RequestQueue queue(gen.netns_inode());
    UniqueFd lock = OpenLock(path);
    if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      std::optional<std::string> queued = queue.Submit(gen.cookie(), family, ensure, chains);
      try {
        WaitLock(lock.get(), path);
      } catch (const Error&) {
        if (queued) queue.Withdraw(*queued);
        throw;
      }
      if (queued && queue.TakeDone(*queued)) return;
    }
    StateCache cache;
    bool trust_record = true;  // false once a failure makes what was recorded suspect
    for (int attempt = 0;; ++attempt) {
      // Requests queued by callers waiting for the lock, planned after ours (first try only).
      std::vector<QueuedRequest> joined;
      if (attempt == 0) joined = queue.Claim(gen.cookie(), family);
      std::vector<Chain> all(chains.begin(), chains.end());
      for (const QueuedRequest& r : joined) all.insert(all.end(), r.chains.begin(), r.chains.end());
      ChainKeys keys = KeysOf(all);
      std::optional<uint32_t> g0 = gen.Get();
      std::map<std::string, TableState> states;
      bool recorded = false;
      if (!trust_record) cache = StateCache{};
      if (g0) {
        if (attempt == 0) cache = StateCache::Parse(ReadRecord(lock.get()));
        if (cache.cookie != gen.cookie()) cache = StateCache{};
        cache.cookie = gen.cookie();
        recorded = trust_record && Refresh(cache, gen, *g0, family, keys) &&
                   cache.Lookup(family, keys, states);
        cache.genid = g0;
      }
      if (!recorded) {
        bool complete = false;
        states = ReadChains(family, all, &complete);
        if (g0) {
          // A whole table is recorded only while it is small: every later call parses and
          // rewrites the record, and a kube-proxy-sized nat table made it 193 KB (4 M
          // instructions per call on the live bench node); a chain the record then lacks costs
          // one NFT_MSG_GETCHAIN.
          cache.Store(family, keys, states, complete && RuleCount(states) <= kRecordWholeTable);
          StorePrints(cache, gen, *g0, family, keys);
        }
      }
      const std::map<std::string, TableState> before = states;
      std::vector<Op> ops = plan(states);
      for (size_t i = 0; i < joined.size(); ++i) {
        const QueuedRequest& r = joined[i];
        std::map<std::string, TableState> saved = states;
        try {
          std::vector<Op> more = r.ensure ? PlanEnsure(family, r.chains, states)
                                          : PlanRemove(family, r.chains, states);
          ops.insert(ops.end(), more.begin(), more.end());
        } catch (const Error&) {  // its caller will commit it alone and see the error
          states = std::move(saved);
          queue.Finish({r}, false);
          joined.erase(joined.begin() + static_cast<std::ptrdiff_t>(i--));
        }
      }
      if (ops.empty()) {
        if (g0) Record(lock.get(), cache);  // what a read or a refresh learnt
        queue.Finish(joined, true);
        CommitDone();
        return;
      }
      // Only when our transaction was the one commit since g0 does `states` describe the tables.
      auto record_result = [&](std::optional<uint32_t> g1) {
        if (g1 && *g1 == NextGeneration(*g0)) {
          cache.Store(family, keys, states, false);
          cache.genid = g1;
          // The chains the transaction changed get new digests; the others' are still right.
          ChainKeys changed;
          for (const Op& o : ops) {
            std::pair<std::string, std::string> k{o.table, o.chain};
            if (std::find(changed.begin(), changed.end(), k) == changed.end()) changed.push_back(k);
          }
          StorePrints(cache, gen, *g1, family, changed);
        } else {
          cache = StateCache{};
        }
        Record(lock.get(), cache);
      };
      // In-process: the ops as one batch tied to generation g0 (nftwrite.h). Its answer comes
      // after the commit, so the lock goes and the hook runs right then.
      if (g0) {
        BatchResult res = WriteBatch(gen.socket(), family, ops, before, *g0);
        if (res == BatchResult::kCommitted) {
          // The batch was tied to g0, so the kernel committed it at g0 and its commit made the
          // next generation: no NFT_MSG_GETGEN needed to know which one `states` describes.
          record_result(NextGeneration(*g0));
          queue.Finish(joined, true);
          lock = UniqueFd();  // the next caller needn't wait for our hook (a conntrack walk)
          CommitDone();
          return;
        }
        if ((res == BatchResult::kRestart || res == BatchResult::kUnknown) && attempt < kAttempts) {
          // Someone changed the ruleset since g0 (nothing was done: plan again on a refreshed
          // record), or what the batch did is unknown (plan again on a real read; Ensure and
          // Remove of what is already done are no-ops).
          if (res == BatchResult::kUnknown) {
            trust_record = false;
            Record(lock.get(), StateCache{});
          }
          queue.Finish(joined, false);
          continue;
        }
        // Refused: typically a table or built-in chain that does not exist yet, which
        // iptables-restore creates as iptables-nft wants them; it also words any error the way
        // the reference's does.
      }
      // iptables-restore commits a one-table script in one batch and then closes its netlink
      // socket, which waits for the kernel to free what the batch deleted (an RCU grace period,
      // ~13 ms). Watching for its commit lets the next caller in at the commit instead of at
      // the exit. Several tables are several commits: then only the exit counts. A batch that
      // deletes nothing has no grace period to wait for, and is not watched.
      bool deletes = std::any_of(ops.begin(), ops.end(), [](const Op& o) {
        return o.kind == Op::kDelete || o.kind == Op::kFlush || o.kind == Op::kDeleteChain;
      });
      bool one_table = std::all_of(ops.begin(), ops.end(),
                                   [&](const Op& o) { return o.table == ops.front().table; });
      std::optional<CommitWatch> watch;
      if (g0 && deletes && one_table) watch.emplace();
      bool released = false;
      ProcWatch pw;
      if (watch && watch->fd() >= 0) {
        pw.fd = watch->fd();
        pw.on_ready = [&](pid_t child) {
          std::optional<uint32_t> g1;
          if (!watch->Drain(child, &g1)) return false;
          if (g1) {
            record_result(g1);
            queue.Finish(joined, true);
            lock = UniqueFd();
            released = true;
            CommitDone();
          }
          return true;
        };
      }
      try {
        Apply(family, ops, pw.fd >= 0 ? &pw : nullptr);
      } catch (const Error&) {
        if (released) {  // committed, then failed: nothing recorded can be trusted
          UniqueFd relock = Lock(path);
          Record(relock.get(), StateCache{});
          throw;
        }
        if (g0) Record(lock.get(), StateCache{});
        // The requests of a failed joint commit go back to their callers, and ours is retried
        // alone. A record can't be stale while the generation matches, but a failure after using
        // one is retried once with a real read rather than trusted.
        queue.Finish(joined, false);
        trust_record = false;
        if ((recorded || !joined.empty()) && attempt < kAttempts) continue;
        throw;
      }
      if (g0 && !released) {
        record_result(gen.Get());
        queue.Finish(joined, true);
      }
      CommitDone();
      return;
    }
  }

  // Not cni::ReadAll: the record is the lock file itself, read from offset 0 whatever its file
  // position (Record rewrites it with pwrite), and a read error is no record (the next call reads
  // the tables), not a failed call.
  static std::string ReadRecord(int fd) {
    std::string s;
    char buf[16384];
    off_t off = 0;
    for (ssize_t n; (n = pread(fd, buf, sizeof buf, off)) > 0; off += n) s.append(buf, static_cast<size_t>(n));
    return s;
  }

  // The generation a commit at `g` makes (the kernel's counter skips 0 when it wraps).
  static uint32_t NextGeneration(uint32_t g) { return g + 1 == 0 ? 1 : g + 1; }

  // Rewrites the record in place (it is also the lock, so it can't be replaced by a rename).
  // Not by truncating it to 0 first: on ext4 (a /run that is no tmpfs) a truncation to 0 makes
  // the close start writeback of the file (auto_da_alloc), 0.7 ms of a 1.3 ms ADD measured
  // (docs/benchmarks.md). Instead the header's first byte is spoilt, the rest written over the
  // old text, the file cut to the new length, and the first byte restored last, so a write cut
  // short anywhere (a killed process) leaves a record StateCache::Parse rejects, which only
  // costs the next call a read.
  static void Record(int fd, const StateCache& cache) {
    std::string text = cache.Serialize();
    auto write_at = [fd](const char* p, size_t len, size_t off) {
      for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(fd, p + done, len - done, static_cast<off_t>(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
      }
      return true;
    };
    struct stat st;
    if (text.empty() || fstat(fd, &st) != 0 || !write_at("#", 1, 0) ||
        !write_at(text.data() + 1, text.size() - 1, 1) ||
        (st.st_size > static_cast<off_t>(text.size()) && ftruncate(fd, static_cast<off_t>(text.size())) != 0) ||
        !write_at(text.data(), 1, 0))
      (void)ftruncate(fd, 0);
  }

  // The (table, chain) pairs a call touches: its chains and their entry chains.
  static ChainKeys KeysOf(std::span<const Chain> chains) {
    ChainKeys keys;
    auto want = [&](const std::string& table, const std::string& chain) {
      std::pair<std::string, std::string> k{table, chain};
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    };
    for (const Chain& c : chains) {
      want(c.table, c.name);
      for (const std::string& e : c.entry_chains) want(c.table, e);
    }
    return keys;
  }

  // Only the chains a call touches (its chains and their entry chains). On nf_tables
  // `iptables -S CHAIN` fetches just that chain, while iptables-save dumps the whole table (about
  // 200 ms at 10,000 rules), so the chains are read by concurrent `-S` processes; legacy
  // iptables always reads the whole table, so one iptables-legacy-save is cheaper there.
  //
  // Which read is cheaper depends on the size of the table: on a small table one iptables-save
  // is one process instead of one per chain. The size seen by the last full read of this
  // network namespace is remembered as a marker file (/run/weft/fw-big-<netns inode>-<family>),
  // written only when the table crosses kBigTable rules, so the choice costs one stat().
  // `complete` (optional) tells whether whole tables were read.
  std::map<std::string, TableState> ReadChains(Family family, std::span<const Chain> chains,
                                               bool* complete) {
    if (complete) *complete = true;
    if (legacy_) return Read(family, TablesOf(chains));
    std::string marker = BigMarker(family);
    bool big = !marker.empty() && access(marker.c_str(), F_OK) == 0;
    if (!big) {
      std::map<std::string, TableState> states = Read(family, TablesOf(chains));
      if (RuleCount(states) > kBigTable && !marker.empty()) {
        try {
          EnsureDir("/run/weft", 0755);
          WriteFileAtomic(marker, "", 0644);
        } catch (const Error&) {
          // only an optimisation, ignoring
        }
      }
      return states;
    }
    if (complete) *complete = false;
    ChainKeys wanted = KeysOf(chains);
    std::vector<std::vector<std::string>> argvs;
    std::string ipt = family == Family::kIPv4 ? "iptables" : "ip6tables";
    for (const auto& [table, chain] : wanted) argvs.push_back({ipt, "-t", table, "-S", chain});
    std::vector<ProcResult> results = RunParallel(argvs);
    std::map<std::string, TableState> states;
    for (size_t i = 0; i < wanted.size(); ++i) {
      const auto& [table, chain] = wanted[i];
      TableState& st = states[table];
      const ProcResult& r = results[i];
      if (r.status != 0) {
        // A missing chain (or table) exits 1 with "No chain/target/match by that name", or on
        // iptables-nft 1.8.9 with "chain `X' in table `nat' is incompatible": absent, as
        // go-iptables' ChainExists treats it.
        if (r.status == 1 && (r.err.find("by that name") != std::string::npos ||
                              r.err.find("is incompatible") != std::string::npos))
          continue;
        throw Error(kInternal, DescribeFailure(argvs[i], r));
      }
      st.chain_order.push_back(chain);
      st.chains[chain];
      size_t pos = 0;
      std::string prefix = "-A " + chain + " ";
      while (pos < r.out.size()) {
        size_t end = r.out.find('\n', pos);
        if (end == std::string::npos) end = r.out.size();
        std::string_view line(r.out.data() + pos, end - pos);
        pos = end + 1;
        if (line.starts_with(prefix)) st.chains[chain].emplace_back(line.substr(prefix.size()));
      }
    }
    return states;
  }

  static constexpr size_t kBigTable = 2000;
  static constexpr size_t kRecordWholeTable = 200;  // rules

  static size_t RuleCount(const std::map<std::string, TableState>& states) {
    size_t n = 0;
    for (const auto& [table, st] : states) {
      for (const auto& [chain, rules] : st.chains) n += rules.size();
    }
    return n;
  }
  static constexpr int kAttempts = 4;  // bound on re-planning one call

  static std::string BigMarker(Family family) {
    struct stat st;
    if (stat("/proc/thread-self/ns/net", &st) != 0) return "";  // this thread's netns
    return "/run/weft/fw-big-" + std::to_string(st.st_ino) +
           (family == Family::kIPv4 ? "-ipv4" : "-ipv6");
  }

  std::map<std::string, TableState> Read(Family family, const std::set<std::string>& tables) {
    std::map<std::string, TableState> states;
    for (const std::string& t : tables) {
      std::vector<std::string> argv{Tool(family, "save"), "-t", t};
      ProcResult r = RunProcess(argv, "");
      if (r.status != 0) throw Error(kInternal, DescribeFailure(argv, r));
      states[t] = ParseSave(r.out, t);
    }
    return states;
  }

  void Apply(Family family, const std::vector<Op>& ops, ProcWatch* watch = nullptr) {
    if (ops.empty()) return;
    std::string script;
    std::string table;
    for (const Op& op : ops) {
      if (op.table != table) {
        if (!table.empty()) script += "COMMIT\n";
        table = op.table;
        script += "*" + table + "\n";
      }
      switch (op.kind) {
        case Op::kNewChain: script += ":" + op.chain + " - [0:0]\n"; break;
        case Op::kAppend: script += "-A " + op.chain + " " + op.rule + "\n"; break;
        case Op::kInsertFirst: script += "-I " + op.chain + " 1 " + op.rule + "\n"; break;
        case Op::kDelete: script += "-D " + op.chain + " " + op.rule + "\n"; break;
        case Op::kFlush: script += "-F " + op.chain + "\n"; break;
        case Op::kDeleteChain: script += "-X " + op.chain + "\n"; break;
      }
    }
    script += "COMMIT\n";
    std::vector<std::string> argv{Tool(family, "restore"), "--noflush", "-w", "5"};
    ProcResult r = RunProcess(argv, script, watch);
    if (r.status == 0) return;
    // iptables-legacy-restore exits 4 when the xtables lock stays busy.
    unsigned code = r.status == 4 && r.err.find("xtables lock") != std::string::npos
                        ? kTryAgainLater
                        : kInternal;
    throw Error(code, DescribeFailure(argv, r), script);
  }

  bool legacy_;
};

}  // namespace

std::unique_ptr<Backend> MakeRestoreBackend(bool legacy) {
  signal(SIGPIPE, SIG_IGN);  // a helper that dies early must not kill the plugin
  return std::make_unique<RestoreBackend>(legacy);
}

}  // namespace cni::fw
