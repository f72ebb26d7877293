// Go encoding/json semantics on top of nlohmann::ordered_json: see json.h.
#include "cni/json.h"

#include <limits>

#include "cni/error.h"

namespace cni {
namespace {

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// Decoding `next` into a value already holding `prev`, as Go does for struct fields: objects
// merge key by key (keys stay, so a later case-insensitive lookup still sees document order),
// anything else is replaced.
Json Merge(const Json& prev, const Json& next) {
  if (!prev.is_object() || !next.is_object()) return next;
  Json out = prev;
  for (auto it = next.begin(); it != next.end(); ++it) {
    auto found = out.find(it.key());
    if (found != out.end()) {
      *found = Merge(*found, it.value());
    } else {
      out[it.key()] = it.value();
    }
  }
  return out;
}

std::string GoSyntaxError(const nlohmann::detail::parse_error& e, std::string_view text) {
  size_t pos = e.byte == 0 ? 0 : e.byte - 1;
  if (pos >= text.size()) return "unexpected end of JSON input";
  char c = text[pos];
  std::string shown = (c == '\'') ? "'\\''" : std::string("'") + c + "'";
  return "invalid character " + shown + " looking for beginning of value";
}

// Checks done with one scan before nlohmann parses (it has neither): Go's decoder refuses
// documents nested deeper than 10000 levels (maxNestingDepth), and copying a value nested
// 100000 deep would overflow the stack; and a raw NUL byte is invalid JSON to Go, while
// nlohmann takes it for the end of input (so "{...}\0junk" would be accepted).
std::optional<std::string> Prescan(std::string_view text) {
  constexpr size_t kMaxDepth = 10000;
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (c == '\0') {
      return std::string("invalid character '\\x00' ") + (in_string ? "in string literal" : "looking for beginning of value");
    }
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return std::string("invalid character '") + c + "' exceeded max depth";
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace

Json ParseJson(std::string_view text, std::string_view prefix) {
  std::string msg;
  if (auto bad = Prescan(text)) {
    msg = *bad;
  } else {
    try {
      return Json::parse(text.begin(), text.end());
    } catch (const nlohmann::detail::parse_error& e) {
      msg = GoSyntaxError(e, text);
    } catch (const nlohmann::detail::out_of_range& e) {
      // A number beyond float64 (1e400): Go fails decoding it into interface{} this way.
      std::string_view what = e.what();
      size_t open = what.find('\''), close = what.rfind('\'');
      std::string_view number = open < close ? what.substr(open + 1, close - open - 1) : "";
      msg = "json: cannot unmarshal number " + std::string(number) + " into Go value of type float64";
    }
  }
  if (!prefix.empty()) msg = std::string(prefix) + ": " + msg;
  throw Error(kDecodingFailure, msg);
}

std::optional<Json> Field(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  std::optional<Json> out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!EqualFold(it.key(), key) || it.value().is_null()) continue;
    out = out ? Merge(*out, it.value()) : it.value();
  }
  return out;
}

std::string GoJsonType(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "bool";
    case Json::value_t::array: return "array";
    case Json::value_t::object: return "object";
    case Json::value_t::number_float: {
      return "number " + v.dump();
    }
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "number";
    default: return "null";
  }
}

void Decoder::Mismatch(std::string_view key, const Json& got, std::string_view want) const {
  std::string path = prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
  throw Error(kDecodingFailure, "json: cannot unmarshal " + GoJsonType(got) + " into Go struct field " +
                                    type_ + "." + path + " of type " + std::string(want));
}

std::optional<std::string> Decoder::String(std::string_view key) const {
  auto v = Field(obj_, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) Mismatch(key, *v, "string");
  return v->get<std::string>();
}

std::optional<bool> Decoder::Bool(std::string_view key) const {
  auto v = Field(obj_, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) Mismatch(key, *v, "bool");
  return v->get<bool>();
}

std::optional<int64_t> Decoder::Int(std::string_view key, std::string_view go_type) const {
  auto v = Field(obj_, key);
  if (!v) return std::nullopt;
  if (v->is_number_integer() && !v->is_number_unsigned()) {
    int64_t n = v->get<int64_t>();
    if (go_type == "int" || go_type == "int64") return n;
    if (go_type == "uint" || go_type == "uint64") {
      if (n < 0) Mismatch(key, Json(n), go_type);
      return n;
    }
    if (go_type == "int32" && (n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max()))
      Mismatch(key, Json(n), go_type);
    if (go_type == "uint32" && (n < 0 || n > std::numeric_limits<uint32_t>::max())) Mismatch(key, Json(n), go_type);
    if (go_type == "uint16" && (n < 0 || n > 65535)) Mismatch(key, Json(n), go_type);
    if (go_type == "uint8" && (n < 0 || n > 255)) Mismatch(key, Json(n), go_type);
    return n;
  }
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw Error(kDecodingFailure, "json: cannot unmarshal number " + v->dump() + " into Go struct field " +
                                        type_ + "." + (prefix_.empty() ? "" : prefix_ + ".") + std::string(key) +
                                        " of type " + std::string(go_type));
    }
    Json as_signed = static_cast<int64_t>(u);
    return Decoder(Json{{std::string(key), as_signed}}, type_, prefix_).Int(key, go_type);
  }
  if (v->is_number_float()) {
    throw Error(kDecodingFailure, "json: cannot unmarshal number " + v->dump() + " into Go struct field " + type_ +
                                      "." + (prefix_.empty() ? "" : prefix_ + ".") + std::string(key) +
                                      " of type " + std::string(go_type));
  }
  Mismatch(key, *v, go_type);
}

std::optional<std::vector<std::string>> Decoder::StringList(std::string_view key) const {
  auto v = Field(obj_, key);
  if (!v) return std::nullopt;
  if (!v->is_array()) Mismatch(key, *v, "[]string");
  std::vector<std::string> out;
  for (const Json& e : *v) {
    if (e.is_null()) {
      out.emplace_back();
      continue;
    }
    if (!e.is_string()) Mismatch(key, e, "string");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::optional<Decoder> Decoder::Object(std::string_view key, std::string_view go_type) const {
  auto v = Field(obj_, key);
  if (!v) return std::nullopt;
  if (!v->is_object()) Mismatch(key, *v, go_type);
  return Decoder(*v, type_, prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key));
}

namespace {
// Go's encoder escapes <, > and & (HTML safety) and U+2028/U+2029; those bytes can only occur
// inside strings in serialised JSON, so a pass over the text is exact.
std::string GoEscape(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xe2' && i + 2 < s.size() && s[i + 1] == '\x80' && (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
      out += s[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

std::string MarshalIndent(const Json& v) {
  return GoEscape(v.dump(4, ' ', false, Json::error_handler_t::replace));
}

std::string Marshal(const Json& v) { return GoEscape(v.dump(-1, ' ', false, Json::error_handler_t::replace)); }

}  // namespace cni
