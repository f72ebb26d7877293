// bandwidth plugin entry point; see bandwidth.h.
#include "bandwidth.h"

int main() { return cni::PluginMain(bandwidth::Funcs(), "bandwidth"); }
