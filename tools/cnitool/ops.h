// The list operations of libcni (libcni/api.go) on top of cni::ExecPlugin: ADD runs the plugins
// in order, each receiving the previous plugin's result as prevResult, then caches the final
// result; DEL runs them in reverse with the cached result as prevResult and drops the cache;
// CHECK replays the cached result in order; GC DELs every cached attachment of the network that
// is not listed as valid and then sends GC (1.1.0+) with cni.dev/valid-attachments (and the
// older cni.dev/attachments); STATUS asks each plugin in order. Each request config is the
// plugin's JSON with name, cniVersion, prevResult and runtimeConfig (capabilities the plugin
// declared and the caller supplied) injected. Failures name the plugin:
// `plugin type="bridge" failed (add): <plugin's error>`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache.h"
#include "cni/json.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "conf.h"

namespace weft::cnitool {

/// The per-attachment arguments (libcni RuntimeConf).
struct RuntimeConf {
  std::string container_id;
  std::string netns;
  std::string if_name;
  ArgPairs args;                                 // CNI_ARGS pairs
  cni::Json capability_args = cni::Json::object();  // CAP_ARGS
};

/// A (container ID, interface) pair that GC must keep.
struct Attachment {
  std::string container_id;
  std::string if_name;
  bool operator==(const Attachment&) const = default;
};

/// What a plugin answered to VERSION.
struct PluginVersions {
  std::string path;
  std::string cni_version;
  std::vector<std::string> supported;
};

/// buildOneConfig: the request config for one plugin of a list. `prev_result` is the result
/// object to inject (null: none); `rt` adds runtimeConfig when the plugin declares capabilities
/// the caller supplied.
std::string BuildOneConfig(std::string_view name, std::string_view cni_version, const PluginConf& plugin,
                           const cni::Json& prev_result, const RuntimeConf* rt);

/// The GC/STATUS request config: name and cniVersion (and `extra` keys) injected.
std::string InjectConf(const PluginConf& plugin, const cni::Json& values);

/// "cnitool-" + hex of the first 10 bytes of SHA-512(netns path), as upstream cnitool.
std::string ContainerIdForNetns(std::string_view abs_netns);

/// Go's filepath.Abs (Clean of the path joined to the working directory).
std::string AbsPath(std::string_view path);

class CniRunner {
 public:
  /// `cni_path` is ':'-separated; `base_env` is the environment plugins inherit (CNI_* set per call).
  CniRunner(std::string cni_path, std::string cache_dir, cni::Env base_env);

  cni::Result AddList(const NetworkConfigList& list, const RuntimeConf& rt) const;
  void CheckList(const NetworkConfigList& list, const RuntimeConf& rt) const;
  void DelList(const NetworkConfigList& list, const RuntimeConf& rt) const;
  /// `valid` nullopt is what upstream cnitool sends: every cached attachment is stale and GC
  /// carries no valid-attachment keys.
  void GcList(const NetworkConfigList& list, const std::optional<std::vector<Attachment>>& valid) const;
  void StatusList(const NetworkConfigList& list) const;

  /// Runs `type` with VERSION.
  PluginVersions Versions(std::string_view type) const;
  /// Every executable file in the CNI_PATH directories (first one wins per name), sorted.
  std::vector<std::string> PluginsOnPath() const;

  /// The cached result for the attachment converted to `version` (null when there is none).
  /// Throws on a corrupt entry or an impossible conversion.
  cni::Json CachedResult(std::string_view network, std::string_view version, const RuntimeConf& rt) const;

  const std::string& cache_dir() const { return cache_dir_; }

 private:
  std::string Find(std::string_view type) const;
  cni::Env EnvFor(std::string_view command, const RuntimeConf& rt) const;

  std::string cni_path_;
  std::string cache_dir_;
  cni::Env base_env_;
};

}  // namespace weft::cnitool
