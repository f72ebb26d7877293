// See gencache.h.
#include "gencache.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace cni::fw {

NftGeneration::NftGeneration() {
  if (!sock_.ok()) return;
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (getsockopt(sock_.fd(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) == 0 && len == sizeof cookie)
    cookie_ = cookie;
  struct stat st;
  if (stat("/proc/thread-self/ns/net", &st) == 0) ino_ = st.st_ino;  // this thread's namespace
}

namespace {

constexpr uint16_t NftMsg(int msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }

uint8_t NfProto(Family family) { return family == Family::kIPv4 ? NFPROTO_IPV4 : NFPROTO_IPV6; }

// FNV-1a, 64 bits.
void Mix(uint64_t& h, const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ULL;
}

}  // namespace

std::optional<uint32_t> NftGeneration::Get() {
  std::optional<uint32_t> id;
  NfnlRequest req(NftMsg(NFT_MSG_GETGEN), 0, AF_UNSPEC);
  int rc = sock_.Ask(req, [&](const nlmsghdr& nh) {
    if (nh.nlmsg_type != NftMsg(NFT_MSG_NEWGEN)) return false;
    ForEachAttr(nh, [&](uint16_t type, const char* p, size_t len) {
      uint32_t v;
      if (type != NFTA_GEN_ID || len < 4) return;
      std::memcpy(&v, p, 4);
      id = ntohl(v);
    });
    return true;
  });
  return rc == 0 ? id : std::nullopt;
}

std::optional<bool> NftGeneration::HasChain(Family family, std::string_view table,
                                            std::string_view chain) {
  NfnlRequest req(NftMsg(NFT_MSG_GETCHAIN), 0, NfProto(family));
  req.PutString(NFTA_CHAIN_TABLE, table).PutString(NFTA_CHAIN_NAME, chain);
  bool found = false;
  int rc = sock_.Ask(req, [&](const nlmsghdr& nh) {
    found = nh.nlmsg_type == NftMsg(NFT_MSG_NEWCHAIN);
    return found;
  });
  if (rc == ENOENT) return false;
  if (rc != 0 || !found) return std::nullopt;
  return true;
}

std::optional<uint64_t> NftGeneration::Print(Family family, std::string_view table,
                                             std::string_view chain, uint32_t genid, bool* stamped) {
  if (stamped) *stamped = false;
  NfnlRequest req(NftMsg(NFT_MSG_GETRULE), NLM_F_DUMP, NfProto(family));
  req.PutString(NFTA_RULE_TABLE, table).PutString(NFTA_RULE_CHAIN, chain);
  uint64_t h = 0xcbf29ce484222325ULL;
  int rc = sock_.Ask(req, [&](const nlmsghdr& nh) {
    if (nh.nlmsg_type != NftMsg(NFT_MSG_NEWRULE)) return false;
    // Every dump message carries the low 16 bits of the generation it was served from.
    if (ntohs(NfgenOf(nh).res_id) != (genid & 0xffff)) return false;
    if (stamped) *stamped = true;
    Mix(h, "\n", 1);  // rule separator
    ForEachAttr(nh, [&](uint16_t type, const char* p, size_t len) {
      if (type == NFTA_RULE_USERDATA || type == NFTA_RULE_COMPAT) {
        Mix(h, reinterpret_cast<const char*>(&type), sizeof type);
        Mix(h, p, len);
      } else if (type == NFTA_RULE_EXPRESSIONS) {
        ForEachAttr(p, len, [&](uint16_t, const char* ep, size_t elen) {  // NFTA_LIST_ELEM
          // A counter's packets and bytes change with traffic, not with the rule.
          bool counter = false;
          ForEachAttr(ep, elen, [&](uint16_t t, const char* v, size_t vlen) {
            if (t == NFTA_EXPR_NAME) counter = std::string_view(v, vlen).starts_with("counter");
          });
          if (counter)
            Mix(h, "counter", 7);
          else
            Mix(h, ep, elen);
          Mix(h, "\0", 1);
        });
      }
    });
    return true;
  });
  if (rc != 0) return std::nullopt;
  return h;
}

CommitWatch::CommitWatch() {
  fd_ = UniqueFd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER));
  if (!fd_) return;
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = 1u << (NFNLGRP_NFTABLES - 1);
  int big = 1 << 20;  // a batch announces each of its rules too; room for a few thousand
  setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fd_ = UniqueFd();
}

bool CommitWatch::Drain(pid_t pid, std::optional<uint32_t>* genid) {
  if (!fd_) return true;
  alignas(nlmsghdr) char buf[65536];
  for (;;) {
    ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (n <= 0) return true;  // ENOBUFS: events were lost, the commit may be among them
    size_t left = static_cast<size_t>(n);
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left)) {
      if (nh->nlmsg_type != NftMsg(NFT_MSG_NEWGEN)) continue;
      std::optional<uint32_t> id, proc;
      ForEachAttr(*nh, [&](uint16_t type, const char* p, size_t len) {
        uint32_t v;
        if ((type != NFTA_GEN_ID && type != NFTA_GEN_PROC_PID) || len < 4) return;
        std::memcpy(&v, p, 4);
        (type == NFTA_GEN_ID ? id : proc) = ntohl(v);
      });
      if (id && proc && *proc == static_cast<uint32_t>(pid)) {
        *genid = id;
        return true;
      }
    }
  }
}

std::string StateCachePath(uint64_t netns_inode) {
  return "/run/weft/fw-nft-" + std::to_string(netns_inode);
}

// Format: "weft-fw-state 1", "cookie N", "genid N", then per table "table <family> <name> <complete>"
// followed by "chain <name>" + "rule <text>" lines, "absent <name>" and "print <name> <hex digest>"
// lines, and "end".
std::string StateCache::Serialize() const {
  if (!genid) return "";
  std::string out = "weft-fw-state 1\ncookie " + std::to_string(cookie) + "\ngenid " +
                    std::to_string(*genid) + "\n";
  for (const auto& [key, t] : tables) {
    out += "table " + std::to_string(key.first) + " " + key.second + " " + (t.complete ? "1" : "0") +
           "\n";
    for (const auto& [chain, rules] : t.chains) {
      out += "chain " + chain + "\n";
      for (const std::string& r : rules) out += "rule " + r + "\n";
    }
    for (const std::string& a : t.absent) out += "absent " + a + "\n";
    for (const auto& [chain, print] : t.prints) {
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(print));
      out += "print " + chain + " " + hex + "\n";
    }
  }
  return out + "end\n";
}

StateCache StateCache::Parse(std::string_view text) {
  StateCache c;
  Table* table = nullptr;
  std::vector<std::string>* chain = nullptr;
  bool header = false, ended = false;
  size_t pos = 0;
  while (pos < text.size() && !ended) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) return {};  // cut short
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t sp = line.find(' ');
    std::string_view word = line.substr(0, sp);
    std::string rest(sp == std::string_view::npos ? "" : line.substr(sp + 1));
    if (!header) {
      if (line != "weft-fw-state 1") return {};
      header = true;
    } else if (word == "cookie") {
      char* e = nullptr;
      c.cookie = std::strtoull(rest.c_str(), &e, 10);
      if (rest.empty() || *e) return {};
    } else if (word == "genid") {
      char* e = nullptr;
      unsigned long v = std::strtoul(rest.c_str(), &e, 10);
      if (rest.empty() || *e || v > UINT32_MAX) return {};
      c.genid = static_cast<uint32_t>(v);
    } else if (word == "table") {
      int fam = 0, complete = 0;
      char name[64];
      if (std::sscanf(rest.c_str(), "%d %63s %d", &fam, name, &complete) != 3) return {};
      table = &c.tables[{fam, name}];
      table->complete = complete == 1;
      chain = nullptr;
    } else if (word == "chain" && table) {
      chain = &table->chains[rest];
    } else if (word == "rule" && chain) {
      chain->push_back(rest);
    } else if (word == "absent" && table) {
      table->absent.insert(rest);
      chain = nullptr;
    } else if (word == "print" && table) {
      size_t at = rest.rfind(' ');
      if (at == std::string::npos || rest.size() - at != 17) return {};
      char* e = nullptr;
      uint64_t v = std::strtoull(rest.c_str() + at + 1, &e, 16);
      if (*e) return {};
      table->prints[rest.substr(0, at)] = v;
      chain = nullptr;
    } else if (line == "end") {
      ended = true;
    } else {
      return {};
    }
  }
  if (!ended || !c.genid) return {};
  return c;
}

bool StateCache::Lookup(Family family, const ChainKeys& keys,
                        std::map<std::string, TableState>& out) const {
  std::map<std::string, TableState> states;
  for (const auto& [table, chain] : keys) {
    auto t = tables.find({static_cast<int>(family), table});
    if (t == tables.end()) return false;
    TableState& st = states[table];
    auto c = t->second.chains.find(chain);
    if (c != t->second.chains.end()) {
      if (!st.Has(chain)) {
        st.chain_order.push_back(chain);
        st.chains[chain] = c->second;
      }
    } else if (!t->second.complete && !t->second.absent.count(chain)) {
      return false;
    }
  }
  out = std::move(states);
  return true;
}

namespace {

// Only this call's absent chains stay: every container's chain that was ever deleted would
// otherwise stay recorded as absent (by a read or by Refresh), and the record, parsed and
// rewritten by every call, grow by two lines per pod, per family, for the life of the node (480
// lines, 4 M of a 6.2 M-instruction ADD, on the live bench node). A chain not recorded costs one
// NFT_MSG_GETCHAIN when it is wanted again.
void KeepAbsentOf(StateCache& cache, Family family, const ChainKeys& keys) {
  for (const auto& key : keys) {
    const std::string& table = key.first;  // a named variable: clang 14 cannot capture a binding
    auto t = cache.tables.find({static_cast<int>(family), table});
    if (t == cache.tables.end()) continue;
    std::erase_if(t->second.absent, [&](const std::string& name) {
      return std::find(keys.begin(), keys.end(), std::pair<std::string, std::string>{table, name}) == keys.end();
    });
  }
}

}  // namespace

void StateCache::Store(Family family, const ChainKeys& keys,
                       const std::map<std::string, TableState>& states, bool complete) {
  if (complete) {
    for (const auto& [table, st] : states) {
      Table& t = tables[{static_cast<int>(family), table}];
      t = Table{};
      t.complete = true;
      for (const auto& [chain, rules] : st.chains) t.chains[chain] = rules;
    }
  }
  for (const auto& [table, chain] : keys) {
    Table& t = tables[{static_cast<int>(family), table}];
    const std::vector<std::string>* rules = nullptr;
    if (auto s = states.find(table); s != states.end()) {
      if (auto r = s->second.chains.find(chain); r != s->second.chains.end()) rules = &r->second;
    }
    if (rules) {
      t.chains[chain] = *rules;
      t.absent.erase(chain);
    } else {
      t.chains.erase(chain);
      t.prints.erase(chain);
      if (!t.complete) t.absent.insert(chain);
    }
  }
  KeepAbsentOf(*this, family, keys);
}

bool Refresh(StateCache& cache, NftGeneration& gen, uint32_t genid, Family family,
             const ChainKeys& keys) {
  const int fam = static_cast<int>(family);
  bool unstamped = false;  // an answer that doesn't say which generation it came from
  if (cache.genid != genid) {
    StateCache now;
    now.cookie = cache.cookie;
    now.genid = genid;
    for (const auto& [table, chain] : keys) {
      auto t = cache.tables.find({fam, table});
      if (t == cache.tables.end()) continue;
      auto c = t->second.chains.find(chain);
      auto p = t->second.prints.find(chain);
      if (c == t->second.chains.end() || p == t->second.prints.end()) continue;
      bool stamped = false;
      if (gen.Print(family, table, chain, genid, &stamped) != p->second) continue;
      unstamped |= !stamped;
      StateCache::Table& nt = now.tables[{fam, table}];
      nt.chains[chain] = c->second;
      nt.prints[chain] = p->second;
    }
    cache = std::move(now);
  }
  for (const auto& [table, chain] : keys) {
    StateCache::Table& t = cache.tables[{fam, table}];
    if (t.complete || t.chains.count(chain) || t.absent.count(chain)) continue;
    unstamped = true;
    std::optional<bool> has = gen.HasChain(family, table, chain);
    if (!has || *has) return false;  // there, but its rules unknown: the caller reads
    t.absent.insert(chain);
  }
  KeepAbsentOf(cache, family, keys);
  // Every kept digest came from a dump served at `genid`; only an unstamped answer (a chain's
  // absence, an empty chain's dump) needs the generation asked again.
  return !unstamped || gen.Get() == genid;
}

void StorePrints(StateCache& cache, NftGeneration& gen, uint32_t genid, Family family,
                 const ChainKeys& keys) {
  std::vector<std::pair<StateCache::Table*, std::string>> done;
  bool unstamped = false;
  for (const auto& [table, chain] : keys) {
    auto t = cache.tables.find({static_cast<int>(family), table});
    if (t == cache.tables.end() || !t->second.chains.count(chain)) continue;
    bool stamped = false;
    if (std::optional<uint64_t> p = gen.Print(family, table, chain, genid, &stamped)) {
      t->second.prints[chain] = *p;
      done.emplace_back(&t->second, chain);
      unstamped |= !stamped;
    } else {
      t->second.prints.erase(chain);
    }
  }
  // A dump with rules is stamped with its generation; an empty one is not, and only then is
  // the generation asked again.
  if (unstamped && gen.Get() != genid) {
    for (auto& [t, chain] : done) t->prints.erase(chain);
  }
}

}  // namespace cni::fw
