// bridge CNI plugin entry point; see bridge.h.
#include "bridge.h"

int main() { return cni::PluginMain(bridge::Funcs(), "bridge"); }
