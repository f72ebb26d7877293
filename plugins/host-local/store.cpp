// The reservation store. See store.h for the layout and the index-validation protocol.
#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "cni/error.h"
#include "config.h"

namespace hostlocal {
namespace {

using cni::Error;
using cni::IP;
using cni::ReadAll;
using cni::UniqueFd;
using cni::WriteAll;

constexpr std::chrono::milliseconds kLockTimeout{30000};
constexpr const char* kTmpPrefix = ".weft-tmp.";
constexpr const char* kIndexDir = ".weft-host-local";

/// A small file's content. A regular file's read() comes back short only at its end, so one
/// read that does not fill the buffer is the whole file (no second read to see EOF).
std::string ReadSmall(int fd, const std::string& what) {
  char buf[256];
  ssize_t k;
  do {
    k = ::read(fd, buf, sizeof buf);
  } while (k < 0 && errno == EINTR);
  if (k < 0) throw Error::Errno(errno, "read " + what);
  std::string out(buf, static_cast<size_t>(k));
  if (static_cast<size_t>(k) == sizeof buf) out += ReadAll(fd, what);
  return out;
}

std::string BootId() {
  UniqueFd fd(::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC));
  if (!fd) return "unknown";
  try {
    return std::string(TrimSpace(ReadSmall(fd.get(), "boot_id")));
  } catch (const Error&) {
    return "unknown";
  }
}

std::optional<IP> CanonicalIPName(const char* name) {
  auto ip = IP::Parse(name);
  if (!ip || ip->String() != name) return std::nullopt;
  return ip;
}

}  // namespace

Store::Store(const std::string& data_dir, const std::string& network) : boot_id_(BootId()) {
  // filepath.Join(dataDir, network); network names are validated by skel ([A-Za-z0-9][\w.-]*),
  // which excludes "/", ".." and a leading ".", so the index directory can never be a network.
  std::string base = data_dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  if (network.empty() || network.find('/') != std::string::npos || network[0] == '.') {
    throw Error(cni::kInvalidNetworkConfig, "invalid characters found in network name", network);
  }
  dir_ = base + "/" + network;
  network_ = network;
  auto open_dir = [](const std::string& d) {
    return UniqueFd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  };
  // The directory exists on every call but a network's first: create it (and report a path that
  // is not a directory as EnsureDir does) only when it cannot be opened.
  dirfd_ = open_dir(dir_);
  if (!dirfd_) {
    cni::EnsureDir(dir_, 0755);
    dirfd_ = open_dir(dir_);
  }
  if (!dirfd_) throw Error::Errno(errno, "open " + dir_);
  lockfd_ = UniqueFd(::openat(dirfd_.get(), "lock", O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lockfd_) throw Error::Errno(errno, "open " + dir_ + "/lock");
  if (!cni::FlockWithTimeout(lockfd_.get(), kLockTimeout)) {
    throw Error(cni::kTryAgainLater, "timed out waiting for lock " + dir_ + "/lock");
  }
  const std::string index_dir = base + "/" + kIndexDir;
  index_path_ = index_dir + "/" + network + ".index";
  // The index file is opened with O_NOFOLLOW; its directory must not be a planted symlink
  // either (O_NOFOLLOW | O_DIRECTORY). Without a real directory the index lives in memory for
  // this call and last_reserved_ip is replaced through a temporary file.
  index_dirfd_ = open_dir(index_dir);
  if (!index_dirfd_) {
    try {
      cni::EnsureDir(index_dir, 0700);
    } catch (const Error&) {
      // Reported by RebuildIndex when the index file cannot be created.
    }
    index_dirfd_ = open_dir(index_dir);
  }
  if (!index_dirfd_) index_path_.clear();
  if (!index_.Open(index_path_, Stat(), boot_id_)) RebuildIndex(ScanDir());
}

Store::~Store() {
  try {
    Commit();
  } catch (...) {
    // The index stays dirty and is rebuilt by the next session.
  }
}

DirStamp Store::Stat() const {
  struct stat st {};
  if (fstat(dirfd_.get(), &st) != 0) throw Error::Errno(errno, "stat " + dir_);
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
}

void Store::Changing() {
  if (!changed_) index_.MarkDirty();
  changed_ = true;
}

void Store::Commit() {
  if (!changed_) return;
  timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  now.tv_sec -= 1;  // a real change always stamps "now", so it can never equal this
  const timespec times[2] = {{0, UTIME_OMIT}, now};
  if (futimens(dirfd_.get(), times) != 0) return;  // not sealed: the next session rescans
  index_.Seal(Stat());
  changed_ = false;
}

std::optional<std::string> Store::ReadOwner(const std::string& name) const {
  UniqueFd fd(::openat(dirfd_.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  try {
    return std::string(TrimSpace(ReadSmall(fd.get(), dir_ + "/" + name)));
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::vector<Reservation> Store::ScanDir() {
  int dup_fd = ::openat(dirfd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) throw Error::Errno(errno, "open " + dir_);
  DIR* d = fdopendir(dup_fd);
  if (!d) {
    int e = errno;
    ::close(dup_fd);
    throw Error::Errno(e, "opendir " + dir_);
  }
  std::vector<Reservation> out;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    std::string_view name(e->d_name);
    if (name.rfind(kTmpPrefix, 0) == 0) {
      stale.emplace_back(name);  // we hold the lock, so no writer is using it
      continue;
    }
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
    auto ip = CanonicalIPName(e->d_name);
    if (!ip) continue;
    if (auto owner = ReadOwner(e->d_name)) out.push_back({*ip, std::move(*owner)});
  }
  closedir(d);
  for (const std::string& n : stale) {
    Changing();
    ::unlinkat(dirfd_.get(), n.c_str(), 0);
  }
  return out;
}

void Store::RebuildIndex(const std::vector<Reservation>& all) {
  std::vector<Index::Entry> entries;
  entries.reserve(all.size());
  for (const Reservation& r : all) entries.push_back({KeyHash(r.owner), r.ip});
  try {
    index_.Build(index_path_, entries, boot_id_);
  } catch (const Error& e) {
    // The cache cannot be written (full disk, read-only dataDir parent, ...): keep it in
    // memory for this call. The store itself stays correct; only speed suffers.
    std::fprintf(stderr, "host-local: index unavailable, scanning instead: %s\n", e.msg().c_str());
    index_.Build("", entries, boot_id_);
  }
  changed_ = true;
  rebuilt_ = true;
}

std::vector<Reservation> Store::Scan() {
  auto all = ScanDir();
  RebuildIndex(all);
  return all;
}

bool Store::Reserve(std::string_view id, std::string_view ifname, const IP& ip, int range_id) {
  const std::string content = std::string(TrimSpace(id)) + "\r\n" + std::string(ifname);
  const std::string name = ip.String();
  // Cheap pre-check for a taken address; the exclusive link below is what decides.
  struct stat st {};
  if (fstatat(dirfd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return false;
  Changing();
  int link_errno = 0;
  UniqueFd fd(::openat(dirfd_.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  if (fd) {
    WriteAll(fd.get(), content, dir_ + "/" + name);
    const std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
    if (linkat(AT_FDCWD, proc.c_str(), dirfd_.get(), name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      link_errno = errno;
      if (link_errno == ENOENT &&
          linkat(fd.get(), "", dirfd_.get(), name.c_str(), AT_EMPTY_PATH) == 0) {
        link_errno = 0;
      } else if (link_errno == ENOENT) {
        link_errno = errno;
      }
    }
  } else {
    // No O_TMPFILE here (e.g. some network or overlay filesystems): a named temp file that only
    // we (holding the lock) use, linked exclusively and then removed; a leftover from a crash
    // is removed by the next rescan.
    const std::string tmp = std::string(kTmpPrefix) + std::to_string(getpid());
    ::unlinkat(dirfd_.get(), tmp.c_str(), 0);
    UniqueFd tfd(::openat(dirfd_.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!tfd) throw Error::Errno(errno, "create " + dir_ + "/" + tmp);
    try {
      WriteAll(tfd.get(), content, dir_ + "/" + tmp);
    } catch (...) {
      ::unlinkat(dirfd_.get(), tmp.c_str(), 0);
      throw;
    }
    tfd = UniqueFd();
    if (linkat(dirfd_.get(), tmp.c_str(), dirfd_.get(), name.c_str(), 0) != 0) link_errno = errno;
    ::unlinkat(dirfd_.get(), tmp.c_str(), 0);
  }
  if (link_errno == EEXIST) return false;
  if (link_errno != 0) throw Error::Errno(link_errno, "open " + dir_ + "/" + name);
  index_.Insert(KeyHash(TrimSpace(content)), ip);
  WriteLastReserved(ip, range_id);
  return true;
}

bool Store::ExchangeLastReserved(const std::string& name, const std::string& content) {
  if (!index_dirfd_) return false;
  // The spare copy of last_reserved_ip.<N> in the index directory: the file the previous
  // exchange took out of the network directory, so no inode is created or freed per call.
  const std::string spare = network_ + "." + name;
  UniqueFd fd(::openat(index_dirfd_.get(), spare.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return false;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  // It may be a file another writer (the 0644 of Debian's reference) made: as created, 0600.
  if ((st.st_mode & 0177) != 0 && fchmod(fd.get(), st.st_mode & 0600) != 0) return false;
  WriteAll(fd.get(), content, dir_ + "/" + name);
  if (ftruncate(fd.get(), static_cast<off_t>(content.size())) != 0) return false;
  fd = UniqueFd();
  if (renameat2(index_dirfd_.get(), spare.c_str(), dirfd_.get(), name.c_str(), RENAME_EXCHANGE) == 0) return true;
  // No last_reserved_ip.<N> yet: the spare becomes it (the next call creates a new spare).
  if (errno == ENOENT && renameat(index_dirfd_.get(), spare.c_str(), dirfd_.get(), name.c_str()) == 0) return true;
  return false;  // no RENAME_EXCHANGE here (EINVAL) or another filesystem (EXDEV)
}

void Store::WriteLastReserved(const IP& ip, int range_id) {
  const std::string name = "last_reserved_ip." + std::to_string(range_id);
  const std::string content = ip.String();
  if (ExchangeLastReserved(name, content)) return;
  const std::string tmp = std::string(kTmpPrefix) + std::to_string(getpid()) + ".last";
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::openat(dirfd_.get(), tmp.c_str(), kFlags, 0600));
  if (!fd && errno == EEXIST) {  // a crashed call's leftover with our pid: ours to replace
    ::unlinkat(dirfd_.get(), tmp.c_str(), 0);
    fd = UniqueFd(::openat(dirfd_.get(), tmp.c_str(), kFlags, 0600));
  }
  if (!fd) throw Error::Errno(errno, "create " + dir_ + "/" + tmp);
  try {
    WriteAll(fd.get(), content, dir_ + "/" + name);
    fd = UniqueFd();
    if (renameat(dirfd_.get(), tmp.c_str(), dirfd_.get(), name.c_str()) != 0) {
      throw Error::Errno(errno, "rename " + dir_ + "/" + name);
    }
  } catch (...) {
    ::unlinkat(dirfd_.get(), tmp.c_str(), 0);
    throw;
  }
}

std::optional<IP> Store::LastReservedIP(int range_id) {
  const std::string name = "last_reserved_ip." + std::to_string(range_id);
  UniqueFd fd(::openat(dirfd_.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno != ENOENT) {
      std::fprintf(stderr, "Error retrieving last reserved ip: %s\n",
                   Error::Errno(errno, "open " + dir_ + "/" + name).msg().c_str());
    }
    return std::nullopt;
  }
  try {
    return IP::Parse(ReadSmall(fd.get(), dir_ + "/" + name));
  } catch (const Error& e) {
    std::fprintf(stderr, "Error retrieving last reserved ip: %s\n", e.msg().c_str());
    return std::nullopt;
  }
}

std::vector<IP> Store::Confirmed(const std::string& key) {
  const uint64_t hash = KeyHash(key);
  std::vector<IP> out;
  for (const IP& ip : index_.Lookup(hash)) {
    auto owner = ReadOwner(ip.String());
    if (owner && *owner == key) {
      out.push_back(ip);
      continue;
    }
    // The record is stale (changed in place by someone else): repair it.
    Changing();
    index_.Erase(hash, ip);
    if (owner) index_.Insert(KeyHash(*owner), ip);
  }
  return out;
}

std::vector<IP> Store::GetByID(std::string_view id, std::string_view ifname) {
  const std::string old_key(TrimSpace(id));
  std::vector<IP> out = Confirmed(old_key + "\r\n" + std::string(ifname));
  for (const IP& ip : Confirmed(old_key)) out.push_back(ip);
  std::sort(out.begin(), out.end(), [](const IP& a, const IP& b) { return a.String() < b.String(); });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool Store::FindByID(std::string_view id, std::string_view ifname) {
  const std::string old_key(TrimSpace(id));
  return !Confirmed(old_key + "\r\n" + std::string(ifname)).empty() || !Confirmed(old_key).empty();
}

bool Store::ReleaseKey(const std::string& key) {
  bool found = false;
  for (const IP& ip : Confirmed(key)) {
    Changing();
    if (::unlinkat(dirfd_.get(), ip.String().c_str(), 0) == 0) {
      found = true;
    } else if (errno != ENOENT) {
      continue;  // as the reference: a file that cannot be removed is skipped
    }
    index_.Erase(KeyHash(key), ip);
  }
  return found;
}

void Store::ReleaseByID(std::string_view id, std::string_view ifname) {
  const std::string old_key(TrimSpace(id));
  if (!ReleaseKey(old_key + "\r\n" + std::string(ifname))) ReleaseKey(old_key);
}

void Store::Release(const Reservation& r) {
  Changing();
  if (::unlinkat(dirfd_.get(), r.ip.String().c_str(), 0) != 0 && errno != ENOENT) {
    throw Error::Errno(errno, "remove " + dir_ + "/" + r.ip.String());
  }
  index_.Erase(KeyHash(r.owner), r.ip);
}

std::vector<IP> Store::ReservedIPs() const {
  std::vector<IP> out;
  for (const auto& e : index_.All()) out.push_back(e.ip);
  return out;
}

void Store::CheckWritable() {
  UniqueFd fd(::openat(dirfd_.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  if (fd) return;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) throw Error::Errno(errno, "create file in " + dir_);
  const std::string tmp = std::string(kTmpPrefix) + std::to_string(getpid()) + ".probe";
  Changing();
  UniqueFd tfd(::openat(dirfd_.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!tfd) throw Error::Errno(errno, "create " + dir_ + "/" + tmp);
  ::unlinkat(dirfd_.get(), tmp.c_str(), 0);
}

}  // namespace hostlocal
