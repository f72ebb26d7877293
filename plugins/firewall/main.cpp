// firewall plugin entry point; see firewall.h.
#include "firewall.h"

int main() { return cni::PluginMain(firewall::Funcs(), "firewall"); }
