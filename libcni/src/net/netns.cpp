// Netns and NetnsGuard (see cni/net/netns.h). The guard saves /proc/thread-self/ns/net, not
// /proc/self/ns/net: after a setns() only this thread moved, which is the lesson of the Go
// plugins' pkg/ns.
#include "cni/net/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "cni/error.h"

namespace cni::net {
namespace {

// pkg/ns.GetNS's text, with the "failed to open netns" context of the plugins that add it.
[[noreturn]] void ThrowOpen(std::string_view path, bool wrap, const std::string& why) {
  if (!wrap) throw Error(kInternal, why);
  throw Error(kInternal, "failed to open netns \"" + std::string(path) + "\": " + why);
}

std::string Hex(unsigned long v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lx", v);
  return buf;
}

}  // namespace

Netns Netns::Open(std::string_view path) { return OpenChecked(path, true); }

Netns Netns::OpenBare(std::string_view path) { return OpenChecked(path, false); }

Netns Netns::OpenChecked(std::string_view path, bool wrap) {
  std::string p(path);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowOpen(path, wrap, "failed to Statfs \"" + p + "\": " + GoErrno(errno));
  struct statfs st {};
  if (::fstatfs(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    ThrowOpen(path, wrap, "failed to Statfs \"" + p + "\": " + GoErrno(err));
  }
  // nsfs on current kernels; PROC_SUPER_MAGIC on old ones that expose ns files in /proc.
  if (static_cast<unsigned long>(st.f_type) != NSFS_MAGIC &&
      static_cast<unsigned long>(st.f_type) != PROC_SUPER_MAGIC) {
    ::close(fd);
    ThrowOpen(path, wrap, "unknown FS magic on \"" + p + "\": " +
                        Hex(static_cast<unsigned long>(st.f_type)));
  }
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type >= 0 && type != CLONE_NEWNET) {
    ::close(fd);
    ThrowOpen(path, wrap, "\"" + p + "\" is not a network namespace");
  }
  return Netns(fd, std::move(p));
}

Netns Netns::Current() { return Open("/proc/thread-self/ns/net"); }

Netns& Netns::operator=(Netns&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

Netns::~Netns() {
  if (fd_ >= 0) ::close(fd_);
}

std::pair<unsigned long, unsigned long> Netns::Id() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw Error::Errno(errno, "stat netns \"" + path_ + "\"");
  return {static_cast<unsigned long>(st.st_dev), static_cast<unsigned long>(st.st_ino)};
}

NetnsGuard::NetnsGuard(const Netns& ns) {
  orig_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (orig_fd_ < 0) throw Error::Errno(errno, "failed to open current netns");
  if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
    int err = errno;
    ::close(orig_fd_);
    throw Error(kInternal, "failed to switch to netns \"" + ns.path() + "\": " + std::strerror(err));
  }
}

NetnsGuard::~NetnsGuard() {
  if (::setns(orig_fd_, CLONE_NEWNET) != 0) std::terminate();
  ::close(orig_fd_);
}

}  // namespace cni::net
