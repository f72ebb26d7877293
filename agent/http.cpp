// Shared libcurl helpers (see http.h).
#include "agent/http.h"

#include "cni/error.h"

namespace weft::agent::http {

void GlobalInit() {
  static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  if (!done) throw cni::Error(cni::kInternal, "curl_global_init failed");
}

Handle::Handle() {
  GlobalInit();
  h_ = curl_easy_init();
  if (!h_) throw cni::Error(cni::kInternal, "curl_easy_init failed");
}

Handle::~Handle() {
  if (headers_) curl_slist_free_all(headers_);
  curl_easy_cleanup(h_);
}

void Handle::SetHeaders(std::initializer_list<std::string> lines) {
  if (headers_) curl_slist_free_all(headers_);
  headers_ = nullptr;
  for (const auto& l : lines)
    if (!l.empty()) headers_ = curl_slist_append(headers_, l.c_str());
  curl_easy_setopt(h_, CURLOPT_HTTPHEADER, headers_);
}

size_t AppendBody(char* p, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, size * n);
  return size * n;
}

bool LineSplitter::Feed(const char* p, size_t n) {
  buf_.append(p, n);
  size_t start = 0, nl;
  bool go_on = true;
  while (go_on && (nl = buf_.find('\n', start)) != std::string::npos) {
    std::string_view line(buf_.data() + start, nl - start);
    start = nl + 1;
    if (line.find_first_not_of(" \r\t") != std::string_view::npos) go_on = on_line_(line);
  }
  buf_.erase(0, start);
  return go_on;
}

}  // namespace weft::agent::http
