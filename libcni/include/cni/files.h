// Files the plugins keep state in: an owning fd, crash-safe writes (temp file, fsync, rename,
// fsync of the directory, so a reader never sees a half-written file even after kill -9 or a
// power cut), reads that never follow a symlink, and flock with a bounded wait that fails with
// CNI code 11 (try again later) instead of hanging.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cni {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { int f = fd_; fd_ = -1; return f; }

 private:
  int fd_ = -1;
};

/// How WriteFileAtomic finishes. kDurable fsyncs the file and its directory (state that must
/// survive a power cut). kVolatile only renames: a reader (or a kill -9) still never sees a
/// half-written file, but nothing waits for the disk; for state that dies with the machine
/// anyway (tuning's files about a pod's interface, under /run).
enum class Durability { kDurable, kVolatile };

/// Writes `data` to `path` atomically with `mode`. Throws Error(kInternal) with errno text.
void WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode,
                     Durability durability = Durability::kDurable);

/// write(2) until all of `data` is written (EINTR retried). Throws Error(kInternal) with
/// "write <what>: <errno text>".
void WriteAll(int fd, std::string_view data, const std::string& what);

/// read(2) until end of file (EINTR retried). Throws Error(kInternal) with "read <what>: ...".
std::string ReadAll(int fd, const std::string& what);

/// Reads a regular file without following a symlink in its last component; nullopt when it
/// does not exist. Throws on other errors (a symlink gives ELOOP).
std::optional<std::string> ReadFile(const std::string& path);

/// mkdir -p with `mode` for the created directories.
void EnsureDir(const std::string& path, mode_t mode);

/// An exclusive flock on `path` (created if missing with `mode`), released on destruction.
class FileLock {
 public:
  /// Waits at most `timeout`; then throws Error(kTryAgainLater, "timed out waiting for lock <path>").
  FileLock(const std::string& path, mode_t mode, std::chrono::milliseconds timeout);
  FileLock(FileLock&&) = default;
  ~FileLock();

 private:
  UniqueFd fd_;
};

/// flock(fd, LOCK_EX) with a deadline (no polling: a per-thread timer interrupts the wait).
/// Returns false when the deadline passed.
bool FlockWithTimeout(int fd, std::chrono::milliseconds timeout);

}  // namespace cni
