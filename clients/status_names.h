// Names of gRPC status codes and drivelm.v1 finish reasons, as the clients print them and as
// result files key their error counts ("RESOURCE_EXHAUSTED", "stop").
#ifndef DRIVELM_CLIENTS_STATUS_NAMES_H_
#define DRIVELM_CLIENTS_STATUS_NAMES_H_

#include <string>

#include "proto/drivelm/v1/drivelm.pb.h"

namespace drivelm::clients {

// "OK", "CANCELLED", ...; "CODE_<n>" for a value outside grpc::StatusCode. Takes the int so
// QuestionStatus.code (a google.rpc.Code) names the same way.
std::string GrpcCodeName(int code);

// "stop", "length", "abort"; "unspecified" for FINISH_REASON_UNSPECIFIED or a newer server's
// value.
const char* FinishReasonName(drivelm::v1::FinishReason reason);

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_STATUS_NAMES_H_
