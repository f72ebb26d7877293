// The libcni result cache (see cache.h).
#include "cache.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "cni/encoding.h"
#include "cni/error.h"
#include "cni/files.h"
#include "conf.h"

namespace weft::cnitool {
namespace {

using cni::Json;

std::string ResultsDir(std::string_view cache_dir) { return std::string(cache_dir) + "/results"; }

// A JSON string value as Go's encoder writes it (HTML-safe escaping).
std::string GoString(std::string_view s) { return cni::Marshal(Json(std::string(s))); }

bool NonEmptyObject(const Json& j) { return j.is_object() && !j.empty(); }

}  // namespace

std::string CacheFilePath(std::string_view cache_dir, std::string_view network, std::string_view container_id,
                          std::string_view if_name) {
  if (network.empty() || container_id.empty() || if_name.empty()) {
    throw cni::Error(cni::kInternal, "cache file path requires network name (" + GoQuote(network) +
                                         "), container ID (" + GoQuote(container_id) + "), and interface name (" +
                                         GoQuote(if_name) + ")");
  }
  return ResultsDir(cache_dir) + "/" + std::string(network) + "-" + std::string(container_id) + "-" +
         std::string(if_name);
}

std::string EncodeCache(const CacheEntry& e) {
  std::string out = "{\"kind\":" + GoString(kCacheKind);
  out += ",\"containerId\":" + GoString(e.container_id);
  out += ",\"config\":" + GoString(cni::Base64Encode(e.config));
  out += ",\"ifName\":" + GoString(e.if_name);
  out += ",\"networkName\":" + GoString(e.network_name);
  if (!e.netns.empty()) out += ",\"netns\":" + GoString(e.netns);
  if (!e.cni_args.empty()) {
    out += ",\"cniArgs\":[";
    for (size_t i = 0; i < e.cni_args.size(); ++i) {
      out += (i ? ",[" : "[") + GoString(e.cni_args[i].first) + "," + GoString(e.cni_args[i].second) + "]";
    }
    out += "]";
  }
  if (NonEmptyObject(e.capability_args)) out += ",\"capabilityArgs\":" + GoMarshalSorted(e.capability_args);
  if (NonEmptyObject(e.result)) out += ",\"result\":" + GoMarshalSorted(e.result);
  return out + "}";
}

std::optional<CacheEntry> DecodeCache(std::string_view data) {
  Json j;
  try {
    j = cni::ParseJson(data);
  } catch (const cni::Error&) {
    return std::nullopt;
  }
  if (!j.is_object()) return std::nullopt;
  // Go decodes into a struct: keys match case-insensitively and a type mismatch fails the whole
  // document.
  try {
    cni::Decoder dec(j, "cachedInfo");
    if (dec.String("kind").value_or("") != kCacheKind) return std::nullopt;
    CacheEntry e;
    e.container_id = dec.String("containerId").value_or("");
    e.config = cni::Base64Decode(dec.String("config").value_or(""));
    e.if_name = dec.String("ifName").value_or("");
    e.network_name = dec.String("networkName").value_or("");
    e.netns = dec.String("netns").value_or("");
    if (auto args = dec.Raw("cniArgs")) {
      if (!args->is_array()) return std::nullopt;
      for (const Json& pair : *args) {
        if (!pair.is_array()) return std::nullopt;
        std::string k = pair.size() > 0 && pair[0].is_string() ? pair[0].get<std::string>() : "";
        std::string v = pair.size() > 1 && pair[1].is_string() ? pair[1].get<std::string>() : "";
        e.cni_args.emplace_back(std::move(k), std::move(v));
      }
    }
    if (auto caps = dec.Raw("capabilityArgs")) {
      if (!caps->is_object()) return std::nullopt;
      e.capability_args = *caps;
    }
    if (auto res = dec.Raw("result")) {
      if (!res->is_object()) return std::nullopt;
      e.result = *res;
    }
    return e;
  } catch (const cni::Error&) {
    return std::nullopt;
  }
}

void WriteCache(std::string_view cache_dir, const CacheEntry& e) {
  std::string path = CacheFilePath(cache_dir, e.network_name, e.container_id, e.if_name);
  cni::EnsureDir(ResultsDir(cache_dir), 0700);
  cni::WriteFileAtomic(path, EncodeCache(e), 0600);
}

void DeleteCache(std::string_view cache_dir, std::string_view network, std::string_view container_id,
                 std::string_view if_name) {
  std::string path = CacheFilePath(cache_dir, network, container_id, if_name);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) throw cni::Error::Errno(errno, "remove " + path);
}

std::optional<std::string> ReadCacheFile(std::string_view cache_dir, std::string_view network,
                                         std::string_view container_id, std::string_view if_name) {
  return cni::ReadFile(CacheFilePath(cache_dir, network, container_id, if_name));
}

std::vector<CacheEntry> CachedAttachments(std::string_view cache_dir, std::string_view container_id) {
  std::vector<CacheEntry> out;
  std::string dir = ResultsDir(cache_dir);
  DIR* d = opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throw cni::Error::Errno(errno, "open " + dir);
  }
  std::vector<std::string> names;
  while (dirent* ent = readdir(d)) {
    std::string n = ent->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  const std::string part = "-" + std::string(container_id) + "-";
  for (const std::string& name : names) {
    if (!container_id.empty()) {
      size_t pos = name.find(part);
      if (pos == std::string::npos || pos == 0 || pos + part.size() >= name.size()) continue;
    }
    std::optional<std::string> data;
    try {
      data = cni::ReadFile(dir + "/" + name);
    } catch (const cni::Error&) {
      continue;  // unreadable entries are skipped, as the reference does
    }
    if (!data) continue;
    std::optional<CacheEntry> e = DecodeCache(*data);
    if (!e) continue;
    if (!container_id.empty() && e->container_id != container_id) continue;
    if (e->if_name.empty() || e->network_name.empty()) continue;
    out.push_back(std::move(*e));
  }
  return out;
}

}  // namespace weft::cnitool
