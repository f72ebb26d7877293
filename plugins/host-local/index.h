// The reservation index: a memory-mapped open-addressing hash table that maps the hash of a
// reservation's owner key (the trimmed file content, "<id>\r\n<ifname>" or the legacy "<id>")
// to the addresses reserved under it. It is a cache, never the truth: the one-file-per-IP
// directory stays the reference's format, every candidate the index returns is confirmed by
// reading its file, and the index is trusted only while its stamp still matches the network
// directory (device, inode and an mtime that weft itself sets after each change, see store.h),
// the boot it was written in, and a clear "dirty" flag (set before any change, cleared after).
// Anything else (another program such as the reference plugin touched the directory, a crash
// mid-update, a reboot) makes the store rebuild it from a directory scan.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cni/files.h"
#include "cni/ip.h"

namespace hostlocal {

/// What the index must match to be trusted.
struct DirStamp {
  uint64_t dev = 0, ino = 0;
  int64_t mtime_sec = 0, mtime_nsec = 0;
  bool operator==(const DirStamp&) const = default;
};

/// 64-bit FNV-1a of an owner key.
uint64_t KeyHash(std::string_view key);

class Index {
 public:
  struct Entry {
    uint64_t hash;
    cni::IP ip;
  };

  Index() = default;
  Index(Index&&) = delete;
  ~Index();

  /// Maps the index file at `path` and returns true if it is intact and matches `stamp` and
  /// `boot_id`; false (nothing mapped) when it must be rebuilt.
  bool Open(const std::string& path, const DirStamp& stamp, const std::string& boot_id);
  /// Writes a fresh index holding `entries` (via a temp file and rename) and maps it, dirty.
  /// An empty `path` builds it in anonymous memory instead.
  void Build(const std::string& path, const std::vector<Entry>& entries, const std::string& boot_id);

  /// Addresses recorded under `hash` (collisions possible: callers confirm against the file).
  std::vector<cni::IP> Lookup(uint64_t hash) const;
  void Insert(uint64_t hash, const cni::IP& ip);
  /// Removes the record (hash, ip) if present.
  void Erase(uint64_t hash, const cni::IP& ip);
  /// Every live record.
  std::vector<Entry> All() const;

  /// Marks the index untrustworthy until Seal (done before the first change to the directory).
  void MarkDirty();
  /// Records the directory's new stamp and clears the dirty flag.
  void Seal(const DirStamp& stamp);

 private:
  struct Header;
  struct Slot;
  Header* header() const;
  Slot* slots() const;
  void Map(cni::UniqueFd fd, size_t size);
  void Unmap();
  void Grow();

  std::string path_;
  std::string boot_id_;
  cni::UniqueFd fd_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
};

}  // namespace hostlocal
