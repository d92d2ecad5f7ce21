// MetricsHttpServer: serves a prometheus::Registry as text at GET /metrics on one thread.
//
// Why not prometheus::Exposer (prometheus-cpp-pull): it serves through civetweb, whose Debian
// build gives its worker threads fixed 100 KiB stacks. libquadmath (loaded by OpenBLAS via
// libgfortran) registers printf hooks at load time, which routes every printf through glibc's
// printf_positional, and civetweb's mg_printf of the Content-Length line then overflows that
// stack: the whole server dies with SIGSEGV on the first scrape. This server is plain sockets on
// a normal thread (the Prometheus text format, HTTP/1.0-style one request per connection).
//
// Requests: GET (or HEAD) /metrics -> 200 text/plain; version=0.0.4; GET / -> a short page
// pointing at /metrics; other paths 404; other methods 405. A client gets 5 s to send its request
// head (at most 8 KiB); connections are handled one at a time (a scrape takes microseconds).
//
// Threading: Start() spawns the serving thread; Stop() (or the destructor) wakes and joins it.
// The registry is shared and may be updated concurrently (prometheus-cpp metrics are
// thread-safe).
#ifndef DRIVELM_SERVER_METRICS_HTTP_SERVER_H_
#define DRIVELM_SERVER_METRICS_HTTP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"

namespace drivelm::server {

class MetricsHttpServer {
 public:
  // Listens on `address` ("host:port"; port 0 = any free port; host a name or an IPv4/IPv6
  // address, IPv6 in brackets). Unavailable naming the address when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry);
  ~MetricsHttpServer();  // Stop()

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Stops accepting and joins the thread. Idempotent.
  void Stop();

  int port() const { return port_; }  // the bound port

 private:
  MetricsHttpServer(int listen_fd, int wake_read_fd, int wake_write_fd, int port,
                    std::shared_ptr<prometheus::Registry> registry);
  void Serve();
  void HandleConnection(int fd);

  const int listen_fd_;
  const int wake_read_fd_;   // Stop() writes a byte to wake_write_fd_ to end poll()
  const int wake_write_fd_;
  const int port_;
  const std::shared_ptr<prometheus::Registry> registry_;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace drivelm::server

#endif  // DRIVELM_SERVER_METRICS_HTTP_SERVER_H_
