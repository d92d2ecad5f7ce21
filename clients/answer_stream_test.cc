#include "clients/answer_stream.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/drivelm/v1/drivelm.grpc.pb.h"

namespace drivelm::clients {
namespace {

namespace v1 = drivelm::v1;

// Scripted by the scene id: "ok" streams two deltas 30 ms apart per question then done;
// "refuse" fails with INVALID_ARGUMENT; "hang" waits until the call is cancelled or its deadline
// passes.
class FakeService final : public v1::DriveLM::Service {
 public:
  grpc::Status Answer(grpc::ServerContext* context, const v1::AnswerRequest* request,
                      grpc::ServerWriter<v1::AnswerEvent>* writer) override {
    const std::string& mode = request->scene().id();
    if (mode == "refuse") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "scene.images: missing CAM_BACK");
    }
    context->AddInitialMetadata("drivelm-request-id", "req-7");
    if (mode == "hang") {
      while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    for (const v1::Question& q : request->questions()) {
      for (const char* piece : {"Go", " ahead."}) {
        absl::SleepFor(absl::Milliseconds(30));
        v1::AnswerEvent e;
        e.set_question_id(q.id());
        e.mutable_delta()->set_text(piece);
        writer->Write(e);
      }
      v1::AnswerEvent done;
      done.set_question_id(q.id());
      done.mutable_done()->set_finish_reason(v1::FINISH_REASON_STOP);
      done.mutable_done()->mutable_usage()->set_generated_tokens(3);
      done.mutable_done()->mutable_usage()->set_prompt_tokens(1030);
      writer->Write(done);
    }
    return grpc::Status::OK;
  }
};

class AnswerStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = v1::DriveLM::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                     grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(absl::ToChronoTime(absl::Now())); }

  static std::shared_ptr<const v1::AnswerRequest> Request(const std::string& mode, int questions) {
    auto r = std::make_shared<v1::AnswerRequest>();
    r->mutable_scene()->set_id(mode);
    for (int i = 0; i < questions; ++i) r->add_questions()->set_id("q" + std::to_string(i));
    return r;
  }

  FakeService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::DriveLM::Stub> stub_;
};

TEST_F(AnswerStreamTest, RecordsTextAndEventTimesPerQuestion) {
  bool callback_ran = false;
  AnswerStream stream(Request("ok", 2), absl::Seconds(30));
  stream.Start(stub_.get(), [&](const AnswerCallResult& r) {
    callback_ran = true;
    EXPECT_TRUE(r.status.ok());
  });
  const AnswerCallResult result = stream.Wait();
  EXPECT_TRUE(callback_ran);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.request_id, "req-7");
  ASSERT_EQ(result.questions.size(), 2u);
  double last = 0;
  for (const char* id : {"q0", "q1"}) {
    const QuestionTrace& q = result.questions.at(id);
    EXPECT_EQ(q.text, "Go ahead.");
    ASSERT_EQ(q.delta_s.size(), 2u);
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q.done->usage().generated_tokens(), 3);
    // The server sleeps 30 ms before each delta and answers q0 then q1.
    EXPECT_GE(q.delta_s[0], last + 0.025);
    EXPECT_GE(q.delta_s[1] - q.delta_s[0], 0.025);
    EXPECT_GE(q.done_s, q.delta_s[1]);
    last = q.done_s;
  }
  EXPECT_GE(result.end_s, last);
}

TEST_F(AnswerStreamTest, RefusedCallKeepsItsStatus) {
  const AnswerCallResult result = RunAnswerCall(stub_.get(), Request("refuse", 1), std::nullopt);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), ::testing::HasSubstr("CAM_BACK"));
  EXPECT_TRUE(result.questions.empty());
}

TEST_F(AnswerStreamTest, CancelAndDeadline) {
  AnswerStream stream(Request("hang", 1), std::nullopt);
  stream.Start(stub_.get());
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(100));
    stream.Cancel();
  });
  const AnswerCallResult cancelled = stream.Wait();
  canceller.join();
  EXPECT_EQ(cancelled.status.error_code(), grpc::StatusCode::CANCELLED);

  const AnswerCallResult late =
      RunAnswerCall(stub_.get(), Request("hang", 1), absl::Milliseconds(200));
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GE(late.end_s, 0.15);
}

TEST_F(AnswerStreamTest, UnreachableServer) {
  auto stub =
      v1::DriveLM::NewStub(grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  const AnswerCallResult result = RunAnswerCall(stub.get(), Request("ok", 1), absl::Seconds(5));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace drivelm::clients
