#include "engine/model/model_config.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::HasSubstr;

// google/paligemma-3b-pt-224 config.json (transformers 4.41 era).
constexpr char kPaliGemma1[] = R"({
  "_name_or_path": "",
  "architectures": ["PaliGemmaForConditionalGeneration"],
  "bos_token_id": 2,
  "eos_token_id": 1,
  "hidden_size": 2048,
  "ignore_index": -100,
  "image_token_index": 257152,
  "model_type": "paligemma",
  "pad_token_id": 0,
  "projection_dim": 2048,
  "text_config": {
    "hidden_size": 2048,
    "intermediate_size": 16384,
    "model_type": "gemma",
    "num_attention_heads": 8,
    "num_hidden_layers": 18,
    "num_image_tokens": 256,
    "num_key_value_heads": 1,
    "torch_dtype": "float32",
    "vocab_size": 257216
  },
  "torch_dtype": "float32",
  "transformers_version": "4.41.0.dev0",
  "vision_config": {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "model_type": "siglip_vision_model",
    "num_attention_heads": 16,
    "num_hidden_layers": 27,
    "num_image_tokens": 256,
    "patch_size": 14,
    "projection_dim": 2048,
    "projector_hidden_act": "gelu_fast",
    "vision_use_head": false
  }
})";

// google/paligemma2-3b-pt-224 config.json.
constexpr char kPaliGemma2[] = R"({
  "architectures": ["PaliGemmaForConditionalGeneration"],
  "bos_token_id": 2,
  "eos_token_id": 1,
  "hidden_size": 2048,
  "image_token_index": 257152,
  "model_type": "paligemma",
  "pad_token_id": 0,
  "projection_dim": 2304,
  "text_config": {
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "model_type": "gemma2",
    "num_attention_heads": 8,
    "num_hidden_layers": 26,
    "num_image_tokens": 256,
    "num_key_value_heads": 4,
    "query_pre_attn_scalar": 256,
    "sliding_window": 4096,
    "torch_dtype": "bfloat16",
    "vocab_size": 257216
  },
  "torch_dtype": "bfloat16",
  "transformers_version": "4.47.0.dev0",
  "vision_config": {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "model_type": "siglip_vision_model",
    "num_attention_heads": 16,
    "num_hidden_layers": 27,
    "num_image_tokens": 256,
    "num_positions": 256,
    "patch_size": 14,
    "projection_dim": 2304,
    "torch_dtype": "bfloat16",
    "vision_use_head": false
  }
})";

constexpr char kPreprocessor[] = R"({
  "do_convert_rgb": null,
  "do_normalize": true,
  "do_rescale": true,
  "do_resize": true,
  "image_mean": [0.5, 0.5, 0.5],
  "image_processor_type": "SiglipImageProcessor",
  "image_seq_length": 256,
  "image_std": [0.5, 0.5, 0.5],
  "processor_class": "PaliGemmaProcessor",
  "resample": 3,
  "rescale_factor": 0.00392156862745098,
  "size": {"height": 224, "width": 224}
})";

absl::Status ParseError(const std::string& config, const std::string& pre = "") {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(config, pre);
  return c.ok() ? absl::OkStatus() : c.status();
}

TEST(ModelConfigTest, PaliGemma3bPt224) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(kPaliGemma1, kPreprocessor);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->image_token_index, 257152);
  EXPECT_EQ(c->bos_token_id, 2);
  EXPECT_EQ(c->eos_token_id, 1);
  EXPECT_EQ(c->eos_token_ids, std::vector<int32_t>{1});
  EXPECT_EQ(c->pad_token_id, 0);
  EXPECT_EQ(c->projection_dim, 2048);
  EXPECT_TRUE(c->tie_word_embeddings);

  const TextConfig& t = c->text;
  EXPECT_EQ(t.kind, DecoderKind::kGemma);
  EXPECT_EQ(t.hidden_size, 2048);
  EXPECT_EQ(t.intermediate_size, 16384);
  EXPECT_EQ(t.num_hidden_layers, 18);
  EXPECT_EQ(t.num_attention_heads, 8);
  EXPECT_EQ(t.num_key_value_heads, 1);
  EXPECT_EQ(t.head_dim, 256);
  EXPECT_EQ(t.vocab_size, 257216);
  EXPECT_EQ(t.rms_norm_eps, 1e-6);
  EXPECT_EQ(t.rope_theta, 10000.0);
  EXPECT_EQ(t.hidden_activation, "gelu_pytorch_tanh");
  EXPECT_EQ(t.sliding_window, 0);
  EXPECT_EQ(t.attn_logit_softcapping, 0.0);
  EXPECT_EQ(t.final_logit_softcapping, 0.0);
  EXPECT_EQ(t.attention_scale(), 0.0625f);
  EXPECT_FALSE(t.is_sliding_layer(0));
  EXPECT_FALSE(t.is_sliding_layer(1));
  EXPECT_FALSE(t.traits().pre_post_feedforward_norms);

  const VisionConfig& v = c->vision;
  EXPECT_EQ(v.hidden_size, 1152);
  EXPECT_EQ(v.intermediate_size, 4304);
  EXPECT_EQ(v.num_hidden_layers, 27);
  EXPECT_EQ(v.num_attention_heads, 16);
  EXPECT_EQ(v.num_channels, 3);
  EXPECT_EQ(v.patch_size, 14);
  EXPECT_EQ(v.image_size, 224);  // absent: SiglipVisionConfig's default
  EXPECT_EQ(v.layer_norm_eps, 1e-6);
  EXPECT_EQ(v.hidden_act, "gelu_pytorch_tanh");
  EXPECT_EQ(v.head_dim(), 72);
  EXPECT_EQ(c->image_tokens_per_image(), 256);

  const ImageProcessorConfig& p = c->image_processor;
  EXPECT_TRUE(p.do_resize);
  EXPECT_EQ(p.height, 224);
  EXPECT_EQ(p.width, 224);
  EXPECT_EQ(p.resample, 3);
  EXPECT_TRUE(p.do_rescale);
  EXPECT_EQ(p.rescale_factor, 0.00392156862745098);
  EXPECT_TRUE(p.do_normalize);
  EXPECT_EQ(p.image_mean, (std::array<double, 3>{0.5, 0.5, 0.5}));
  EXPECT_EQ(p.image_std, (std::array<double, 3>{0.5, 0.5, 0.5}));
}

TEST(ModelConfigTest, PaliGemma2_3bPt224) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(kPaliGemma2, "");
  ASSERT_TRUE(c.ok()) << c.status();
  const TextConfig& t = c->text;
  EXPECT_EQ(t.kind, DecoderKind::kGemma2);
  EXPECT_EQ(t.hidden_size, 2304);
  EXPECT_EQ(t.intermediate_size, 9216);
  EXPECT_EQ(t.num_hidden_layers, 26);
  EXPECT_EQ(t.num_attention_heads, 8);
  EXPECT_EQ(t.num_key_value_heads, 4);
  EXPECT_EQ(t.head_dim, 256);
  EXPECT_EQ(t.vocab_size, 257216);
  EXPECT_EQ(t.sliding_window, 4096);
  EXPECT_EQ(t.query_pre_attn_scalar, 256.0);
  // Absent: Gemma2Config's defaults.
  EXPECT_EQ(t.attn_logit_softcapping, 50.0);
  EXPECT_EQ(t.final_logit_softcapping, 30.0);
  EXPECT_EQ(t.attention_scale(), 0.0625f);
  EXPECT_TRUE(t.is_sliding_layer(0));
  EXPECT_FALSE(t.is_sliding_layer(1));
  EXPECT_TRUE(t.is_sliding_layer(24));
  EXPECT_FALSE(t.is_sliding_layer(25));
  EXPECT_TRUE(t.traits().pre_post_feedforward_norms);
  EXPECT_TRUE(t.traits().post_attention_norm_on_output);
  EXPECT_TRUE(t.traits().has_softcapping);
  EXPECT_EQ(c->projection_dim, 2304);
  EXPECT_EQ(c->vision.hidden_size, 1152);
  // No preprocessor_config.json: PaliGemma's defaults.
  EXPECT_EQ(c->image_processor.height, 224);
  EXPECT_EQ(c->image_processor.resample, 3);
}

TEST(ModelConfigTest, AttentionScaleUsesQueryPreAttnScalar) {
  const std::string json = R"({"model_type": "paligemma", "projection_dim": 2304,
      "text_config": {"model_type": "gemma2", "query_pre_attn_scalar": 144, "head_dim": 128}})";
  absl::StatusOr<ModelConfig> c = ParseModelConfig(json, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->text.attention_scale(), static_cast<float>(std::pow(144.0, -0.5)));
}

TEST(DecoderTraitsTest, TableRows) {
  EXPECT_EQ(TraitsFor(DecoderKind::kGemma).kind, DecoderKind::kGemma);
  EXPECT_STREQ(TraitsFor(DecoderKind::kGemma).model_type, "gemma");
  EXPECT_FALSE(TraitsFor(DecoderKind::kGemma).has_softcapping);
  EXPECT_FALSE(TraitsFor(DecoderKind::kGemma).alternating_sliding_window);
  EXPECT_FALSE(TraitsFor(DecoderKind::kGemma).query_pre_attn_scalar);
  EXPECT_EQ(TraitsFor(DecoderKind::kGemma2).kind, DecoderKind::kGemma2);
  EXPECT_STREQ(TraitsFor(DecoderKind::kGemma2).model_type, "gemma2");
  EXPECT_TRUE(TraitsFor(DecoderKind::kGemma2).alternating_sliding_window);
  EXPECT_TRUE(TraitsFor(DecoderKind::kGemma2).query_pre_attn_scalar);
}

// PaliGemmaConfig() with no sub-configs: its own defaults (SigLIP intermediate 4096, Gemma-2B
// with the top-level vocab_size, image token 256000).
TEST(ModelConfigTest, AbsentSubConfigsGetPaliGemmaDefaults) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(R"({"model_type": "paligemma", "vocab_size": 1000})", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->image_token_index, 256000);
  EXPECT_EQ(c->projection_dim, 2048);
  EXPECT_EQ(c->vision.hidden_size, 1152);
  EXPECT_EQ(c->vision.intermediate_size, 4096);
  EXPECT_EQ(c->vision.num_hidden_layers, 27);
  EXPECT_EQ(c->vision.patch_size, 14);
  EXPECT_EQ(c->text.kind, DecoderKind::kGemma);
  EXPECT_EQ(c->text.hidden_size, 2048);
  EXPECT_EQ(c->text.num_hidden_layers, 18);
  EXPECT_EQ(c->text.intermediate_size, 16384);
  EXPECT_EQ(c->text.num_key_value_heads, 1);
  EXPECT_EQ(c->text.vocab_size, 1000);
  EXPECT_EQ(c->bos_token_id, 2);
  EXPECT_EQ(c->eos_token_id, 1);
  EXPECT_EQ(c->pad_token_id, 0);
}

// Sub-configs given as dicts: the SiglipVisionConfig / GemmaConfig class defaults fill the gaps.
TEST(ModelConfigTest, EmptySubConfigDictsGetClassDefaults) {
  absl::StatusOr<ModelConfig> c =
      ParseModelConfig(R"({"model_type": "paligemma", "projection_dim": 3072, "vision_config": {},
                           "text_config": {}})", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->vision.hidden_size, 768);
  EXPECT_EQ(c->vision.intermediate_size, 3072);
  EXPECT_EQ(c->vision.num_hidden_layers, 12);
  EXPECT_EQ(c->vision.num_attention_heads, 12);
  EXPECT_EQ(c->vision.patch_size, 16);
  EXPECT_EQ(c->vision.image_size, 224);
  EXPECT_EQ(c->image_tokens_per_image(), 196);
  EXPECT_EQ(c->text.kind, DecoderKind::kGemma);
  EXPECT_EQ(c->text.vocab_size, 256000);
  EXPECT_EQ(c->text.hidden_size, 3072);
  EXPECT_EQ(c->text.intermediate_size, 24576);
  EXPECT_EQ(c->text.num_hidden_layers, 28);
  EXPECT_EQ(c->text.num_attention_heads, 16);
  EXPECT_EQ(c->text.num_key_value_heads, 16);
  EXPECT_EQ(c->text.head_dim, 256);
}

TEST(ModelConfigTest, Gemma2DictDefaults) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(
      R"({"model_type": "paligemma", "projection_dim": 2304, "text_config": {"model_type": "gemma2"}})", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->text.hidden_size, 2304);
  EXPECT_EQ(c->text.intermediate_size, 9216);
  EXPECT_EQ(c->text.num_hidden_layers, 26);
  EXPECT_EQ(c->text.num_attention_heads, 8);
  EXPECT_EQ(c->text.num_key_value_heads, 4);
  EXPECT_EQ(c->text.sliding_window, 4096);
  EXPECT_EQ(c->text.query_pre_attn_scalar, 256.0);
  EXPECT_EQ(c->text.attn_logit_softcapping, 50.0);
  EXPECT_EQ(c->text.final_logit_softcapping, 30.0);
}

TEST(ModelConfigTest, Gemma2NullSoftcappingMeansOff) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(
      R"({"model_type": "paligemma", "projection_dim": 2304, "text_config": {"model_type": "gemma2",
          "attn_logit_softcapping": null, "final_logit_softcapping": null}})", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->text.attn_logit_softcapping, 0.0);
  EXPECT_EQ(c->text.final_logit_softcapping, 0.0);
}

TEST(ModelConfigTest, GemmaIgnoresHiddenActAndDefaultsNullActivation) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(
      R"({"model_type": "paligemma", "projection_dim": 3072,
          "text_config": {"hidden_act": "gelu", "hidden_activation": null}})", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->text.hidden_activation, "gelu_pytorch_tanh");
}

TEST(ModelConfigTest, SpecialTokensFallBackToTextConfigAndEosMayBeAList) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(
      R"({"model_type": "paligemma", "projection_dim": 3072, "pad_token_id": null, "eos_token_id": [1, 107],
          "text_config": {"bos_token_id": 5, "pad_token_id": 7, "eos_token_id": 9}})", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->bos_token_id, 5);
  EXPECT_EQ(c->pad_token_id, 7);
  EXPECT_EQ(c->eos_token_id, 1);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int32_t>{1, 107}));
}

TEST(ModelConfigTest, TieWordEmbeddingsComesFromTextConfig) {
  absl::StatusOr<ModelConfig> untied = ParseModelConfig(
      R"({"model_type": "paligemma", "projection_dim": 3072, "text_config": {"tie_word_embeddings": false}})", "");
  ASSERT_TRUE(untied.ok()) << untied.status();
  EXPECT_FALSE(untied->tie_word_embeddings);
  // The top-level flag does not reach the language model's tie_weights().
  absl::StatusOr<ModelConfig> tied = ParseModelConfig(
      R"({"model_type": "paligemma", "projection_dim": 3072, "tie_word_embeddings": false, "text_config": {}})", "");
  ASSERT_TRUE(tied.ok()) << tied.status();
  EXPECT_TRUE(tied->tie_word_embeddings);
}

TEST(ModelConfigTest, ImageTokenIdAlias) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(R"({"model_type": "paligemma", "image_token_id": 257152})", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->image_token_index, 257152);
  absl::Status s = ParseError(R"({"model_type": "paligemma", "image_token_id": 1, "image_token_index": 2})");
  EXPECT_THAT(std::string(s.message()), HasSubstr("image_token_id: 1 contradicts image_token_index 2"));
}

struct BadConfig {
  const char* name;
  const char* json;
  const char* expected;
};

class ModelConfigBadTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ModelConfigBadTest, IsInvalidArgumentNamingTheField) {
  absl::Status s = ParseError(GetParam().json);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Bad, ModelConfigBadTest,
    ::testing::Values(
        BadConfig{"not_json", "{", "config.json: not valid JSON"},
        BadConfig{"not_object", "[]", "config.json: not a JSON object"},
        BadConfig{"missing_model_type", "{}", "config.json: model_type: missing"},
        BadConfig{"unknown_model_type", R"({"model_type": "llava"})", "model_type: unsupported model type \"llava\""},
        BadConfig{"model_type_not_string", R"({"model_type": 3})", "model_type: expected a string, got the integer 3"},
        BadConfig{"unknown_text_type", R"({"model_type": "paligemma", "text_config": {"model_type": "llama"}})",
                  "text_config.model_type: unsupported text model type \"llama\""},
        BadConfig{"unknown_vision_type",
                  R"({"model_type": "paligemma", "vision_config": {"model_type": "clip_vision_model"}})",
                  "vision_config.model_type: unsupported vision model type"},
        BadConfig{"text_config_not_object", R"({"model_type": "paligemma", "text_config": 3})",
                  "text_config: expected an object"},
        BadConfig{"string_size",
                  R"({"model_type": "paligemma", "text_config": {"hidden_size": "2048"}})",
                  "text_config.hidden_size: expected an integer, got the string \"2048\""},
        BadConfig{"float_size", R"({"model_type": "paligemma", "text_config": {"hidden_size": 2048.5}})",
                  "text_config.hidden_size: expected an integer, got the number 2048.5"},
        BadConfig{"negative_size", R"({"model_type": "paligemma", "vision_config": {"num_hidden_layers": -1}})",
                  "vision_config.num_hidden_layers: expected a positive integer, got -1"},
        BadConfig{"zero_size", R"({"model_type": "paligemma", "vision_config": {"patch_size": 0}})",
                  "vision_config.patch_size: expected a positive integer, got 0"},
        BadConfig{"null_size", R"({"model_type": "paligemma", "text_config": {"head_dim": null}})",
                  "text_config.head_dim: expected an integer, got null"},
        BadConfig{"eps_string", R"({"model_type": "paligemma", "text_config": {"rms_norm_eps": "1e-6"}})",
                  "text_config.rms_norm_eps: expected a number"},
        BadConfig{"bool_typed", R"({"model_type": "paligemma", "text_config": {"tie_word_embeddings": 1}})",
                  "text_config.tie_word_embeddings: expected true or false"},
        BadConfig{"kv_heads", R"({"model_type": "paligemma", "projection_dim": 3072, "text_config": {"num_key_value_heads": 3}})",
                  "text_config.num_attention_heads: 16 is not divisible by num_key_value_heads (3)"},
        BadConfig{"vision_heads", R"({"model_type": "paligemma", "vision_config": {"num_attention_heads": 5}})",
                  "vision_config.hidden_size: 768 is not divisible by num_attention_heads (5)"},
        BadConfig{"projection_mismatch", R"({"model_type": "paligemma", "projection_dim": 1024})",
                  "projection_dim: 1024 differs from text_config.hidden_size 2048"},
        BadConfig{"activation", R"({"model_type": "paligemma", "text_config": {"hidden_activation": "gelu"}})",
                  "text_config.hidden_activation: unsupported activation \"gelu\""},
        BadConfig{"vision_activation", R"({"model_type": "paligemma", "vision_config": {"hidden_act": "relu"}})",
                  "vision_config.hidden_act: unsupported activation \"relu\""},
        BadConfig{"attention_bias",
                  R"({"model_type": "paligemma", "projection_dim": 3072, "text_config": {"attention_bias": true}})",
                  "text_config.attention_bias: true is not supported"},
        BadConfig{"sliding_null", R"({"model_type": "paligemma", "text_config": {"model_type": "gemma2", "sliding_window": null}})",
                  "text_config.sliding_window: expected an integer, got null"},
        BadConfig{"softcap_zero",
                  R"({"model_type": "paligemma", "text_config": {"model_type": "gemma2", "final_logit_softcapping": 0}})",
                  "text_config.final_logit_softcapping: expected a positive number"},
        BadConfig{"token_id_string", R"({"model_type": "paligemma", "eos_token_id": "1"})",
                  "eos_token_id: expected a 32-bit integer token id or a list of them"},
        BadConfig{"token_id_too_big", R"({"model_type": "paligemma", "bos_token_id": 4294967296})",
                  "bos_token_id: expected a 32-bit integer token id"},
        BadConfig{"image_smaller_than_patch",
                  R"({"model_type": "paligemma", "vision_config": {"image_size": 8, "patch_size": 14, "hidden_size": 1152, "num_attention_heads": 16}})",
                  "vision_config.image_size: 8 is smaller than patch_size (14)"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return std::string(info.param.name); });

TEST(ModelConfigTest, PreprocessorVariants) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(
      kPaliGemma1, R"({"image_mean": 0.25, "image_std": [0.1, 0.2, 0.3], "resample": 2, "do_normalize": false,
                       "do_rescale": false, "rescale_factor": 0.5})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->image_processor.image_mean, (std::array<double, 3>{0.25, 0.25, 0.25}));
  EXPECT_EQ(c->image_processor.image_std, (std::array<double, 3>{0.1, 0.2, 0.3}));
  EXPECT_EQ(c->image_processor.resample, 2);
  EXPECT_FALSE(c->image_processor.do_normalize);
  EXPECT_FALSE(c->image_processor.do_rescale);
  EXPECT_EQ(c->image_processor.rescale_factor, 0.5);
  EXPECT_EQ(c->image_processor.height, 224);  // absent size: SiglipImageProcessor's default

  // No resize: the size need not match the vision tower.
  absl::StatusOr<ModelConfig> no_resize =
      ParseModelConfig(kPaliGemma1, R"({"do_resize": false, "size": {"height": 448, "width": 448}})");
  ASSERT_TRUE(no_resize.ok()) << no_resize.status();
  EXPECT_FALSE(no_resize->image_processor.do_resize);
}

TEST(ModelConfigTest, WithoutPreprocessorImagesResizeToVisionImageSize) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(
      R"({"model_type": "paligemma", "vision_config": {"hidden_size": 1152, "intermediate_size": 4304,
          "num_attention_heads": 16, "num_hidden_layers": 27, "patch_size": 14, "image_size": 448}})", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->image_processor.height, 448);
  EXPECT_EQ(c->image_processor.width, 448);
  EXPECT_EQ(c->image_tokens_per_image(), 1024);
}

TEST(ModelConfigTest, BadPreprocessor) {
  const struct {
    const char* json;
    const char* expected;
  } cases[] = {
      {"{", "preprocessor_config.json: not valid JSON"},
      {R"({"size": {"shortest_edge": 224}})", "preprocessor_config.json: size: expected {\"height\", \"width\"}"},
      {R"({"size": {"height": "224", "width": 224}})", "size.height: expected an integer"},
      {R"({"size": {"height": 448, "width": 448}})", "size 448x448 differs from config.json vision_config.image_size 224"},
      {R"({"resample": 9})", "resample: expected an integer in [0, 5], got 9"},
      {R"({"image_mean": [0.5, 0.5]})", "image_mean: expected a number or a list of 3 numbers"},
      {R"({"image_std": [0.5, 0, 0.5]})", "image_std: invalid value"},
      {R"({"do_rescale": "yes"})", "do_rescale: expected true or false"},
  };
  for (const auto& c : cases) {
    absl::Status s = ParseError(kPaliGemma1, c.json);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.expected)) << c.json;
  }
}

TEST(ModelConfigTest, LoadFromDirectory) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(base ? base : "/tmp") + "/model_config_test_dir";
  ::mkdir(dir.c_str(), 0755);

  absl::StatusOr<ModelConfig> missing = LoadModelConfig(dir);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir + "/config.json"));

  std::ofstream(dir + "/config.json") << kPaliGemma2;
  absl::StatusOr<ModelConfig> c = LoadModelConfig(dir);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->text.kind, DecoderKind::kGemma2);

  std::ofstream(dir + "/preprocessor_config.json") << R"({"image_mean": [1, 2]})";
  absl::StatusOr<ModelConfig> bad = LoadModelConfig(dir);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(dir + "/preprocessor_config.json: image_mean"));

  std::ofstream(dir + "/preprocessor_config.json") << kPreprocessor;
  c = LoadModelConfig(dir);
  ASSERT_TRUE(c.ok()) << c.status();
}

}  // namespace
}  // namespace drivelm::engine
