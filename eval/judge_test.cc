#include "eval/judge.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::eval {
namespace {

using ::testing::HasSubstr;

TEST(JudgeTest, PromptIsTheOfficialOne) {
  const std::string p = DriveLmJudgeUserPrompt("my answer", "the truth");
  EXPECT_THAT(p, HasSubstr("Output the number onlyThis is the correct answer: the truthThis is "
                           "my answer: my answer"));
  EXPECT_THAT(p, HasSubstr("Rate my answer based on the correct answer out of 100"));
}

TEST(JudgeTest, ParsesNumbers) {
  EXPECT_EQ(*ParseJudgeReply("62"), 62.0);
  EXPECT_EQ(*ParseJudgeReply(" 78.5\n"), 78.5);
  EXPECT_EQ(*ParseJudgeReply("<think>hmm, 12?</think>\n41"), 41.0);
}

TEST(JudgeTest, RejectsNonNumbers) {
  EXPECT_EQ(ParseJudgeReply("Score: 62").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ParseJudgeReply("").status().message()), HasSubstr("not a number"));
  EXPECT_FALSE(ParseJudgeReply("62 points").ok());
}

}  // namespace
}  // namespace drivelm::eval
