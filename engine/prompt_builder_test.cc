#include "engine/prompt_builder.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

constexpr char kSystem[] =
    "You are an autonomous driving labeler. You have access to six camera images (front, "
    "front-right, front-left, back, back-right, back-left).\n";

ModelProfile DriveVlms() {
  absl::StatusOr<ModelProfile> p = LoadModelProfile("models/profiles/drivevlms_paligemma.yaml");
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

TEST(PromptBuilderTest, DefaultProfileIsTheQuestionAlone) {
  absl::StatusOr<std::string> prompt =
      RenderPrompt(DefaultModelProfile(), "What is <c1,CAM_FRONT,1088.3,497.5> doing?");
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  EXPECT_EQ(*prompt, "What is <c1,CAM_FRONT,1088.3,497.5> doing?");  // no rescaling
}

TEST(PromptBuilderTest, DriveVlmsPromptRescalesTheQuestion) {
  absl::StatusOr<std::string> prompt =
      RenderPrompt(DriveVlms(), "What is the future state of <c1,CAM_FRONT,1088.3,497.5>?");
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  EXPECT_EQ(*prompt,
            std::string(kSystem) + "What is the future state of <c1,CAM_FRONT,152.4,123.8>?");
}

TEST(PromptBuilderTest, ContextGoesBeforeTheQuestionAndIsRescaled) {
  const PromptBuilder builder = *PromptBuilder::Create(DriveVlms());
  const std::vector<QaPair> context = {
      {"What are the important objects in the current scene?",
       "There is a car to the front of the ego vehicle <c1,CAM_FRONT,1088.3,497.5>."},
      {"Is <c1,CAM_FRONT,1088.3,497.5> moving?", "Yes."},
  };
  EXPECT_EQ(builder.Render("What should the ego vehicle do?", context),
            std::string(kSystem) +
                "Q: What are the important objects in the current scene?\n"
                "A: There is a car to the front of the ego vehicle <c1,CAM_FRONT,152.4,123.8>.\n"
                "Q: Is <c1,CAM_FRONT,152.4,123.8> moving?\nA: Yes.\n"
                "What should the ego vehicle do?");
}

TEST(PromptBuilderTest, ContextPlaceholderPlacesTheContext) {
  ModelProfile profile = DefaultModelProfile();
  profile.prompt_template = "{question}\nContext:\n{context}";
  profile.context_template = "[{question} -> {answer}]";
  const PromptBuilder builder = *PromptBuilder::Create(profile);
  const std::vector<QaPair> context = {{"A?", "a"}, {"B?", "b"}};
  EXPECT_EQ(builder.Render("Now?", context), "Now?\nContext:\n[A? -> a][B? -> b]");
  EXPECT_EQ(builder.Render("Now?"), "Now?\nContext:\n");
}

TEST(PromptBuilderTest, BracesInQuestionsAreKept) {
  ModelProfile profile = DefaultModelProfile();
  profile.prompt_template = "{{literal}} {question}";
  EXPECT_EQ(*RenderPrompt(profile, "a {context} b"), "{literal} a {context} b");
}

TEST(PromptBuilderTest, RescalerIsExposedForAnswers) {
  const PromptBuilder driving = *PromptBuilder::Create(DriveVlms());
  ASSERT_TRUE(driving.rescaler().has_value());
  EXPECT_EQ(driving.rescaler()->ToSource("<c1,CAM_FRONT,152.4,123.8>"),
            "<c1,CAM_FRONT,1088.6,497.4>");
  EXPECT_FALSE(PromptBuilder::Create(DefaultModelProfile())->rescaler().has_value());
}

TEST(PromptBuilderTest, BadProfilesAreErrors) {
  ModelProfile profile = DefaultModelProfile();
  profile.prompt_template = "no placeholder";
  absl::Status s = PromptBuilder::Create(profile).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("prompt_template"));

  profile = DefaultModelProfile();
  profile.context_template = "{question}";
  EXPECT_THAT(RenderPrompt(profile, "q").status().message(), HasSubstr("context_template"));

  profile = DefaultModelProfile();
  profile.coordinates = CoordinateSpace{};
  profile.coordinates->source_width = 0;
  EXPECT_THAT(RenderPrompt(profile, "q").status().message(), HasSubstr("coordinates.source_width"));
}

}  // namespace
}  // namespace drivelm::engine
