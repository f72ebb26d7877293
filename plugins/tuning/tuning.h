// tuning: the reference's plugins/meta/tuning on libcni, a chained plugin that changes sysctls
// (net.* only) and attributes of the container's interface (MAC, MTU, promiscuous and
// all-multicast mode, txqueuelen) in CNI_NETNS. ADD saves what it is about to change in the
// reference's state file (<dataDir>/<containerID>_<ifname>.json, default dataDir
// /run/cni/tuning, the same JSON), applies the config and outputs the prevResult with the new MAC
// on the interface; DEL puts the saved values back and removes the file; CHECK compares the
// config with the kernel. Sysctls are not restored (they live and die with the namespace).
#pragma once

#include <string>

#include "cni/skel.h"
#include "config.h"

namespace tuning {

cni::Result CmdAdd(const cni::CallArgs& args);
void CmdDel(const cni::CallArgs& args);
void CmdCheck(const cni::CallArgs& args);

cni::PluginFuncs Funcs();

/// The state file of one attachment. Its JSON is the reference's (Go's MarshalIndent with a
/// one-space indent): mac, promisc, mtu, allmulti, txQLen as they were, each only when ADD is
/// going to change it.
std::string StatePath(const Conf& c, const std::string& container_id, const std::string& ifname);

}  // namespace tuning
