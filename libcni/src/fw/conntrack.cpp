// Conntrack cleanup over ctnetlink (see conntrack.h), in-process on a plain netlink socket: one
// dump of the table (both families at once when both are asked for), matching in user space,
// then one IPCTNL_MSG_CT_DELETE per stale entry, naming it by its original tuple (and zone) as
// the dump gave them. ENOENT on delete (the entry expired meanwhile) is not an error.
#include "cni/fw/conntrack.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "cni/error.h"
#include "nfnl.h"

namespace cni::fw {

namespace {

constexpr uint16_t CtMsg(int msg) { return static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msg); }

// An entry to delete: its family and the attributes that name it.
struct Stale {
  uint8_t family;
  std::string tuple;  // CTA_TUPLE_ORIG's payload
  std::string zone;   // CTA_ZONE's payload, empty when none
};

// Whether an original tuple's protocol and destination port are one of `targets`.
bool Matches(const char* tuple, size_t len, std::span<const ProtoPort> targets) {
  int proto = -1, dport = -1;
  ForEachAttr(tuple, len, [&](uint16_t type, const char* p, size_t plen) {
    if (type != CTA_TUPLE_PROTO) return;
    ForEachAttr(p, plen, [&](uint16_t t, const char* v, size_t vlen) {
      if (t == CTA_PROTO_NUM && vlen >= 1) proto = static_cast<unsigned char>(v[0]);
      if (t == CTA_PROTO_DST_PORT && vlen >= 2) {
        uint16_t port;
        std::memcpy(&port, v, 2);
        dport = ntohs(port);
      }
    });
  });
  return std::any_of(targets.begin(), targets.end(),
                     [&](const ProtoPort& t) { return t.proto == proto && t.port == dport; });
}

// Whether this namespace's conntrack table may hold entries: false when conntrack is not loaded
// or the per-namespace count is 0. Reading the count is far cheaper than a dump.
bool MayHaveEntries() {
  int fd = open("/proc/sys/net/netfilter/nf_conntrack_count", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return true;
  buf[n] = 0;
  return std::strtoul(buf, nullptr, 10) != 0;
}

}  // namespace

int DeleteConntrackByDport(std::span<const Family> families, std::span<const ProtoPort> targets) {
  if (families.empty() || targets.empty() || !MayHaveEntries()) return 0;
  NfnlSocket sock;
  if (!sock.ok()) throw Error::Errno(errno, "open conntrack netlink socket");
  bool v4 = std::find(families.begin(), families.end(), Family::kIPv4) != families.end();
  bool v6 = std::find(families.begin(), families.end(), Family::kIPv6) != families.end();
  uint8_t af = v4 && v6 ? AF_UNSPEC : v6 ? AF_INET6 : AF_INET;
  std::vector<Stale> stale;
  NfnlRequest dump(CtMsg(IPCTNL_MSG_CT_GET), NLM_F_DUMP, af);
  int rc = sock.Ask(dump, [&](const nlmsghdr& nh) {
    uint8_t family = NfgenOf(nh).family;
    if (family != AF_INET && family != AF_INET6) return true;
    if (family == AF_INET ? !v4 : !v6) return true;
    Stale s{family, {}, {}};
    bool match = false;
    ForEachAttr(nh, [&](uint16_t type, const char* p, size_t len) {
      if (type == CTA_TUPLE_ORIG) {
        match = Matches(p, len, targets);
        s.tuple.assign(p, len);
      } else if (type == CTA_ZONE) {
        s.zone.assign(p, len);
      }
    });
    if (match) stale.push_back(std::move(s));
    return true;
  });
  if (rc != 0) throw Error::Errno(rc > 0 ? rc : EIO, "dump conntrack table");
  int deleted = 0;
  for (const Stale& s : stale) {
    NfnlRequest del(CtMsg(IPCTNL_MSG_CT_DELETE), NLM_F_ACK, s.family);
    del.Put(CTA_TUPLE_ORIG | NLA_F_NESTED, s.tuple.data(), s.tuple.size());
    if (!s.zone.empty()) del.Put(CTA_ZONE, s.zone.data(), s.zone.size());
    rc = sock.Ask(del, [](const nlmsghdr&) { return true; });
    if (rc == 0) {
      ++deleted;
    } else if (rc != ENOENT) {
      throw Error::Errno(rc > 0 ? rc : EIO, "delete conntrack entry");
    }
  }
  return deleted;
}

}  // namespace cni::fw
