// Kubernetes API client (see client.h). One easy handle serves unary calls under a mutex, so
// the TLS connection is reused; a watch gets its own handle and runs on the caller's thread.
#include "agent/subnet/kube/client.h"

#include <fstream>
#include <sstream>

#include "agent/http.h"
#include "cni/error.h"

namespace weft::agent::kube {

using nlohmann::json;

namespace {

std::string StripQuery(const std::string& path) { return path.substr(0, path.find('?')); }

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

const char* Reason(long status) {
  switch (status) {
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

}  // namespace

RbacNeed RbacFor(const std::string& method, const std::string& path) {
  std::string p = StripQuery(path);
  // Split after /api/v1 (core group) or /apis/<group>/<version>.
  std::vector<std::string> parts;
  for (size_t i = 0; i < p.size();) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (j > i) parts.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  size_t at = parts.size() >= 2 && parts[0] == "api" ? 2 : parts.size() >= 3 && parts[0] == "apis" ? 3 : parts.size();
  if (at + 1 < parts.size() && parts[at] == "namespaces" && at + 2 < parts.size()) at += 2;
  RbacNeed need;
  bool named = at + 1 < parts.size();
  if (at < parts.size()) need.resource = parts[at];
  if (at + 2 < parts.size()) need.resource += "/" + parts[at + 2];  // a subresource
  bool watch = path.find("watch=1") != std::string::npos || path.find("watch=true") != std::string::npos;
  if (method == "GET") need.verb = watch ? "watch" : named ? "get" : "list";
  else if (method == "PATCH") need.verb = "patch";
  else if (method == "PUT") need.verb = "update";
  else if (method == "POST") need.verb = "create";
  else if (method == "DELETE") need.verb = "delete";
  return need;
}

std::string ApiErrorMessage(const std::string& method, const std::string& path, long status,
                            const std::string& body) {
  std::string msg = "kube API: " + method + " " + StripQuery(path) + ": " + std::to_string(status);
  if (*Reason(status)) msg += std::string(" ") + Reason(status);
  json j = json::parse(body, nullptr, false);
  std::string detail = j.is_object() && j.value("kind", "") == "Status" ? j.value("message", "") : Trim(body);
  if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
  if (!detail.empty()) msg += ": " + detail;
  if (status == 401 || status == 403) {
    RbacNeed n = RbacFor(method, path);
    if (status == 403)
      msg += "; the service account needs RBAC verb \"" + n.verb + "\" on resource \"" + n.resource +
             "\" (the ClusterRole of conf/kube-flannel.yml: pods get; nodes get, list, watch; nodes/status patch)";
    else
      msg += "; the API server did not accept the credentials (expired or unknown token, wrong client certificate)";
  }
  return msg;
}

struct Client::Request {
  http::Handle handle;
  std::string body;
};

Client::Client(Connection conn, long timeout_ms) : conn_(std::move(conn)), timeout_ms_(timeout_ms) {
  http::GlobalInit();
  if (conn_.server.empty()) throw cni::Error(cni::kInvalidEnvironment, "kube API: no server address");
}

Client::~Client() = default;

std::string Client::Token(bool force_reread) {
  if (!conn_.token.empty() || conn_.token_file.empty()) return conn_.token;
  std::lock_guard<std::mutex> lock(token_mu_);
  struct stat st {};
  bool changed = stat(conn_.token_file.c_str(), &st) != 0 || st.st_ino != token_stat_.st_ino ||
                 st.st_size != token_stat_.st_size || st.st_mtim.tv_sec != token_stat_.st_mtim.tv_sec ||
                 st.st_mtim.tv_nsec != token_stat_.st_mtim.tv_nsec;
  if (changed || force_reread || file_token_.empty()) {
    std::ifstream f(conn_.token_file, std::ios::binary);
    if (!f) throw cni::Error(cni::kInvalidEnvironment, "kube API: cannot read the token file " + conn_.token_file);
    std::ostringstream ss;
    ss << f.rdbuf();
    file_token_ = Trim(ss.str());
    token_stat_ = st;
  }
  return file_token_;
}

void Client::Prepare(Request& r, const std::string& method, const std::string& path) {
  CURL* h = r.handle.get();
  const std::string url = conn_.server + path;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method == "GET" ? nullptr : method.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPGET, method == "GET" ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  if (conn_.insecure_skip_tls_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!conn_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, conn_.ca_file.c_str());
  if (!conn_.ca_pem.empty()) {
    curl_blob b{const_cast<char*>(conn_.ca_pem.data()), conn_.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
  }
  if (!conn_.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, conn_.cert_file.c_str());
  if (!conn_.cert_pem.empty()) {
    curl_blob b{const_cast<char*>(conn_.cert_pem.data()), conn_.cert_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!conn_.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, conn_.key_file.c_str());
  if (!conn_.key_pem.empty()) {
    curl_blob b{const_cast<char*>(conn_.key_pem.data()), conn_.key_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (!conn_.username.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, conn_.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, conn_.password.c_str());
  }
}

long Client::Call(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& content_type, std::string& resp) {
  for (int attempt = 0;; ++attempt) {
    std::string token = Token(attempt > 0);
    std::lock_guard<std::mutex> lock(mu_);
    if (!handle_) handle_ = std::make_unique<Request>();
    Request& r = *handle_;
    Prepare(r, method, path);
    CURL* h = r.handle.get();
    r.handle.SetHeaders({"Accept: application/json", content_type.empty() ? "" : "Content-Type: " + content_type,
                         token.empty() ? "" : "Authorization: Bearer " + token});
    r.body = body;
    if (method != "GET") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms_);
    resp.clear();
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http::AppendBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      handle_.reset();
      throw cni::Error(cni::kTryAgainLater, "kube API " + conn_.server + " (" + conn_.source + ") unreachable: " +
                                                method + " " + StripQuery(path) + ": " + curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    // A rotated token file may have been rewritten within the same second: read it once more.
    if (status == 401 && attempt == 0 && !conn_.token_file.empty() && conn_.token.empty()) continue;
    return status;
  }
}

json Client::Checked(const std::string& method, const std::string& path, long status, const std::string& body) {
  if (status == 200 || status == 201) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) throw cni::Error(cni::kIOFailure, "kube API: " + method + " " + StripQuery(path) + ": answer is not JSON");
    return j;
  }
  unsigned code = status == 401 || status == 403 ? cni::kInvalidEnvironment
                  : status >= 500 || status == 429 ? cni::kTryAgainLater
                                                   : cni::kIOFailure;
  throw cni::Error(code, ApiErrorMessage(method, path, status, body));
}

json Client::Get(const std::string& path) {
  std::string resp;
  long status = Call("GET", path, {}, {}, resp);
  return Checked("GET", path, status, resp);
}

std::optional<json> Client::Find(const std::string& path) {
  std::string resp;
  long status = Call("GET", path, {}, {}, resp);
  if (status == 404) return std::nullopt;
  return Checked("GET", path, status, resp);
}

json Client::Patch(const std::string& path, const std::string& body, const std::string& content_type) {
  std::string resp;
  long status = Call("PATCH", path, body, content_type, resp);
  return Checked("PATCH", path, status, resp);
}

namespace {

struct WatchStream {
  CURL* h;
  const std::function<void(const std::string&, const json&)>* on_event;
  const std::atomic<bool>* stop;
  long status = 0;
  std::string error_body{};  // the body of a non-200 answer
  bool gone = false;
  std::string error{};  // an ERROR event other than 410
  http::LineSplitter lines{[this](std::string_view line) {
    json ev = json::parse(line, nullptr, false);
    if (!ev.is_object()) {
      error = "malformed watch event: " + std::string(line.substr(0, 200));
      return false;
    }
    std::string type = ev.value("type", "");
    const json& obj = ev.contains("object") ? ev["object"] : json::object();
    if (type == "ERROR") {
      if (obj.is_object() && obj.value("code", 0) == 410) gone = true;
      else error = obj.is_object() ? obj.value("message", obj.dump()) : obj.dump();
      return false;
    }
    (*on_event)(type, obj);
    return true;
  }};
};

size_t WatchWrite(char* p, size_t size, size_t n, void* ud) {
  auto& ws = *static_cast<WatchStream*>(ud);
  if (ws.status == 0) curl_easy_getinfo(ws.h, CURLINFO_RESPONSE_CODE, &ws.status);
  if (ws.status != 200) {
    ws.error_body.append(p, size * n);
    return size * n;
  }
  return ws.lines.Feed(p, size * n) ? size * n : 0;  // 0 aborts the transfer
}

int WatchProgress(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<WatchStream*>(ud)->stop->load() ? 1 : 0;
}

}  // namespace

Client::WatchEnd Client::Watch(const std::string& path, const std::string& resource_version, int timeout_s,
                               const std::function<void(const std::string&, const json&)>& on_event,
                               const std::atomic<bool>& stop) {
  std::string full = path + (path.find('?') == std::string::npos ? "?" : "&") + "watch=1&resourceVersion=" +
                     resource_version + "&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(timeout_s);
  Request r;
  Prepare(r, "GET", full);
  CURL* h = r.handle.get();
  std::string token = Token(false);
  r.handle.SetHeaders({"Accept: application/json", token.empty() ? "" : "Authorization: Bearer " + token});
  WatchStream ws{h, &on_event, &stop};
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WatchWrite);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ws);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, WatchProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ws);
  // The server ends the watch after timeoutSeconds; a dead peer is noticed through TCP keepalive
  // and, at the latest, a minute after that timeout.
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_s + 60) * 1000L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
  CURLcode rc = curl_easy_perform(h);
  if (ws.status == 0) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ws.status);
  if (stop.load()) return WatchEnd::kStopped;
  if (ws.gone) return WatchEnd::kGone;
  if (!ws.error.empty()) throw cni::Error(cni::kIOFailure, "kube API: watch " + StripQuery(path) + ": " + ws.error);
  if (ws.status != 0 && ws.status != 200) {
    if (ws.status == 410) return WatchEnd::kGone;
    Checked("GET", full, ws.status, ws.error_body);
  }
  if (rc != CURLE_OK && ws.status == 0)
    throw cni::Error(cni::kTryAgainLater, "kube API " + conn_.server + " (" + conn_.source +
                                              ") unreachable: watch " + StripQuery(path) + ": " + curl_easy_strerror(rc));
  return WatchEnd::kEnded;
}

}  // namespace weft::agent::kube
