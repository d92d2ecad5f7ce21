#include "benchmarks/call_timing.h"

#include "gtest/gtest.h"

namespace drivelm::benchmarks {
namespace {

TEST(CallTimingTest, QuestionsInRequestOrderWithTheirEvents) {
  clients::AnswerCallResult call;
  call.status = grpc::Status::OK;
  call.end_s = 0.9;
  clients::QuestionTrace& a = call.questions["a"];
  a.delta_s = {0.2, 0.3};
  a.done.emplace();
  a.done->mutable_usage()->set_prompt_tokens(1040);
  a.done->mutable_usage()->set_generated_tokens(4);
  a.done_s = 0.35;
  clients::QuestionTrace& b = call.questions["b"];
  b.done.emplace();
  b.done->mutable_status()->set_code(4);  // DEADLINE_EXCEEDED inside an OK RPC
  b.done_s = 0.5;

  const RequestTiming r = TimingFromCall(call, {"b", "a"}, 10.0);
  EXPECT_EQ(r.rpc_code, 0);
  EXPECT_DOUBLE_EQ(r.send_s, 10.0);
  EXPECT_DOUBLE_EQ(r.end_s, 10.9);
  ASSERT_EQ(r.questions.size(), 2u);
  EXPECT_FALSE(r.questions[0].ok);
  EXPECT_EQ(r.questions[0].status_code, 4);
  EXPECT_TRUE(r.questions[1].ok);
  EXPECT_EQ(r.questions[1].prompt_tokens, 1040);
  EXPECT_EQ(r.questions[1].generated_tokens, 4);
  EXPECT_DOUBLE_EQ(r.questions[1].TtftS(), 0.2);
  EXPECT_DOUBLE_EQ(r.questions[1].E2eS(), 0.35);
  EXPECT_FALSE(r.ok());
}

TEST(CallTimingTest, FailedRpcFailsUnfinishedQuestions) {
  clients::AnswerCallResult call;
  call.status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "queue full");
  const RequestTiming r = TimingFromCall(call, {"q0", "q1"}, 0);
  EXPECT_EQ(r.rpc_code, 8);
  ASSERT_EQ(r.questions.size(), 2u);
  for (const QuestionTiming& q : r.questions) {
    EXPECT_FALSE(q.ok);
    EXPECT_EQ(q.status_code, 8);
  }
  // An OK RPC that somehow lacks a done event: INTERNAL, not OK.
  call.status = grpc::Status::OK;
  EXPECT_EQ(TimingFromCall(call, {"q0"}, 0).questions[0].status_code, 13);
}

}  // namespace
}  // namespace drivelm::benchmarks
