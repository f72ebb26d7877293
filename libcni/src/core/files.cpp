// State files: crash-safe writes, symlink-safe reads, bounded flock. See files.h.
#include "cni/files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>

#include "cni/error.h"

namespace cni {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void WriteAll(int fd, std::string_view data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t k = ::write(fd, data.data() + done, data.size() - done);
    if (k < 0) {
      if (errno == EINTR) continue;
      throw Error::Errno(errno, "write " + what);
    }
    done += static_cast<size_t>(k);
  }
}

std::string ReadAll(int fd, const std::string& what) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t k = ::read(fd, buf, sizeof buf);
    if (k < 0) {
      if (errno == EINTR) continue;
      throw Error::Errno(errno, "read " + what);
    }
    if (k == 0) return out;
    out.append(buf, static_cast<size_t>(k));
  }
}

void WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode, Durability durability) {
  static std::atomic<unsigned> counter{0};
  std::string dir = DirName(path);
  std::string base = path.substr(path.rfind('/') + 1);
  std::string tmp = dir + "/." + base + ".tmp" + std::to_string(getpid()) + "." + std::to_string(counter++);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) throw Error::Errno(errno, "create " + tmp);
  try {
    if (fchmod(fd.get(), mode) != 0) throw Error::Errno(errno, "chmod " + tmp);
    WriteAll(fd.get(), data, tmp);
    if (durability == Durability::kDurable && fsync(fd.get()) != 0) throw Error::Errno(errno, "fsync " + tmp);
    if (::close(fd.release()) != 0) throw Error::Errno(errno, "close " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw Error::Errno(errno, "rename " + tmp + " to " + path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (durability == Durability::kVolatile) return;
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) fsync(dfd.get());
}

std::optional<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    throw Error::Errno(errno, "open " + path);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) throw Error::Errno(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) throw Error(kInternal, "open " + path + ": not a regular file");
  return ReadAll(fd.get(), path);
}

void EnsureDir(const std::string& path, mode_t mode) {
  if (path.empty()) return;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw Error(kInternal, "mkdir " + path + ": not a directory");
    return;
  }
  std::string parent = DirName(path);
  if (parent != path) EnsureDir(parent, mode);
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) throw Error::Errno(errno, "mkdir " + path);
}

namespace {
// A real-time signal whose handler does nothing: its only job is to interrupt a blocking flock
// with EINTR when the per-thread deadline timer fires.
int LockTimeoutSignal() {
  static const int sig = [] {
    int s = SIGRTMIN + 3;
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: flock must return EINTR
    sigaction(s, &sa, nullptr);
    return s;
  }();
  return sig;
}
}  // namespace

bool FlockWithTimeout(int fd, std::chrono::milliseconds timeout) {
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
  if (errno != EWOULDBLOCK) throw Error::Errno(errno, "flock");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  sigevent sev {};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = LockTimeoutSignal();
  sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));  // sigev_notify_thread_id
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) throw Error::Errno(errno, "timer_create");
  bool locked = false;
  for (;;) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds(0)) break;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    itimerspec its {};
    its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
    its.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
    timer_settime(timer, 0, &its, nullptr);
    if (flock(fd, LOCK_EX) == 0) {
      locked = true;
      break;
    }
    if (errno != EINTR) {
      int saved = errno;
      timer_delete(timer);
      throw Error::Errno(saved, "flock");
    }
  }
  timer_delete(timer);
  return locked;
}

FileLock::FileLock(const std::string& path, mode_t mode, std::chrono::milliseconds timeout) {
  fd_ = UniqueFd(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd_) throw Error::Errno(errno, "open " + path);
  if (!FlockWithTimeout(fd_.get(), timeout)) {
    throw Error(kTryAgainLater, "timed out waiting for lock " + path);
  }
}

FileLock::~FileLock() = default;  // closing the fd releases the flock

}  // namespace cni
