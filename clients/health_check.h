// CheckHealth: calls the standard grpc.health.v1.Health/Check on a channel.
//
// Debian's gRPC ships no generated health stubs (and generating grpc.health.v1 here could clash
// with a copy generated elsewhere in the same binary), so the call goes through grpc::GenericStub
// with the two one-field messages encoded by hand: HealthCheckRequest {string service = 1} and
// HealthCheckResponse {ServingStatus status = 1}.
#ifndef DRIVELM_CLIENTS_HEALTH_CHECK_H_
#define DRIVELM_CLIENTS_HEALTH_CHECK_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace drivelm::clients {

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };
const char* ServingStatusName(ServingStatus status);

// The status of `service` ("" = the whole server). An RPC failure (unreachable server,
// NOT_FOUND for an unregistered service, deadline) is returned as that gRPC status converted to
// absl. `timeout` bounds the call, including waiting for the connection.
absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                          const std::string& service, absl::Duration timeout);

// The wire encodings (exposed for tests).
std::string EncodeHealthCheckRequest(std::string_view service);
absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(std::string_view bytes);

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_HEALTH_CHECK_H_
