// CNI_ARGS parsing with types.LoadArgs semantics: see args.h.
#include "cni/args.h"

#include <cctype>

#include "cni/encoding.h"
#include "cni/error.h"

namespace cni {
namespace {

std::optional<bool> ParseGoBool(std::string_view v) {
  std::string lower(v);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "1" || lower == "true") return true;
  if (lower == "0" || lower == "false") return false;
  return std::nullopt;
}

}  // namespace

CniArgs CniArgs::Parse(
    std::string_view s, const std::vector<std::string_view>& known,
    const std::function<std::optional<std::string>(std::string_view, std::string_view)>& validate) {
  CniArgs out;
  if (s.empty()) return out;
  std::vector<std::string> unknown;
  bool ignore_unknown = false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(';', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view pair = s.substr(start, end - start);
    start = end + 1;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.find('=', eq + 1) != std::string_view::npos) {
      throw Error(kInternal, "ARGS: invalid pair " + GoQuote(pair));
    }
    std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
    bool is_known = key == "IgnoreUnknown";
    for (std::string_view k : known) is_known = is_known || k == key;
    if (!is_known) {
      unknown.emplace_back(pair);
      continue;
    }
    std::optional<std::string> problem;
    if (key == "IgnoreUnknown") {
      auto b = ParseGoBool(value);
      if (!b) problem = "boolean unmarshal error: invalid input " + std::string(value);
      else ignore_unknown = *b;
    } else if (validate) {
      problem = validate(key, value);
    }
    if (problem) throw Error(kInternal, "ARGS: error parsing value of pair " + GoQuote(pair) + ": " + *problem);
    out.pairs_.emplace_back(std::string(key), std::string(value));
    if (end == s.size()) break;
  }
  if (!unknown.empty() && !ignore_unknown) {
    std::string list = "[";
    for (size_t i = 0; i < unknown.size(); ++i) list += (i ? " " : "") + GoQuote(unknown[i]);
    throw Error(kInternal, "ARGS: unknown args " + list + "]");
  }
  return out;
}

std::optional<std::string> CniArgs::Get(std::string_view key) const {
  std::optional<std::string> v;
  for (const auto& [k, val] : pairs_)
    if (k == key) v = val;
  return v;
}

}  // namespace cni
