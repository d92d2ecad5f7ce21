#include "clients/status_names.h"

#include <grpcpp/support/status_code_enum.h>

#include "absl/strings/str_cat.h"

namespace drivelm::clients {

std::string GrpcCodeName(int code) {
  switch (static_cast<grpc::StatusCode>(code)) {
    case grpc::OK:
      return "OK";
    case grpc::CANCELLED:
      return "CANCELLED";
    case grpc::UNKNOWN:
      return "UNKNOWN";
    case grpc::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::ABORTED:
      return "ABORTED";
    case grpc::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::INTERNAL:
      return "INTERNAL";
    case grpc::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::DO_NOT_USE:
      break;
  }
  return absl::StrCat("CODE_", code);
}

const char* FinishReasonName(drivelm::v1::FinishReason reason) {
  switch (reason) {
    case drivelm::v1::FINISH_REASON_STOP:
      return "stop";
    case drivelm::v1::FINISH_REASON_LENGTH:
      return "length";
    case drivelm::v1::FINISH_REASON_ABORT:
      return "abort";
    case drivelm::v1::FINISH_REASON_UNSPECIFIED:
      return "unspecified";
    case drivelm::v1::FinishReason_INT_MIN_SENTINEL_DO_NOT_USE_:
    case drivelm::v1::FinishReason_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return "unspecified";  // a newer server's value
}

}  // namespace drivelm::clients
