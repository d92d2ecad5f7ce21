#include "engine/text_template.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<TextTemplate> ParseQa(std::string_view text) {
  return TextTemplate::Parse(text, "context_template", {"question", "answer"},
                             {"question", "answer"});
}

TEST(TextTemplateTest, RendersPlaceholdersAndEscapedBraces) {
  absl::StatusOr<TextTemplate> t = ParseQa("Q: {question}\nA: {answer} {{json}}\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->Render({{"question", "Is it safe?"}, {"answer", "No."}}),
            "Q: Is it safe?\nA: No. {json}\n");
  EXPECT_TRUE(t->Has("answer"));
  EXPECT_FALSE(t->Has("context"));
}

TEST(TextTemplateTest, ValuesAreNotRescanned) {
  absl::StatusOr<TextTemplate> t = ParseQa("{question}|{answer}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render({{"question", "{answer}"}, {"answer", "}{"}}), "{answer}|}{");
}

TEST(TextTemplateTest, RepeatedAndMissingValues) {
  absl::StatusOr<TextTemplate> t = TextTemplate::Parse("{a}-{a}-{b}", "t", {"a", "b"}, {"a"});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render({{"a", "x"}}), "x-x-");
}

TEST(TextTemplateTest, ErrorsNameTheFieldAndTheProblem) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"Q: {question} A: {answr}", "unknown placeholder {answr}"},
      {"Q: {question}", "missing the required placeholder {answer}"},
      {"{question} {answer} }", "lone '}'"},
      {"{question} {answer} {", "unclosed '{'"},
      {"{question} {answer} {}", "is not a name"},
      {"{question} {answer} {0}", "is not a name"},
      {"{question} {answer} {a b}", "is not a name"},
  };
  for (const Case& c : cases) {
    absl::Status s = ParseQa(c.text).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(s.message(), HasSubstr("context_template")) << c.text;
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.text;
  }
}

}  // namespace
}  // namespace drivelm::engine
