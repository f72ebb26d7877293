// Network namespaces: a Netns is an open fd on a namespace that was verified to really be a
// network namespace (nsfs + NS_GET_NSTYPE), and NetnsGuard switches the *calling thread* into one
// and always switches it back. Switching is the exception (sysctl writes, opening a netlink
// socket); everything else takes an explicit net::Socket bound to a namespace (netlink.h).
#pragma once

#include <string>
#include <string_view>

namespace cni::net {

class Netns {
 public:
  /// Opens `path` (e.g. /var/run/netns/x, /proc/<pid>/ns/net). Throws cni::Error (999) with the
  /// reference's (pkg/ns) text: `failed to open netns "x": failed to Statfs "x": no such file or
  /// directory`, `... unknown FS magic on "x": 9fa0`, `... "x" is not a network namespace`.
  static Netns Open(std::string_view path);
  /// The same checks with pkg/ns.GetNS's own text, without the "failed to open netns" context:
  /// what ns.WithNetNSPath returns in the plugins that call it directly (loopback, tuning).
  static Netns OpenBare(std::string_view path);
  /// The namespace of the calling thread (/proc/thread-self/ns/net).
  static Netns Current();

  Netns(Netns&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  Netns& operator=(Netns&& o) noexcept;
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  ~Netns();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  /// Device and inode of the namespace: two Netns are the same namespace when these are equal.
  std::pair<unsigned long, unsigned long> Id() const;
  bool SameAs(const Netns& o) const { return Id() == o.Id(); }

 private:
  Netns(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  static Netns OpenChecked(std::string_view path, bool wrap);
  int fd_ = -1;
  std::string path_;
};

/// Switches the calling thread into `ns` for the guard's lifetime. The destructor switches back
/// and calls std::terminate() if it cannot (the thread would otherwise run on in a foreign
/// namespace). Not copyable or movable; never hold it across threads.
class NetnsGuard {
 public:
  explicit NetnsGuard(const Netns& ns);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int orig_fd_ = -1;
};

}  // namespace cni::net
