// CNI_ARGS parsing with the reference's semantics (types.LoadArgs): "K=V;K=V", keys are
// case-sensitive Go field names, a pair without exactly one "=" is "ARGS: invalid pair", and
// unknown keys fail with `ARGS: unknown args ["FOO=bar"]` unless IgnoreUnknown is 1/true.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cni {

class CniArgs {
 public:
  /// Parses `s` accepting `known` keys (IgnoreUnknown is always known). `validate(key, value)`
  /// returns an error text for a bad value, reported as
  /// `ARGS: error parsing value of pair "K=V": <text>`. Errors are cni::Error(kInternal).
  static CniArgs Parse(std::string_view s, const std::vector<std::string_view>& known,
                       const std::function<std::optional<std::string>(std::string_view, std::string_view)>&
                           validate = nullptr);

  /// The last value given for `key`, if any.
  std::optional<std::string> Get(std::string_view key) const;
  const std::vector<std::pair<std::string, std::string>>& pairs() const { return pairs_; }

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
};

}  // namespace cni
