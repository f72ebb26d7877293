// JSON access with Go encoding/json semantics, which the reference plugins' config parsing has:
// object keys match field names case-insensitively (an exact match is preferred), a later key
// that matches the same field overwrites it (objects merge field by field), unknown keys are
// ignored, and a type mismatch fails with Go's message
// "json: cannot unmarshal string into Go struct field NetConf.mtu of type int".
// Documents are parsed as ordered_json so that "later key wins" can be reproduced.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace cni {

using Json = nlohmann::ordered_json;

/// Parses a document; a syntax error throws Error(6, prefix + ": " + Go-like message).
Json ParseJson(std::string_view text, std::string_view prefix = "");

/// The effective value of field `key` in object `obj` as Go would decode it: every key equal to
/// `key` ignoring ASCII case contributes in document order; later scalars win and objects
/// merge. Returns nullopt when no key matches, or `obj` is not an object. JSON null counts as
/// absent (Go leaves the field at its zero value).
std::optional<Json> Field(const Json& obj, std::string_view key);

/// Typed field access. `type_name` is the Go struct name used in type-mismatch errors
/// ("NetConf"), `go_path` the field path inside it ("mtu", "ipam.subnet"). A mismatch throws
/// Error(kDecodingFailure) whose message is Go's; callers wrap it as the reference does.
class Decoder {
 public:
  Decoder(const Json& obj, std::string type_name, std::string path_prefix = "")
      : obj_(obj), type_(std::move(type_name)), prefix_(std::move(path_prefix)) {}

  std::optional<std::string> String(std::string_view key) const;
  std::optional<bool> Bool(std::string_view key) const;
  std::optional<int64_t> Int(std::string_view key, std::string_view go_type = "int") const;
  std::optional<std::vector<std::string>> StringList(std::string_view key) const;
  /// The raw (merged) value, whatever its type.
  std::optional<Json> Raw(std::string_view key) const { return Field(obj_, key); }
  /// A nested object decoder; a non-object value gives the Go type-mismatch error.
  std::optional<Decoder> Object(std::string_view key, std::string_view go_type) const;
  /// Throws the Go type mismatch error for `key` with a value of JSON type `got`.
  [[noreturn]] void Mismatch(std::string_view key, const Json& got, std::string_view want) const;

  const Json& json() const { return obj_; }

 private:
  Json obj_;
  std::string type_;
  std::string prefix_;
};

/// Go's name for the JSON type of a value in unmarshal errors: "string", "number", "bool",
/// "array", "object".
std::string GoJsonType(const Json& v);

/// Marshals like Go's json.MarshalIndent(v, "", "    "): 4-space indent, no trailing newline,
/// and Go's HTML escaping of <, > and & (as \u003c, \u003e, \u0026).
std::string MarshalIndent(const Json& v);
/// Compact form, like json.Marshal.
std::string Marshal(const Json& v);

}  // namespace cni
