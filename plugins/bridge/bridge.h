// bridge: the reference's main plugin (cni-plugins.md §2) on libcni. ADD ensures the bridge,
// creates the veth pair with its peer directly in the container namespace (attached and up in the
// same request), delegates IPAM by exec, configures the container (no DAD wait, no port-state
// polling), puts gateway addresses on the bridge and sets up ipMasq. DEL collects errors and keeps
// going, and removes masquerade rules even when the interface or namespace is gone. CHECK
// follows the reference and also answers correctly for L2 networks. STATUS delegates to IPAM; GC
// removes masquerade rules of attachments that are no longer valid.
#pragma once

#include "cni/skel.h"

namespace bridge {

cni::Result CmdAdd(const cni::CallArgs& args);
void CmdDel(const cni::CallArgs& args);
void CmdCheck(const cni::CallArgs& args);
void CmdGc(const cni::CallArgs& args);
void CmdStatus(const cni::CallArgs& args);

cni::PluginFuncs Funcs();

}  // namespace bridge
