// GrpcServer: the running network side of drivelm_server. Builds and starts the grpc::Server
// (the drivelm.v1.DriveLM service, the standard grpc.health.v1.Health service, server
// reflection, max message sizes from the config) and the Prometheus /metrics endpoint
// (MetricsHttpServer; see its header for why not prometheus::Exposer), whose registry it shares
// with the service's ServerMetrics.
//
// Health: SERVING for "" and "drivelm.v1.DriveLM" once started; NOT_SERVING from the first
// moment of Shutdown().
//
// Shutdown(grace): health NOT_SERVING, then, in parallel, engine->Shutdown(grace) (refuses new
// work with UNAVAILABLE, lets queued and running requests finish, cancels what is left when the
// grace ends) and grpc::Server::Shutdown(now + grace) (stops accepting calls, waits for running
// handlers, cancels the calls still open at the deadline). It returns when every handler has
// returned and the engine thread has stopped. Note: gRPC counts a call finished once its last
// messages and status are queued in the transport; a client that stops reading near the end
// can still lose the tail when the process exits right after. /metrics keeps answering until destruction, so a
// last scrape during the grace period sees the final counts.
//
// Ownership and threading: the engine is not owned and must outlive the GrpcServer. Shutdown()
// may be called from any thread, once or more (later calls wait for the first); the destructor
// calls Shutdown(absl::ZeroDuration()) if nobody did.
#ifndef DRIVELM_SERVER_GRPC_SERVER_H_
#define DRIVELM_SERVER_GRPC_SERVER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"
#include "server/drivelm_service.h"
#include "server/metrics.h"
#include "server/metrics_http_server.h"
#include "server/server_config.h"

namespace drivelm::server {

// The service name whose health the server reports (besides "" for the whole server).
inline constexpr char kDriveLmServiceName[] = "drivelm.v1.DriveLM";

// The service options for `config`: GetModelInfo's limits and model name (the model
// directory's last component), default poll and sampler intervals.
ServiceOptions ServiceOptionsFor(const ServerConfig& config);

class GrpcServer {
 public:
  // Starts serving `engine` on config.listen and /metrics on config.metrics_listen (unless
  // empty). Unavailable naming the address when a port cannot be bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const ServerConfig& config,
                                                           engine::Engine* engine,
                                                           ServiceOptions service_options);
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const ServerConfig& config,
                                                           engine::Engine* engine) {
    return Start(config, engine, ServiceOptionsFor(config));
  }
  ~GrpcServer();

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  void Shutdown(absl::Duration grace);

  // The bound gRPC port (the actual one when config.listen asked for port 0).
  int port() const { return port_; }
  // "host:port" of the gRPC listener, with the bound port.
  const std::string& address() const { return address_; }
  // The bound /metrics port; 0 when metrics are off.
  int metrics_port() const { return metrics_port_; }
  // "host:port" of /metrics with the bound port; "" when off.
  const std::string& metrics_address() const { return metrics_address_; }

  ServerMetrics& metrics() { return *metrics_; }
  grpc::Server* grpc_server() { return server_.get(); }

 private:
  GrpcServer() = default;

  engine::Engine* engine_ = nullptr;
  // Declaration order is destruction order in reverse: the grpc::Server goes first (no handler
  // runs after it), then the service, then metrics and /metrics.
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<DriveLmServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  int metrics_port_ = 0;
  std::string metrics_address_;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace drivelm::server

#endif  // DRIVELM_SERVER_GRPC_SERVER_H_
