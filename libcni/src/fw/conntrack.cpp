// Conntrack cleanup over ctnetlink (see conntrack.h): one dump of the family's table, matching
// in user space, then one NFCT_Q_DESTROY per stale entry on a second handle (a handle can't be
// re-entered from its own dump callback). ENOENT on destroy (the entry expired meanwhile) is
// not an error.
#include "cni/fw/conntrack.h"

#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
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
  uint8_t proto;
  std::span<const uint16_t> ports;
  std::vector<CtPtr> matches;
};

int OnEntry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* st = static_cast<DumpState*>(data);
  if (nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) != st->proto) return NFCT_CB_CONTINUE;
  uint16_t dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
  if (std::find(st->ports.begin(), st->ports.end(), dport) == st->ports.end())
    return NFCT_CB_CONTINUE;
  st->matches.emplace_back(nfct_clone(ct));
  return NFCT_CB_CONTINUE;
}

}  // namespace

int DeleteConntrackByDport(Family family, uint8_t proto, std::span<const uint16_t> ports) {
  if (ports.empty()) return 0;
  HandlePtr dump(nfct_open(CONNTRACK, 0));
  if (!dump) throw Error::Errno(errno, "open conntrack netlink socket");
  DumpState st{proto, ports, {}};
  nfct_callback_register(dump.get(), NFCT_T_ALL, OnEntry, &st);
  uint32_t af = family == Family::kIPv4 ? AF_INET : AF_INET6;
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
