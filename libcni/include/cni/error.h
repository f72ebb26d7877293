// cni::Error is the one error type of weft. It carries a CNI error code (spec §"Error codes"),
// a short message and optional details, and is printed as the CNI error JSON by the dispatcher,
// which is the only place that catches it. Wrapper layers (netlink, firewall, files, JSON) throw
// it; callers add context with Error::Wrap so messages read "create veth: File exists".
// ErrorList collects failures on DEL paths, which keep going and report once at the end.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cni {

enum Code : unsigned {
  kUnknown = 0,
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIOFailure = 5,
  kDecodingFailure = 6,
  kInvalidNetworkConfig = 7,
  kInvalidNetns = 8,
  kTryAgainLater = 11,
  kNotAvailable = 50,
  kLimitedConnectivity = 51,
  kInternal = 999,
};

class Error : public std::exception {
 public:
  Error(unsigned code, std::string msg, std::string details = {})
      : code_(code), msg_(std::move(msg)), details_(std::move(details)) {}

  /// An internal (999) error whose message ends in strerror(err): "open x: No such file".
  static Error Errno(int err, std::string_view what);

  unsigned code() const { return code_; }
  const std::string& msg() const { return msg_; }
  const std::string& details() const { return details_; }
  const char* what() const noexcept override { return msg_.c_str(); }

  /// The same error with "context: " put in front of the message.
  Error Wrap(std::string_view context) const;

  /// The CNI error JSON as skel prints it (4-space indent, details omitted when empty).
  std::string ToJson() const;

 private:
  unsigned code_;
  std::string msg_;
  std::string details_;
};

/// Go's text of an errno (syscall.Errno.Error()): strerror() with a lower-case first letter,
/// "no such file or directory", as the reference prints it in "open <path>: <text>".
std::string GoErrno(int err);

/// Collects errors so that a DEL can try every step and report all failures at once.
class ErrorList {
 public:
  /// Runs fn; an Error (or std::exception) it throws is recorded instead of propagated.
  template <typename Fn>
  void Try(Fn&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      errors_.push_back(e);
    } catch (const std::exception& e) {
      errors_.emplace_back(kInternal, e.what());
    }
  }
  void Add(Error e) { errors_.push_back(std::move(e)); }
  bool empty() const { return errors_.empty(); }
  /// Throws nothing when empty, the error itself when there is one, else a 999 error whose
  /// message joins all messages with "; " (the code of the first error is kept when all agree).
  void ThrowIfAny() const;

 private:
  std::vector<Error> errors_;
};

}  // namespace cni
