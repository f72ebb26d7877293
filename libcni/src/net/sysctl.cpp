// sysctl helpers over /proc/sys (see cni/net/sysctl.h). Plain open/read/write: one syscall each,
// no buffering, so a write error (EINVAL, EPERM) is reported by the write that caused it.
#include "cni/net/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cni/error.h"

namespace cni::net {
namespace {

std::string PathOf(std::string_view name) {
  std::string p = "/proc/sys/";
  bool slashes = name.find('/') != std::string_view::npos;
  for (char c : name) p += (!slashes && c == '.') ? '/' : c;
  return p;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::optional<std::string> FindSysctl(std::string_view name) {
  std::string path = PathOf(name);
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw Error::Errno(errno, "failed to read sysctl \"" + std::string(name) + "\"");
  }
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error::Errno(errno, "failed to read sysctl \"" + std::string(name) + "\"");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string ReadSysctl(std::string_view name) {
  auto v = FindSysctl(name);
  if (!v) throw Error::Errno(ENOENT, "failed to read sysctl \"" + std::string(name) + "\"");
  return *v;
}

void WriteSysctl(std::string_view name, std::string_view value) {
  std::string path = PathOf(name);
  Fd f{::open(path.c_str(), O_WRONLY | O_CLOEXEC)};
  if (f.fd < 0) throw Error::Errno(errno, "failed to set sysctl \"" + std::string(name) + "\"");
  ssize_t n;
  do n = ::write(f.fd, value.data(), value.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) throw Error::Errno(errno, "failed to set sysctl \"" + std::string(name) + "\"");
}

void EnsureSysctl(std::string_view name, std::string_view value) {
  auto cur = FindSysctl(name);
  if (cur && *cur == value) return;
  WriteSysctl(name, value);
}

}  // namespace cni::net
