#include "engine/model/architecture.h"

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "engine/model/safetensors_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

constexpr char kTinyVision[] = R"("vision_config": {"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
    "num_attention_heads": 2, "patch_size": 4, "image_size": 8})";

ModelConfig TinyConfig(const std::string& text_type, bool tied = true) {
  std::string json = std::string(R"({"model_type": "paligemma", "projection_dim": 8, )") + kTinyVision +
                     R"(, "text_config": {"model_type": ")" + text_type +
                     R"(", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4, "vocab_size": 32,
                     "sliding_window": 4, "query_pre_attn_scalar": 4, "tie_word_embeddings": )" +
                     (tied ? "true" : "false") + "}}";
  absl::StatusOr<ModelConfig> c = ParseModelConfig(json, "");
  // Never fall back to a default (3B-parameter) config: the checkpoints below would be huge.
  if (!c.ok()) {
    ADD_FAILURE() << c.status();
    std::abort();
  }
  return *c;
}

// transformers >= 4.52 spelling of a canonical name.
std::string NewLayoutName(const std::string& canonical) {
  const std::pair<std::string, std::string> map[] = {
      {"language_model.model.", "model.language_model."},
      {"vision_tower.", "model.vision_tower."},
      {"multi_modal_projector.", "model.multi_modal_projector."},
      {"language_model.lm_head.", "lm_head."},
  };
  for (const auto& [from, to] : map) {
    if (absl::StartsWith(canonical, from)) return to + canonical.substr(from.size());
  }
  return canonical;
}

struct CheckpointOptions {
  bool new_layout = false;
  SafetensorsDType dtype = SafetensorsDType::kF32;
  std::set<std::string> skip;                  // canonical names left out
  std::map<std::string, Shape> shape_override;  // canonical name -> stored shape
  std::map<std::string, SafetensorsDType> dtype_override;
  bool include_optional = true;  // write lm_head even when tied
};

// Writes every ExpectedTensors(config) entry (zeros) into `dir`/model.safetensors; returns the store.
std::unique_ptr<WeightStore> MakeCheckpoint(const std::string& name, const ModelConfig& config,
                                            const CheckpointOptions& opt) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(base ? base : "/tmp") + "/architecture_test_" + name;
  ::mkdir(dir.c_str(), 0755);
  int64_t total = 0;
  for (const TensorSpec& spec : ExpectedTensors(config)) total += NumElements(spec.shape);
  if (total > (1 << 20)) {
    ADD_FAILURE() << "refusing to write a test checkpoint of " << total << " elements";
    return nullptr;
  }
  SafetensorsWriter w;
  for (const TensorSpec& spec : ExpectedTensors(config)) {
    if (opt.skip.count(spec.name) || (!spec.required && !opt.include_optional)) continue;
    Shape shape = opt.shape_override.count(spec.name) ? opt.shape_override.at(spec.name) : spec.shape;
    SafetensorsDType dtype = opt.dtype_override.count(spec.name) ? opt.dtype_override.at(spec.name) : opt.dtype;
    std::string bytes(static_cast<size_t>(NumElements(shape)) * SafetensorsDTypeSize(dtype), '\0');
    const std::string stored = opt.new_layout ? NewLayoutName(spec.name) : spec.name;
    EXPECT_TRUE(w.Add(stored, dtype, shape, bytes.data(), bytes.size()).ok()) << stored;
  }
  EXPECT_TRUE(w.WriteFile(dir + "/model.safetensors").ok());
  absl::StatusOr<std::unique_ptr<WeightStore>> store = WeightStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

const TensorSpec* FindSpec(const std::vector<TensorSpec>& specs, const std::string& name) {
  for (const TensorSpec& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// Checkpoints saved by transformers 4.47 save_pretrained (tools/make_safetensors_testdata.py): the
// table must name exactly the tensors transformers writes, with the same shapes.
TEST(ArchitectureTest, MatchesCheckpointsWrittenByTransformers) {
  for (const char* name : {"tiny_paligemma_gemma", "tiny_paligemma_gemma2"}) {
    SCOPED_TRACE(name);
    const std::string dir = std::string("engine/model/testdata/") + name;
    absl::StatusOr<ModelConfig> c = LoadModelConfig(dir);
    ASSERT_TRUE(c.ok()) << c.status();
    absl::StatusOr<std::unique_ptr<WeightStore>> store = WeightStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE(ValidateCheckpoint(*c, **store).ok()) << ValidateCheckpoint(*c, **store);

    std::set<std::string> expected;
    for (const TensorSpec& s : ExpectedTensors(*c)) {
      if (s.required) expected.insert(s.name);
    }
    const std::vector<std::string> names = (*store)->Names();
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), expected);  // tied lm_head is not saved
  }
}

TEST(ArchitectureTest, NameStrings) {
  EXPECT_EQ(VisionTensorNames().patch_embedding_weight, "vision_tower.vision_model.embeddings.patch_embedding.weight");
  EXPECT_EQ(VisionTensorNames().position_embedding_weight,
            "vision_tower.vision_model.embeddings.position_embedding.weight");
  EXPECT_EQ(VisionTensorNames().post_layernorm_bias, "vision_tower.vision_model.post_layernorm.bias");
  const VisionLayerNames v = VisionLayerTensorNames(26);
  EXPECT_EQ(v.layer_norm1_weight, "vision_tower.vision_model.encoder.layers.26.layer_norm1.weight");
  EXPECT_EQ(v.out_proj_bias, "vision_tower.vision_model.encoder.layers.26.self_attn.out_proj.bias");
  EXPECT_EQ(v.fc2_weight, "vision_tower.vision_model.encoder.layers.26.mlp.fc2.weight");
  EXPECT_EQ(ProjectorTensorNames().weight, "multi_modal_projector.linear.weight");
  EXPECT_EQ(TextTensorNames().embed_tokens, "language_model.model.embed_tokens.weight");
  EXPECT_EQ(TextTensorNames().final_norm, "language_model.model.norm.weight");
  EXPECT_EQ(TextTensorNames().lm_head, "language_model.lm_head.weight");
  const TextLayerNames t = TextLayerTensorNames(17);
  EXPECT_EQ(t.input_layernorm, "language_model.model.layers.17.input_layernorm.weight");
  EXPECT_EQ(t.o_proj, "language_model.model.layers.17.self_attn.o_proj.weight");
  EXPECT_EQ(t.pre_feedforward_layernorm, "language_model.model.layers.17.pre_feedforward_layernorm.weight");
  EXPECT_EQ(t.down_proj, "language_model.model.layers.17.mlp.down_proj.weight");
}

TEST(ArchitectureTest, PaliGemma3bShapes) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(R"({"model_type": "paligemma", "image_token_index": 257152,
      "text_config": {"hidden_size": 2048, "intermediate_size": 16384, "num_attention_heads": 8,
                      "num_hidden_layers": 18, "num_key_value_heads": 1, "vocab_size": 257216},
      "vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "num_attention_heads": 16,
                        "num_hidden_layers": 27, "patch_size": 14}})", "");
  ASSERT_TRUE(c.ok()) << c.status();
  const std::vector<TensorSpec> specs = ExpectedTensors(*c);
  EXPECT_EQ(specs.size(), 3u + 27 * 16 + 2 + 2 + 1 + 18 * 9 + 1 + 1);
  const std::map<std::string, Shape> expected = {
      {"vision_tower.vision_model.embeddings.patch_embedding.weight", {1152, 3, 14, 14}},
      {"vision_tower.vision_model.embeddings.patch_embedding.bias", {1152}},
      {"vision_tower.vision_model.embeddings.position_embedding.weight", {256, 1152}},
      {"vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight", {1152, 1152}},
      {"vision_tower.vision_model.encoder.layers.26.mlp.fc1.weight", {4304, 1152}},
      {"vision_tower.vision_model.encoder.layers.26.mlp.fc2.weight", {1152, 4304}},
      {"vision_tower.vision_model.post_layernorm.weight", {1152}},
      {"multi_modal_projector.linear.weight", {2048, 1152}},
      {"multi_modal_projector.linear.bias", {2048}},
      {"language_model.model.embed_tokens.weight", {257216, 2048}},
      {"language_model.model.layers.0.self_attn.q_proj.weight", {2048, 2048}},
      {"language_model.model.layers.0.self_attn.k_proj.weight", {256, 2048}},
      {"language_model.model.layers.17.self_attn.v_proj.weight", {256, 2048}},
      {"language_model.model.layers.17.self_attn.o_proj.weight", {2048, 2048}},
      {"language_model.model.layers.17.mlp.gate_proj.weight", {16384, 2048}},
      {"language_model.model.layers.17.mlp.down_proj.weight", {2048, 16384}},
      {"language_model.model.norm.weight", {2048}},
      {"language_model.lm_head.weight", {257216, 2048}},
  };
  for (const auto& [name, shape] : expected) {
    const TensorSpec* s = FindSpec(specs, name);
    ASSERT_NE(s, nullptr) << name;
    EXPECT_EQ(s->shape, shape) << name;
  }
  EXPECT_FALSE(FindSpec(specs, "language_model.lm_head.weight")->required);
  EXPECT_EQ(FindSpec(specs, "language_model.model.layers.0.pre_feedforward_layernorm.weight"), nullptr);
  EXPECT_EQ(FindSpec(specs, "vision_tower.vision_model.encoder.layers.27.mlp.fc1.weight"), nullptr);
  std::set<std::string> unique;
  for (const TensorSpec& s : specs) EXPECT_TRUE(unique.insert(s.name).second) << s.name;
}

TEST(ArchitectureTest, Gemma2AddsFeedForwardNorms) {
  const ModelConfig c = TinyConfig("gemma2");
  const std::vector<TensorSpec> specs = ExpectedTensors(c);
  EXPECT_EQ(specs.size(), 3u + 2 * 16 + 2 + 2 + 1 + 2 * 11 + 1 + 1);
  for (int i = 0; i < 2; ++i) {
    const TextLayerNames n = TextLayerTensorNames(i);
    ASSERT_NE(FindSpec(specs, n.pre_feedforward_layernorm), nullptr);
    EXPECT_EQ(FindSpec(specs, n.post_feedforward_layernorm)->shape, Shape{8});
    EXPECT_EQ(FindSpec(specs, n.q_proj)->shape, (Shape{8, 8}));
    EXPECT_EQ(FindSpec(specs, n.k_proj)->shape, (Shape{4, 8}));
    EXPECT_EQ(FindSpec(specs, n.o_proj)->shape, (Shape{8, 8}));
  }
  EXPECT_EQ(FindSpec(specs, VisionTensorNames().position_embedding_weight)->shape, (Shape{4, 8}));
  EXPECT_EQ(FindSpec(specs, VisionTensorNames().patch_embedding_weight)->shape, (Shape{8, 3, 4, 4}));
}

TEST(ArchitectureTest, UntiedLmHeadIsRequired) {
  const std::vector<TensorSpec> specs = ExpectedTensors(TinyConfig("gemma", /*tied=*/false));
  EXPECT_TRUE(FindSpec(specs, TextTensorNames().lm_head)->required);
}

struct LayoutCase {
  const char* name;
  const char* text_type;
  bool new_layout;
  SafetensorsDType dtype;
};

class ValidateCheckpointOkTest : public ::testing::TestWithParam<LayoutCase> {};

TEST_P(ValidateCheckpointOkTest, CompleteCheckpointPasses) {
  const LayoutCase& p = GetParam();
  const ModelConfig c = TinyConfig(p.text_type);
  CheckpointOptions opt;
  opt.new_layout = p.new_layout;
  opt.dtype = p.dtype;
  std::unique_ptr<WeightStore> store = MakeCheckpoint(p.name, c, opt);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(ValidateCheckpoint(c, *store).ok()) << ValidateCheckpoint(c, *store);
  // Every table name resolves, whatever the stored layout.
  for (const TensorSpec& s : ExpectedTensors(c)) EXPECT_NE(store->Find(s.name), nullptr) << s.name;
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, ValidateCheckpointOkTest,
    ::testing::Values(LayoutCase{"gemma_canonical", "gemma", false, SafetensorsDType::kF32},
                      LayoutCase{"gemma_new", "gemma", true, SafetensorsDType::kBF16},
                      LayoutCase{"gemma2_canonical", "gemma2", false, SafetensorsDType::kBF16},
                      LayoutCase{"gemma2_new", "gemma2", true, SafetensorsDType::kF16}),
    [](const ::testing::TestParamInfo<LayoutCase>& info) { return std::string(info.param.name); });

TEST(ValidateCheckpointTest, TiedLmHeadMayBeAbsent) {
  const ModelConfig c = TinyConfig("gemma");
  CheckpointOptions opt;
  opt.include_optional = false;
  std::unique_ptr<WeightStore> store = MakeCheckpoint("tied_absent", c, opt);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(ValidateCheckpoint(c, *store).ok());
}

TEST(ValidateCheckpointTest, UntiedLmHeadMissing) {
  const ModelConfig c = TinyConfig("gemma", /*tied=*/false);
  CheckpointOptions opt;
  opt.skip = {TextTensorNames().lm_head};
  std::unique_ptr<WeightStore> store = MakeCheckpoint("untied_missing", c, opt);
  ASSERT_NE(store, nullptr);
  absl::Status s = ValidateCheckpoint(c, *store);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'language_model.lm_head.weight' (expected shape [32, 8])"));
}

TEST(ValidateCheckpointTest, TiedLmHeadWithWrongShapeIsAnError) {
  const ModelConfig c = TinyConfig("gemma");
  CheckpointOptions opt;
  opt.shape_override[TextTensorNames().lm_head] = {31, 8};
  std::unique_ptr<WeightStore> store = MakeCheckpoint("tied_bad_shape", c, opt);
  ASSERT_NE(store, nullptr);
  absl::Status s = ValidateCheckpoint(c, *store);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("has shape [31, 8], expected [32, 8]"));
}

TEST(ValidateCheckpointTest, ReportsFirstMissingTensor) {
  const ModelConfig c = TinyConfig("gemma");
  CheckpointOptions opt;
  opt.new_layout = true;
  opt.skip = {TextLayerTensorNames(1).up_proj, TextTensorNames().final_norm};
  std::unique_ptr<WeightStore> store = MakeCheckpoint("missing", c, opt);
  ASSERT_NE(store, nullptr);
  absl::Status s = ValidateCheckpoint(c, *store);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("no tensor 'language_model.model.layers.1.mlp.up_proj.weight' (expected shape [16, 8])"));
}

TEST(ValidateCheckpointTest, Gemma2WithoutFeedForwardNormFails) {
  const ModelConfig c = TinyConfig("gemma2");
  CheckpointOptions opt;
  opt.skip = {TextLayerTensorNames(0).post_feedforward_layernorm};
  std::unique_ptr<WeightStore> store = MakeCheckpoint("gemma2_norm", c, opt);
  ASSERT_NE(store, nullptr);
  absl::Status s = ValidateCheckpoint(c, *store);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("layers.0.post_feedforward_layernorm.weight"));
}

TEST(ValidateCheckpointTest, GemmaCheckpointDoesNotSatisfyGemma2Config) {
  std::unique_ptr<WeightStore> store = MakeCheckpoint("gemma_for_gemma2", TinyConfig("gemma"), {});
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(ValidateCheckpoint(TinyConfig("gemma2"), *store).ok());
}

TEST(ValidateCheckpointTest, WrongShape) {
  const ModelConfig c = TinyConfig("gemma2");
  CheckpointOptions opt;
  opt.shape_override[VisionLayerTensorNames(1).fc1_weight] = {8, 16};  // transposed
  std::unique_ptr<WeightStore> store = MakeCheckpoint("wrong_shape", c, opt);
  ASSERT_NE(store, nullptr);
  absl::Status s = ValidateCheckpoint(c, *store);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("has shape [8, 16], expected [16, 8]"));
}

TEST(ValidateCheckpointTest, WrongDtype) {
  const ModelConfig c = TinyConfig("gemma");
  CheckpointOptions opt;
  opt.dtype_override[ProjectorTensorNames().bias] = SafetensorsDType::kI32;
  std::unique_ptr<WeightStore> store = MakeCheckpoint("wrong_dtype", c, opt);
  ASSERT_NE(store, nullptr);
  absl::Status s = ValidateCheckpoint(c, *store);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("'multi_modal_projector.linear.bias' (stored as 'multi_modal_projector.linear.bias') has dtype i32"));
}

TEST(ValidateCheckpointTest, I64WeightIsNamed) {
  const ModelConfig c = TinyConfig("gemma");
  CheckpointOptions opt;
  opt.new_layout = true;
  opt.dtype_override[TextTensorNames().embed_tokens] = SafetensorsDType::kI64;
  std::unique_ptr<WeightStore> store = MakeCheckpoint("i64", c, opt);
  ASSERT_NE(store, nullptr);
  absl::Status s = ValidateCheckpoint(c, *store);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'language_model.model.embed_tokens.weight'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("stored as 'model.language_model.embed_tokens.weight'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("dtype I64"));
}

}  // namespace
}  // namespace drivelm::engine
