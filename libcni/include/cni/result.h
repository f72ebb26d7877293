// The CNI result in one internal model (spec 1.1.0) with exact conversion from and to every
// supported version: 0.1.0/0.2.0 (ip4/ip6 objects), 0.3.0/0.3.1/0.4.0 (ips[] with "version")
// and 1.0.0/1.1.0. Printing follows the reference (types.PrintResult): 4-space indent, no
// trailing newline, "dns" always present, empty lists and empty strings omitted. Converting a
// result without any IP to 0.1.0/0.2.0 fails with "cannot convert: no valid IP addresses".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/ip.h"
#include "cni/json.h"

namespace cni {

struct Interface {
  std::string name;
  std::string mac;
  std::optional<int> mtu;       // 1.1
  std::string sandbox;
  std::string socket_path;      // 1.1
  std::string pci_id;           // 1.1
  bool operator==(const Interface&) const = default;
};

struct IPConfig {
  std::optional<int> interface;  // index into Result::interfaces
  IPNet address;
  std::optional<IP> gateway;
  bool operator==(const IPConfig&) const = default;
};

struct Route {
  IPNet dst;
  std::optional<IP> gw;
  std::optional<int> mtu, advmss, priority, table, scope;  // 1.1
  bool operator==(const Route&) const = default;

  /// Parses {"dst","gw",...} as types.Route does; errors are Go's ("invalid CIDR address: x").
  static Route FromJson(const Json& j);
  Json ToJson() const;
};

struct DNS {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool operator==(const DNS&) const = default;
  bool empty() const { return nameservers.empty() && domain.empty() && search.empty() && options.empty(); }
  static DNS FromJson(const Json& j);
  Json ToJson() const;
};

struct Result {
  std::string cni_version;
  std::vector<Interface> interfaces;
  std::vector<IPConfig> ips;
  std::vector<Route> routes;
  DNS dns;
  bool operator==(const Result&) const = default;

  /// Parses a result of any supported version (cniVersion inside `j` wins over `version`,
  /// a missing one means `version`). Throws Error(kDecodingFailure) on malformed input.
  static Result FromJson(const Json& j, std::string_view version = "");
  /// The JSON of this result in spec version `version` (an unsupported one throws
  /// Error(kIncompatibleVersion)). Throws Error(kInternal, "cannot convert: no valid IP
  /// addresses") for 0.1.0/0.2.0 without IPs.
  Json ToJson(std::string_view version) const;
  /// ToJson printed like types.PrintResult.
  std::string Print(std::string_view version) const;
};

/// Supported spec versions, oldest first: 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0.
const std::vector<std::string>& SupportedVersions();
bool IsSupportedVersion(std::string_view v);
/// Compares two versions like pkg/version.GreaterThanOrEqualTo ("" is 0.1.0, missing parts are
/// 0): -1, 0 or 1. Malformed strings throw Error(kDecodingFailure) with ParseVersion's message
/// ('invalid version "1.2.3.4": too many parts', 'failed to convert major version part "x":
/// strconv.Atoi: parsing "x": invalid syntax').
int CompareVersions(std::string_view a, std::string_view b);

}  // namespace cni
