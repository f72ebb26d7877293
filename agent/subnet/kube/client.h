// A small client for the few Kubernetes API calls weftd's kube mode makes (libcurl, JSON):
// GET (an object or a list with its resourceVersion), a streamed watch of newline-separated
// events, and PATCH with a given content type (strategic merge for nodes/<n>/status).
// Errors are cni::Errors that say what to do:
//   - the API server unreachable or answering 5xx: kTryAgainLater, with the server and the
//     libcurl/HTTP reason (callers retry with backoff and put the reason on /readyz);
//   - 401/403: kInvalidEnvironment naming the RBAC verb and resource the call needs, next to
//     the server's Status message (e.g. `cannot patch resource "nodes/status"`);
//   - anything else: kIOFailure with the Status message.
// Bearer tokens from a token file are re-read whenever the file changes (bound service-account
// tokens rotate; kubelet rewrites the file at 80 % of their life) and once more after a 401.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/subnet/kube/connection.h"

namespace weft::agent::kube {

/// The RBAC verb and resource a request needs: GET .../nodes?watch=1 → {"watch", "nodes"},
/// PATCH /api/v1/nodes/n/status → {"patch", "nodes/status"}.
struct RbacNeed {
  std::string verb, resource;
};
RbacNeed RbacFor(const std::string& method, const std::string& path);

/// The message an HTTP error answer gets (status code, the API's Status object or raw body).
std::string ApiErrorMessage(const std::string& method, const std::string& path, long status,
                            const std::string& body);

class Client {
 public:
  explicit Client(Connection conn, long timeout_ms = 10000);
  ~Client();

  const Connection& connection() const { return conn_; }

  /// GET `path` (with query); throws on any non-200 answer.
  nlohmann::json Get(const std::string& path);
  /// GET `path`; nullopt on 404.
  std::optional<nlohmann::json> Find(const std::string& path);
  /// PATCH `path` with `body` of `content_type`; returns the updated object.
  nlohmann::json Patch(const std::string& path, const std::string& body, const std::string& content_type);

  /// How a watch ended: stopped by the caller, expired (410 Gone: list again), or the stream
  /// ended (server timeout, closed connection: watch again from the last resourceVersion).
  enum class WatchEnd { kStopped, kGone, kEnded };
  /// Streams `path` + "?watch=1&resourceVersion=<rv>&allowWatchBookmarks=true&timeoutSeconds=<t>"
  /// and calls on_event(type, object) per event (ADDED, MODIFIED, DELETED, BOOKMARK). An ERROR
  /// event with code 410 ends it with kGone; another ERROR throws. `stop` is polled.
  WatchEnd Watch(const std::string& path, const std::string& resource_version, int timeout_s,
                 const std::function<void(const std::string&, const nlohmann::json&)>& on_event,
                 const std::atomic<bool>& stop);

 private:
  struct Request;
  /// Applies server, TLS and credentials to a fresh or reused handle.
  void Prepare(Request& r, const std::string& method, const std::string& path);
  /// The bearer token: the fixed one, or the token file's content (re-read when changed or forced).
  std::string Token(bool force_reread);
  /// One unary call on the shared handle; status and body out. Throws when unreachable.
  long Call(const std::string& method, const std::string& path, const std::string& body,
            const std::string& content_type, std::string& resp);
  nlohmann::json Checked(const std::string& method, const std::string& path, long status, const std::string& body);

  Connection conn_;
  long timeout_ms_;
  std::mutex mu_;  // handle_
  std::unique_ptr<Request> handle_;
  std::mutex token_mu_;
  std::string file_token_;
  struct stat token_stat_ {};
};

}  // namespace weft::agent::kube
