// Conntrack cleanup over ctnetlink (see conntrack.h): one dump of the table (both families at
// once when both are asked for), matching in user space, then one NFCT_Q_DESTROY per stale entry on a second handle (a handle can't be
// re-entered from its own dump callback). ENOENT on destroy (the entry expired meanwhile) is
// not an error.
#include "cni/fw/conntrack.h"

#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <vector>

#include "cni/error.h"

namespace cni::fw {

namespace {

struct HandleCloser {
  void operator()(nfct_handle* h) const { nfct_close(h); }
};
struct CtFree {
  void operator()(nf_conntrack* c) const { nfct_destroy(c); }
};
using HandlePtr = std::unique_ptr<nfct_handle, HandleCloser>;
using CtPtr = std::unique_ptr<nf_conntrack, CtFree>;

struct DumpState {
  std::span<const Family> families;
  std::span<const ProtoPort> targets;
  std::vector<CtPtr> matches;
};

int OnEntry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* st = static_cast<DumpState*>(data);
  uint8_t l3 = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
  Family f = l3 == AF_INET6 ? Family::kIPv6 : Family::kIPv4;
  if (l3 != AF_INET && l3 != AF_INET6) return NFCT_CB_CONTINUE;
  if (std::find(st->families.begin(), st->families.end(), f) == st->families.end())
    return NFCT_CB_CONTINUE;
  uint8_t proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
  uint16_t dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
  for (const ProtoPort& t : st->targets) {
    if (t.proto == proto && t.port == dport) {
      st->matches.emplace_back(nfct_clone(ct));
      break;
    }
  }
  return NFCT_CB_CONTINUE;
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
  HandlePtr dump(nfct_open(CONNTRACK, 0));
  if (!dump) throw Error::Errno(errno, "open conntrack netlink socket");
  DumpState st{families, targets, {}};
  nfct_callback_register(dump.get(), NFCT_T_ALL, OnEntry, &st);
  bool v4 = std::find(families.begin(), families.end(), Family::kIPv4) != families.end();
  bool v6 = std::find(families.begin(), families.end(), Family::kIPv6) != families.end();
  uint32_t af = v4 && v6 ? AF_UNSPEC : v6 ? AF_INET6 : AF_INET;
  if (nfct_query(dump.get(), NFCT_Q_DUMP, &af) < 0)
    throw Error::Errno(errno, "dump conntrack table");
  int deleted = 0;
  for (const CtPtr& ct : st.matches) {
    if (nfct_query(dump.get(), NFCT_Q_DESTROY, ct.get()) == 0) {
      ++deleted;
    } else if (errno != ENOENT) {
      throw Error::Errno(errno, "delete conntrack entry");
    }
  }
  return deleted;
}

}  // namespace cni::fw
