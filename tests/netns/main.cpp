// main() of weft-netns-tests: exits 77 (ctest "skipped") when this machine cannot create network
// namespaces (not root, no CAP_SYS_ADMIN, seccomp), otherwise runs the Catch2 session.
#define CATCH_CONFIG_RUNNER
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>

static bool CanCreateNetns() {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) _exit(::unshare(CLONE_NEWNET) == 0 ? 0 : 1);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && ::geteuid() == 0;
}

int main(int argc, char** argv) {
  if (!CanCreateNetns()) {
    std::fprintf(stderr, "weft-netns-tests: cannot create network namespaces here (need root); skipping\n");
    return 77;
  }
  int failed = Catch::Session().run(argc, argv);
  return failed ? 1 : 0;
}
