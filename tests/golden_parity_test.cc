// Golden parity: the engine on the CPU against Hugging Face transformers 4.47.1 (fp32, eager
// attention) on tiny checkpoints written by //tools:make_tiny_model. The goldens come from
// tools/reference/make_all_goldens.sh (tools/reference/README.md lists the facts they verify).
//
// Per configuration:
// - pixel values within one 8-bit step (2/255 after mean/std 0.5 normalization) of the
//   processor's on >= 99.9% of values (in practice they are bit-identical);
// - input ids identical to the processor's;
// - image features and prefill logits at the last position: relative error <= 1e-4, measured as
//   max|engine - hf| / max|hf|. Both sides are fp32; they differ only in summation order
//   (OpenBLAS vs PyTorch's GEMM and softmax), ~1e-6 relative over these lengths, so 1e-4 leaves
//   margin without hiding a real bug (a wrong mask, position or norm moves logits by > 1e-2);
// - greedy ids identical for all generated tokens, and every decode step's logits within the
//   same tolerance (so a decode-path error is caught even where it would not flip the argmax).
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/model/paligemma_model.h"
#include "engine/model/safetensors_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/vision/image_processor.h"
#include "nlohmann/json.hpp"

namespace drivelm::engine {
namespace {

using json = nlohmann::json;

constexpr double kLogitRelTol = 1e-4;

struct GoldenCase {
  const char* golden;  // tests/golden/<golden>/{inputs.json,tensors.safetensors}
  const char* model;   // tests/golden/models/<model>
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.golden; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<float> TensorValues(const SafetensorsFile& file, const std::string& name) {
  const SafetensorsTensor* t = file.Find(name);
  if (t == nullptr || t->dtype != SafetensorsDType::kF32) return {};
  const float* p = static_cast<const float*>(t->data);
  return std::vector<float>(p, p + t->nbytes / sizeof(float));
}

// max|a - b| / max|b|
double RelativeError(const float* a, const std::vector<float>& b) {
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    max_diff = std::max(max_diff, std::abs(double(a[i]) - b[i]));
    max_ref = std::max(max_ref, std::abs(double(b[i])));
  }
  return max_diff / max_ref;
}

class GoldenParityTest : public ::testing::TestWithParam<GoldenCase> {
 protected:
  void SetUp() override {
    const std::string root = "tests/golden/";
    golden_dir_ = root + GetParam().golden;
    model_dir_ = root + "models/" + GetParam().model;
    inputs_ = json::parse(ReadFile(golden_dir_ + "/inputs.json"));
    auto file = SafetensorsFile::Open(golden_dir_ + "/tensors.safetensors");
    ASSERT_TRUE(file.ok()) << file.status();
    tensors_ = std::move(*file);
    auto model = PaliGemmaModel::Load(model_dir_, &backend_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    auto tokenizer = Tokenizer::Load(model_dir_ + "/tokenizer.model");
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = std::move(*tokenizer);
  }

  // Pixel values [n, 3, H, W] from the golden's image files through our processor.
  std::vector<float> ProcessImages() {
    auto processor = ImageProcessor::Create(OptionsFromConfig(model_->config().image_processor));
    EXPECT_TRUE(processor.ok()) << processor.status();
    std::vector<float> pixels;
    for (const auto& name : inputs_["images"]) {
      auto processed = processor->Process(ReadFile("tests/golden/images/" + name.get<std::string>()));
      EXPECT_TRUE(processed.ok()) << processed.status();
      if (!processed.ok()) return {};
      pixels.insert(pixels.end(), processed->pixel_values.begin(), processed->pixel_values.end());
    }
    return pixels;
  }

  CpuBackend backend_{2};
  std::string golden_dir_, model_dir_;
  json inputs_;
  std::unique_ptr<SafetensorsFile> tensors_;
  std::unique_ptr<PaliGemmaModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_P(GoldenParityTest, PixelValuesMatchProcessor) {
  const std::vector<float> golden = TensorValues(*tensors_, "pixel_values");
  const std::vector<float> ours = ProcessImages();
  ASSERT_EQ(ours.size(), golden.size());
  ASSERT_GT(golden.size(), 0u);
  size_t within = 0, exact = 0;
  for (size_t i = 0; i < golden.size(); ++i) {
    const double d = std::abs(double(ours[i]) - golden[i]);
    within += d <= 2.0 / 255.0 + 1e-6;
    exact += ours[i] == golden[i];
  }
  EXPECT_GE(double(within) / golden.size(), 0.999);
  RecordProperty("exact_share", std::to_string(double(exact) / golden.size()));
}

TEST_P(GoldenParityTest, InputIdsMatchProcessor) {
  auto ids = tokenizer_->BuildPaliGemmaPrompt(
      inputs_["prompt"].get<std::string>(), static_cast<int>(inputs_["images"].size()),
      static_cast<int>(model_->config().image_tokens_per_image()));
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, inputs_["input_ids"].get<std::vector<int32_t>>());
}

TEST_P(GoldenParityTest, PrefillLogitsAndGreedyIdsMatchTransformers) {
  const ModelConfig& config = model_->config();
  const std::vector<float> golden_pixels = TensorValues(*tensors_, "pixel_values");
  const int64_t n = static_cast<int64_t>(inputs_["images"].size());
  const int64_t side = config.vision.image_size;
  ASSERT_EQ(golden_pixels.size(), size_t(n * 3 * side * side));
  // The transformers pixels, so this test isolates the model from the image pipeline.
  Tensor pixels = backend_.Upload(DType::kF32, {n, 3, side, side}, golden_pixels.data());
  Tensor features = model_->EncodeImages(pixels);

  const std::vector<float> golden_features = TensorValues(*tensors_, "image_features");
  if (!golden_features.empty()) {
    ASSERT_EQ(size_t(features.numel()), golden_features.size());
    EXPECT_LE(RelativeError(features.f32(), golden_features), kLogitRelTol) << "image features";
  }

  const std::vector<int32_t> ids = inputs_["input_ids"].get<std::vector<int32_t>>();
  const std::vector<int32_t> greedy = inputs_["greedy_ids"].get<std::vector<int32_t>>();
  auto cache = model_->NewCache(static_cast<int64_t>(ids.size() + greedy.size()));
  auto logits = model_->Prefill(ids, features, cache.get());
  ASSERT_TRUE(logits.ok()) << logits.status();
  const std::vector<float> golden_prefill = TensorValues(*tensors_, "prefill_logits");
  ASSERT_EQ(size_t(logits->numel()), golden_prefill.size());
  const double prefill_err = RelativeError(logits->f32(), golden_prefill);
  EXPECT_LE(prefill_err, kLogitRelTol) << "prefill logits";
  RecordProperty("prefill_rel_err", std::to_string(prefill_err));

  // Greedy decode; compare each step's logits with transformers' generate() scores.
  const std::vector<float> greedy_logits = TensorValues(*tensors_, "greedy_logits");
  const size_t vocab = static_cast<size_t>(config.text.vocab_size);
  ASSERT_EQ(greedy_logits.size(), greedy.size() * vocab);
  std::vector<int32_t> ours;
  Tensor step = *logits;
  double worst = 0;
  for (size_t i = 0; i < greedy.size(); ++i) {
    std::vector<float> ref(greedy_logits.begin() + i * vocab, greedy_logits.begin() + (i + 1) * vocab);
    const double err = RelativeError(step.f32(), ref);
    worst = std::max(worst, err);
    EXPECT_LE(err, kLogitRelTol) << "logits of generated token " << i;
    const float* l = step.f32();
    int32_t best = 0;
    for (size_t v = 1; v < vocab; ++v) best = l[v] > l[best] ? static_cast<int32_t>(v) : best;
    ours.push_back(best);
    if (i + 1 == greedy.size()) break;
    // Feed transformers' token so one early flip does not hide the rest of the comparison.
    auto next = model_->Decode(greedy[i], cache.get());
    ASSERT_TRUE(next.ok()) << next.status();
    step = *next;
  }
  EXPECT_EQ(ours, greedy);
  RecordProperty("decode_worst_rel_err", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(
    Configs, GoldenParityTest,
    ::testing::Values(GoldenCase{"gemma_h64_1img", "gemma_h64"},
                      GoldenCase{"gemma_h64_6img", "gemma_h64"},
                      GoldenCase{"gemma2_h96_6img", "gemma2_h96"},
                      GoldenCase{"gemma_h128_bf16_6img", "gemma_h128_bf16"}),
    [](const ::testing::TestParamInfo<GoldenCase>& info) { return std::string(info.param.golden); });

}  // namespace
}  // namespace drivelm::engine
