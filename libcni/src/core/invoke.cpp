// Delegation by exec (libcni's invoke package): see invoke.h. Plugins are started with
// posix_spawn (vfork speed), stdin/stdout/stderr on pipes drained with poll(), and the
// delegate's stderr is passed on to ours after it is captured for error messages.
#include "cni/invoke.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "cni/encoding.h"
#include "cni/error.h"
#include "cni/files.h"

namespace cni {

std::vector<std::string> SplitPath(std::string_view cni_path) {
  std::vector<std::string> dirs;
  size_t start = 0;
  while (start <= cni_path.size()) {
    size_t end = cni_path.find(':', start);
    if (end == std::string_view::npos) end = cni_path.size();
    if (end > start) dirs.emplace_back(cni_path.substr(start, end - start));
    start = end + 1;
  }
  return dirs;
}

namespace {

struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error::Errno(errno, "pipe");
    r = UniqueFd(fds[0]);
    w = UniqueFd(fds[1]);
  }
};

struct Outcome {
  int status = 0;
  std::string out, err;
};

// One run of the plugin; returns nullopt when exec failed with ETXTBSY (retry).
std::optional<Outcome> RunOnce(const std::string& path, const Env& env, std::string_view input) {
  Pipe in, out, err;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out.w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err.w.get(), 2);
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = path;
  char* argv[] = {arg0.data(), nullptr};
  // We ignore SIGPIPE (a delegate may exit without reading stdin); the child gets the default.
  static const bool sigpipe_ignored = [] { return signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)sigpipe_ignored;
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, path.c_str(), &fa, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc == ETXTBSY) return std::nullopt;
  if (rc != 0) throw Error::Errno(rc, "exec " + path);
  in.r = UniqueFd();
  out.w = UniqueFd();
  err.w = UniqueFd();
  fcntl(in.w.get(), F_SETFL, O_NONBLOCK);

  Outcome o;
  size_t written = 0;
  if (input.empty()) in.w = UniqueFd();
  char buf[65536];
  while (out.r || err.r) {
    pollfd p[3];
    nfds_t n = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (in.w) { idx_in = static_cast<int>(n); p[n++] = {in.w.get(), POLLOUT, 0}; }
    if (out.r) { idx_out = static_cast<int>(n); p[n++] = {out.r.get(), POLLIN, 0}; }
    if (err.r) { idx_err = static_cast<int>(n); p[n++] = {err.r.get(), POLLIN, 0}; }
    if (poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      throw Error::Errno(errno, "poll");
    }
    if (idx_in >= 0 && p[idx_in].revents) {
      ssize_t k = write(in.w.get(), input.data() + written, input.size() - written);
      if (k > 0) written += static_cast<size_t>(k);
      if (k < 0 && errno != EAGAIN && errno != EINTR) written = input.size();  // EPIPE: child ignores stdin
      if (written >= input.size()) in.w = UniqueFd();
    }
    auto drain = [&](int idx, UniqueFd& fd, std::string& dst) {
      if (idx < 0 || !p[idx].revents) return;
      ssize_t k = read(fd.get(), buf, sizeof buf);
      if (k > 0) dst.append(buf, static_cast<size_t>(k));
      else if (k == 0 || (errno != EINTR && errno != EAGAIN)) fd = UniqueFd();
    };
    drain(idx_out, out.r, o.out);
    drain(idx_err, err.r, o.err);
  }
  in.w = UniqueFd();
  while (waitpid(pid, &o.status, 0) < 0) {
    if (errno != EINTR) throw Error::Errno(errno, "waitpid");
  }
  return o;
}

}  // namespace

std::string FindInPath(std::string_view plugin, std::string_view cni_path) {
  if (plugin.empty()) throw Error(kInternal, "no plugin name provided");
  if (plugin.find('/') != std::string_view::npos) throw Error(kInternal, "invalid plugin name: " + std::string(plugin));
  std::vector<std::string> dirs = SplitPath(cni_path);
  if (dirs.empty()) throw Error(kInternal, "no paths provided");
  // A NUL would cut the name short and run another plugin ("host-local\0x" -> host-local); Go's
  // stat fails on it, so such a name is never found.
  const bool has_nul = plugin.find('\0') != std::string_view::npos;
  for (const std::string& dir : dirs) {
    std::string full = dir + "/" + std::string(plugin);
    struct stat st {};
    if (!has_nul && stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return full;
  }
  std::string list = "[";
  for (size_t i = 0; i < dirs.size(); ++i) list += (i ? " " : "") + dirs[i];
  throw Error(kInternal, "failed to find plugin \"" + std::string(plugin) + "\" in path " + list + "]");
}

std::string ExecPlugin(const std::string& path, const Env& env, std::string_view stdin_data) {
  std::optional<Outcome> o;
  // A binary being replaced gives ETXTBSY; libcni retries 5 times. This is an error path only.
  for (int attempt = 0; attempt < 5 && !o; ++attempt) {
    o = RunOnce(path, env, stdin_data);
    if (!o) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!o) throw Error::Errno(ETXTBSY, "exec " + path);
  if (!o->err.empty()) {
    ssize_t ignored = write(2, o->err.data(), o->err.size());
    (void)ignored;
  }
  if (WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0) return std::move(o->out);

  std::string how = WIFEXITED(o->status) ? "exit status " + std::to_string(WEXITSTATUS(o->status))
                                         : "signal: " + std::string(strsignal(WTERMSIG(o->status)));
  if (o->out.empty()) {
    if (o->err.empty()) throw Error(kUnknown, "netplugin failed with no error message: " + how);
    throw Error(kUnknown, "netplugin failed: " + GoQuote(o->err));
  }
  Json j;
  try {
    j = Json::parse(o->out);
  } catch (const std::exception& e) {
    throw Error(kUnknown, "netplugin failed but error parsing its diagnostic message " + GoQuote(o->out) + ": " + e.what());
  }
  unsigned code = j.contains("code") && j["code"].is_number_unsigned() ? j["code"].get<unsigned>() : kUnknown;
  std::string msg = j.contains("msg") && j["msg"].is_string() ? j["msg"].get<std::string>() : "";
  std::string details = j.contains("details") && j["details"].is_string() ? j["details"].get<std::string>() : "";
  throw Error(code, msg, details);
}

std::string Delegate(std::string_view type, std::string_view command, const Env& env, std::string_view stdin_data) {
  auto it = env.find("CNI_PATH");
  std::string path = FindInPath(type, it == env.end() ? "" : it->second);
  Env child = env;
  child["CNI_COMMAND"] = std::string(command);
  return ExecPlugin(path, child, stdin_data);
}

Result DelegateAdd(std::string_view type, const Env& env, std::string_view stdin_data, std::string_view version) {
  std::string out = Delegate(type, "ADD", env, stdin_data);
  return Result::FromJson(ParseJson(out, "failed to parse delegate result"), version);
}

}  // namespace cni
