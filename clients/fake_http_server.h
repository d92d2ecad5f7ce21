// FakeHttpServer: a one-thread HTTP/1.1 server on 127.0.0.1 (a free port) for tests of HTTP
// clients (the LLM judge): it records each request and answers with the next scripted
// (status, body), repeating the last one; one request per connection ("Connection: close").
#ifndef DRIVELM_CLIENTS_FAKE_HTTP_SERVER_H_
#define DRIVELM_CLIENTS_FAKE_HTTP_SERVER_H_

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace drivelm::clients {

class FakeHttpServer {
 public:
  struct Request {
    std::string head;  // request line and headers
    std::string body;
  };

  // Starts serving at once; `responses` must not be empty.
  explicit FakeHttpServer(std::vector<std::pair<int, std::string>> responses);
  // Stops accepting and joins the thread.
  ~FakeHttpServer();

  int port() const { return port_; }
  // "http://127.0.0.1:PORT/v1": an OpenAI-style API base.
  std::string url() const;
  std::vector<Request> requests() const;

  // An OpenAI chat completion body whose choices[0].message.content is `content`.
  static std::string ChatCompletion(const std::string& content);

 private:
  void Serve();

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::deque<std::pair<int, std::string>> responses_;  // guarded by mu_
  std::vector<Request> requests_;                      // guarded by mu_
  std::thread thread_;
};

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_FAKE_HTTP_SERVER_H_
