// Base64 as Go's encoding/base64 StdEncoding writes and reads it: the standard alphabet with '='
// padding. It is how Go marshals a []byte into JSON, so libcni's result cache stores the network
// config this way and every reader of that cache (containerd, CRI-O, podman, cnitool) expects it.
#pragma once

#include <string>
#include <string_view>

namespace cni {

/// Standard base64 with padding.
std::string Base64Encode(std::string_view data);

/// Strict standard base64 (padding required, as Go's StdEncoding); CR and LF are skipped as Go
/// does. Throws Error(kDecodingFailure, "illegal base64 data at input byte N").
std::string Base64Decode(std::string_view text);

/// Go's strconv.Quote (fmt's %q) for UTF-8 text: the form the reference's error messages and
/// rule comments carry (\" \\ \a \b \f \n \r \t \v, other control bytes as \xNN).
std::string GoQuote(std::string_view s);

}  // namespace cni
