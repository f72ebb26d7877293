/* Launcher for bench/run: runs argv[1..] with the inherited environment and stdio, waits for it
 * and writes "<wall_ns> <user_us> <sys_us> <maxrss_kib> <wait_status>\n" to fd 3.
 *
 * Why a separate small process: a child's peak RSS (ru_maxrss) includes the memory of the
 * process it was forked from up to its exec, so a plugin spawned straight from the Python
 * harness would report Python's ~17 MiB. Spawned from this launcher, it starts from a tiny image.
 * The wall time is taken here, around vfork+exec+wait4, so the harness's own overhead stays out.
 * Exit status: the child's exit code (128+signal if it died), 127 if it could not be executed. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("usage: spawn PROGRAM [ARG...]  (stats on fd 3)\n", stderr);
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addclose(&fa, 3);
  int rc = posix_spawn(&pid, argv[1], &fa, NULL, argv + 1, environ);
  if (rc != 0) {
    fprintf(stderr, "spawn: cannot execute %s\n", argv[1]);
    return 127;
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) return 127;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
  dprintf(3, "%lld %lld %lld %ld %d\n", ns,
          (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
          (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec, ru.ru_maxrss, status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
