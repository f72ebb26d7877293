// portmap plugin entry point; see portmap.h.
#include "portmap.h"

int main() { return cni::PluginMain(portmap::Funcs(), "portmap"); }
