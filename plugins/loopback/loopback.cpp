// loopback ADD/DEL/CHECK; see loopback.h. One netlink socket opened in the pod's namespace does
// all the work (no thread switch beyond the socket() call).
#include "loopback.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>

#include "cni/error.h"
#include "cni/json.h"
#include "cni/net/netlink.h"
#include "cni/net/netns.h"

namespace loopback {
namespace {

using cni::Error;
namespace net = cni::net;

constexpr const char* kLo = "lo";

// The prevResult, parsed and checked as the reference's parseNetConf does before any work.
std::optional<cni::Result> PrevResult(const cni::CallArgs& a) {
  // types.NetConf holds prevResult as a JSON object: anything else fails the config decoding.
  if (auto raw = cni::Field(a.config, "prevResult"); raw && !raw->is_object())
    throw Error(cni::kInternal, "failed to parse network config: json: cannot unmarshal " + cni::GoJsonType(*raw) +
                                    " into Go struct field NetConf.prevResult of type map[string]interface {}");
  try {
    return a.PrevResult();
  } catch (const Error& e) {
    throw Error(cni::kInternal, "failed to parse prevResult: could not parse prevResult: " + e.msg());
  }
}

// The first address of `family` on lo, after checking that every one is a loopback address.
std::optional<cni::IPNet> FirstLoopbackAddr(net::Socket& s, int index, int family) {
  std::optional<cni::IPNet> first;
  for (const net::Addr& ad : s.Addrs(index, family)) {
    if (!ad.addr.ip.IsLoopback())
      throw Error(cni::kInternal, "loopback interface found with non-loopback address \"" + ad.addr.ip.String() + "\"");
    if (!first) first = ad.addr;
  }
  return first;
}

}  // namespace

cni::Result CmdAdd(const cni::CallArgs& a) {
  std::optional<cni::Result> prev = PrevResult(a);
  net::Netns ns = net::Netns::OpenBare(a.netns);
  net::Socket s = net::Socket::OpenIn(ns);
  net::Link lo = s.GetLink(kLo);
  s.SetUp(lo.index);
  std::optional<cni::IPNet> v4 = FirstLoopbackAddr(s, lo.index, AF_INET);
  std::optional<cni::IPNet> v6 = FirstLoopbackAddr(s, lo.index, AF_INET6);
  if (prev) return *prev;  // a chained loopback passes the previous result through

  cni::Result r;
  r.cni_version = a.cni_version;
  cni::Interface lo_if;
  lo_if.name = kLo;
  lo_if.mac = "00:00:00:00:00:00";
  lo_if.sandbox = a.netns;
  r.interfaces.push_back(std::move(lo_if));
  for (const auto& ip : {v4, v6})
    if (ip) r.ips.push_back(cni::IPConfig{0, *ip, std::nullopt});
  return r;
}

void CmdDel(const cni::CallArgs& a) {
  if (a.netns.empty()) return;
  // A namespace that no longer exists has no lo to set down (kubernetes#43014).
  struct stat st {};
  if (::stat(a.netns.c_str(), &st) != 0 && errno == ENOENT) return;
  net::Netns ns = net::Netns::OpenBare(a.netns);
  net::Socket s = net::Socket::OpenIn(ns);
  s.SetUp(s.GetLink(kLo).index, false);
}

void CmdCheck(const cni::CallArgs& a) {
  net::Netns ns = net::Netns::OpenBare(a.netns);
  net::Socket s = net::Socket::OpenIn(ns);
  if (!s.GetLink(kLo).up) throw Error(cni::kInternal, "loopback interface is down");
}

cni::PluginFuncs Funcs() {
  cni::PluginFuncs f;
  f.add = CmdAdd;
  f.del = CmdDel;
  f.check = CmdCheck;
  return f;
}

}  // namespace loopback
