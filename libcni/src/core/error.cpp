// cni::Error and cni::ErrorList: see error.h.
#include "cni/error.h"

#include <cstring>

#include "cni/json.h"

namespace cni {

Error Error::Errno(int err, std::string_view what) {
  return Error(kInternal, std::string(what) + ": " + std::strerror(err));
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
