// Generator end to end on the committed tiny Gemma-2 checkpoint (tests/golden/models/gemma2_h96,
// whose drivelm_profile.yaml is the six-camera DriveVLMs layout): the profile-rendered prompt,
// PIL-exact image pipeline, model, greedy sampler and detokenizer together must reproduce the
// ids and text transformers generated for the same question (tests/golden/gemma2_h96_6img), and
// bad input must be a clear InvalidArgument before any compute.
#include "engine/generator.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/cache/vision_cache.h"
#include "nlohmann/json.hpp"

namespace drivelm::engine {
namespace {

constexpr char kModel[] = "tests/golden/models/gemma2_h96";
constexpr char kGolden[] = "tests/golden/gemma2_h96_6img/inputs.json";
constexpr char kQuestion[] = "What actions could the ego vehicle take?";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<CameraImage> SixCameras() {
  const char* cams[] = {"CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT",
                        "CAM_BACK",  "CAM_BACK_LEFT",  "CAM_BACK_RIGHT"};
  std::vector<CameraImage> images;
  for (int i = 0; i < 6; ++i) {
    images.push_back({cams[i], ReadFile("tests/golden/images/cam" + std::to_string(i) +
                                        (i == 5 ? ".png" : ".jpg"))});
  }
  return images;
}

class GeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto g = Generator::Load(kModel, &backend_);
    ASSERT_TRUE(g.ok()) << g.status();
    generator_ = std::move(*g);
    golden_ = nlohmann::json::parse(ReadFile(kGolden));
  }

  GenerateRequest Request() {
    GenerateRequest r;
    r.images = SixCameras();
    r.question = kQuestion;
    r.max_new_tokens = static_cast<int>(golden_["greedy_ids"].size());
    r.sampling = SamplingParams{};  // greedy
    return r;
  }

  CpuBackend backend_{2};
  std::unique_ptr<Generator> generator_;
  nlohmann::json golden_;
};

TEST_F(GeneratorTest, ProfilePromptReproducesTransformersGreedyAnswer) {
  GenerateRequest r = Request();
  // Images in another order: the profile's camera order decides the image-token order.
  std::swap(r.images[0], r.images[4]);
  std::string streamed;
  auto result = generator_->Generate(r, [&](const std::string& d) { streamed += d; });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->token_ids, golden_["greedy_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(result->text, golden_["greedy_text"].get<std::string>());
  EXPECT_EQ(streamed, result->text);
  EXPECT_EQ(result->prompt_tokens, static_cast<int64_t>(golden_["input_ids"].size()));
  EXPECT_EQ(result->finish_reason, FinishReason::kLength);
  EXPECT_GT(result->flops.vision, 0);
  EXPECT_GT(result->flops.prefill, result->flops.decode / result->token_ids.size());
}

TEST_F(GeneratorTest, PromptIdsMatchProcessor) {
  auto ids = generator_->PromptIds(Request(), 6);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, golden_["input_ids"].get<std::vector<int32_t>>());
}

TEST_F(GeneratorTest, EncodedImagesAreSharedAcrossQuestions) {
  auto images = generator_->EncodeImages(SixCameras());
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(images->num_images, 6);
  EXPECT_EQ(images->content_hashes.size(), 6u);
  GenerateRequest r = Request();
  auto a = generator_->Answer(*images, r);
  auto b = generator_->Answer(*images, r);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->token_ids, b->token_ids);
  EXPECT_EQ(a->token_ids, golden_["greedy_ids"].get<std::vector<int32_t>>());
}

TEST_F(GeneratorTest, VisionCacheEncodesEachImageOnce) {
  VisionCache cache(64 << 20, 64);
  auto first = generator_->EncodeImages(SixCameras(), &cache);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->vision_cache_hits, 0);
  EXPECT_GT(first->vision_flops, 0);
  // The same scene again: every image from the cache, no encoder work, the same features.
  auto second = generator_->EncodeImages(SixCameras(), &cache);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->vision_cache_hits, 6);
  EXPECT_EQ(second->vision_flops, 0);
  EXPECT_EQ(second->vision_flops_saved, first->vision_flops);
  ASSERT_EQ(second->features.numel(), first->features.numel());
  for (int64_t i = 0; i < first->features.numel(); ++i) {
    ASSERT_EQ(second->features.f32()[i], first->features.f32()[i]);
  }
  // The same contents under other cameras: all hits, and the features follow the cameras.
  std::vector<CameraImage> mixed = SixCameras();
  std::swap(mixed[0].encoded, mixed[3].encoded);  // different content under CAM_FRONT/CAM_BACK
  std::swap(mixed[1].encoded, mixed[2].encoded);
  auto third = generator_->EncodeImages(mixed, &cache);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->vision_cache_hits, 6);  // all six contents were seen, just under other cameras
  auto uncached = generator_->EncodeImages(mixed);
  ASSERT_TRUE(uncached.ok());
  for (int64_t i = 0; i < uncached->features.numel(); ++i) {
    ASSERT_EQ(third->features.f32()[i], uncached->features.f32()[i]) << i;
  }
}

TEST_F(GeneratorTest, StopRequestedEndsWithAbort) {
  auto images = generator_->EncodeImages(SixCameras());
  ASSERT_TRUE(images.ok());
  int polls = 0;
  auto result = generator_->Answer(*images, Request(), nullptr, [&] { return ++polls > 3; });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->finish_reason, FinishReason::kAbort);
  EXPECT_LT(result->token_ids.size(), golden_["greedy_ids"].size());
}

TEST_F(GeneratorTest, StopStringEndsTheAnswerBeforeIt) {
  GenerateRequest r = Request();
  r.stop_strings = {"cyclist"};
  auto result = generator_->Generate(r);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->finish_reason, FinishReason::kStop);
  const std::string full = golden_["greedy_text"].get<std::string>();
  EXPECT_EQ(result->text, full.substr(0, full.find("cyclist")));
}

TEST_F(GeneratorTest, SamplingIsDeterministicPerSeed) {
  GenerateRequest r = Request();
  SamplingParams s;
  s.greedy = false;
  s.temperature = 0.8;
  s.top_p = 0.9;
  s.seed = 7;
  r.sampling = s;
  auto a = generator_->Generate(r);
  auto b = generator_->Generate(r);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->token_ids, b->token_ids);
}

void ExpectInvalid(const absl::StatusOr<GenerateResult>& result, const std::string& needle) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_NE(std::string(result.status().message()).find(needle), std::string::npos)
      << result.status().message();
}

TEST_F(GeneratorTest, BadInputIsInvalidArgumentNamingTheField) {
  GenerateRequest r = Request();
  r.images.pop_back();
  ExpectInvalid(generator_->Generate(r), "CAM_BACK_RIGHT is missing");

  r = Request();
  r.images.push_back(r.images[0]);
  ExpectInvalid(generator_->Generate(r), "CAM_FRONT is given more than once");

  r = Request();
  r.images[2].camera = "CAM_ROOF";
  ExpectInvalid(generator_->Generate(r), "CAM_FRONT_RIGHT is missing");

  r = Request();
  r.images.push_back({"CAM_ROOF", r.images[0].encoded});
  ExpectInvalid(generator_->Generate(r), "unknown camera CAM_ROOF");

  r = Request();
  r.images[3].encoded = "this is not an image";
  ExpectInvalid(generator_->Generate(r), "images[CAM_BACK]");

  r = Request();
  r.images[1].encoded.resize(r.images[1].encoded.size() / 2);  // truncated JPEG
  ExpectInvalid(generator_->Generate(r), "images[CAM_FRONT_LEFT]");

  r = Request();
  r.question.clear();
  ExpectInvalid(generator_->Generate(r), "question");

  r = Request();
  r.max_new_tokens = 0;
  ExpectInvalid(generator_->Generate(r), "max_new_tokens");
  r.max_new_tokens = 1 << 20;
  ExpectInvalid(generator_->Generate(r), "max_new_tokens");

  r = Request();
  SamplingParams s;
  s.greedy = false;
  s.top_p = 1.5;
  r.sampling = s;
  ExpectInvalid(generator_->Generate(r), "top_p");

  r = Request();
  r.question = std::string(40000, 'x');
  ExpectInvalid(generator_->Generate(r), "exceeds the limit");

  r = Request();
  r.stop_strings = {""};
  ExpectInvalid(generator_->Generate(r), "stop_strings");
}

TEST(GeneratorLoadTest, MissingOrMismatchedFilesAreClearErrors) {
  CpuBackend backend(1);
  auto missing = Generator::Load("tests/golden/models/does_not_exist", &backend);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("config.json"), std::string::npos)
      << missing.status();

  GeneratorOptions options;
  options.profile_path = "tests/golden/models/no_such_profile.yaml";
  auto no_profile = Generator::Load(kModel, &backend, options);
  ASSERT_FALSE(no_profile.ok());
  EXPECT_NE(std::string(no_profile.status().message()).find("no_such_profile.yaml"),
            std::string::npos)
      << no_profile.status();
}

}  // namespace
}  // namespace drivelm::engine
