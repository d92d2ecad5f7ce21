#include "engine/stop_condition.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

constexpr int32_t kEos = 1;

StopCondition Make(std::vector<std::string> stop_strings, int max_new_tokens = 100) {
  StopParams p;
  p.eos_ids = {kEos};
  p.stop_strings = std::move(stop_strings);
  p.max_new_tokens = max_new_tokens;
  absl::StatusOr<StopCondition> c = StopCondition::Create(std::move(p));
  EXPECT_TRUE(c.ok()) << c.status();
  return *std::move(c);
}

// Feeds (token id, text) pairs until the condition finishes; returns everything emitted.
struct Fed {
  std::string text;
  std::optional<FinishReason> finish;
  int finished_at = -1;  // index of the finishing token
};
Fed Feed(StopCondition& c, const std::vector<std::pair<int32_t, std::string>>& tokens) {
  Fed run;
  for (size_t i = 0; i < tokens.size(); ++i) {
    absl::StatusOr<StopStep> step = c.Append(tokens[i].first, tokens[i].second);
    EXPECT_TRUE(step.ok()) << step.status();
    run.text += step->text;
    if (step->finish) {
      run.finish = step->finish;
      run.finished_at = static_cast<int>(i);
      break;
    }
  }
  return run;
}

TEST(StopConditionTest, EosStopsAndItsTextIsDropped) {
  StopCondition c = Make({});
  Fed run = Feed(c, {{10, "The"}, {11, " car"}, {kEos, "<eos>"}, {12, " never"}});
  EXPECT_EQ(run.text, "The car");
  EXPECT_EQ(run.finish, FinishReason::kStop);
  EXPECT_EQ(run.finished_at, 2);
  EXPECT_EQ(c.num_tokens(), 3);
  EXPECT_TRUE(c.finished());
}

TEST(StopConditionTest, SeveralEosIds) {
  StopParams p;
  p.eos_ids = {1, 107};
  p.max_new_tokens = 10;
  StopCondition c = *StopCondition::Create(p);
  Fed run = Feed(c, {{10, "a"}, {107, ""}});
  EXPECT_EQ(run.text, "a");
  EXPECT_EQ(run.finish, FinishReason::kStop);
}

TEST(StopConditionTest, MaxNewTokensGivesLengthAndFlushesHeldText) {
  StopCondition c = Make({"STOP"}, 3);
  Fed run = Feed(c, {{10, "go"}, {11, " on"}, {12, " ST"}, {13, "OP"}});
  // " ST" could start "STOP" but the budget ends there: it is emitted, not lost.
  EXPECT_EQ(run.text, "go on ST");
  EXPECT_EQ(run.finish, FinishReason::kLength);
  EXPECT_EQ(run.finished_at, 2);
}

TEST(StopConditionTest, EosOnTheLastAllowedTokenIsStop) {
  StopCondition c = Make({}, 2);
  Fed run = Feed(c, {{10, "x"}, {kEos, ""}});
  EXPECT_EQ(run.finish, FinishReason::kStop);
}

TEST(StopConditionTest, StopStringInOneTokenIsNotEmitted) {
  StopCondition c = Make({"\n\n"});
  Fed run = Feed(c, {{10, "Yes."}, {11, "\n\nQ:"}, {12, " more"}});
  EXPECT_EQ(run.text, "Yes.");
  EXPECT_EQ(run.finish, FinishReason::kStop);
  EXPECT_EQ(run.finished_at, 1);
}

TEST(StopConditionTest, StopStringSpanningTokensIsHeldThenDropped) {
  StopCondition c = Make({"Answer:"});
  std::vector<std::string> emitted;
  std::optional<FinishReason> finish;
  for (const char* piece : {"It is", " An", "sw", "er", ":", " no"}) {
    StopStep step = *c.Append(20, piece);
    emitted.push_back(step.text);
    if (step.finish) {
      finish = step.finish;
      break;
    }
  }
  // " An", "sw", "er" are held (still a possible "Answer:"); ":" completes it.
  EXPECT_EQ(emitted, (std::vector<std::string>{"It is", " ", "", "", ""}));
  EXPECT_EQ(finish, FinishReason::kStop);
}

TEST(StopConditionTest, HeldTextIsReleasedWhenItCannotBeAStopString) {
  StopCondition c = Make({"Answer:"});
  EXPECT_EQ(c.Append(20, "An")->text, "");
  EXPECT_EQ(c.Append(20, "swers")->text, "Answers");
  EXPECT_EQ(c.Append(20, " A")->text, " ");
  StopStep step = *c.Append(kEos, "");
  EXPECT_EQ(step.text, "A");  // eos flushes the held text
  EXPECT_EQ(step.finish, FinishReason::kStop);
}

TEST(StopConditionTest, EarliestOfSeveralStopStringsWins) {
  StopCondition c = Make({"STOP", "END"});
  Fed run = Feed(c, {{10, "a END b STOP"}});
  EXPECT_EQ(run.text, "a ");
  // A stop string that starts inside a longer partial match of another.
  StopCondition d = Make({"abcd", "bc"});
  Fed run2 = Feed(d, {{10, "xa"}, {11, "b"}, {12, "c"}});
  // "a" was held as a possible "abcd"; "bc" completes first, so the text before it is emitted.
  EXPECT_EQ(run2.text, "xa");
  EXPECT_EQ(run2.finish, FinishReason::kStop);
}

TEST(StopConditionTest, RepeatedPrefixCharacters) {
  StopCondition c = Make({"aab"});
  EXPECT_EQ(c.Append(10, "aaa")->text, "a");  // "aa" may still start "aab"
  StopStep step = *c.Append(10, "b");
  EXPECT_EQ(step.text, "");
  EXPECT_EQ(step.finish, FinishReason::kStop);
}

TEST(StopConditionTest, MultiByteTextIsHeldOnCharacterBoundaries) {
  StopCondition c = Make({"\xC3\xA9t\xC3\xA9"});  // "été"
  EXPECT_EQ(c.Append(10, "caf\xC3\xA9")->text, "caf");
  EXPECT_EQ(c.Append(10, "s")->text, "\xC3\xA9s");
}

TEST(StopConditionTest, AppendAfterFinishIsAnError) {
  StopCondition c = Make({}, 1);
  EXPECT_EQ(c.Append(10, "x")->finish, FinishReason::kLength);
  absl::Status s = c.Append(10, "y").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StopConditionTest, BadParamsAreRejected) {
  StopParams p;
  p.max_new_tokens = 0;
  absl::Status s = StopCondition::Create(p).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("max_new_tokens"));

  p.max_new_tokens = 5;
  p.stop_strings = {"ok", ""};
  s = StopCondition::Create(p).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("stop_strings[1]"));

  p.stop_strings = {};
  p.eos_ids = {-3};
  EXPECT_EQ(StopCondition::Create(p).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FinishReasonTest, Names) {
  EXPECT_STREQ(FinishReasonName(FinishReason::kStop), "stop");
  EXPECT_STREQ(FinishReasonName(FinishReason::kLength), "length");
  EXPECT_STREQ(FinishReasonName(FinishReason::kAbort), "abort");
}

}  // namespace
}  // namespace drivelm::engine
