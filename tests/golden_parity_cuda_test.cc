// Golden parity on the GPU: the engine on CudaBackend against Hugging Face transformers 4.47.1
// (fp32, eager attention) on the tiny checkpoints of tests/golden, the same goldens and bounds as
// golden_parity_test.cc (which runs the CPU backend):
// - image features and prefill logits at the last position: max|engine - hf| / max|hf| <= 1e-4.
//   CudaBackend is fp32 like the CPU backend (cuBLAS SGEMM without TF32, fp32 kernels), so the
//   two differ from transformers only in summation order, ~1e-6 relative at these lengths;
// - every decode step's logits within the same bound, feeding transformers' token so that one
//   early flip does not hide the rest;
// - greedy ids identical. Where a step's argmax differs, the test prints both tokens' logits and
//   the margin by which transformers preferred its token (a near-tie flips on rounding alone;
//   a real bug shows up as a large logit error first).
// Runs only on a GPU machine (tag "gpu"); without a CUDA device every case skips.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/backend/cuda/cuda_backend.h"
#include "engine/model/paligemma_model.h"
#include "engine/model/safetensors_file.h"
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

// max|a - b| / max|b|; NaN anywhere is infinitely wrong.
double RelativeError(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    max_diff = std::max(max_diff, std::abs(double(a[i]) - b[i]));
    max_ref = std::max(max_ref, std::abs(double(b[i])));
  }
  return max_diff / max_ref;
}

int32_t ArgMax(const std::vector<float>& v) {
  int32_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) best = v[i] > v[best] ? static_cast<int32_t>(i) : best;
  return best;
}

class GoldenParityCudaTest : public ::testing::TestWithParam<GoldenCase> {
 protected:
  void SetUp() override {
    auto backend = CudaBackend::Create();
    // DRIVELM_REQUIRE_GPU=1 (benchmarks/gpu/run_device.sh): no device is a failure, not a skip.
    if (!backend.ok() && std::getenv("DRIVELM_REQUIRE_GPU") != nullptr) {
      FAIL() << "DRIVELM_REQUIRE_GPU is set but: " << backend.status();
    }
    if (!backend.ok()) GTEST_SKIP() << "no CUDA device: " << backend.status();
    backend_ = std::move(*backend);
    const std::string root = "tests/golden/";
    golden_dir_ = root + GetParam().golden;
    model_dir_ = root + "models/" + GetParam().model;
    inputs_ = json::parse(ReadFile(golden_dir_ + "/inputs.json"));
    auto file = SafetensorsFile::Open(golden_dir_ + "/tensors.safetensors");
    ASSERT_TRUE(file.ok()) << file.status();
    tensors_ = std::move(*file);
    auto model = PaliGemmaModel::Load(model_dir_, backend_.get());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
  }

  std::vector<float> Download(const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    backend_->DownloadF32(t, v.data());
    return v;
  }

  std::unique_ptr<CudaBackend> backend_;  // outlives the model (declared first)
  std::string golden_dir_, model_dir_;
  json inputs_;
  std::unique_ptr<SafetensorsFile> tensors_;
  std::unique_ptr<PaliGemmaModel> model_;
};

TEST_P(GoldenParityCudaTest, PrefillLogitsAndGreedyIdsMatchTransformers) {
  const ModelConfig& config = model_->config();
  const std::vector<float> golden_pixels = TensorValues(*tensors_, "pixel_values");
  const int64_t n = static_cast<int64_t>(inputs_["images"].size());
  const int64_t side = config.vision.image_size;
  ASSERT_EQ(golden_pixels.size(), size_t(n * 3 * side * side));
  // The transformers pixels, so this test isolates the model from the image pipeline.
  Tensor pixels = backend_->Upload(DType::kF32, {n, 3, side, side}, golden_pixels.data());
  Tensor features = model_->EncodeImages(pixels);
  ASSERT_EQ(features.device(), Device::kCuda);

  const std::vector<float> golden_features = TensorValues(*tensors_, "image_features");
  if (!golden_features.empty()) {
    const double err = RelativeError(Download(features), golden_features);
    EXPECT_LE(err, kLogitRelTol) << "image features";
    RecordProperty("features_rel_err", std::to_string(err));
  }

  const std::vector<int32_t> ids = inputs_["input_ids"].get<std::vector<int32_t>>();
  const std::vector<int32_t> greedy = inputs_["greedy_ids"].get<std::vector<int32_t>>();
  auto cache = model_->NewCache(static_cast<int64_t>(ids.size() + greedy.size()));
  auto logits = model_->Prefill(ids, features, cache.get());
  ASSERT_TRUE(logits.ok()) << logits.status();
  const std::vector<float> golden_prefill = TensorValues(*tensors_, "prefill_logits");
  ASSERT_EQ(size_t(logits->numel()), golden_prefill.size());
  const double prefill_err = RelativeError(Download(*logits), golden_prefill);
  EXPECT_LE(prefill_err, kLogitRelTol) << "prefill logits";
  RecordProperty("prefill_rel_err", std::to_string(prefill_err));

  const std::vector<float> greedy_logits = TensorValues(*tensors_, "greedy_logits");
  const size_t vocab = static_cast<size_t>(config.text.vocab_size);
  ASSERT_EQ(greedy_logits.size(), greedy.size() * vocab);
  std::vector<int32_t> ours;
  Tensor step = *logits;
  double worst = 0;
  for (size_t i = 0; i < greedy.size(); ++i) {
    const std::vector<float> ref(greedy_logits.begin() + i * vocab,
                                 greedy_logits.begin() + (i + 1) * vocab);
    const std::vector<float> got = Download(step);
    const double err = RelativeError(got, ref);
    worst = std::max(worst, err);
    EXPECT_LE(err, kLogitRelTol) << "logits of generated token " << i;
    const int32_t best = ArgMax(got);
    ours.push_back(best);
    if (best != greedy[i]) {
      // A flip: how close was the race, in transformers' logits and in ours?
      ADD_FAILURE() << "generated token " << i << ": ours " << best << ", transformers "
                    << greedy[i] << "; transformers' margin (logit[hf] - logit[ours]) "
                    << ref[greedy[i]] - ref[best] << ", ours (logit[ours] - logit[hf]) "
                    << got[best] - got[greedy[i]];
    }
    if (i + 1 == greedy.size()) break;
    auto next = model_->Decode(greedy[i], cache.get());
    ASSERT_TRUE(next.ok()) << next.status();
    step = *next;
  }
  EXPECT_EQ(ours, greedy);
  RecordProperty("decode_worst_rel_err", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(
    Configs, GoldenParityCudaTest,
    ::testing::Values(GoldenCase{"gemma_h64_1img", "gemma_h64"},
                      GoldenCase{"gemma_h64_6img", "gemma_h64"},
                      GoldenCase{"gemma2_h96_6img", "gemma2_h96"},
                      GoldenCase{"gemma_h128_bf16_6img", "gemma_h128_bf16"}),
    [](const ::testing::TestParamInfo<GoldenCase>& info) { return std::string(info.param.golden); });

}  // namespace
}  // namespace drivelm::engine
