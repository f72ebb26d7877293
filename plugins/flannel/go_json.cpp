// Go-compatible JSON encoding: see go_json.h.
#include "go_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "cni/error.h"

namespace flannel {
namespace {

// Length of the valid UTF-8 sequence at s[i] (as Go's utf8.DecodeRuneInString accepts it:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0 when it is invalid.
size_t Utf8Len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return k < s.size() && b(k) >= lo && b(k) <= hi;
  };
  unsigned char c = b(i);
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c == 0xe0) return cont(i + 1, 0xa0) && cont(i + 2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (c == 0xed) return cont(i + 1, 0x80, 0x9f) && cont(i + 2) ? 3 : 0;
  if (c == 0xf0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c == 0xf4) return cont(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

void Encode(const cni::Json& v, std::string& out) {
  switch (v.type()) {
    case cni::Json::value_t::null:
    case cni::Json::value_t::discarded: out += "null"; return;
    case cni::Json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; return;
    case cni::Json::value_t::number_integer: out += GoFloat(static_cast<double>(v.get<int64_t>())); return;
    case cni::Json::value_t::number_unsigned: out += GoFloat(static_cast<double>(v.get<uint64_t>())); return;
    case cni::Json::value_t::number_float: out += GoFloat(v.get<double>()); return;
    case cni::Json::value_t::string: out += GoString(v.get_ref<const std::string&>()); return;
    case cni::Json::value_t::binary: {
      const auto& raw = v.get_binary();
      out.append(raw.begin(), raw.end());
      return;
    }
    case cni::Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const cni::Json& e : v) {
        if (!first) out += ',';
        first = false;
        Encode(e, out);
      }
      out += ']';
      return;
    }
    case cni::Json::value_t::object: {
      std::vector<const std::string*> keys;
      keys.reserve(v.size());
      for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(&it.key());
      std::sort(keys.begin(), keys.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
      out += '{';
      for (size_t i = 0; i < keys.size(); ++i) {
        if (i) out += ',';
        out += GoString(*keys[i]);
        out += ':';
        Encode(v.at(*keys[i]), out);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

std::string GoMarshal(const cni::Json& v) {
  std::string out;
  Encode(v, out);
  return out;
}

cni::Json PreEncoded(std::string_view encoded) {
  return cni::Json::binary(std::vector<uint8_t>(encoded.begin(), encoded.end()));
}

std::string GoFloat(double f) {
  if (!std::isfinite(f)) {
    throw cni::Error(cni::kInternal, std::string("json: unsupported value: ") + (std::isnan(f) ? "NaN" : f > 0 ? "+Inf" : "-Inf"));
  }
  double a = std::fabs(f);
  bool exp_form = a != 0 && (a < 1e-6 || a >= 1e21);
  char buf[64];
  // The shortest round-trip digits, then laid out as Go's strconv 'f'/-1 or 'e'/-1 does.
  auto r = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  if (exp_form) {
    size_t n = sci.size();
    if (n >= 4 && sci[n - 4] == 'e' && sci[n - 3] == '-' && sci[n - 2] == '0') sci.erase(n - 2, 1);
    return sci;
  }
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out += '-';
    i = 1;
  }
  size_t e = sci.find('e');
  std::string digits;
  for (size_t k = i; k < e; ++k) {
    if (sci[k] != '.') digits += sci[k];
  }
  int exponent = std::stoi(sci.substr(e + 1));
  int point = exponent + 1;  // digits before the decimal point
  if (digits == "0") return out + "0";
  if (point <= 0) return out + "0." + std::string(static_cast<size_t>(-point), '0') + digits;
  if (static_cast<size_t>(point) >= digits.size()) return out + digits + std::string(static_cast<size_t>(point) - digits.size(), '0');
  return out + digits.substr(0, static_cast<size_t>(point)) + "." + digits.substr(static_cast<size_t>(point));
}

std::string GoString(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  out.reserve(s.size() + 2);
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '<': case '>': case '&':
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    size_t len = Utf8Len(s, i);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (len == 3 && c == 0xe2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out + "\"";
}

}  // namespace flannel
