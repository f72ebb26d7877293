// See proc.h.
#include "proc.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "cni/error.h"
#include "cni/files.h"

extern char** environ;

namespace cni::fw {

std::string FindCommand(std::string_view name) {
  if (name.find('/') != std::string_view::npos) return std::string(name);
  std::string path = getenv("PATH") ? getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin:/bin";
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(pos, end - pos);
    pos = end + 1;
    if (dir.empty()) continue;
    std::string full = dir + "/" + std::string(name);
    struct stat st;
    if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(full.c_str(), X_OK) == 0)
      return full;
  }
  return "";
}

ProcResult RunProcess(const std::vector<std::string>& argv, std::string_view input,
                      ProcWatch* watch) {
  std::string exe = FindCommand(argv.at(0));
  if (exe.empty()) throw Error(kInternal, "executable file not found in $PATH: " + argv[0]);
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
    throw Error::Errno(errno, "pipe");
  UniqueFd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw Error::Errno(rc, "spawn " + exe);
  in_r = UniqueFd();
  out_w = UniqueFd();
  err_w = UniqueFd();
  ProcResult res;
  size_t written = 0;
  if (input.empty()) in_w = UniqueFd();
  else fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  char buf[65536];
  bool watching = watch && watch->fd >= 0;
  while (out_r || err_r) {
    pollfd fds[4];
    int n = 0;
    if (in_w) fds[n++] = {in_w.get(), POLLOUT, 0};
    if (out_r) fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_r) fds[n++] = {err_r.get(), POLLIN, 0};
    if (watching) fds[n++] = {watch->fd, POLLIN, 0};
    if (poll(fds, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (watching && fds[i].fd == watch->fd) {
        if (watch->on_ready(pid)) watching = false;
      } else if (in_w && fds[i].fd == in_w.get()) {
        ssize_t w = write(in_w.get(), input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) in_w = UniqueFd();
        else if (written == input.size()) in_w = UniqueFd();
      } else {
        UniqueFd& fd = (out_r && fds[i].fd == out_r.get()) ? out_r : err_r;
        ssize_t r = read(fd.get(), buf, sizeof buf);
        if (r > 0) (&fd == &out_r ? res.out : res.err).append(buf, static_cast<size_t>(r));
        else if (r == 0 || (errno != EINTR && errno != EAGAIN)) fd = UniqueFd();
      }
    }
  }
  in_w = UniqueFd();
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  res.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return res;
}

std::vector<ProcResult> RunParallel(const std::vector<std::vector<std::string>>& argvs) {
  struct Child {
    pid_t pid = -1;
    UniqueFd out, err;
  };
  std::vector<Child> children(argvs.size());
  auto slurp = [](int fd) {
    std::string s;
    char buf[65536];
    lseek(fd, 0, SEEK_SET);
    for (ssize_t r; (r = read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<size_t>(r));
    return s;
  };
  for (size_t i = 0; i < argvs.size(); ++i) {
    std::string exe = FindCommand(argvs[i].at(0));
    if (exe.empty()) throw Error(kInternal, "executable file not found in $PATH: " + argvs[i][0]);
    Child& c = children[i];
    c.out = UniqueFd(memfd_create("weft-out", MFD_CLOEXEC));
    c.err = UniqueFd(memfd_create("weft-err", MFD_CLOEXEC));
    if (!c.out || !c.err) throw Error::Errno(errno, "memfd_create");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, c.out.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, c.err.get(), 2);
    std::vector<char*> cargv;
    for (const std::string& a : argvs[i]) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    int rc = posix_spawn(&c.pid, exe.c_str(), &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw Error::Errno(rc, "spawn " + exe);
  }
  std::vector<ProcResult> results(argvs.size());
  for (size_t i = 0; i < children.size(); ++i) {
    int st = 0;
    while (waitpid(children[i].pid, &st, 0) < 0 && errno == EINTR) {
    }
    results[i].status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    results[i].out = slurp(children[i].out.get());
    results[i].err = slurp(children[i].err.get());
  }
  return results;
}

std::string DescribeFailure(const std::vector<std::string>& argv, const ProcResult& r) {
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  std::string err = r.err;
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  return "running [" + cmd + "]: exit status " + std::to_string(r.status) + ": " + err;
}

}  // namespace cni::fw
