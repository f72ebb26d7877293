// tuning ADD/DEL/CHECK; see tuning.h. Link changes go through one netlink socket opened in the
// pod's namespace; sysctls are written under a NetnsGuard (/proc/sys/net is per namespace).
#include "tuning.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "cni/error.h"
#include "cni/files.h"
#include "cni/net/netlink.h"
#include "cni/net/netns.h"

namespace tuning {
namespace {

using cni::Error;
using cni::Json;
namespace net = cni::net;

[[noreturn]] void Fail(std::string msg) { throw Error(cni::kInternal, std::move(msg)); }

// The reference returns the kernel's errno from its netlink setters as is ("invalid argument").
template <typename Fn>
void Kernel(Fn&& fn) {
  try {
    fn();
  } catch (const net::NetlinkError& e) {
    Fail(cni::GoErrno(e.err()));
  }
}

net::Link GetLink(net::Socket& s, const std::string& ifname) {
  auto l = s.FindLink(ifname);
  if (!l) Fail("failed to get \"" + ifname + "\": Link not found");
  return *l;
}

net::Mac ParseMac(const std::string& s) {
  auto m = net::Mac::Parse(s);
  if (!m) Fail("invalid args " + s + " for MAC addr: address " + s + ": invalid MAC address");
  return *m;
}

void WriteSysctlFile(const std::string& path, const std::string& value) {
  cni::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) Fail("open " + path + ": " + cni::GoErrno(errno));
  ssize_t n;
  do n = ::write(fd.get(), value.data(), value.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) Fail("write " + path + ": " + cni::GoErrno(errno));
}

std::string ReadSysctlFile(const std::string& path) {
  cni::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) Fail("open " + path + ": " + cni::GoErrno(errno));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail("read " + path + ": " + cni::GoErrno(errno));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// What ADD is about to change, as it is now (the reference's configToRestore).
Json Backup(const Conf& c, const net::Link& l) {
  Json j = Json::object();
  if (!c.mac.empty() && l.mac) j["mac"] = l.mac->String();
  if (c.promisc) j["promisc"] = l.promisc;
  if (c.mtu != 0 && l.mtu != 0) j["mtu"] = l.mtu;
  if (c.allmulti) j["allmulti"] = l.allmulti;
  if (c.txqlen) j["txQLen"] = l.txqlen;
  return j;
}

// The reference's prevResult handling: required on ADD and CHECK, parse errors returned as is.
cni::Result RequirePrev(const cni::CallArgs& a) {
  if (!cni::Field(a.config, "prevResult")) Fail("Required prevResult missing");
  try {
    return *a.PrevResult();
  } catch (const Error& e) {
    Fail("could not parse prevResult: " + e.msg());
  }
}

// ADD and CHECK refuse duplicated sysctl keys first (the reference since v1.2.0); DEL does not.
Conf Load(const cni::CallArgs& a, bool add_checks) {
  if (add_checks) CheckDuplicateSysctls(a.stdin_data);
  return ParseConf(a.config, a.args);
}

}  // namespace

std::string StatePath(const Conf& c, const std::string& container_id, const std::string& ifname) {
  return c.data_dir + "/" + container_id + "_" + ifname + ".json";
}

cni::Result CmdAdd(const cni::CallArgs& a) {
  Conf c = Load(a, true);
  CheckAllowlist(c);
  cni::Result result = RequirePrev(a);
  // Everything that can be refused is refused before the first change (the reference writes
  // the sysctls and the state file before it looks at the MAC).
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& [key, value] : c.sysctls) files.emplace_back(SysctlPath(key, a.ifname), value);
  std::optional<net::Mac> mac;
  if (!c.mac.empty()) mac = ParseMac(c.mac);

  net::Netns ns = net::Netns::OpenBare(a.netns);
  {
    net::NetnsGuard in(ns);
    for (const auto& [path, value] : files) WriteSysctlFile(path, value);
  }
  if (!c.ChangesLink()) return result;

  net::Socket s = net::Socket::OpenIn(ns);
  net::Link l = GetLink(s, a.ifname);
  try {
    cni::EnsureDir(c.data_dir, 0600);  // the reference's mode (root can still enter it)
  } catch (const Error& e) {
    Fail("failed to create backup directory: " + e.msg());
  }
  try {
    // No fsync: the file describes an interface of a namespace, which a power cut ends too.
    cni::WriteFileAtomic(StatePath(c, a.container_id, a.ifname), Backup(c, l).dump(1), 0600,
                         cni::Durability::kVolatile);
  } catch (const Error& e) {
    Fail("failed to save file " + a.ifname + ".json: " + e.msg());
  }
  if (mac) {
    Kernel([&] { s.SetMac(l.index, *mac); });
    for (cni::Interface& i : result.interfaces)
      if (i.name == a.ifname) i.mac = c.mac;
  }
  if (c.promisc) Kernel([&] { s.SetPromisc(l.index, true); });
  if (c.mtu != 0) Kernel([&] { s.SetMtu(l.index, static_cast<uint32_t>(c.mtu)); });
  if (c.allmulti) Kernel([&] { s.SetAllmulti(l.index, *c.allmulti); });
  if (c.txqlen) Kernel([&] { s.SetTxQLen(l.index, static_cast<uint32_t>(*c.txqlen)); });
  return result;
}

void CmdDel(const cni::CallArgs& a) {
  Conf c = Load(a, false);
  const std::string path = StatePath(c, a.container_id, a.ifname);
  std::optional<std::string> text = cni::ReadFile(path);
  if (!text) return;  // nothing was changed, or it was restored already
  Json saved;
  try {
    saved = cni::ParseJson(*text);
  } catch (const Error&) {
    return;  // as the reference: an unreadable file is left alone
  }
  // The namespace or the interface is gone: there is nothing left to restore, and the file would
  // stay forever (the reference leaves it).
  struct stat st {};
  if (a.netns.empty() || (::stat(a.netns.c_str(), &st) != 0 && errno == ENOENT)) {
    ::unlink(path.c_str());
    return;
  }
  // Restore failures do not fail the DEL (the reference ignores them); the file stays, so that
  // a later DEL can try again.
  try {
    net::Netns ns = net::Netns::OpenBare(a.netns);
    net::Socket s = net::Socket::OpenIn(ns);
    auto l = s.FindLink(a.ifname);
    if (!l) {
      ::unlink(path.c_str());
      return;
    }
    cni::Decoder d(saved, "configToRestore");
    cni::ErrorList errs;
    auto step = [&](const char* what, auto&& fn) {
      try {
        Kernel(fn);
      } catch (const Error& e) {
        errs.Add(Error(cni::kInternal, std::string("failed to restore ") + what + ": " + e.msg()));
      }
    };
    if (auto mtu = d.Int("mtu"); mtu && *mtu != 0)
      step("MTU", [&] { s.SetMtu(l->index, static_cast<uint32_t>(*mtu)); });
    if (auto mac = d.String("mac"); mac && !mac->empty()) step("MAC address", [&] { s.SetMac(l->index, ParseMac(*mac)); });
    if (auto p = d.Bool("promisc")) step("promiscuous mode", [&] { s.SetPromisc(l->index, *p); });
    if (auto m = d.Bool("allmulti")) step("all-multicast mode", [&] { s.SetAllmulti(l->index, *m); });
    if (auto q = d.Int("txQLen")) step("transmit queue length", [&] { s.SetTxQLen(l->index, static_cast<uint32_t>(*q)); });
    errs.ThrowIfAny();
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      Fail("failed to remove file " + path + ": " + cni::GoErrno(errno));
  } catch (const Error& e) {
    std::cerr << "tuning: " << e.msg() << "\n";
  }
}

void CmdCheck(const cni::CallArgs& a) {
  Conf c = Load(a, true);
  RequirePrev(a);
  net::Netns ns = net::Netns::OpenBare(a.netns);
  {
    net::NetnsGuard in(ns);
    for (const auto& [key, want] : c.sysctls) {
      std::string path = SysctlPath(key, a.ifname);
      std::string cur = ReadSysctlFile(path);
      if (cur != want)
        Fail("Error: Tuning configured value of " + path + " is " + want + ", current value is " + cur);
    }
  }
  net::Socket s = net::Socket::OpenIn(ns);
  auto l = s.FindLink(a.ifname);
  if (!l) Fail("Cannot find container link " + a.ifname);
  const std::string cur_mac = l->mac ? l->mac->String() : "";
  if (!c.mac.empty() && ParseMac(c.mac) != l->mac.value_or(net::Mac{}))
    Fail("Error: Tuning configured Ethernet of " + a.ifname + " is " + c.mac + ", current value is " + cur_mac);
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  if (c.promisc != l->promisc)
    Fail("Error: Tuning link " + a.ifname + " configured promisc is " + b(c.promisc) + ", current value is " +
         (l->promisc ? "1" : "0"));
  if (c.mtu != 0 && c.mtu != l->mtu)
    Fail("Error: Tuning configured MTU of " + a.ifname + " is " + std::to_string(c.mtu) + ", current value is " +
         std::to_string(l->mtu));
  if (c.allmulti && *c.allmulti != l->allmulti)
    Fail("Error: Tuning configured all-multicast mode of " + a.ifname + " is " + b(*c.allmulti) +
         ", current value is " + b(l->allmulti));
  if (c.txqlen && *c.txqlen != l->txqlen)
    Fail("Error: Tuning configured Transmit Queue Length of " + a.ifname + " is " + std::to_string(*c.txqlen) +
         ", current value is " + std::to_string(l->txqlen));
}

cni::PluginFuncs Funcs() {
  cni::PluginFuncs f;
  f.add = CmdAdd;
  f.del = CmdDel;
  f.check = CmdCheck;
  return f;
}

}  // namespace tuning
