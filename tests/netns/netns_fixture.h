// Throw-away named network namespaces for the netns test tier. TempNetns creates
// /run/netns/<prefix>-<pid>-<n> like `ip netns add` (a helper thread unshares and bind-mounts its
// namespace file), so shell tools can reach it with `ip netns exec`; the destructor unmounts and
// removes it even when the test failed. Nothing here ever touches the root namespace.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "cni/net/netlink.h"
#include "cni/net/netns.h"

namespace weft_test {

class TempNetns {
 public:
  explicit TempNetns(const std::string& prefix = "wt") {
    static std::atomic<int> counter{0};
    name_ = prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    path_ = "/run/netns/" + name_;
    ::mkdir("/run/netns", 0755);
    int fd = ::open(path_.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("create " + path_ + ": " + std::strerror(errno));
    ::close(fd);
    std::string err;
    std::thread t([&] {
      if (::unshare(CLONE_NEWNET) != 0) {
        err = std::string("unshare: ") + std::strerror(errno);
        return;
      }
      if (::mount("/proc/thread-self/ns/net", path_.c_str(), nullptr, MS_BIND, nullptr) != 0)
        err = std::string("bind mount: ") + std::strerror(errno);
    });
    t.join();  // the thread (and its namespace membership) ends; the bind mount keeps the netns
    if (!err.empty()) {
      ::unlink(path_.c_str());
      throw std::runtime_error("create netns " + name_ + ": " + err);
    }
    ns_.emplace(cni::net::Netns::Open(path_));
    // Loopback up, as `ip netns add` users expect.
    cni::net::Socket::OpenIn(*ns_).SetUp(std::string("lo"));
  }
  ~TempNetns() {
    ns_.reset();
    ::umount2(path_.c_str(), MNT_DETACH);
    ::unlink(path_.c_str());
  }
  TempNetns(const TempNetns&) = delete;
  TempNetns& operator=(const TempNetns&) = delete;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  const cni::net::Netns& ns() const { return *ns_; }
  cni::net::Socket Socket() const { return cni::net::Socket::OpenIn(*ns_); }

 private:
  std::string name_, path_;
  std::optional<cni::net::Netns> ns_;
};

}  // namespace weft_test
