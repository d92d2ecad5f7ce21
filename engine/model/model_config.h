// ModelConfig: what the engine needs from a PaliGemma checkpoint's config.json (and
// preprocessor_config.json), parsed into plain structs. The decoder's architectural traits
// (which norms exist, soft-capping, local layers) come from the DecoderTraits table, never from
// scattered `if (kind == ...)`.
#ifndef DRIVELM_ENGINE_MODEL_MODEL_CONFIG_H_
#define DRIVELM_ENGINE_MODEL_MODEL_CONFIG_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace drivelm::engine {

enum class DecoderKind {
  kGemma,   // text_config.model_type "gemma" (PaliGemma 1)
  kGemma2,  // text_config.model_type "gemma2" (PaliGemma 2)
};

// Architectural traits of a decoder family: one row per DecoderKind.
struct DecoderTraits {
  DecoderKind kind;
  const char* model_type;              // config.json text_config.model_type
  bool pre_post_feedforward_norms;     // Gemma-2: pre_feedforward_layernorm + post_feedforward_layernorm
  bool post_attention_norm_on_output;  // Gemma-2: post_attention_layernorm normalizes the attention
                                       // output before the residual add; Gemma: it is the pre-MLP norm
  bool has_softcapping;                // attn_logit_softcapping / final_logit_softcapping
  bool alternating_sliding_window;     // Gemma-2: even layers local (sliding window), odd global
  bool query_pre_attn_scalar;          // attention scale = query_pre_attn_scalar^-0.5, else head_dim^-0.5
};

const DecoderTraits& TraitsFor(DecoderKind kind);

struct VisionConfig {
  int64_t hidden_size = 1152;
  int64_t intermediate_size = 4304;
  int64_t num_hidden_layers = 27;
  int64_t num_attention_heads = 16;
  int64_t num_channels = 3;
  int64_t patch_size = 14;
  int64_t image_size = 224;
  double layer_norm_eps = 1e-6;
  std::string hidden_act = "gelu_pytorch_tanh";

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

struct TextConfig {
  DecoderKind kind = DecoderKind::kGemma;
  int64_t hidden_size = 2048;
  int64_t intermediate_size = 16384;
  int64_t num_hidden_layers = 18;
  int64_t num_attention_heads = 8;
  int64_t num_key_value_heads = 1;
  int64_t head_dim = 256;
  int64_t vocab_size = 257216;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::string hidden_activation = "gelu_pytorch_tanh";
  // Gemma-2 only (0 = off).
  int64_t sliding_window = 0;
  double attn_logit_softcapping = 0.0;
  double final_logit_softcapping = 0.0;
  double query_pre_attn_scalar = 0.0;

  const DecoderTraits& traits() const { return TraitsFor(kind); }
  // Attention scale: query_pre_attn_scalar^-0.5 where the traits say so, else head_dim^-0.5.
  float attention_scale() const;
  // Whether layer `i` uses the sliding window (Gemma-2: even layers).
  bool is_sliding_layer(int64_t i) const;
};

// preprocessor_config.json (SiglipImageProcessor); defaults are PaliGemma's. Without a
// preprocessor_config.json, height and width are the vision tower's image_size.
struct ImageProcessorConfig {
  bool do_resize = true;  // false: images must already be height x width
  int64_t height = 224;
  int64_t width = 224;
  int resample = 3;  // PIL.Image.BICUBIC
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean = {0.5, 0.5, 0.5};
  std::array<double, 3> image_std = {0.5, 0.5, 0.5};
};

struct ModelConfig {
  VisionConfig vision;
  TextConfig text;
  ImageProcessorConfig image_processor;
  int64_t image_token_index = 257152;
  int64_t projection_dim = 2048;
  int32_t bos_token_id = 2;
  int32_t eos_token_id = 1;
  // Every end-of-sequence id (config.json may give a list); eos_token_id is the first.
  std::vector<int32_t> eos_token_ids = {1};
  int32_t pad_token_id = 0;
  bool tie_word_embeddings = true;

  // Image tokens per image in the prompt (text_config.num_image_tokens, else num_patches).
  int64_t image_tokens_per_image() const { return vision.num_patches(); }
};

// Parses `dir`/config.json and, when present, `dir`/preprocessor_config.json. Missing required
// fields, unknown model types and inconsistent sizes are InvalidArgument errors naming the field.
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir);
// Same, from JSON text (preprocessor JSON may be empty).
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& config_json,
                                             const std::string& preprocessor_json);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_MODEL_CONFIG_H_
