"""Plugin execution for the benchmark harness: spawn a CNI plugin the way a runtime does and
measure it.

Each call is one posix_spawn with the CNI_* environment, the config on stdin and stdout/stderr in memfds, then
one wait4 that yields the wall time, the CPU time (user + system, including every process the
plugin itself waited for, e.g. the reference's iptables children) and the peak RSS of that
process tree. The spawn and the measurement happen in a tiny C launcher (spawn.c) so that neither
the Python harness's memory nor its overhead enters the figures. Calls are thread-safe: parallel pods are threads that each spawn and wait.
"""

import os
import time

PATH_ENV = "/usr/sbin:/usr/bin:/sbin:/bin"

# Path of the compiled bench/lib/spawn.c; see build_launcher().
LAUNCHER = None
# The process-start floors compiled from bench/lib/nop.c: {"static": path, "dynamic": path}.
NOP = {}


def _cc(src, exe, *flags):
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), src)
    pid = os.posix_spawnp("cc", ["cc", "-O2", *flags, "-o", exe, src], dict(os.environ))
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise CallError("cannot compile %s (is build-essential installed?)" % src)
    return exe


def build_launcher(tmp):
    """Compiles spawn.c into tmp and uses it for every later call; compiles nop.c static and
    dynamic (NOP)."""
    global LAUNCHER
    LAUNCHER = _cc("spawn.c", os.path.join(tmp, "spawn"))
    NOP["static"] = _cc("nop.c", os.path.join(tmp, "nop-static"), "-static")
    NOP["dynamic"] = _cc("nop.c", os.path.join(tmp, "nop-dynamic"))


class CallError(Exception):
    """A plugin exited non-zero or died; carries its command line and output."""


class Call:
    """Outcome of one process: wall/cpu in milliseconds, rss in KiB, stdout bytes."""

    __slots__ = ("wall", "cpu", "rss", "out")

    def __init__(self, wall, cpu, rss, out):
        self.wall, self.cpu, self.rss, self.out = wall, cpu, rss, out


def _memfd(name, data=b""):
    fd = os.memfd_create(name, 0)
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read_all(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def run(argv, env=None, stdin=b"", check=True):
    """Runs argv (argv[0] an absolute path) and returns a Call; raises CallError on failure."""
    env = dict(env or {})
    env.setdefault("PATH", PATH_ENV)
    fin, fout, ferr, fst = _memfd("in", stdin), _memfd("out"), _memfd("err"), _memfd("stats")
    try:
        t0 = time.perf_counter()
        pid = os.posix_spawn(LAUNCHER or argv[0], ([LAUNCHER] if LAUNCHER else []) + argv, env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, fin, 0),
                                           (os.POSIX_SPAWN_DUP2, fout, 1),
                                           (os.POSIX_SPAWN_DUP2, ferr, 2),
                                           (os.POSIX_SPAWN_DUP2, fst, 3)])
        _, status, ru = os.wait4(pid, 0)
        wall = (time.perf_counter() - t0) * 1000.0
        cpu = (ru.ru_utime + ru.ru_stime) * 1000.0
        rss = ru.ru_maxrss
        if LAUNCHER:
            st = _read_all(fst).split()
            if len(st) == 5:
                wall, cpu, rss = int(st[0]) / 1e6, (int(st[1]) + int(st[2])) / 1000.0, int(st[3])
        out = _read_all(fout)
        if check and status != 0:
            err = _read_all(ferr)
            raise CallError("%s (%s) exited with status %d: %s %s" % (
                " ".join(argv), env.get("CNI_COMMAND", ""), os.waitstatus_to_exitcode(status),
                out.decode(errors="replace").strip()[:1500], err.decode(errors="replace").strip()[:1500]))
        return Call(wall, cpu, rss, out)
    finally:
        for fd in (fin, fout, ferr, fst):
            os.close(fd)


def cni(plugin, command, conf_bytes, containerid="bench", netns="", ifname="eth0", cni_path=""):
    """Execs a CNI plugin with the runtime's environment; returns a Call."""
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": containerid, "CNI_NETNS": netns,
           "CNI_IFNAME": ifname, "CNI_PATH": cni_path or os.path.dirname(plugin)}
    return run([plugin], env, conf_bytes)


def sh(*argv, stdin=b""):
    """Runs a helper command (ip, iptables-restore ...) and returns a Call; fails loudly."""
    path = argv[0]
    if not path.startswith("/"):
        for d in PATH_ENV.split(":"):
            if os.access(os.path.join(d, path), os.X_OK):
                path = os.path.join(d, path)
                break
    return run([path] + list(argv[1:]), {}, stdin)
