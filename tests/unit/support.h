// Helpers the unit tests share: the CallArgs a plugin's command gets for a config, the message of
// the cni::Error a call throws, a free TCP port on 127.0.0.1 for a throw-away server, and a
// temporary directory removed at the end of its scope.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "cni/error.h"
#include "cni/json.h"
#include "cni/skel.h"

namespace weft::test {

/// The arguments of an ADD with `json` on stdin (cniVersion and name taken from it, as skel does).
inline cni::CallArgs Args(const std::string& json, const std::string& ifname = "eth0",
                          const std::string& container_id = "ctr1") {
  cni::CallArgs a;
  a.stdin_data = json;
  a.config = cni::ParseJson(json);
  a.cni_version = a.config.value("cniVersion", "0.1.0");
  a.name = a.config.value("name", "");
  a.ifname = ifname;
  a.container_id = container_id;
  a.command = "ADD";
  return a;
}

/// The message of the cni::Error `fn` throws; "" when it throws none.
inline std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const cni::Error& e) {
    return e.msg();
  }
  return "";
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound, read back, closed).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

/// A fresh directory $TMPDIR/weft-<name>-XXXXXX, removed with its contents at the end of the scope.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name = "unit") {
    std::string tmpl = (std::filesystem::temp_directory_path() / ("weft-" + name + "-XXXXXX")).string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace weft::test
