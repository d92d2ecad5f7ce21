#include "engine/model_profile.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

absl::Status ParseError(const std::string& yaml) {
  absl::StatusOr<ModelProfile> p = ParseModelProfile(yaml, "test.yaml");
  EXPECT_FALSE(p.ok()) << yaml;
  return p.status();
}

TEST(ModelProfileTest, DriveVlmsExampleLoads) {
  absl::StatusOr<ModelProfile> p = LoadModelProfile("models/profiles/drivevlms_paligemma.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "drivevlms_paligemma");
  EXPECT_EQ(p->cameras, NuScenesCameras());
  EXPECT_EQ(p->prompt_template,
            "You are an autonomous driving labeler. You have access to six camera images (front, "
            "front-right, front-left, back, back-right, back-left).\n{question}");
  EXPECT_EQ(p->context_template, "Q: {question}\nA: {answer}\n");
  EXPECT_EQ(p->image_size, 224);
  ASSERT_TRUE(p->coordinates.has_value());
  EXPECT_EQ(p->coordinates->source_width, 1600);
  EXPECT_EQ(p->coordinates->source_height, 900);
  EXPECT_EQ(p->coordinates->model_width, 224);
  EXPECT_EQ(p->coordinates->model_height, 224);
  EXPECT_EQ(p->coordinates->decimals, 1);
  EXPECT_FALSE(p->sampling.greedy);
  EXPECT_DOUBLE_EQ(p->sampling.temperature, 0.5);
  EXPECT_DOUBLE_EQ(p->sampling.top_p, 0.8);
  EXPECT_EQ(p->sampling.top_k, 0);
  EXPECT_EQ(p->max_new_tokens, 256);
  EXPECT_EQ(p->image_prefix, ImagePrefixMode::kExact);
}

TEST(ModelProfileTest, DefaultIsPaliGemmasStandardLayout) {
  const ModelProfile p = DefaultModelProfile();
  EXPECT_THAT(p.cameras, IsEmpty());
  EXPECT_EQ(p.prompt_template, "{question}");
  EXPECT_FALSE(p.coordinates.has_value());
  EXPECT_FALSE(p.image_size.has_value());
  EXPECT_TRUE(p.sampling.greedy);
  EXPECT_EQ(p.image_prefix, ImagePrefixMode::kExact);
}

TEST(ModelProfileTest, NuScenesCamerasInImagePathsOrder) {
  EXPECT_THAT(NuScenesCameras(), ElementsAre("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT",
                                             "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT"));
}

TEST(ModelProfileTest, AbsentKeysTakeDefaults) {
  absl::StatusOr<ModelProfile> p = ParseModelProfile("name: tiny\n", "test.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "tiny");
  EXPECT_EQ(p->cameras, NuScenesCameras());  // a file without cameras means DriveLM's six
  EXPECT_EQ(p->prompt_template, "{question}");
  EXPECT_FALSE(p->coordinates.has_value());
  EXPECT_TRUE(p->sampling.greedy);

  p = ParseModelProfile("cameras: []\ncoordinates:\n", "test.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->cameras, IsEmpty());
  EXPECT_FALSE(p->coordinates.has_value());
}

TEST(ModelProfileTest, SamplingGreedyFollowsTheKeysGiven) {
  absl::StatusOr<ModelProfile> p =
      ParseModelProfile("sampling: {temperature: 0.7, top_k: 40, seed: 9}\n", "t");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->sampling.greedy);
  EXPECT_EQ(p->sampling.top_k, 40);
  EXPECT_EQ(p->sampling.seed, 9u);

  p = ParseModelProfile("sampling: {seed: 3}\n", "t");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->sampling.greedy);

  absl::Status s = ParseError("sampling: {greedy: true, top_p: 0.9}\n");
  EXPECT_THAT(s.message(), HasSubstr("sampling.top_p"));
  EXPECT_THAT(s.message(), HasSubstr("greedy: true"));
}

TEST(ModelProfileTest, SharedImagePrefixParses) {
  absl::StatusOr<ModelProfile> p = ParseModelProfile("image_prefix: shared\n", "t");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->image_prefix, ImagePrefixMode::kShared);
  EXPECT_STREQ(ImagePrefixModeName(p->image_prefix), "shared");
}

TEST(ModelProfileTest, UnknownKeysAreErrorsNamingTheKeyAndLine) {
  absl::Status s = ParseError("name: x\npromt_template: \"{question}\"\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("test.yaml:2: promt_template: unknown key"));
  EXPECT_THAT(s.message(), HasSubstr("prompt_template"));  // the known keys are listed

  s = ParseError("sampling:\n  top_pp: 0.9\n");
  EXPECT_THAT(s.message(), HasSubstr("test.yaml:2: sampling.top_pp: unknown key"));
  s = ParseError("coordinates: {source_width: 1600, source_heigth: 900}\n");
  EXPECT_THAT(s.message(), HasSubstr("coordinates.source_heigth: unknown key"));
}

TEST(ModelProfileTest, BadValuesAreErrorsNamingTheField) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  const Case cases[] = {
      {"name: a\nname: b\n", "name: given twice"},
      {"name: \"\"\n", "name: must not be empty"},
      {"image_size: big\n", "image_size: expected an integer, got 'big'"},
      {"image_size: 0\n", "image_size: must be > 0"},
      {"max_new_tokens: 0\n", "max_new_tokens: must be >= 1"},
      {"max_new_tokens: [1]\n", "max_new_tokens: expected an integer, got a list"},
      {"sampling: {top_p: 1.5}\n", "top_p must be in (0, 1]"},
      {"sampling: {temperature: 0}\n", "temperature must be finite and > 0"},
      {"sampling: {top_k: -1}\n", "top_k must be >= 0"},
      {"sampling: {top_k: 2.5}\n", "sampling.top_k: expected an integer"},
      {"sampling: {seed: -1}\n", "sampling.seed: expected a non-negative integer"},
      {"sampling: {greedy: maybe}\n", "sampling.greedy: expected true or false"},
      {"sampling: 0.5\n", "sampling: expected a mapping, got a scalar"},
      {"coordinates: {source_width: 1600, source_height: 900, model_width: 224}\n",
       "coordinates.model_height: required"},
      {"coordinates: {source_width: 1600, source_height: 900, model_width: 224, model_height: 0}\n",
       "coordinates.model_height must be > 0"},
      {"coordinates: {source_width: 1600, source_height: 900, model_width: 224, model_height: 224, "
       "decimals: 9}\n",
       "coordinates.decimals must be in [0, 6]"},
      {"cameras: CAM_FRONT\n", "cameras: expected a list, got a scalar"},
      {"cameras: [CAM_FRONT, CAM_FRONT]\n", "cameras[1]: camera CAM_FRONT is listed twice"},
      {"cameras: [CAM FRONT]\n", "cameras[0]: 'CAM FRONT' is not a camera name"},
      {"cameras: [[CAM_FRONT]]\n", "cameras[0]: expected a camera name, got a list"},
      {"image_prefix: fast\n", "image_prefix: expected exact or shared, got 'fast'"},
      {"prompt_template: \"Describe the scene.\"\n", "missing the required placeholder {question}"},
      {"prompt_template: \"{question} {answer}\"\n", "unknown placeholder {answer}"},
      {"context_template: \"Q: {question}\"\n",
       "context_template: missing the required placeholder {answer}"},
      {"name: [unclosed\n", "invalid YAML"},
      {"- a\n- b\n", "a model profile is a YAML mapping of keys, got a list"},
      {"", "a model profile is a YAML mapping of keys, got null"},
  };
  for (const Case& c : cases) {
    absl::Status s = ParseError(c.yaml);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.yaml;
    EXPECT_THAT(s.message(), HasSubstr("test.yaml")) << c.yaml;
  }
}

TEST(ModelProfileTest, LoadFromFileAndFallBackToDefault) {
  const std::string missing = TempPath("no_such_profile.yaml");
  absl::Status s = LoadModelProfile(missing).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr(missing));

  absl::StatusOr<ModelProfile> p = LoadModelProfileOrDefault(missing);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->name, "default");
  EXPECT_THAT(p->cameras, IsEmpty());

  const std::string path = TempPath("profile.yaml");
  std::ofstream(path) << "name: written\nmax_new_tokens: 12\n";
  p = LoadModelProfileOrDefault(path);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "written");
  EXPECT_EQ(p->max_new_tokens, 12);

  std::ofstream(path) << "max_new_tokens: nope\n";
  s = LoadModelProfileOrDefault(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(path + ":1: max_new_tokens"));
}

}  // namespace
}  // namespace drivelm::engine
