#include "clients/health_check.h"

#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"

namespace drivelm::clients {
namespace {

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads a varint at bytes[*pos]; false when truncated or longer than 10 bytes.
bool ReadVarint(std::string_view bytes, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 70 && *pos < bytes.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(bytes[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

const char* ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown:
      return "UNKNOWN";
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
  }
  return "?";
}

std::string EncodeHealthCheckRequest(std::string_view service) {
  std::string out;
  if (service.empty()) return out;  // proto3: default values are not written
  out.push_back(0x0a);              // field 1, length-delimited
  AppendVarint(service.size(), &out);
  out.append(service);
  return out;
}

absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(std::string_view bytes) {
  uint64_t status = 0;  // absent field: UNKNOWN
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t key = 0;
    if (!ReadVarint(bytes, &pos, &key)) {
      return absl::DataLossError("HealthCheckResponse: truncated field key");
    }
    const uint64_t field = key >> 3, wire = key & 7;
    uint64_t value = 0;
    switch (wire) {
      case 0:  // varint
        if (!ReadVarint(bytes, &pos, &value)) {
          return absl::DataLossError("HealthCheckResponse: truncated varint");
        }
        if (field == 1) status = value;
        break;
      case 1:  // fixed64
        pos += 8;
        break;
      case 2:  // length-delimited: skip
        if (!ReadVarint(bytes, &pos, &value) || value > bytes.size() - pos) {
          return absl::DataLossError("HealthCheckResponse: truncated length-delimited field");
        }
        pos += value;
        break;
      case 5:  // fixed32
        pos += 4;
        break;
      default:
        return absl::DataLossError(absl::StrCat("HealthCheckResponse: wire type ", wire));
    }
    if (pos > bytes.size()) return absl::DataLossError("HealthCheckResponse: truncated");
  }
  if (status > 3) {
    return absl::DataLossError(absl::StrCat("HealthCheckResponse: unknown status ", status));
  }
  return static_cast<ServingStatus>(status);
}

absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                          const std::string& service, absl::Duration timeout) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
  context.set_wait_for_ready(true);  // a server still starting is not an error until the deadline
  const std::string request_bytes = EncodeHealthCheckRequest(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  const bool got = cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!got) return absl::InternalError("health check: completion queue shut down");
  if (!status.ok()) return FromGrpc(status);
  grpc::Slice single;
  if (!response.DumpToSingleSlice(&single).ok()) {
    return absl::DataLossError("health check: unreadable response");
  }
  return DecodeHealthCheckResponse(
      std::string_view(reinterpret_cast<const char*>(single.begin()), single.size()));
}

}  // namespace drivelm::clients
