// The on-disk reservation store, byte-compatible with the reference's backend/disk:
//   <dataDir>/<network>/            mode 0755
//   lock                            empty, flock(LOCK_EX) held for the Store's whole lifetime
//   <ip>                            "<trimmed id>\r\n<ifname>", mode 0600, created exclusively
//   last_reserved_ip.<N>            the last address reserved in range set N, no newline, 0600
// Every file is opened relative to the directory fd with O_NOFOLLOW. A reservation appears
// atomically: its content is written to an unnamed O_TMPFILE (or a ".weft-tmp.*" file where
// the filesystem lacks O_TMPFILE) and then hard-linked under its address name, which fails
// with EEXIST instead of replacing, so O_EXCL semantics hold and no reader or crash ever sees
// an empty or half-written reservation. last_reserved_ip.<N> is replaced atomically too, without
// creating a file per call: the new content is written to a spare copy in the index directory
// (<dataDir>/.weft-host-local/<network>.last_reserved_ip.<N>, the file the previous call swapped
// out) and swapped in with renameat2(RENAME_EXCHANGE); where that is unavailable, through a
// ".weft-tmp.*" file and rename.
//
// Lookups by owner go through the Index (index.h) instead of reading every file. To know the
// index is current, the store ends every session that changed the directory by setting the
// directory's mtime to a stamp one second in the past (with nanoseconds from a precise clock)
// and recording that stamp in the index. Any later change by another program (create, unlink,
// rename) sets the mtime to the current time, which can never equal the recorded stamp, so the
// next session rescans the directory and rebuilds the index. The same happens after a crash
// (dirty flag), a reboot (boot id) or when the index is missing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/files.h"
#include "cni/ip.h"
#include "index.h"

namespace hostlocal {

/// One reservation file as found by a directory scan.
struct Reservation {
  cni::IP ip;
  std::string owner;  // trimmed content: "<id>\r\n<ifname>" or legacy "<id>"
};

class Store {
 public:
  /// Creates the network directory, takes the lock (bounded wait, code 11 on timeout) and
  /// loads or rebuilds the index.
  Store(const std::string& data_dir, const std::string& network);
  /// Seals the index if anything changed (errors are swallowed: an unsealed index is rebuilt).
  ~Store();
  Store(const Store&) = delete;

  /// Creates the reservation file for `ip` unless it exists; on success also records
  /// last_reserved_ip.<range_id>. Returns false if the address is taken.
  bool Reserve(std::string_view id, std::string_view ifname, const cni::IP& ip, int range_id);
  /// last_reserved_ip.<range_id>; nullopt if missing or unparsable (other errors are logged
  /// to stderr as the reference does and ignored).
  std::optional<cni::IP> LastReservedIP(int range_id);
  /// Addresses owned by id+ifname or by the legacy id-only form, sorted like a directory walk.
  std::vector<cni::IP> GetByID(std::string_view id, std::string_view ifname);
  /// Whether id+ifname (or else the legacy id-only form) owns any address.
  bool FindByID(std::string_view id, std::string_view ifname);
  /// Deletes the files owned by id+ifname; if there are none, those owned by the legacy id.
  void ReleaseByID(std::string_view id, std::string_view ifname);

  /// Every reservation, read from disk (a full scan; also rebuilds the index).
  std::vector<Reservation> Scan();
  /// Deletes one reservation found by Scan (not-found is success).
  void Release(const Reservation& r);
  /// Every reserved address according to the (validated) index.
  std::vector<cni::IP> ReservedIPs() const;
  /// Creates and discards an unnamed file to prove the directory is writable.
  void CheckWritable();

  /// Seals the index now (also done by the destructor).
  void Commit();

  /// Whether this session had to rebuild the index from a scan (for tests and the benchmark).
  bool rebuilt() const { return rebuilt_; }

 private:
  std::optional<std::string> ReadOwner(const std::string& name) const;
  std::vector<cni::IP> Confirmed(const std::string& key);
  bool ReleaseKey(const std::string& key);
  void Changing();
  std::vector<Reservation> ScanDir();
  void RebuildIndex(const std::vector<Reservation>& all);
  void WriteLastReserved(const cni::IP& ip, int range_id);
  bool ExchangeLastReserved(const std::string& name, const std::string& content);
  DirStamp Stat() const;

  std::string dir_;
  std::string network_;
  std::string index_path_;
  std::string boot_id_;
  cni::UniqueFd dirfd_;
  cni::UniqueFd index_dirfd_;
  cni::UniqueFd lockfd_;
  Index index_;
  bool changed_ = false;
  bool rebuilt_ = false;
};

}  // namespace hostlocal
