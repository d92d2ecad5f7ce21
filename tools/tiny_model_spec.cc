#include "tools/tiny_model_spec.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/backend/half.h"
#include "engine/model/architecture.h"
#include "engine/model/safetensors_writer.h"
#include "engine/tokenizer/tiny_corpus.h"
#include "engine/tokenizer/tokenizer_trainer.h"
#include "nlohmann/json.hpp"

namespace drivelm::tools {
namespace {

using engine::DecoderKind;
using engine::DType;
using engine::ModelConfig;
using json = nlohmann::json;

// Deterministic normal samples from a 64-bit Mersenne Twister with Box-Muller: unlike
// std::normal_distribution the sequence is the same on every standard library.
class NormalSource {
 public:
  explicit NormalSource(uint64_t seed) : rng_(seed) {}
  double Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;
    double u2 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2 * M_PI * u2);
  }

 private:
  std::mt19937_64 rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// How a tensor is initialized, from its name: norms near their identity, biases small, matrices
// scaled by fan-in so activations keep unit scale through the layers, and embeddings large
// enough that the tied LM head gives clear (not near-tied) greedy choices.
struct Init {
  double mean;
  double stddev;
};

Init InitFor(const std::string& name, const engine::Shape& shape, DecoderKind decoder) {
  const bool is_bias = absl::EndsWith(name, ".bias");
  const bool text = absl::StrContains(name, "language_model");
  // A random decoder with a long bidirectional prefix tends to emit one token forever: the
  // attention output averages ~1,000 image tokens into a near-constant vector, and a tied head
  // favours the input token itself. Greedy parity over a constant sequence proves little, so the
  // residual stream is made to follow the current token through the MLP: attention outputs are
  // scaled down and MLP outputs up (Gemma: o_proj / down_proj gains; Gemma-2, whose extra norms
  // rescale those outputs anyway: the post-attention / post-feedforward norm weights).
  if (absl::StrContains(name, "norm")) {
    if (is_bias) return {0.0, 0.05};
    if (!text) return {1.0, 0.1};  // SigLIP LayerNorm multiplies by w
    // Gemma's RMSNorm multiplies by (1 + w).
    // Only in Gemma-2 does post_attention_layernorm scale the attention output (in Gemma it is
    // the pre-MLP norm).
    if (decoder == DecoderKind::kGemma2 && absl::StrContains(name, "post_attention_layernorm")) {
      return {-0.8, 0.05};
    }
    if (absl::StrContains(name, "post_feedforward_layernorm")) return {8.0, 0.1};
    return {0.0, 0.1};
  }
  if (is_bias) return {0.0, 0.05};
  if (absl::StrContains(name, "embed_tokens")) return {0.0, 1.0 / std::sqrt(double(shape[1]))};
  if (absl::StrContains(name, "position_embedding")) return {0.0, 0.5};
  int64_t fan_in = 1;
  for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
  double gain = 1.0;
  if (text && absl::StrContains(name, "o_proj")) gain = 0.5;
  if (text && absl::StrContains(name, "down_proj")) gain = 8.0;
  return {0.0, gain / std::sqrt(static_cast<double>(fan_in))};
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("error writing ", path));
  return absl::OkStatus();
}

const char* TorchDtypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "float32";
    case DType::kF16:
      return "float16";
    case DType::kBF16:
      return "bfloat16";
    case DType::kI32:
      return "int32";
  }
  return "float32";
}

json ConfigJson(const TinyModelSpec& spec, const ModelConfig& c) {
  json text = {
      {"model_type", engine::TraitsFor(c.text.kind).model_type},
      {"hidden_size", c.text.hidden_size},
      {"intermediate_size", c.text.intermediate_size},
      {"num_hidden_layers", c.text.num_hidden_layers},
      {"num_attention_heads", c.text.num_attention_heads},
      {"num_key_value_heads", c.text.num_key_value_heads},
      {"head_dim", c.text.head_dim},
      {"vocab_size", c.text.vocab_size},
      {"hidden_activation", "gelu_pytorch_tanh"},
      {"rms_norm_eps", c.text.rms_norm_eps},
      {"rope_theta", c.text.rope_theta},
      {"max_position_embeddings", 8192},
      {"num_image_tokens", c.image_tokens_per_image()},
      {"torch_dtype", TorchDtypeName(spec.dtype)},
  };
  if (c.text.kind == DecoderKind::kGemma2) {
    text["sliding_window"] = c.text.sliding_window;
    text["attn_logit_softcapping"] = c.text.attn_logit_softcapping;
    text["final_logit_softcapping"] = c.text.final_logit_softcapping;
    text["query_pre_attn_scalar"] = c.text.query_pre_attn_scalar;
    text["cache_implementation"] = "hybrid";
  }
  json vision = {
      {"model_type", "siglip_vision_model"},
      {"hidden_size", c.vision.hidden_size},
      {"intermediate_size", c.vision.intermediate_size},
      {"num_hidden_layers", c.vision.num_hidden_layers},
      {"num_attention_heads", c.vision.num_attention_heads},
      {"num_channels", c.vision.num_channels},
      {"patch_size", c.vision.patch_size},
      {"image_size", c.vision.image_size},
      {"layer_norm_eps", c.vision.layer_norm_eps},
      {"hidden_act", "gelu_pytorch_tanh"},
      {"projection_dim", c.projection_dim},
      {"num_image_tokens", c.image_tokens_per_image()},
      {"vision_use_head", false},
  };
  return json{
      {"architectures", {"PaliGemmaForConditionalGeneration"}},
      {"model_type", "paligemma"},
      {"image_token_index", c.image_token_index},
      {"bos_token_id", c.bos_token_id},
      {"eos_token_id", c.eos_token_id},
      {"pad_token_id", c.pad_token_id},
      {"projection_dim", c.projection_dim},
      {"hidden_size", c.text.hidden_size},
      {"vocab_size", c.text.vocab_size},
      {"torch_dtype", TorchDtypeName(spec.dtype)},
      {"transformers_version", "4.47.1"},
      {"text_config", text},
      {"vision_config", vision},
  };
}

json PreprocessorJson(const ModelConfig& c) {
  return json{
      {"image_processor_type", "SiglipImageProcessor"},
      {"processor_class", "PaliGemmaProcessor"},
      {"do_convert_rgb", nullptr},
      {"do_resize", true},
      {"size", {{"height", c.vision.image_size}, {"width", c.vision.image_size}}},
      {"resample", 3},
      {"do_rescale", true},
      {"rescale_factor", 1.0 / 255.0},
      {"do_normalize", true},
      {"image_mean", {0.5, 0.5, 0.5}},
      {"image_std", {0.5, 0.5, 0.5}},
      {"image_seq_length", c.image_tokens_per_image()},
  };
}

json TokenizerConfigJson() {
  // add_bos_token is irrelevant for PaliGemma's processor (it sets it to false and writes <bos>
  // into the text itself); false makes the plain tokenizer agree.
  return json{
      {"tokenizer_class", "GemmaTokenizer"},
      {"processor_class", "PaliGemmaProcessor"},
      {"add_bos_token", false},
      {"add_eos_token", false},
      {"bos_token", "<bos>"},
      {"eos_token", "<eos>"},
      {"pad_token", "<pad>"},
      {"unk_token", "<unk>"},
      {"model_max_length", 1000000},
      {"clean_up_tokenization_spaces", false},
      {"legacy", false},
  };
}

json SpecialTokensJson() {
  return json{{"bos_token", "<bos>"}, {"eos_token", "<eos>"}, {"pad_token", "<pad>"},
              {"unk_token", "<unk>"}};
}

std::string ProfileYaml(const TinyModelSpec& spec, const ModelConfig& c) {
  return absl::StrCat(
      "# Model profile of a generated tiny checkpoint (tools/make_tiny_model, seed ", spec.seed,
      ").\n"
      "# The DriveVLMs layout (DESIGN.md §6): six cameras in DriveLM's order, a labeler prompt,\n"
      "# <c,CAM,x,y> references rescaled between 1600x900 and the model's image size.\n"
      "name: tiny_drivelm\n"
      "cameras: [CAM_FRONT, CAM_FRONT_LEFT, CAM_FRONT_RIGHT, CAM_BACK, CAM_BACK_LEFT, "
      "CAM_BACK_RIGHT]\n"
      "prompt_template: \"You are an autonomous driving labeler. You have access to six camera "
      "images (front, front-right, front-left, back, back-right, back-left).\\n{question}\"\n"
      "context_template: \"Q: {question}\\nA: {answer}\\n\"\n"
      "image_size: ",
      c.vision.image_size,
      "\n"
      "coordinates: {source_width: 1600, source_height: 900, model_width: ",
      c.vision.image_size, ", model_height: ", c.vision.image_size,
      ", decimals: 1}\n"
      "sampling: {greedy: true}\n"
      "max_new_tokens: 64\n"
      "image_prefix: exact\n");
}

}  // namespace

ModelConfig ConfigForSpec(const TinyModelSpec& spec) {
  ModelConfig c;
  c.vision.hidden_size = spec.vision_hidden;
  c.vision.intermediate_size = spec.vision_intermediate;
  c.vision.num_hidden_layers = spec.vision_layers;
  c.vision.num_attention_heads = spec.vision_heads;
  c.vision.patch_size = spec.patch_size;
  c.vision.image_size = spec.image_size;
  c.text.kind = spec.decoder;
  c.text.hidden_size = spec.hidden;
  c.text.intermediate_size = spec.intermediate;
  c.text.num_hidden_layers = spec.layers;
  c.text.num_attention_heads = spec.heads;
  c.text.num_key_value_heads = spec.kv_heads;
  c.text.head_dim = spec.head_dim;
  c.text.vocab_size = spec.tokenizer_pieces + spec.vocab_padding;
  if (spec.decoder == DecoderKind::kGemma2) {
    c.text.sliding_window = spec.sliding_window;
    c.text.attn_logit_softcapping = 50.0;
    c.text.final_logit_softcapping = 30.0;
    c.text.query_pre_attn_scalar = static_cast<double>(spec.head_dim);
  }
  c.image_processor.height = spec.image_size;
  c.image_processor.width = spec.image_size;
  c.image_token_index = spec.tokenizer_pieces;
  c.projection_dim = spec.hidden;
  return c;
}

absl::Status WriteTinyModel(const TinyModelSpec& spec, const std::string& out_dir) {
  if (spec.image_size % spec.patch_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("image_size ", spec.image_size,
                                                   " is not a multiple of patch_size ",
                                                   spec.patch_size));
  }
  if (spec.vision_hidden % spec.vision_heads != 0) {
    return absl::InvalidArgumentError("vision_hidden must be a multiple of vision_heads");
  }
  if (spec.vocab_padding < 1) {
    return absl::InvalidArgumentError("vocab_padding must be at least 1 (the image token)");
  }
  if (spec.heads % spec.kv_heads != 0) {
    return absl::InvalidArgumentError("heads must be a multiple of kv_heads");
  }
  if (spec.tokenizer_pieces < engine::kTinyTokenizerMinPieces) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer_pieces must be at least ",
                                                   engine::kTinyTokenizerMinPieces));
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));

  const ModelConfig config = ConfigForSpec(spec);
  NormalSource normal(spec.seed);
  engine::SafetensorsWriter writer;
  writer.SetMetadata("format", "pt");
  for (const engine::TensorSpec& t : engine::ExpectedTensors(config)) {
    if (!t.required) continue;  // the tied LM head is not stored, as on the Hub
    const Init init = InitFor(t.name, t.shape, spec.decoder);
    const int64_t n = engine::NumElements(t.shape);
    std::vector<float> values(n);
    for (float& v : values) v = static_cast<float>(init.mean + init.stddev * normal.Next());
    absl::Status s;
    switch (spec.dtype) {
      case DType::kF32:
        s = writer.AddF32(t.name, t.shape, values);
        break;
      case DType::kBF16:
      case DType::kF16: {
        std::vector<uint16_t> half(n);
        for (int64_t i = 0; i < n; ++i) {
          half[i] = spec.dtype == DType::kBF16 ? engine::F32ToBf16(values[i])
                                               : engine::F32ToF16(values[i]);
        }
        s = writer.Add(t.name, engine::FromEngineDType(spec.dtype), t.shape, half.data(),
                       half.size() * sizeof(uint16_t));
        break;
      }
      case DType::kI32:
        return absl::InvalidArgumentError("weights cannot be int32");
    }
    if (!s.ok()) return s;
  }
  if (absl::Status s = writer.WriteFile(out_dir + "/model.safetensors"); !s.ok()) return s;

  if (absl::Status s = engine::TrainTinyTokenizer(engine::DefaultTinyCorpus(),
                                                   spec.tokenizer_pieces,
                                                   out_dir + "/tokenizer.model", spec.seed);
      !s.ok()) {
    return s;
  }
  const struct {
    const char* file;
    std::string text;
  } files[] = {
      {"config.json", ConfigJson(spec, config).dump(2) + "\n"},
      {"preprocessor_config.json", PreprocessorJson(config).dump(2) + "\n"},
      {"tokenizer_config.json", TokenizerConfigJson().dump(2) + "\n"},
      {"special_tokens_map.json", SpecialTokensJson().dump(2) + "\n"},
  };
  for (const auto& f : files) {
    if (absl::Status s = WriteText(out_dir + "/" + f.file, f.text); !s.ok()) return s;
  }
  if (spec.write_profile) {
    if (absl::Status s = WriteText(out_dir + "/drivelm_profile.yaml", ProfileYaml(spec, config));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace drivelm::tools
