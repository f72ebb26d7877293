// libcni's result cache, byte-compatible with the Go library so that containerd, CRI-O, podman
// and this cnitool read each other's entries: <cacheDir>/results/<network>-<containerID>-<ifName>
// holds {"kind":"cniCacheV1","containerId","config" (base64 of the list bytes),"ifName",
// "networkName","netns","cniArgs","capabilityArgs","result"} in that order, compact, empty
// optional fields omitted, maps with sorted keys; the directory is 0700 and the file 0600.
// Files in the legacy format (a bare result) are still read for DEL and CHECK.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/json.h"

namespace weft::cnitool {

inline constexpr std::string_view kCacheKind = "cniCacheV1";
inline constexpr std::string_view kDefaultCacheDir = "/var/lib/cni";

using ArgPairs = std::vector<std::pair<std::string, std::string>>;

struct CacheEntry {
  std::string container_id;
  std::string config;        // the network list bytes, raw (base64 only on disk)
  std::string if_name;
  std::string network_name;
  std::string netns;
  ArgPairs cni_args;
  cni::Json capability_args;  // object or null
  cni::Json result;           // object or null
};

/// <cache_dir>/results/<network>-<container_id>-<if_name>; throws cni::Error when a part is
/// empty (the reference's message).
std::string CacheFilePath(std::string_view cache_dir, std::string_view network, std::string_view container_id,
                          std::string_view if_name);

/// The file content exactly as Go's json.Marshal(&cachedInfo) writes it.
std::string EncodeCache(const CacheEntry& e);

/// Decodes a cniCacheV1 document; nullopt when it is not JSON, not an object of the right shape,
/// or of another kind (legacy entries).
std::optional<CacheEntry> DecodeCache(std::string_view data);

/// Writes the entry (creating results/ 0700, the file 0600, atomically).
void WriteCache(std::string_view cache_dir, const CacheEntry& e);

/// Removes the entry; a missing file is fine.
void DeleteCache(std::string_view cache_dir, std::string_view network, std::string_view container_id,
                 std::string_view if_name);

/// The raw bytes of an entry, nullopt when there is none.
std::optional<std::string> ReadCacheFile(std::string_view cache_dir, std::string_view network,
                                         std::string_view container_id, std::string_view if_name);

/// GetCachedAttachments: the cniCacheV1 entries in results/ (sorted by file name) that have an
/// ifName and a networkName, filtered by container ID when `container_id` is not empty.
std::vector<CacheEntry> CachedAttachments(std::string_view cache_dir, std::string_view container_id = {});

}  // namespace weft::cnitool
