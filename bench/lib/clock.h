// The clock of the in-process floor harnesses (bench/bridge/floor.cpp, bench/portmap/floor.cpp):
// wall time and the process's own CPU time, read together, in microseconds.
#pragma once

#include <time.h>

struct Clock {
  long long wall_us, cpu_us;
  static Clock Now() {
    timespec w{}, c{};
    clock_gettime(CLOCK_MONOTONIC, &w);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
    return {w.tv_sec * 1000000LL + w.tv_nsec / 1000, c.tv_sec * 1000000LL + c.tv_nsec / 1000};
  }
};
