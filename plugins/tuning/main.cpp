// tuning CNI plugin entry point; see tuning.h.
#include "tuning.h"

int main() { return cni::PluginMain(tuning::Funcs(), "tuning"); }
