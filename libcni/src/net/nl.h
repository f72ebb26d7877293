// Private to libcni/src/net: owning handles for libnl objects (never include outside src/net).
#pragma once

#include <netlink/msg.h>
#include <netlink/socket.h>

#include <functional>
#include <memory>
#include <string>

#include "cni/error.h"
#include "cni/ip.h"
#include "cni/net/netlink.h"

namespace cni::net::nl {

template <auto Fn>
struct Deleter {
  void operator()(auto* p) const { Fn(p); }
};
using SockPtr = std::unique_ptr<nl_sock, Deleter<nl_socket_free>>;
using MsgPtr = std::unique_ptr<nl_msg, Deleter<nlmsg_free>>;
using Handler = std::function<void(nlmsghdr*)>;

// The rtnetlink transport of netlink.cpp, shared by the other files of src/net (tc.cpp).

MsgPtr NewMsg(int type, int flags);
template <typename T>
void Append(nl_msg* m, const T& hdr) {
  if (nlmsg_append(m, const_cast<T*>(&hdr), sizeof hdr, NLMSG_ALIGNTO) < 0)
    throw Error(kInternal, "netlink: message too large");
}
/// Throws for a negative libnl return code.
void Check(int r);
void PutU8(nl_msg* m, int t, uint8_t v);
void PutU16(nl_msg* m, int t, uint16_t v);
void PutU32(nl_msg* m, int t, uint32_t v);
void PutStr(nl_msg* m, int t, const std::string& s);
void PutRaw(nl_msg* m, int t, const void* p, size_t n);
nlattr* Nest(nl_msg* m, int t);
void EndNest(nl_msg* m, nlattr* a);
/// Sends `m` and reads replies until the ACK/DONE; returns 0 or the kernel's errno (EINTR
/// stands for an interrupted dump).
int Transact(nl_sock* sk, nl_msg* m, const Handler* on_msg);
/// A dump, retried while the kernel reports it was interrupted by a concurrent change.
void Dump(nl_sock* sk, const std::function<MsgPtr()>& build, const Handler& on_msg,
          const std::function<void()>& reset, const std::string& what);

}  // namespace cni::net::nl

namespace cni::net {

struct Socket::Impl {
  nl::SockPtr sk;
};

}  // namespace cni::net
