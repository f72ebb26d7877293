// Go's json.Marshal of values decoded into interface{} (map[string]interface{}, []interface{},
// float64, string, bool, nil), which is how the reference serialises the delegate config and
// therefore what the saved <dataDir>/<containerID> file holds byte for byte: compact, map keys
// sorted bytewise at every level, every number printed as Go prints a float64 (1400, 1e+21,
// 1.5e-7, 12345678901234567000), strings with Go's escaping (\u003c \u003e \u0026, \u2028,
// \u2029, \b \f \n \r \t, other control bytes as \u00XX, invalid UTF-8 as \ufffd).
// A JSON binary value holds bytes that are already encoded JSON and is copied as is: that is how
// a Go struct (whose fields keep declaration order, e.g. types.Route) sits inside a map.
#pragma once

#include <string>
#include <string_view>

#include "cni/json.h"

namespace flannel {

/// json.Marshal(v) as Go does it for interface{} values. Throws cni::Error(kInternal,
/// "json: unsupported value: +Inf") for non-finite numbers.
std::string GoMarshal(const cni::Json& v);

/// A value that GoMarshal copies verbatim (`encoded` must be valid compact JSON).
cni::Json PreEncoded(std::string_view encoded);

/// Go's float64 text in encoding/json ('f' format, 'e' below 1e-6 and from 1e21, "e-07" -> "e-7").
std::string GoFloat(double f);

/// A Go-escaped, quoted JSON string.
std::string GoString(std::string_view s);

}  // namespace flannel
