// Benchmark driver for bench/host-local/run.sh: runs `iterations` ADD+DEL pairs of a fresh
// container id through a CNI IPAM plugin, the way a runtime does (posix_spawn with the CNI
// environment, the config on stdin, stdout collected), and prints the wall time of each pair in
// microseconds, one per line. A failing call aborts with the plugin's output.
// Usage: pair <plugin> <config-file> <id-prefix> <iterations>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int64_t NowUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void Run(const char* plugin, const char* config, const std::string& command, const std::string& id) {
  int in = open(config, O_RDONLY | O_CLOEXEC);
  int out[2];
  if (in < 0 || pipe2(out, O_CLOEXEC) != 0) {
    perror("open/pipe");
    std::exit(2);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<std::string> env = {"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id,
                                  "CNI_NETNS=/var/run/netns/weft-bench-absent", "CNI_IFNAME=eth0",
                                  "CNI_PATH=/nonexistent"};
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>(plugin), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, plugin, &fa, nullptr, argv, envp.data()) != 0) {
    perror("posix_spawn");
    std::exit(2);
  }
  posix_spawn_file_actions_destroy(&fa);
  close(in);
  close(out[1]);
  std::string output;
  char buf[4096];
  for (ssize_t k; (k = read(out[0], buf, sizeof buf)) > 0;) output.append(buf, static_cast<size_t>(k));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s %s %s failed: %s\n", plugin, command.c_str(), id.c_str(), output.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <plugin> <config-file> <id-prefix> <iterations>\n", argv[0]);
    return 2;
  }
  const int n = std::atoi(argv[4]);
  for (int i = 0; i < n; ++i) {
    const std::string id = std::string(argv[3]) + "-" + std::to_string(i);
    const int64_t t0 = NowUs();
    Run(argv[1], argv[2], "ADD", id);
    Run(argv[1], argv[2], "DEL", id);
    std::printf("%lld\n", static_cast<long long>(NowUs() - t0));
  }
  return 0;
}
