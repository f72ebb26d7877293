// Private to libcni/src/net: owning handles for libnl objects (never include outside src/net).
#pragma once

#include <netlink/msg.h>
#include <netlink/socket.h>

#include <memory>

namespace cni::net::nl {

template <auto Fn>
struct Deleter {
  void operator()(auto* p) const { Fn(p); }
};
using SockPtr = std::unique_ptr<nl_sock, Deleter<nl_socket_free>>;
using MsgPtr = std::unique_ptr<nl_msg, Deleter<nlmsg_free>>;

}  // namespace cni::net::nl
