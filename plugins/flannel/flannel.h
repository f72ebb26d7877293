// flannel: the meta-plugin's commands (flannel.md §1.7), a drop-in for flannel-io/cni-plugin.
// ADD builds the delegate config from the netconf and subnet.env, saves its bytes crash-safely
// to <dataDir>/<containerID> before running the delegate, and prints the delegate's result.
// DEL replays the saved bytes to the delegate. Where weft does better than the reference:
//  - a missing subnet.env is CNI error 11 (try again later), same message text;
//  - a failed delegate ADD is undone at once (delegate DEL, then the saved file is removed);
//  - a failed delegate DEL keeps the saved file, so a retried DEL can still release the IP;
//  - a missing or corrupt saved file on DEL is rebuilt from the current netconf and subnet.env,
//    so the IP is still released;
//  - CHECK runs the delegate's CHECK with the saved config and the runtime's prevResult;
//  - GC removes saved files of this network's containers that are not in
//    cni.dev/valid-attachments (or cni.dev/attachments) and forwards GC to the delegate;
//  - STATUS is error 50 while subnet.env is missing or incomplete, else the delegate's STATUS.
#pragma once

#include "cni/skel.h"

namespace flannel {

cni::Result CmdAdd(const cni::CallArgs& args);
void CmdDel(const cni::CallArgs& args);
void CmdCheck(const cni::CallArgs& args);
void CmdGc(const cni::CallArgs& args);
void CmdStatus(const cni::CallArgs& args);

cni::PluginFuncs Funcs();

}  // namespace flannel
