// The memory-mapped reservation index. See index.h. Layout: a fixed header followed by a
// power-of-two array of 32-byte slots (linear probing, tombstones on erase, rebuilt into a
// fresh file when 70 % of the slots are used).
#include "index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cni/error.h"

namespace hostlocal {

namespace {
constexpr char kMagic[8] = {'W', 'E', 'F', 'T', 'H', 'L', 'I', '1'};
constexpr uint8_t kEmpty = 0, kLive = 1, kTomb = 2;
constexpr uint64_t kMinCapacity = 1024;
}  // namespace

struct Index::Header {
  char magic[8];
  char boot_id[40];
  uint64_t dev, ino;
  int64_t mtime_sec, mtime_nsec;
  uint32_t dirty, reserved;
  uint64_t capacity, live, used;
};

struct Index::Slot {
  uint64_t hash;
  uint8_t state, family, pad[6];
  uint8_t ip[16];
};




uint64_t KeyHash(std::string_view key) {
  uint64_t h = 1469598103934665603ull;
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Index::~Index() {
  static_assert(sizeof(Slot) == 32);
  Unmap();
}

Index::Header* Index::header() const { return static_cast<Header*>(map_); }
Index::Slot* Index::slots() const {
  return reinterpret_cast<Slot*>(static_cast<char*>(map_) + sizeof(Header));
}

void Index::Unmap() {
  if (map_) munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
  fd_ = cni::UniqueFd();
}

void Index::Map(cni::UniqueFd fd, size_t size) {
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (m == MAP_FAILED) throw cni::Error::Errno(errno, "mmap " + path_);
  Unmap();
  map_ = m;
  map_size_ = size;
  fd_ = std::move(fd);
}

bool Index::Open(const std::string& path, const DirStamp& stamp, const std::string& boot_id) {
  path_ = path;
  boot_id_ = boot_id;
  cni::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return false;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) < sizeof(Header)) {
    return false;
  }
  Map(std::move(fd), static_cast<size_t>(st.st_size));
  const Header* h = header();
  bool ok = std::memcmp(h->magic, kMagic, sizeof kMagic) == 0 &&
            std::strncmp(h->boot_id, boot_id.c_str(), sizeof h->boot_id) == 0 && h->dirty == 0 &&
            h->dev == stamp.dev && h->ino == stamp.ino && h->mtime_sec == stamp.mtime_sec &&
            h->mtime_nsec == stamp.mtime_nsec && h->capacity >= kMinCapacity &&
            (h->capacity & (h->capacity - 1)) == 0 && map_size_ == sizeof(Header) + h->capacity * sizeof(Slot) &&
            h->live <= h->used && h->used < h->capacity;
  if (!ok) Unmap();
  return ok;
}

void Index::Build(const std::string& path, const std::vector<Entry>& entries, const std::string& boot_id) {
  path_ = path;
  boot_id_ = boot_id;
  uint64_t capacity = kMinCapacity;
  while (capacity < entries.size() * 2 + 2) capacity *= 2;
  const size_t size = sizeof(Header) + capacity * sizeof(Slot);
  const std::string tmp = path + ".tmp";
  if (path.empty()) {
    // In memory only (the index file cannot be written): correct, rebuilt by every call.
    void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw cni::Error::Errno(errno, "mmap index");
    Unmap();
    map_ = m;
    map_size_ = size;
  } else {
    ::unlink(tmp.c_str());
    cni::UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw cni::Error::Errno(errno, "create " + tmp);
    // Allocate the blocks now: a write to a sparse mapping on a full disk would be SIGBUS.
    int err = posix_fallocate(fd.get(), 0, static_cast<off_t>(size));
    if (err == EOPNOTSUPP || err == EINVAL) err = ftruncate(fd.get(), static_cast<off_t>(size)) == 0 ? 0 : errno;
    if (err != 0) {
      ::unlink(tmp.c_str());
      throw cni::Error::Errno(err, "allocate " + tmp);
    }
    Map(std::move(fd), size);
  }
  Header* h = header();
  std::memcpy(h->magic, kMagic, sizeof kMagic);
  std::strncpy(h->boot_id, boot_id.c_str(), sizeof h->boot_id - 1);
  h->dirty = 1;
  h->capacity = capacity;
  for (const Entry& e : entries) Insert(e.hash, e.ip);
  if (!path.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw cni::Error::Errno(e, "rename " + tmp);
  }
}

std::vector<cni::IP> Index::Lookup(uint64_t hash) const {
  std::vector<cni::IP> out;
  const Header* h = header();
  const uint64_t mask = h->capacity - 1;
  for (uint64_t i = hash & mask, n = 0; n < h->capacity; i = (i + 1) & mask, ++n) {
    const Slot& s = slots()[i];
    if (s.state == kEmpty) break;
    if (s.state == kLive && s.hash == hash) out.push_back(cni::IP::FromBytes(s.ip, s.family == 4 ? 4 : 16));
  }
  return out;
}

void Index::Insert(uint64_t hash, const cni::IP& ip) {
  Header* h = header();
  if ((h->used + 1) * 10 > h->capacity * 7) {
    Grow();
    h = header();
  }
  const uint64_t mask = h->capacity - 1;
  Slot* free_slot = nullptr;
  for (uint64_t i = hash & mask, n = 0; n < h->capacity; i = (i + 1) & mask, ++n) {
    Slot& s = slots()[i];
    if (s.state == kEmpty) {
      if (!free_slot) {
        free_slot = &s;
        h->used++;
      }
      break;
    }
    if (s.state == kTomb && !free_slot) free_slot = &s;
    if (s.state == kLive && s.hash == hash && s.family == ip.family() && std::memcmp(s.ip, ip.data(), ip.size()) == 0) {
      return;  // already recorded
    }
  }
  free_slot->hash = hash;
  free_slot->state = kLive;
  free_slot->family = static_cast<uint8_t>(ip.family());
  std::memset(free_slot->ip, 0, sizeof free_slot->ip);
  std::memcpy(free_slot->ip, ip.data(), ip.size());
  h->live++;
}

void Index::Erase(uint64_t hash, const cni::IP& ip) {
  Header* h = header();
  const uint64_t mask = h->capacity - 1;
  for (uint64_t i = hash & mask, n = 0; n < h->capacity; i = (i + 1) & mask, ++n) {
    Slot& s = slots()[i];
    if (s.state == kEmpty) return;
    if (s.state == kLive && s.hash == hash && s.family == ip.family() && std::memcmp(s.ip, ip.data(), ip.size()) == 0) {
      s.state = kTomb;
      h->live--;
      return;
    }
  }
}

std::vector<Index::Entry> Index::All() const {
  std::vector<Entry> out;
  const Header* h = header();
  out.reserve(h->live);
  for (uint64_t i = 0; i < h->capacity; ++i) {
    const Slot& s = slots()[i];
    if (s.state == kLive) out.push_back({s.hash, cni::IP::FromBytes(s.ip, s.family == 4 ? 4 : 16)});
  }
  return out;
}

void Index::Grow() {
  // Rebuilding from the live records also drops tombstones; Build leaves the new file dirty,
  // which is what the caller (in the middle of a change) needs. If the file cannot be written
  // the index continues in memory, so a reservation already on disk is always recorded.
  std::vector<Entry> live = All();
  try {
    Build(path_, live, boot_id_);
  } catch (const cni::Error&) {
    Build("", live, boot_id_);
  }
}

void Index::MarkDirty() {
  if (map_) header()->dirty = 1;
}

void Index::Seal(const DirStamp& stamp) {
  if (!map_) return;
  Header* h = header();
  h->dev = stamp.dev;
  h->ino = stamp.ino;
  h->mtime_sec = stamp.mtime_sec;
  h->mtime_nsec = stamp.mtime_nsec;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  h->dirty = 0;
}

}  // namespace hostlocal
