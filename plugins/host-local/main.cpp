// host-local IPAM plugin entry point; see host_local.h.
#include "host_local.h"

int main() { return cni::PluginMain(hostlocal::Funcs(), "host-local"); }
