// host-local: the IPAM plugin's commands. ADD, DEL and CHECK behave as the reference
// (cni-plugins.md §3.5); GC releases every reservation whose attachment is not in
// cni.dev/valid-attachments (or the older cni.dev/attachments); STATUS reports error 50 when
// the store is not usable or a range set has no free address left.
#pragma once

#include "cni/skel.h"

namespace hostlocal {

cni::Result CmdAdd(const cni::CallArgs& args);
void CmdDel(const cni::CallArgs& args);
void CmdCheck(const cni::CallArgs& args);
void CmdGc(const cni::CallArgs& args);
void CmdStatus(const cni::CallArgs& args);

cni::PluginFuncs Funcs();

}  // namespace hostlocal
