// DriveLmServiceImpl: the drivelm.v1.DriveLM gRPC service on an engine::Engine.
//
// Answer(): converts the request (server/proto_convert), takes the call's deadline, submits it
// to the engine (a refusal returns its mapped status: INVALID_ARGUMENT, RESOURCE_EXHAUSTED,
// UNAVAILABLE, ...), then forwards the engine's events to the client as they come. Every
// `poll_interval` without an event it checks the call: when the client has cancelled or the
// deadline has passed it cancels the engine stream and drains it until the engine closes it,
// so the engine frees the request's slot before the handler returns. Ends with the stream's
// final status, mapped (server/status_mapping). Records the metrics (server/metrics) and logs
// one spdlog info line per request: id, scene, questions, status, total and per-phase times,
// tokens.
//
// Threading: gRPC's sync server calls the handlers on its own threads, many at once; the
// service itself holds no per-call state. A small sampler thread (when stats_interval > 0)
// copies engine->stats() into the running/waiting gauges; it stops in the destructor.
// Ownership: `engine` and `metrics` are not owned and must outlive the service (and the
// grpc::Server serving it).
#ifndef DRIVELM_SERVER_DRIVELM_SERVICE_H_
#define DRIVELM_SERVER_DRIVELM_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "grpcpp/grpcpp.h"
#include "proto/drivelm/v1/drivelm.grpc.pb.h"
#include "server/metrics.h"
#include "server/proto_convert.h"

namespace drivelm::server {

// Initial-metadata key that carries the request id back to the client.
inline constexpr char kRequestIdMetadataKey[] = "drivelm-request-id";

struct ServiceOptions {
  // How long Answer() waits for an engine event before checking for cancellation/deadline.
  absl::Duration poll_interval = absl::Milliseconds(50);
  // Period of the gauge sampler (engine->stats() -> running/waiting); zero: no sampler thread
  // (the gauges are then updated at each request's start and end only).
  absl::Duration stats_interval = absl::Milliseconds(250);
  // What GetModelInfo reports: model name (also in the log lines), the engine's limits, the
  // gRPC max message size.
  ModelInfoSource model_info;
};

class DriveLmServiceImpl final : public v1::DriveLM::Service {
 public:
  DriveLmServiceImpl(engine::Engine* engine, ServerMetrics* metrics, ServiceOptions options);
  ~DriveLmServiceImpl() override;

  grpc::Status Answer(grpc::ServerContext* context, const v1::AnswerRequest* request,
                      grpc::ServerWriter<v1::AnswerEvent>* writer) override;
  grpc::Status GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                            v1::ModelInfo* response) override;

  // A fresh request id: this process's random 32-bit prefix and a counter, "5f0c2a9e-000042".
  std::string NewRequestId();

 private:
  void SampleStats();
  // Writes the stream's events to the client until the engine closes it; cancels it (and
  // drains) when the call is cancelled or past `deadline`. Returns how the request ended.
  absl::Status Forward(grpc::ServerContext* context, grpc::ServerWriter<v1::AnswerEvent>* writer,
                       engine::RequestStream* stream, absl::Time deadline, RequestTally* tally);

  engine::Engine* const engine_;
  ServerMetrics* const metrics_;
  const ServiceOptions options_;
  const v1::ModelInfo model_info_;  // fixed for the life of the service
  const uint32_t id_prefix_;
  std::atomic<uint64_t> id_counter_{0};
  absl::Notification stop_sampler_;
  std::thread sampler_;
};

}  // namespace drivelm::server

#endif  // DRIVELM_SERVER_DRIVELM_SERVICE_H_
