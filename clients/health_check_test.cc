#include "clients/health_check.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/drivelm/v1/drivelm.grpc.pb.h"

namespace drivelm::clients {
namespace {

TEST(HealthCheckTest, EncodesRequest) {
  EXPECT_EQ(EncodeHealthCheckRequest(""), "");
  EXPECT_EQ(EncodeHealthCheckRequest("a.B"), std::string("\x0a\x03" "a.B"));
  const std::string long_name(200, 'x');
  const std::string encoded = EncodeHealthCheckRequest(long_name);
  EXPECT_EQ(encoded.substr(0, 3), std::string("\x0a\xc8\x01"));  // varint 200
  EXPECT_EQ(encoded.size(), 203u);
}

TEST(HealthCheckTest, DecodesResponse) {
  EXPECT_EQ(*DecodeHealthCheckResponse(""), ServingStatus::kUnknown);
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x01", 2)), ServingStatus::kServing);
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x02", 2)), ServingStatus::kNotServing);
  // Unknown fields are skipped.
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x12\x02hi\x08\x03", 6)),
            ServingStatus::kServiceUnknown);
  EXPECT_FALSE(DecodeHealthCheckResponse(std::string("\x08", 1)).ok());
  EXPECT_FALSE(DecodeHealthCheckResponse(std::string("\x12\x05hi", 4)).ok());
  EXPECT_FALSE(DecodeHealthCheckResponse(std::string("\x08\x09", 2)).ok());
}

// Against gRPC's own default health service.
TEST(HealthCheckTest, TalksToGrpcHealthService) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // A sync service (its methods answer UNIMPLEMENTED), as in the real server: without one the
  // builder may refuse to start ("completion queues must be frequently polled").
  drivelm::v1::DriveLM::Service service;
  builder.RegisterService(&service);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  ASSERT_NE(health, nullptr);
  health->SetServingStatus("my.Service", true);

  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  absl::StatusOr<ServingStatus> all = CheckHealth(channel, "", absl::Seconds(10));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, ServingStatus::kServing);
  EXPECT_EQ(*CheckHealth(channel, "my.Service", absl::Seconds(10)), ServingStatus::kServing);
  absl::StatusOr<ServingStatus> unknown = CheckHealth(channel, "other", absl::Seconds(10));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);

  health->SetServingStatus("my.Service", false);
  EXPECT_EQ(*CheckHealth(channel, "my.Service", absl::Seconds(10)), ServingStatus::kNotServing);
  server->Shutdown();

  // Nobody listening: the deadline bounds the wait.
  absl::StatusOr<ServingStatus> gone = CheckHealth(channel, "", absl::Milliseconds(300));
  EXPECT_FALSE(gone.ok());
}

}  // namespace
}  // namespace drivelm::clients
