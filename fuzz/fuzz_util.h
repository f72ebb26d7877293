// Shared helpers of the libFuzzer targets. The oracle of every target: parsing hostile bytes may
// only ever fail with a cni::Error (which the dispatcher turns into CNI error JSON). Any other
// exception (a nlohmann type_error, std::out_of_range, ...) escapes and aborts, and so do
// ASan/UBSan findings; both are reported by libFuzzer as crashes.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>

#include "cni/error.h"

namespace fuzz {

inline std::string_view Bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Runs fn; a cni::Error is an acceptable answer to bad input. Returns whether fn succeeded.
template <typename Fn>
bool Accepts(Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const cni::Error&) {
    return false;
  }
}

/// A violated invariant: print it and abort so libFuzzer saves the input.
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what.c_str());
  std::abort();
}

}  // namespace fuzz
