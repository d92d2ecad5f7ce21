// Batched steps over the paged KV cache (PaliGemmaModel::Step) against the one-sequence
// contiguous path (Prefill/Decode), on the committed tiny Gemma-2 checkpoint (sliding window,
// soft-capping, grouped-query attention) with transformers' own pixel values:
// - batched equals unbatched: greedy tokens identical, logits within 1e-5 relative (the same
//   fp32 ops; only BLAS blocking differs between batch shapes: sgemv for one row, sgemm for many);
// - sequences join a running batch (a prefill mixed with decodes) without changing results;
// - the shared image prefix (image KV computed with image-only attention) is identical whichever
//   question computed it, so a scene's questions can share those blocks.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/model/paligemma_model.h"
#include "engine/model/safetensors_file.h"
#include "nlohmann/json.hpp"

namespace drivelm::engine {
namespace {

constexpr char kModel[] = "tests/golden/models/gemma2_h96";
constexpr char kGolden[] = "tests/golden/gemma2_h96_6img";
constexpr int64_t kBlock = 16;
constexpr int kNewTokens = 6;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double RelErr(const float* a, const float* b, int64_t n) {
  double diff = 0, ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - b[i]));
    ref = std::max(ref, std::abs(double(b[i])));
  }
  return diff / ref;
}

int32_t Argmax(const float* l, int64_t n) {
  return static_cast<int32_t>(std::max_element(l, l + n) - l);
}

class PaliGemmaStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = PaliGemmaModel::Load(kModel, &backend_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    auto inputs = nlohmann::json::parse(ReadFile(std::string(kGolden) + "/inputs.json"));
    ids_a_ = inputs["input_ids"].get<std::vector<int32_t>>();
    auto file = SafetensorsFile::Open(std::string(kGolden) + "/tensors.safetensors");
    ASSERT_TRUE(file.ok());
    const SafetensorsTensor* px = (*file)->Find("pixel_values");
    ASSERT_NE(px, nullptr);
    Tensor pixels = backend_.Upload(DType::kF32, px->shape, px->data);
    features_ = model_->EncodeImages(pixels);
    image_tokens_ = features_.dim(0);
    // B: the same scene, another question (drop three text tokens before "\n").
    ids_b_ = ids_a_;
    ids_b_.erase(ids_b_.end() - 4, ids_b_.end() - 1);
    // C: only the first image's tokens, bos and a short text.
    const int64_t per_image = model_->config().image_tokens_per_image();
    ids_c_.assign(ids_a_.begin(), ids_a_.begin() + per_image);
    ids_c_.insert(ids_c_.end(), ids_a_.begin() + image_tokens_, ids_a_.begin() + image_tokens_ + 6);
    ids_c_.push_back(ids_a_.back());
  }

  // The contiguous reference: greedy tokens and per-step logits.
  void Reference(const std::vector<int32_t>& ids, std::vector<int32_t>* tokens,
                 std::vector<std::vector<float>>* logits) {
    const int64_t vocab = model_->config().text.vocab_size;
    const int64_t images = std::count(ids.begin(), ids.end(), model_->config().image_token_index);
    auto cache = model_->NewCache(static_cast<int64_t>(ids.size()) + kNewTokens);
    auto l = model_->Prefill(ids, features_.Rows(0, images), cache.get());
    ASSERT_TRUE(l.ok()) << l.status();
    for (int i = 0; i < kNewTokens; ++i) {
      logits->emplace_back(l->f32(), l->f32() + vocab);
      tokens->push_back(Argmax(l->f32(), vocab));
      if (i + 1 == kNewTokens) break;
      l = model_->Decode(tokens->back(), cache.get());
      ASSERT_TRUE(l.ok()) << l.status();
    }
  }

  CpuBackend backend_{2};
  std::unique_ptr<PaliGemmaModel> model_;
  Tensor features_;  // [6 * tokens_per_image, hidden]
  int64_t image_tokens_ = 0;
  std::vector<int32_t> ids_a_, ids_b_, ids_c_;
};

TEST_F(PaliGemmaStepTest, BatchedEqualsUnbatchedWithLateArrival) {
  const int64_t vocab = model_->config().text.vocab_size;
  std::vector<std::vector<int32_t>> prompts = {ids_a_, ids_b_, ids_c_};
  std::vector<std::vector<int32_t>> ref_tokens(3);
  std::vector<std::vector<std::vector<float>>> ref_logits(3);
  for (int s = 0; s < 3; ++s) Reference(prompts[s], &ref_tokens[s], &ref_logits[s]);

  // Block tables from a shuffled pool, so sequences interleave in memory.
  auto kv = model_->NewPagedCache(/*num_blocks=*/64, kBlock);
  std::vector<int32_t> pool(64);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), std::mt19937(3));
  std::vector<std::vector<int32_t>> tables(3);
  for (int s = 0; s < 3; ++s) {
    const int64_t need = (prompts[s].size() + kNewTokens + kBlock - 1) / kBlock;
    for (int64_t i = 0; i < need; ++i) {
      tables[s].push_back(pool.back());
      pool.pop_back();
    }
  }

  std::vector<int64_t> past(3, 0);
  std::vector<std::vector<int32_t>> got(3);
  std::vector<int32_t> last(3);
  // Step 0: A and B prefill together. Steps 1..: A and B decode; C's prefill joins at step 2.
  for (int step = 0; step < kNewTokens + 2; ++step) {
    std::vector<StepSequence> batch;
    std::vector<int> who;
    for (int s = 0; s < 3; ++s) {
      if (s == 2 && step < 2) continue;
      if (got[s].size() == size_t(kNewTokens)) continue;
      StepSequence q;
      q.image_features = &features_;
      q.image_tokens = s == 2 ? model_->config().image_tokens_per_image() : image_tokens_;
      q.prefix_len = static_cast<int64_t>(prompts[s].size());
      q.ids = past[s] == 0 ? absl::MakeConstSpan(prompts[s]) : absl::MakeConstSpan(&last[s], 1);
      q.past = past[s];
      q.block_table = tables[s];
      batch.push_back(q);
      who.push_back(s);
    }
    if (batch.empty()) break;
    auto logits = model_->Step(batch, kv.get());
    ASSERT_TRUE(logits.ok()) << logits.status();
    ASSERT_EQ(logits->dim(0), static_cast<int64_t>(batch.size()));
    for (size_t i = 0; i < who.size(); ++i) {
      const int s = who[i];
      const float* l = logits->f32() + i * vocab;
      const size_t k = got[s].size();
      EXPECT_LE(RelErr(l, ref_logits[s][k].data(), vocab), 1e-5) << "seq " << s << " token " << k;
      got[s].push_back(Argmax(l, vocab));
      past[s] += static_cast<int64_t>(batch[i].ids.size());
      last[s] = got[s].back();
    }
  }
  for (int s = 0; s < 3; ++s) EXPECT_EQ(got[s], ref_tokens[s]) << "sequence " << s;
}

TEST_F(PaliGemmaStepTest, SharedImagePrefixIsIndependentOfTheQuestion) {
  ASSERT_EQ(image_tokens_ % kBlock, 0) << "image prefix must fill whole blocks to be shared";
  const int64_t vocab = model_->config().text.vocab_size;
  const int64_t image_blocks = image_tokens_ / kBlock;
  auto kv = model_->NewPagedCache(64, kBlock);
  std::vector<int32_t> shared(image_blocks), own_b, fresh_b;
  std::iota(shared.begin(), shared.end(), 0);
  auto blocks = [&](int32_t first, int64_t tokens) {
    std::vector<int32_t> t;
    for (int64_t i = 0; i < (tokens + kBlock - 1) / kBlock; ++i) t.push_back(first + int32_t(i));
    return t;
  };
  // 1. The scene's image tokens once, attending only among themselves.
  StepSequence images;
  images.ids = absl::MakeConstSpan(ids_a_).subspan(0, image_tokens_);
  images.image_features = &features_;
  images.image_tokens = image_tokens_;
  images.prefix_len = image_tokens_;
  images.block_table = shared;
  images.want_logits = false;
  ASSERT_TRUE(model_->Step({images}, kv.get()).ok());

  // 2. Question B on the shared image blocks: only its text is computed.
  std::vector<int32_t> table_b = shared;
  for (int32_t blk : blocks(32, ids_b_.size() - image_tokens_ + kBlock)) table_b.push_back(blk);
  StepSequence qb;
  qb.image_features = &features_;
  qb.image_tokens = image_tokens_;
  qb.ids = absl::MakeConstSpan(ids_b_).subspan(image_tokens_);
  qb.past = image_tokens_;
  qb.prefix_len = static_cast<int64_t>(ids_b_.size());
  qb.block_table = table_b;
  auto shared_logits = model_->Step({qb}, kv.get());
  ASSERT_TRUE(shared_logits.ok()) << shared_logits.status();

  // 3. The same, with question B computing its own copy of the image prefix first.
  std::vector<int32_t> fresh = blocks(48, ids_b_.size() + kBlock);
  StepSequence own_images = images;
  own_images.block_table = fresh;
  ASSERT_TRUE(model_->Step({own_images}, kv.get()).ok());
  StepSequence qb2 = qb;
  qb2.block_table = fresh;
  auto own_logits = model_->Step({qb2}, kv.get());
  ASSERT_TRUE(own_logits.ok());
  for (int64_t i = 0; i < vocab; ++i) ASSERT_EQ(shared_logits->f32()[i], own_logits->f32()[i]);

  // And it is an approximation of the exact (fully bidirectional) prefill, not the same thing.
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> exact;
  Reference(ids_b_, &tokens, &exact);
  EXPECT_GT(RelErr(shared_logits->f32(), exact[0].data(), vocab), 1e-4);
}

TEST_F(PaliGemmaStepTest, BadStepsAreRejectedBeforeCompute) {
  auto kv = model_->NewPagedCache(8, kBlock);
  std::vector<int32_t> table = {0, 1};
  StepSequence s;
  s.ids = ids_a_;  // needs more blocks than the table has
  s.image_features = &features_;
  s.image_tokens = image_tokens_;
  s.prefix_len = static_cast<int64_t>(ids_a_.size());
  s.block_table = table;
  EXPECT_EQ(model_->Step({s}, kv.get()).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<int32_t> bad = {static_cast<int32_t>(model_->config().text.vocab_size) + 5};
  s.ids = bad;
  EXPECT_EQ(model_->Step({s}, kv.get()).status().code(), absl::StatusCode::kInvalidArgument);
  s.ids = absl::MakeConstSpan(ids_a_).subspan(0, 4);  // image slots without features
  s.image_features = nullptr;
  s.image_tokens = 4;
  EXPECT_EQ(model_->Step({s}, kv.get()).status().code(), absl::StatusCode::kInvalidArgument);
  s.image_features = &features_;
  std::vector<int32_t> text(4, ids_a_.back());  // text where an image slot must be
  s.ids = text;
  EXPECT_EQ(model_->Step({s}, kv.get()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace drivelm::engine
