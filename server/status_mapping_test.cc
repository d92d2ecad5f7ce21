#include "server/status_mapping.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace drivelm::server {
namespace {

TEST(StatusMappingTest, EveryCanonicalCodeKeepsItsValue) {
  // absl and gRPC both number their codes as google.rpc.Code; the mapping must keep them.
  for (int code = 0; code <= 16; ++code) {
    EXPECT_EQ(static_cast<int>(ToGrpcCode(static_cast<absl::StatusCode>(code))), code) << code;
  }
}

TEST(StatusMappingTest, TheCodesClientsActOn) {
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kInvalidArgument), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kResourceExhausted),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kUnavailable), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kDeadlineExceeded), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kCancelled), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kFailedPrecondition),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kNotFound), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kInternal), grpc::StatusCode::INTERNAL);
}

TEST(StatusMappingTest, OutOfEnumValuesAreUnknown) {
  EXPECT_EQ(ToGrpcCode(static_cast<absl::StatusCode>(42)), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(ToGrpcCode(static_cast<absl::StatusCode>(-3)), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(ToGrpcCode(
                absl::StatusCode::kDoNotUseReservedForFutureExpansionUseDefaultInSwitchInstead_),
            grpc::StatusCode::UNKNOWN);
  EXPECT_STREQ(GrpcCodeName(static_cast<grpc::StatusCode>(99)), "UNKNOWN");
}

TEST(StatusMappingTest, StatusKeepsMessage) {
  grpc::Status status =
      ToGrpcStatus(absl::InvalidArgumentError("scene.images[2].camera: CAMERA_UNSPECIFIED"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "scene.images[2].camera: CAMERA_UNSPECIFIED");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(StatusMappingTest, NamesAreCanonicalAndDistinct) {
  std::set<std::string> names;
  for (int code = 0; code <= 16; ++code) {
    names.insert(GrpcCodeName(static_cast<grpc::StatusCode>(code)));
  }
  EXPECT_EQ(names.size(), 17u);
  EXPECT_STREQ(GrpcCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_STREQ(GrpcCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  EXPECT_STREQ(GrpcCodeName(grpc::StatusCode::INVALID_ARGUMENT), "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace drivelm::server
