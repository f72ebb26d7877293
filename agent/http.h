// The libcurl pieces both API clients of weftd share (the etcd v3 gateway client and the
// Kubernetes API client): one process-wide curl_global_init, an owned easy handle with its
// header list, a body-collecting write callback, and the splitter that turns a streamed body
// into the newline-separated JSON messages both servers write on a watch.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace weft::agent::http {

/// curl_global_init, once per process (thread-safe through a function-local static).
void GlobalInit();

/// An easy handle and the header list it points at; both freed together.
class Handle {
 public:
  Handle();  // throws cni::Error(kInternal) when libcurl cannot make a handle
  ~Handle();
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  CURL* get() const { return h_; }
  /// Replaces the request headers ("Name: value" lines).
  void SetHeaders(std::initializer_list<std::string> lines);

 private:
  CURL* h_ = nullptr;
  curl_slist* headers_ = nullptr;
};

/// CURLOPT_WRITEFUNCTION that appends to the std::string given as CURLOPT_WRITEDATA.
size_t AppendBody(char* p, size_t size, size_t n, void* ud);

/// Splits a streamed body into lines; blank lines are skipped. Feed returns false as soon as
/// `on_line` does (the caller then aborts the transfer).
class LineSplitter {
 public:
  explicit LineSplitter(std::function<bool(std::string_view)> on_line) : on_line_(std::move(on_line)) {}
  bool Feed(const char* p, size_t n);

 private:
  std::string buf_;
  std::function<bool(std::string_view)> on_line_;
};

}  // namespace weft::agent::http
