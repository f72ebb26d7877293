// etcd v3 JSON gateway client (see etcd.h). One curl easy handle serves unary calls under a
// mutex (connection reuse keeps a call at a fraction of a millisecond on loopback); a watch gets
// its own handle and runs on the caller's thread, splitting the streamed body into one JSON
// message per line as the gateway writes them.
#include "agent/subnet/etcd/client.h"

#include <curl/curl.h>

#include <stdexcept>

#include "agent/http.h"
#include "cni/error.h"

namespace weft::agent {

using nlohmann::json;

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int64_t Int(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return 0;
  if (it->is_string()) return std::stoll(it->get<std::string>());
  return it->get<int64_t>();
}

KeyValue ToKv(const json& j) {
  KeyValue kv;
  kv.key = Base64Decode(j.value("key", ""));
  kv.value = Base64Decode(j.value("value", ""));
  kv.create_revision = Int(j, "create_revision");
  kv.mod_revision = Int(j, "mod_revision");
  kv.lease = Int(j, "lease");
  return kv;
}

}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) |
                 uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '+' || c == '-') d = 62;
    else if (c == '/' || c == '_') d = 63;
    else continue;  // '=' padding, whitespace
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string PrefixEnd(std::string prefix) {
  for (size_t i = prefix.size(); i-- > 0;) {
    if (static_cast<uint8_t>(prefix[i]) < 0xff) {
      prefix[i] = static_cast<char>(prefix[i] + 1);
      prefix.resize(i + 1);
      return prefix;
    }
  }
  return std::string(1, '\0');  // the whole key space
}

struct EtcdClient::Curl {
  http::Handle handle;
  CURL* h = handle.get();
  std::string body;
  void SetToken(const std::string& token) {
    handle.SetHeaders({"Content-Type: application/json", token.empty() ? "" : "Authorization: " + token});
  }
};

EtcdClient::EtcdClient(EtcdOptions opts) : opts_(std::move(opts)) {
  http::GlobalInit();
  if (opts_.endpoints.empty()) throw cni::Error(cni::kInvalidEnvironment, "no etcd endpoints");
  for (auto& e : opts_.endpoints)
    while (!e.empty() && e.back() == '/') e.pop_back();
}

EtcdClient::~EtcdClient() = default;

std::unique_ptr<EtcdClient::Curl> EtcdClient::NewHandle(const std::string& url, const std::string& body,
                                                        const std::string& token) const {
  auto c = std::make_unique<Curl>();
  c->body = body;
  c->SetToken(token);
  curl_easy_setopt(c->h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body.c_str());
  curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, static_cast<long>(c->body.size()));
  curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
  if (!opts_.cafile.empty()) curl_easy_setopt(c->h, CURLOPT_CAINFO, opts_.cafile.c_str());
  // flanneld uses TLS client auth only when both cert and key are given; TLS 1.2 at least.
  if (!opts_.certfile.empty() && !opts_.keyfile.empty()) {
    curl_easy_setopt(c->h, CURLOPT_SSLCERT, opts_.certfile.c_str());
    curl_easy_setopt(c->h, CURLOPT_SSLKEY, opts_.keyfile.c_str());
  }
  curl_easy_setopt(c->h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  return c;
}

void EtcdClient::Authenticate() {
  if (opts_.username.empty()) return;
  std::lock_guard<std::mutex> auth_lock(auth_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!token_.empty()) return;
  }
  json r = Send("/v3/auth/authenticate", {{"name", opts_.username}, {"password", opts_.password}}, false);
  std::string token = r.value("token", "");
  if (token.empty()) throw cni::Error(cni::kIOFailure, "etcd authenticate: no token in the answer");
  std::lock_guard<std::mutex> lock(mu_);
  token_ = token;
}

json EtcdClient::Call(const std::string& path, const json& body) {
  try {
    return CallOnce(path, body);
  } catch (const cni::Error&) {
    if (on_error_) on_error_();
    throw;
  }
}

json EtcdClient::CallOnce(const std::string& path, const json& body) {
  Authenticate();
  try {
    return Send(path, body, true);
  } catch (const cni::Error& e) {
    // Simple tokens expire after etcd's --auth-token-ttl (5 min) without use: log in again once.
    if (opts_.username.empty() || (e.msg().find("invalid auth token") == std::string::npos &&
                                   e.msg().find("HTTP 401") == std::string::npos))
      throw;
    {
      std::lock_guard<std::mutex> lock(mu_);
      token_.clear();
    }
    Authenticate();
    return Send(path, body, true);
  }
}

json EtcdClient::Send(const std::string& path, const json& body, bool with_token) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string payload = body.dump();
  std::string last_error = "no endpoints";
  for (size_t attempt = 0; attempt < opts_.endpoints.size(); ++attempt) {
    size_t idx = (preferred_ + attempt) % opts_.endpoints.size();
    const std::string url = opts_.endpoints[idx] + path;
    if (!handle_) handle_ = NewHandle(url, payload, {});
    CURL* h = handle_->h;
    handle_->SetToken(with_token ? token_ : std::string());
    handle_->body = payload;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, handle_->body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(handle_->body.size()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, opts_.timeout_ms);
    std::string resp;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http::AppendBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      last_error = opts_.endpoints[idx] + ": " + curl_easy_strerror(rc);
      handle_.reset();
      continue;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    json j = json::parse(resp, nullptr, false);
    if (status != 200 || j.is_discarded()) {
      std::string msg = j.is_object() ? j.value("message", j.value("error", resp)) : resp;
      throw cni::Error(cni::kIOFailure, "etcd " + path + ": HTTP " + std::to_string(status) + ": " + msg);
    }
    preferred_ = idx;
    return j;
  }
  throw cni::Error(cni::kIOFailure, "etcd " + path + ": " + last_error);
}

std::optional<KeyValue> EtcdClient::Get(const std::string& key) {
  json r = Call("/v3/kv/range", {{"key", Base64Encode(key)}});
  if (!r.contains("kvs") || r["kvs"].empty()) return std::nullopt;
  return ToKv(r["kvs"][0]);
}

RangeResult EtcdClient::GetPrefix(const std::string& prefix) {
  json r = Call("/v3/kv/range",
                {{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixEnd(prefix))}});
  RangeResult out;
  out.revision = Int(r.value("header", json::object()), "revision");
  if (r.contains("kvs"))
    for (const auto& kv : r["kvs"]) out.kvs.push_back(ToKv(kv));
  return out;
}

void EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  json body = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease) body["lease"] = std::to_string(lease);
  Call("/v3/kv/put", body);
}

bool EtcdClient::CreateIfAbsent(const std::string& key, const std::string& value, int64_t lease) {
  json put = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease) put["lease"] = std::to_string(lease);
  json body = {
      {"compare", json::array({{{"key", Base64Encode(key)}, {"result", "EQUAL"}, {"target", "VERSION"},
                                {"version", "0"}}})},
      {"success", json::array({{{"request_put", put}}})}};
  json r = Call("/v3/kv/txn", body);
  return r.value("succeeded", false);
}

void EtcdClient::Delete(const std::string& key) {
  Call("/v3/kv/deleterange", {{"key", Base64Encode(key)}});
}

int64_t EtcdClient::GrantLease(int64_t ttl_seconds) {
  json r = Call("/v3/lease/grant", {{"TTL", std::to_string(ttl_seconds)}});
  int64_t id = Int(r, "ID");
  if (id == 0) throw cni::Error(cni::kIOFailure, "etcd lease grant: " + r.value("error", r.dump()));
  return id;
}

void EtcdClient::RevokeLease(int64_t id) {
  Call("/v3/lease/revoke", {{"ID", std::to_string(id)}});
}

std::optional<int64_t> EtcdClient::LeaseTimeToLive(int64_t id) {
  if (id == 0) return std::nullopt;
  json r = Call("/v3/lease/timetolive", {{"ID", std::to_string(id)}});
  int64_t ttl = r.contains("TTL") ? Int(r, "TTL") : -1;
  if (ttl < 0) return std::nullopt;
  return ttl;
}

namespace {

struct WatchState {
  const std::function<void(const std::vector<WatchEvent>&, int64_t)>* on_events;
  const std::function<void()>* on_created;
  const std::atomic<bool>* stop;
  bool compacted = false;
  bool canceled = false;
};

// Handles one gateway message: {"result":{"header":{...},"created":true}} or {"result":{...,
// "events":[{"type":"DELETE","kv":{...}}]}} (PUT is the zero enum and is left out), or an
// {"error":...}. Returns false to end the stream.
bool HandleMessage(WatchState& st, const json& msg) {
  if (!msg.contains("result")) return false;
  const json& r = msg["result"];
  if (r.contains("compact_revision") && Int(r, "compact_revision") != 0) {
    st.compacted = true;
    return false;
  }
  if (r.value("canceled", false)) {
    st.canceled = true;
    return false;
  }
  if (r.value("created", false) && *st.on_created) (*st.on_created)();
  if (r.contains("events") && !r["events"].empty()) {
    std::vector<WatchEvent> evs;
    for (const auto& e : r["events"]) {
      WatchEvent we;
      we.is_delete = e.value("type", "PUT") == "DELETE";
      we.kv = ToKv(e.value("kv", json::object()));
      evs.push_back(std::move(we));
    }
    (*st.on_events)(evs, Int(r.value("header", json::object()), "revision"));
  }
  return true;
}

struct WatchStream {
  WatchState st;
  http::LineSplitter lines{[this](std::string_view line) {
    json msg = json::parse(line, nullptr, false);
    return !msg.is_discarded() && HandleMessage(st, msg);
  }};
};

size_t WatchWrite(char* p, size_t size, size_t n, void* ud) {
  return static_cast<WatchStream*>(ud)->lines.Feed(p, size * n) ? size * n : 0;  // 0 aborts the transfer
}

int WatchProgress(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<WatchStream*>(ud)->st.stop->load() ? 1 : 0;
}

}  // namespace

EtcdClient::WatchEnd EtcdClient::Watch(
    const std::string& prefix, int64_t start_revision,
    const std::function<void(const std::vector<WatchEvent>&, int64_t)>& on_events,
    const std::atomic<bool>& stop, const std::function<void()>& on_created) {
  Authenticate();
  json req = {{"create_request",
               {{"key", Base64Encode(prefix)},
                {"range_end", Base64Encode(PrefixEnd(prefix))},
                {"start_revision", std::to_string(start_revision)}}}};
  size_t idx;
  std::string token;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idx = preferred_;
    token = token_;
  }
  auto c = NewHandle(opts_.endpoints[idx] + "/v3/watch", req.dump(), token);
  WatchStream ws{{&on_events, &on_created, &stop}};
  const WatchState& st = ws.st;
  curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, WatchWrite);
  curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &ws);
  curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, WatchProgress);
  curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, &ws);
  // A dead peer is noticed through TCP keepalive (the stream itself may be idle for hours).
  curl_easy_setopt(c->h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c->h, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(c->h, CURLOPT_TCP_KEEPINTVL, 5L);
  curl_easy_perform(c->h);
  if (stop.load()) return WatchEnd::kStopped;
  if (st.compacted) return WatchEnd::kCompacted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    preferred_ = (idx + 1) % opts_.endpoints.size();  // try the next endpoint on reconnect
  }
  return WatchEnd::kDisconnected;
}

}  // namespace weft::agent
