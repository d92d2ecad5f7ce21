#include "clients/fake_http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace drivelm::clients {

FakeHttpServer::FakeHttpServer(std::vector<std::pair<int, std::string>> responses)
    : responses_(responses.begin(), responses.end()) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  ::listen(fd_, 16);
  thread_ = std::thread([this] { Serve(); });
}

FakeHttpServer::~FakeHttpServer() {
  stop_ = true;
  ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
  ::close(fd_);
  thread_.join();
}

std::string FakeHttpServer::url() const { return absl::StrCat("http://127.0.0.1:", port_, "/v1"); }

std::vector<FakeHttpServer::Request> FakeHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::string FakeHttpServer::ChatCompletion(const std::string& content) {
  return nlohmann::json{{"id", "chatcmpl-1"},
                        {"object", "chat.completion"},
                        {"choices",
                         {{{"index", 0},
                           {"message", {{"role", "assistant"}, {"content", content}}},
                           {"finish_reason", "stop"}}}}}
      .dump();
}

void FakeHttpServer::Serve() {
  while (!stop_) {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string data;
    char buf[4096];
    size_t header_end = std::string::npos;
    size_t content_length = 0;
    for (;;) {
      const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          const std::string head = absl::AsciiStrToLower(data.substr(0, header_end));
          const std::string name = "content-length: ";
          const size_t at = head.find(name);
          if (at != std::string::npos) {
            const size_t eol = head.find("\r\n", at);
            absl::SimpleAtoi(head.substr(at + name.size(), eol - at - name.size()),
                             &content_length);
          }
        }
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) {
        break;
      }
    }
    std::pair<int, std::string> response;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (header_end != std::string::npos) {
        requests_.push_back({data.substr(0, header_end), data.substr(header_end + 4)});
      }
      response = responses_.front();
      if (responses_.size() > 1) responses_.pop_front();
    }
    const std::string reply =
        absl::StrCat("HTTP/1.1 ", response.first, " X\r\nContent-Type: application/json\r\n",
                     "Content-Length: ", response.second.size(), "\r\nConnection: close\r\n\r\n",
                     response.second);
    ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::close(c);
  }
}

}  // namespace drivelm::clients
