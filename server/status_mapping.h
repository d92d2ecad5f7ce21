// Status mapping: absl::Status (everything inside the server and engine) -> grpc::Status (the
// wire), in this one place. Codes keep their meaning (absl::StatusCode and grpc::StatusCode both
// are google.rpc.Code), so the client's reaction follows DESIGN.md §4: INVALID_ARGUMENT fix the
// request, RESOURCE_EXHAUSTED back off, UNAVAILABLE try another replica, DEADLINE_EXCEEDED.
#ifndef DRIVELM_SERVER_STATUS_MAPPING_H_
#define DRIVELM_SERVER_STATUS_MAPPING_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace drivelm::server {

grpc::StatusCode ToGrpcCode(absl::StatusCode code);

// Same code, same message. Payloads are dropped (none are used).
grpc::Status ToGrpcStatus(const absl::Status& status);

// The code's canonical name: "OK", "INVALID_ARGUMENT", ... ("UNKNOWN" for values outside the
// enum). The `code` label of drivelm_requests_total and the request log use it.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace drivelm::server

#endif  // DRIVELM_SERVER_STATUS_MAPPING_H_
