// See gencache.h.
#include "gencache.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace cni::fw {

NftGeneration::NftGeneration() {
  fd_ = UniqueFd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd_) return;
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (getsockopt(fd_.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) == 0 && len == sizeof cookie)
    cookie_ = cookie;
  struct stat st;
  if (stat("/proc/thread-self/ns/net", &st) == 0) ino_ = st.st_ino;  // this thread's namespace
}

std::optional<uint32_t> NftGeneration::Get() {
  if (!fd_) return std::nullopt;
  struct {
    nlmsghdr nh;
    nfgenmsg g;
  } req{};
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN);
  req.nh.nlmsg_flags = NLM_F_REQUEST;
  req.nh.nlmsg_seq = ++seq_;
  req.g.nfgen_family = AF_UNSPEC;
  req.g.version = NFNETLINK_V0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_.get(), &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) !=
      static_cast<ssize_t>(sizeof req))
    return std::nullopt;
  alignas(nlmsghdr) char buf[8192];
  for (int tries = 0; tries < 8; ++tries) {  // skips stale replies to an earlier request
    ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    size_t left = static_cast<size_t>(n);
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left)) {
      if (nh->nlmsg_seq != seq_) continue;
      if (nh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) return std::nullopt;
      size_t off = NLMSG_LENGTH(sizeof(nfgenmsg));
      while (off + sizeof(nlattr) <= nh->nlmsg_len) {
        nlattr a;
        std::memcpy(&a, reinterpret_cast<char*>(nh) + off, sizeof a);
        if (a.nla_len < sizeof(nlattr) || off + a.nla_len > nh->nlmsg_len) break;
        if ((a.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && a.nla_len >= NLA_HDRLEN + 4) {
          uint32_t id;
          std::memcpy(&id, reinterpret_cast<char*>(nh) + off + NLA_HDRLEN, 4);
          return ntohl(id);
        }
        off += NLA_ALIGN(a.nla_len);
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
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
      if (nh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) continue;
      std::optional<uint32_t> id, proc;
      size_t off = NLMSG_LENGTH(sizeof(nfgenmsg));
      while (off + sizeof(nlattr) <= nh->nlmsg_len) {
        nlattr a;
        std::memcpy(&a, reinterpret_cast<char*>(nh) + off, sizeof a);
        if (a.nla_len < sizeof(nlattr) || off + a.nla_len > nh->nlmsg_len) break;
        uint16_t type = a.nla_type & NLA_TYPE_MASK;
        if ((type == NFTA_GEN_ID || type == NFTA_GEN_PROC_PID) && a.nla_len >= NLA_HDRLEN + 4) {
          uint32_t v;
          std::memcpy(&v, reinterpret_cast<char*>(nh) + off + NLA_HDRLEN, 4);
          (type == NFTA_GEN_ID ? id : proc) = ntohl(v);
        }
        off += NLA_ALIGN(a.nla_len);
      }
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
// followed by "chain <name>" + "rule <text>" lines and "absent <name>" lines, and "end".
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
      if (!t.complete) t.absent.insert(chain);
    }
  }
}

}  // namespace cni::fw
