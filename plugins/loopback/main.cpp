// loopback CNI plugin entry point; see loopback.h.
#include "loopback.h"

int main() { return cni::PluginMain(loopback::Funcs(), "loopback"); }
