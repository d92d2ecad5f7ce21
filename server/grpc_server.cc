#include "server/grpc_server.h"

#include <chrono>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "spdlog/spdlog.h"

namespace drivelm::server {
namespace {

// "host:port" -> "host:<port>".
std::string WithPort(const std::string& address, int port) {
  const size_t colon = address.rfind(':');
  return absl::StrCat(address.substr(0, colon == std::string::npos ? address.size() : colon), ":",
                      port);
}

void SetHealth(grpc::Server* server, bool serving) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);  // "" and every service set so far
  health->SetServingStatus(kDriveLmServiceName, serving);
}

}  // namespace

ServiceOptions ServiceOptionsFor(const ServerConfig& config) {
  ServiceOptions options;
  std::filesystem::path model(config.model);
  // "models/tiny-default/" names the model "tiny-default", not "".
  std::string name = model.filename().string();
  if (name.empty()) name = model.parent_path().filename().string();
  options.model_info.model_name = name;
  options.model_info.engine = ToEngineOptions(config);
  options.model_info.max_message_bytes = config.limits.max_message_bytes;
  return options;
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const ServerConfig& config,
                                                              engine::Engine* engine,
                                                              ServiceOptions service_options) {
  if (engine == nullptr) return absl::InvalidArgumentError("GrpcServer::Start: engine is null");
  if (absl::Status s = ValidateServerConfig(config); !s.ok()) return s;
  std::unique_ptr<GrpcServer> server(new GrpcServer());
  server->engine_ = engine;
  server->registry_ = std::make_shared<prometheus::Registry>();
  server->metrics_ = std::make_unique<ServerMetrics>(server->registry_);

  // /metrics first: a busy metrics port fails startup before the gRPC port is taken.
  if (!config.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
        MetricsHttpServer::Start(config.metrics_listen, server->registry_);
    if (!http.ok()) {
      return absl::Status(http.status().code(),
                          absl::StrCat("metrics_listen: ", http.status().message()));
    }
    server->metrics_http_ = *std::move(http);
    server->metrics_port_ = server->metrics_http_->port();
    server->metrics_address_ = WithPort(config.metrics_listen, server->metrics_port_);
  }

  server->service_ =
      std::make_unique<DriveLmServiceImpl>(engine, server->metrics_.get(), std::move(service_options));

  // Both are process-wide switches read when the builder is created.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, grpc::InsecureServerCredentials(), &port);
  const int max_message = static_cast<int>(config.limits.max_message_bytes);
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    if (server->server_ != nullptr) server->server_->Shutdown();
    return absl::UnavailableError(absl::StrCat(
        "listen: cannot listen on ", config.listen, " (address in use or not local?)"));
  }
  server->port_ = port;
  server->address_ = WithPort(config.listen, port);
  SetHealth(server->server_.get(), true);
  return server;
}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

void GrpcServer::Shutdown(absl::Duration grace) {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ == nullptr) return;
  SetHealth(server_.get(), false);
  const absl::Time deadline = absl::Now() + grace;
  // The engine finishes (or, at the deadline, cancels) the requests it holds while gRPC stops
  // accepting calls and waits for the handlers streaming them.
  std::thread engine_shutdown([this, grace] { engine_->Shutdown(grace); });
  server_->Shutdown(absl::ToChronoTime(deadline));
  engine_shutdown.join();
  server_->Wait();
  spdlog::debug("gRPC server stopped");
}

}  // namespace drivelm::server
