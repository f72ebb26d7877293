// portmap: the chained meta plugin that forwards host ports to a container (cni-plugins.md §4),
// built on libcni's firewall layer. ADD programs the reference's chains (iptables, through the
// backend the host's iptables uses) or its `cni_hostport` tables (nftables) in one transaction
// per address family, deletes stale UDP/SCTP conntrack entries for the host ports and enables
// route_localnet for the localhost DNAT; DEL removes exactly that container's rules (without
// prevResult and without the namespace; a no-op without portMappings), CHECK compares the rules,
// GC removes the chains of attachments that are no longer valid.
// Known limitation shared with the reference: a host port is not reserved, the last ADD that
// claims it wins; shared chains, mark rules and route_localnet are never removed.
#pragma once

#include "cni/skel.h"

namespace portmap {

cni::PluginFuncs Funcs();

cni::Result Add(const cni::CallArgs& args);
void Del(const cni::CallArgs& args);
void Check(const cni::CallArgs& args);
void Gc(const cni::CallArgs& args);

}  // namespace portmap
