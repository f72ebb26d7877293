// portmap configuration (cni-plugins.md §4.1): the keys of the reference's PortMapConf with Go's
// decoding rules (case-insensitive keys, so containerd's capitalised "HostPort" works), its
// validation messages, the backend choice and the container addresses picked from prevResult
// exactly as the reference picks them (first IPv4 and first IPv6, skipping addresses of known
// non-sandbox interfaces).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/ip.h"
#include "cni/result.h"
#include "cni/skel.h"

namespace portmap {

struct PortMapping {
  int host_port = 0;
  int container_port = 0;
  std::string protocol;  // as given ("tcp", "udp", "sctp"); iptables lower-cases it
  std::string host_ip;   // "" = any
};

enum class Backend { kIptables, kNftables };

struct Config {
  std::string cni_version;
  std::string name;
  bool snat = true;
  bool masq_all = false;
  int mark_masq_bit = 13;
  std::optional<std::string> external_set_mark_chain;
  std::optional<std::vector<std::string>> conditions_v4, conditions_v6;
  std::optional<std::string> backend;  // the raw key
  std::vector<PortMapping> mappings;
  std::optional<cni::Result> prev_result;
  std::optional<cni::IPNet> cont_v4, cont_v6;
  std::string container_id;
};

/// Parses and validates the config and picks the container addresses; throws cni::Error with
/// the reference's (unwrapped) messages.
Config ParseConfig(const cni::CallArgs& args);

/// The firewall backend: the explicit `backend` key, else the one the iptables-only or
/// nftables-only options imply, else iptables unless it is unusable and nftables is usable.
/// Throws the reference's mismatch errors.
Backend ChooseBackend(const Config& c);

/// Whether conditions are iptables-style (first token starts with '-' or '!').
bool IsIptablesConditions(const std::vector<std::string>& conditions);

}  // namespace portmap
