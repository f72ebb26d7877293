// loopback: the reference's plugins/main/loopback on libcni. containerd's CRI runs it for every
// pod sandbox. ADD sets `lo` up in CNI_NETNS and answers with `lo` (MAC 00:00:00:00:00:00, the
// sandbox path) and its first IPv4 and first IPv6 address (127.0.0.1/8, ::1/128 once the kernel
// has put them there), or passes a prevResult through unchanged; DEL sets `lo` down (a netns that
// is already gone is success); CHECK fails when `lo` is down. GC and STATUS have nothing to do
// (skel's silent success). The ifname the runtime passes is ignored, as in the reference.
#pragma once

#include "cni/skel.h"

namespace loopback {

cni::Result CmdAdd(const cni::CallArgs& args);
void CmdDel(const cni::CallArgs& args);
void CmdCheck(const cni::CallArgs& args);

cni::PluginFuncs Funcs();

}  // namespace loopback
