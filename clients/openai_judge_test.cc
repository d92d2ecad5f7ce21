#include "clients/openai_judge.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/fake_http_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace drivelm::clients {
namespace {

using ::testing::HasSubstr;

std::string Completion(const std::string& content) {
  return FakeHttpServer::ChatCompletion(content);
}

JudgeOptions Options(const std::string& url) {
  JudgeOptions o;
  o.url = url;
  o.model = "judge-model";
  o.api_key = "test-key";
  o.timeout = absl::Seconds(10);
  return o;
}

TEST(OpenAiJudgeTest, ScoresThroughChatCompletions) {
  FakeHttpServer server({{200, Completion("<think>close enough</think>\n73")}});
  absl::StatusOr<std::unique_ptr<OpenAiJudge>> judge = OpenAiJudge::Create(Options(server.url()));
  ASSERT_TRUE(judge.ok()) << judge.status();
  absl::StatusOr<double> score =
      (*judge)->Score("What now?", "Keep going.", "Keep going at the same speed.");
  ASSERT_TRUE(score.ok()) << score.status();
  EXPECT_EQ(*score, 73);

  const std::vector<FakeHttpServer::Request> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0].head, ::testing::StartsWith("POST /v1/chat/completions HTTP/1.1"));
  EXPECT_THAT(requests[0].head, HasSubstr("Authorization: Bearer test-key"));
  EXPECT_THAT(requests[0].head, HasSubstr("Content-Type: application/json"));
  const nlohmann::json body = nlohmann::json::parse(requests[0].body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << requests[0].body;
  EXPECT_EQ(body["model"], "judge-model");
  EXPECT_EQ(body["temperature"], 0.6);
  EXPECT_EQ(body["max_tokens"], 3000);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][0]["content"],
            "an evaluator who rates my answer based on the correct answer");
  EXPECT_EQ(body["messages"][1]["role"], "user");
  const std::string user = body["messages"][1]["content"];
  EXPECT_THAT(user, HasSubstr("out of 100"));
  EXPECT_THAT(user, HasSubstr("This is the correct answer: Keep going at the same speed.This is "
                              "my answer: Keep going."));
  EXPECT_THAT(user, ::testing::Not(HasSubstr("What now?")));  // the judge never sees it
}

TEST(OpenAiJudgeTest, RetriesServerErrorsButNotClientErrors) {
  FakeHttpServer flaky(
      {{503, R"({"error": {"message": "overloaded"}})"}, {200, Completion(" 41\n")}});
  JudgeOptions o = Options(flaky.url() + "/chat/completions");  // full URL works too
  o.max_retries = 2;
  std::unique_ptr<OpenAiJudge> judge = *OpenAiJudge::Create(o);
  absl::StatusOr<double> score = judge->Score("q", "a", "b");
  ASSERT_TRUE(score.ok()) << score.status();
  EXPECT_EQ(*score, 41);
  EXPECT_EQ(flaky.requests().size(), 2u);

  FakeHttpServer refusing({{401, R"({"error": {"message": "bad key"}})"}});
  judge = *OpenAiJudge::Create(Options(refusing.url()));
  score = judge->Score("q", "a", "b");
  EXPECT_EQ(score.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(score.status().message(), HasSubstr("HTTP 401: bad key"));
  EXPECT_EQ(refusing.requests().size(), 1u);
}

TEST(OpenAiJudgeTest, BadRepliesAndTransportErrors) {
  FakeHttpServer not_json({{200, "<html>"}});
  std::unique_ptr<OpenAiJudge> judge = *OpenAiJudge::Create(Options(not_json.url()));
  EXPECT_EQ(judge->Score("q", "a", "b").status().code(), absl::StatusCode::kDataLoss);

  FakeHttpServer wordy({{200, Completion("I cannot rate this.")}});
  judge = *OpenAiJudge::Create(Options(wordy.url()));
  EXPECT_THAT(judge->Score("q", "a", "b").status().message(), HasSubstr("not a number"));

  int closed_port = 0;
  {
    FakeHttpServer gone({{200, "{}"}});
    closed_port = gone.port();
  }
  JudgeOptions o = Options(absl::StrCat("http://127.0.0.1:", closed_port, "/v1"));
  o.max_retries = 0;
  judge = *OpenAiJudge::Create(o);
  EXPECT_EQ(judge->Score("q", "a", "b").status().code(), absl::StatusCode::kUnavailable);

  EXPECT_THAT(OpenAiJudge::Create(Options("ftp://x")).status().message(),
              HasSubstr("http:// or https://"));
  JudgeOptions no_model = Options("http://x");
  no_model.model.clear();
  EXPECT_THAT(OpenAiJudge::Create(no_model).status().message(), HasSubstr("--judge_model"));
}

TEST(ChatCompletionsUrlTest, BaseOrFull) {
  EXPECT_EQ(ChatCompletionsUrl("http://h:8000/v1"), "http://h:8000/v1/chat/completions");
  EXPECT_EQ(ChatCompletionsUrl("http://h:8000/v1/"), "http://h:8000/v1/chat/completions");
  EXPECT_EQ(ChatCompletionsUrl("https://api.openai.com/v1/chat/completions"),
            "https://api.openai.com/v1/chat/completions");
}

}  // namespace
}  // namespace drivelm::clients
