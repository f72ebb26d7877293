// The plugin dispatcher, as the reference's pkg/skel: it validates the CNI_* environment with
// the reference's codes and messages, reads and checks the network config on stdin, negotiates
// the version, calls the plugin's function for the command and prints the result or the error
// JSON. Dispatch takes the environment and the three streams explicitly so tests can run a
// plugin in-process; PluginMain is the thin wrapper every main() calls. This is the one place
// that catches cni::Error.
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/json.h"
#include "cni/result.h"

namespace cni {

using Env = std::map<std::string, std::string, std::less<>>;

/// Everything a plugin function gets for one call.
struct CallArgs {
  std::string command;       // ADD, DEL, CHECK, GC, STATUS
  std::string container_id;  // CNI_CONTAINERID ("" for GC/STATUS)
  std::string netns;         // CNI_NETNS (may be "" on DEL)
  std::string ifname;        // CNI_IFNAME
  std::string args;          // CNI_ARGS
  std::string path;          // CNI_PATH
  std::string stdin_data;    // the network config, byte for byte (delegates get exactly this)
  Json config;               // stdin parsed
  std::string cni_version;   // the config's cniVersion, "0.1.0" when absent
  std::string name;          // the network name
  Env env;                   // the caller's whole environment, for delegation

  /// prevResult parsed in the config's version (nullopt when absent or null).
  std::optional<Result> PrevResult() const;
};

struct PluginFuncs {
  std::function<Result(const CallArgs&)> add;
  std::function<void(const CallArgs&)> del;
  std::function<void(const CallArgs&)> check;
  std::function<void(const CallArgs&)> gc;      // empty: GC succeeds silently
  std::function<void(const CallArgs&)> status;  // empty: STATUS succeeds silently
  /// The oldest spec version the plugin accepts, as the reference's VersionsStartingFrom
  /// ("0.3.0" for bandwidth, "0.4.0" for firewall); empty: every supported version.
  std::string min_version{};
};

struct Invocation {
  Env env;
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

/// Runs one plugin call; returns the process exit status (0 or 1).
int Dispatch(const PluginFuncs& funcs, std::string_view plugin_name, const Invocation& inv);

/// main() of a plugin: Dispatch with the process environment and standard streams.
int PluginMain(const PluginFuncs& funcs, std::string_view plugin_name);

/// The environment of this process as an Env.
Env ProcessEnv();

/// The VERSION output: {"cniVersion":"1.1.0","supportedVersions":[...]} plus "\n", listing
/// the versions from `min_version` on (empty: all).
std::string VersionJson(std::string_view min_version = "");

/// The supported versions from `min_version` on (empty: all), oldest first.
std::vector<std::string> VersionsFrom(std::string_view min_version);

/// Validations shared with cnitool and tests (throw cni::Error with the reference's codes).
void ValidateContainerID(std::string_view id);
void ValidateInterfaceName(std::string_view ifname);
void ValidateNetworkName(std::string_view name);

}  // namespace cni
