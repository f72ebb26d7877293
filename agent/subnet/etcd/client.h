// A small etcd v3 client over etcd's JSON gRPC gateway (/v3/...), with libcurl: range, put with
// a lease, a create-if-absent transaction, lease grant/revoke/time-to-live, and a streamed watch.
// Keys and values travel base64-encoded as the gateway requires; int64 fields come back as JSON
// strings. Requests go to the endpoints in order; the first that answers wins and is tried first
// next time. TLS (client cert/key, CA) and v3 username/password auth are passed through.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace weft::agent {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379"
  std::string cafile, certfile, keyfile;
  std::string username, password;
  long timeout_ms = 5000;
};

struct KeyValue {
  std::string key, value;
  int64_t create_revision = 0, mod_revision = 0, lease = 0;
};

struct RangeResult {
  std::vector<KeyValue> kvs;
  int64_t revision = 0;
};

struct WatchEvent {
  bool is_delete = false;
  KeyValue kv;
};

std::string Base64Encode(std::string_view in);
std::string Base64Decode(std::string_view in);
/// The range_end that makes a range over every key starting with `prefix`.
std::string PrefixEnd(std::string prefix);

class EtcdClient {
 public:
  explicit EtcdClient(EtcdOptions opts);
  ~EtcdClient();

  std::optional<KeyValue> Get(const std::string& key);
  RangeResult GetPrefix(const std::string& prefix);
  void Put(const std::string& key, const std::string& value, int64_t lease = 0);
  /// Txn(If Version(key)==0 Then Put(key, value, lease)); false when the key exists.
  bool CreateIfAbsent(const std::string& key, const std::string& value, int64_t lease);
  void Delete(const std::string& key);
  int64_t GrantLease(int64_t ttl_seconds);
  void RevokeLease(int64_t id);
  /// Remaining TTL in seconds; nullopt when the lease does not exist (or id is 0).
  std::optional<int64_t> LeaseTimeToLive(int64_t id);

  /// How a watch stream ended.
  enum class WatchEnd { kStopped, kCompacted, kDisconnected };
  /// Streams events of keys under `prefix` from `start_revision` until `stop` becomes true, the
  /// revision was compacted, or the connection drops. `on_events` gets each response's events
  /// and the response header revision. `on_created` runs once the watch is established.
  WatchEnd Watch(const std::string& prefix, int64_t start_revision,
                 const std::function<void(const std::vector<WatchEvent>&, int64_t)>& on_events,
                 const std::atomic<bool>& stop, const std::function<void()>& on_created = {});

  /// Called once for every request that fails (Call throws), e.g. to count errors.
  void SetErrorHook(std::function<void()> hook) { on_error_ = std::move(hook); }

  /// POST a JSON body to a gateway path (authenticating first, and once more when the token
  /// expired); throws cni::Error(kIOFailure) when no endpoint answers or etcd refuses.
  nlohmann::json Call(const std::string& path, const nlohmann::json& body);

 private:
  struct Curl;
  std::unique_ptr<Curl> NewHandle(const std::string& url, const std::string& body, const std::string& token) const;
  nlohmann::json CallOnce(const std::string& path, const nlohmann::json& body);
  /// Gets a token from /v3/auth/authenticate when a username is set and none is held.
  void Authenticate();
  /// One request to the endpoints in order, with the held token when `with_token`.
  nlohmann::json Send(const std::string& path, const nlohmann::json& body, bool with_token);

  EtcdOptions opts_;
  std::mutex auth_mu_;  // one authentication at a time
  std::mutex mu_;       // handle_, preferred_, token_
  std::unique_ptr<Curl> handle_;  // reused for unary calls (keeps the connection alive)
  size_t preferred_ = 0;
  std::string token_;
  std::function<void()> on_error_;
};

}  // namespace weft::agent
