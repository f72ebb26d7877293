// The userspace WireGuard device: wireguard-go, driven over its UAPI socket (see
// cni/net/wireguard.h).
//
// Start: weft binds /var/run/wireguard/<dev>.sock itself (mode 0700, as wireguard-go would) and
// hands the listening socket to `wireguard-go -f <dev>` as WG_UAPI_FD=3, spawned from a thread
// inside the target network namespace, in its own session (a ^C to the agent does not stop the
// data plane). The first `get=1` is answered once wireguard-go serves the device, so readiness
// needs no polling; if it dies first the connection is refused or closed. A socket that already
// answers belongs to a running wireguard-go: it is adopted when its tun link is in our namespace.
//
// Supervision: a thread waits on a pidfd (our child) or on an idle UAPI connection (an adopted
// process; wireguard-go never times one out), and when the process is gone starts a new one,
// replays the configuration the device had accepted (key, port, peers) and tells the caller
// through DeviceSpec::on_restart, since the new tun link has no addresses or routes. The first
// death is restarted at once; restarts back off from 1 s to 30 s while wireguard-go keeps dying
// within 10 s of its restart.
//
// Requests: one connection per request (after an error wireguard-go parses the rest of a set as
// a new operation), bounded by a 10 s deadline; wireguard-go's negative errno replies become a
// DeviceError with the positive errno.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "cni/files.h"
#include "cni/invoke.h"
#include "cni/net/netlink.h"
#include "cni/net/netns.h"
#include "wireguard_impl.h"

extern char** environ;

namespace cni::net::wg {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr const char* kSocketDir = "/var/run/wireguard";

[[noreturn]] void Fail(int err, const std::string& what) {
  throw DeviceError(err, what + ": " + std::strerror(err));
}

/// A connected stream socket to `path`, or the connect errno.
UniqueFd Connect(const std::string& path, int* err) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) Fail(errno, "socket");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    *err = errno;
    return UniqueFd();
  }
  *err = 0;
  return fd;
}

/// Waits until `fd` is ready for `events` or the deadline passes (then ETIMEDOUT).
void WaitFd(int fd, short events, Clock::time_point deadline, const std::string& what) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) Fail(ETIMEDOUT, what);
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r > 0) return;
    if (r < 0 && errno != EINTR) Fail(errno, what);
  }
}

/// One request on a fresh connection; returns the complete reply.
std::string Call(const std::string& path, std::string_view request, const std::string& what) {
  int err = 0;
  UniqueFd fd = Connect(path, &err);
  if (!fd) Fail(err, what + ": connect " + path);
  auto deadline = Clock::now() + kRequestTimeout;
  size_t sent = 0;
  while (sent < request.size()) {
    WaitFd(fd.get(), POLLOUT, deadline, what);
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail(errno, what + ": write " + path);
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[4096];
  while (!uapi::ReplyErrno(reply)) {
    WaitFd(fd.get(), POLLIN, deadline, what);
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail(errno, what + ": read " + path);
    if (n == 0) Fail(ECONNRESET, what + ": wireguard-go closed the connection before replying");
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

class UserspaceDevice final : public Device {
 public:
  UserspaceDevice(const DeviceSpec& spec)
      : name_(spec.name),
        path_(std::string(kSocketDir) + "/" + spec.name + ".sock"),
        exe_(spec.wireguard_go.empty() ? "wireguard-go" : spec.wireguard_go),
        mtu_(spec.mtu),
        on_restart_(spec.on_restart),
        netns_(spec.netns ? Netns::Open("/proc/self/fd/" + std::to_string(spec.netns->fd()))
                          : Netns::Current()),
        stop_(::eventfd(0, EFD_CLOEXEC)) {
    if (!stop_) Fail(errno, "eventfd");
  }

  ~UserspaceDevice() override {
    uint64_t one = 1;
    if (::write(stop_.get(), &one, sizeof one) < 0) std::terminate();
    if (supervisor_.joinable()) supervisor_.join();
  }

  Backend backend() const override { return Backend::kUserspace; }
  const std::string& name() const override { return name_; }

  void Configure(const Config& c) override {
    std::lock_guard lock(mu_);
    ConfigureLocked(c);
  }

  DeviceState Get() override {
    return uapi::ParseGet(Call(path_, uapi::RenderGet(), "wireguard-go " + name_));
  }

  /// Adopts a running wireguard-go or starts one; then starts the supervisor.
  void Start(bool link_exists) {
    std::lock_guard lock(mu_);
    if (!Adopt()) {
      if (link_exists)
        throw Error(kInternal, "\"" + name_ + "\" is a tun device, but no wireguard-go answers on " +
                                   path_ + "; not touching it");
      Spawn();
    }
    state_ = Get();
    supervisor_ = std::thread([this] { Supervise(); });
  }

 private:
  void ConfigureLocked(Config c) {
    // wireguard-go rebinds its sockets on every listen_port line, even an unchanged one.
    if (c.listen_port && *c.listen_port == state_.listen_port) c.listen_port.reset();
    std::string reply = Call(path_, uapi::RenderSet(c), "wireguard-go " + name_);
    int err = *uapi::ReplyErrno(reply);
    if (err)
      throw DeviceError(err, "wireguard-go " + name_ + ": set: errno=" + std::to_string(err) + " (" +
                                 std::strerror(err) + ")");
    state_ = Apply(std::move(state_), c);
  }

  /// True when a wireguard-go already serves the socket (and its link is in our namespace).
  bool Adopt() {
    int err = 0;
    UniqueFd c = Connect(path_, &err);
    if (!c) {
      if (err == ECONNREFUSED) ::unlink(path_.c_str());  // stale: its process is gone
      else if (err != ENOENT) Fail(err, "connect " + path_);
      return false;
    }
    // The socket path is per mount namespace, not per network namespace: a same-named device in
    // another network namespace must not be taken over.
    if (!Socket::OpenIn(netns_).FindLink(name_))
      throw Error(kInternal, path_ + " belongs to a wireguard-go whose device \"" + name_ +
                                 "\" is in another network namespace");
    watch_ = std::move(c);
    child_ = -1;
    pidfd_ = UniqueFd();
    return true;
  }

  void Spawn() {
    std::string exe;
    if (exe_.find('/') != std::string::npos) {
      exe = exe_;
    } else {
      try {
        const char* p = std::getenv("PATH");
        exe = FindInPath(exe_, p ? p : "/usr/local/bin:/usr/bin:/bin");
      } catch (const Error&) {
        throw Error(kInternal, "\"" + exe_ + "\" not found on $PATH: the userspace WireGuard device needs "
                               "wireguard-go (install it, or pass --wireguard-go=PATH)");
      }
    }
    EnsureDir(kSocketDir, 0755);
    UniqueFd ls(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!ls) Fail(errno, "socket");
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path_.c_str(), sizeof sa.sun_path - 1);
    if (::bind(ls.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) Fail(errno, "bind " + path_);
    ::chmod(path_.c_str(), 0700);
    if (::listen(ls.get(), 16) != 0) Fail(errno, "listen " + path_);

    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string_view v(*e);
      if (!v.starts_with("WG_TUN_FD=") && !v.starts_with("WG_UAPI_FD=") &&
          !v.starts_with("WG_PROCESS_FOREGROUND="))
        env.emplace_back(v);
    }
    env.emplace_back("WG_UAPI_FD=3");
    env.emplace_back("WG_PROCESS_FOREGROUND=1");
    std::vector<char*> cenv;
    for (std::string& s : env) cenv.push_back(s.data());
    cenv.push_back(nullptr);
    std::string a0 = exe, a1 = "-f", a2 = name_;
    char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, ls.get(), 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGHUP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc;
    {
      // The child inherits the namespaces of the calling thread: wireguard-go's tun is created
      // in the target namespace.
      NetnsGuard g(netns_);
      rc = posix_spawn(&pid, exe.c_str(), &fa, &attr, argv, cenv.data());
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      ::unlink(path_.c_str());
      Fail(rc, "start " + exe);
    }
    ls = UniqueFd();  // only the child holds the listener: its death refuses our connects
    child_ = pid;
    // glibc 2.36's <sys/pidfd.h> lacks extern "C": call the system call directly.
    pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd_) Fail(errno, "pidfd_open");
    watch_ = UniqueFd();
    try {
      Get();  // answered once wireguard-go serves the device
    } catch (const DeviceError& e) {
      throw DeviceError(e.err(), exe + " " + name_ + " did not start (" + ExitText() + "): " + e.msg());
    }
    Socket rt = Socket::OpenIn(netns_);
    std::optional<Link> l = rt.FindLink(name_);
    if (!l) throw Error(kInternal, exe + " runs but its device \"" + name_ + "\" is not in the target namespace");
    if (mtu_ && l->mtu != mtu_) rt.SetMtu(l->index, mtu_);
  }

  /// How our child ended, reaping it ("exit status 1", "killed by signal 9"); "running" when it
  /// has not ended yet.
  std::string ExitText() {
    if (child_ <= 0) return "not our child";
    if (pidfd_) {
      pollfd p{pidfd_.get(), POLLIN, 0};
      ::poll(&p, 1, 2000);  // it is exiting: bounded wait for the zombie
    }
    int st = 0;
    pid_t r = ::waitpid(child_, &st, WNOHANG);
    if (r != child_) return "running";
    child_ = -1;
    if (WIFEXITED(st)) return "exit status " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(st));
    return "ended";
  }

  /// Waits for the stop event or the process's end; true when it ended.
  bool WaitForEnd(std::chrono::milliseconds timeout) {
    pollfd p[2] = {{stop_.get(), POLLIN, 0}, {pidfd_ ? pidfd_.get() : watch_.get(), POLLIN, 0}};
    int n = p[1].fd >= 0 ? 2 : 1;
    for (;;) {
      int r = ::poll(p, static_cast<nfds_t>(n), static_cast<int>(timeout.count()));
      if (r < 0 && errno == EINTR) continue;
      if (p[0].revents) return false;
      return r > 0;
    }
  }

  bool Stopping() {
    pollfd p{stop_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  void Supervise() {
    auto started = Clock::now();
    std::chrono::milliseconds backoff{0};
    unsigned restarts = 0;  // restarts made by this supervisor
    for (;;) {
      if (!WaitForEnd(std::chrono::milliseconds(-1))) return;  // stopped
      std::string why;
      {
        std::lock_guard lock(mu_);
        why = "wireguard-go for \"" + name_ + "\" ended (" + (child_ > 0 ? ExitText() : "adopted process") + ")";
        watch_ = UniqueFd();
        pidfd_ = UniqueFd();
      }
      // The first death is restarted at once; only a process that dies again within 10 s of
      // its restart waits, 1 s doubling to 30 s, so a crash loop cannot spin.
      const bool quick = restarts > 0 && Clock::now() - started < std::chrono::seconds(10);
      backoff = quick ? std::min(std::max(backoff * 2, std::chrono::milliseconds(1000)),
                                 std::chrono::milliseconds(30000))
                      : std::chrono::milliseconds(0);
      for (;;) {
        if (backoff.count() > 0) {
          pollfd p{stop_.get(), POLLIN, 0};
          if (::poll(&p, 1, static_cast<int>(backoff.count())) > 0) return;
        }
        if (Stopping()) return;
        started = Clock::now();
        try {
          std::lock_guard lock(mu_);
          if (!Adopt()) Spawn();  // Adopt also clears the socket a killed process left behind
          DeviceState want = state_;
          state_ = DeviceState{};
          ConfigureLocked(ConfigFor(want));
        } catch (const std::exception& e) {
          if (on_restart_) on_restart_(why + "; restart failed: " + e.what(), false);
          backoff = std::min(std::max(backoff * 2, std::chrono::milliseconds(1000)),
                             std::chrono::milliseconds(30000));
          continue;
        }
        ++restarts;
        if (on_restart_) on_restart_(why + "; restarted, configuration replayed", true);
        break;
      }
    }
  }

  const std::string name_, path_, exe_;
  const uint32_t mtu_;
  const std::function<void(const std::string&, bool)> on_restart_;
  Netns netns_;
  UniqueFd stop_;
  std::mutex mu_;
  DeviceState state_;  // what the device accepted: replayed after a restart
  pid_t child_ = -1;   // our wireguard-go, -1 when adopted
  UniqueFd pidfd_;     // our child's pidfd
  UniqueFd watch_;     // an idle UAPI connection to an adopted wireguard-go
  std::thread supervisor_;
};

}  // namespace

std::unique_ptr<Device> StartUserspaceDevice(const DeviceSpec& spec, bool link_exists) {
  auto dev = std::make_unique<UserspaceDevice>(spec);
  dev->Start(link_exists);
  return dev;
}

}  // namespace cni::net::wg
