// cnitool's environment parsing (see env.h).
#include "env.h"

#include "cni/error.h"

namespace weft::cnitool {

ArgPairs ParseCniArgsEnv(std::string_view s) {
  ArgPairs out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(';', start);
    std::string_view pair = s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == pair.size() ||
        pair.find('=', eq + 1) != std::string_view::npos) {
      throw ConfigError("invalid CNI_ARGS pair " + GoQuote(pair));
    }
    out.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

cni::Json ParseCapArgs(std::string_view s) {
  if (s.empty()) return cni::Json::object();
  cni::Json j;
  try {
    j = cni::ParseJson(s);
  } catch (const cni::Error& e) {
    throw ConfigError("CAP_ARGS: " + e.msg());
  }
  if (j.is_null()) return cni::Json::object();
  if (!j.is_object()) {
    throw ConfigError("CAP_ARGS: json: cannot unmarshal " + cni::GoJsonType(j) +
                      " into Go value of type map[string]interface {}");
  }
  return j;
}

std::string ChooseIfName(std::string_view flag, std::string_view env) {
  if (!flag.empty()) return std::string(flag);
  if (!env.empty()) return std::string(env);
  return "eth0";
}

}  // namespace weft::cnitool
