// cni::Error and cni::ErrorList: see error.h.
#include "cni/error.h"

#include <cstring>

#include "cni/json.h"

namespace cni {

Error Error::Errno(int err, std::string_view what) {
  return Error(kInternal, std::string(what) + ": " + std::strerror(err));
}

std::string GoErrno(int err) {
  std::string s = std::strerror(err);
  // Go keeps a leading acronym ("RPC struct is bad").
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z'))
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

Error Error::Wrap(std::string_view context) const {
  return Error(code_, std::string(context) + ": " + msg_, details_);
}

std::string Error::ToJson() const {
  Json j = Json::object();
  j["code"] = code_;
  j["msg"] = msg_;
  if (!details_.empty()) j["details"] = details_;
  return MarshalIndent(j);
}

void ErrorList::ThrowIfAny() const {
  if (errors_.empty()) return;
  if (errors_.size() == 1) throw errors_.front();
  std::string msg;
  unsigned code = errors_.front().code();
  for (const Error& e : errors_) {
    if (!msg.empty()) msg += "; ";
    msg += e.msg();
    if (e.code() != code) code = kInternal;
  }
  throw Error(code, msg);
}

}  // namespace cni
