// flannel meta-plugin entry point; see flannel.h.
#include "flannel.h"

int main() { return cni::PluginMain(flannel::Funcs(), "flannel"); }
