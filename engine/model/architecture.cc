#include "engine/model/architecture.h"

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace drivelm::engine {
namespace {

constexpr char kVision[] = "vision_tower.vision_model.";
constexpr char kText[] = "language_model.model.";

void Add(std::vector<TensorSpec>* specs, const std::string& name, Shape shape, bool required = true) {
  specs->push_back(TensorSpec{name, std::move(shape), required});
}

}  // namespace

VisionNames VisionTensorNames() {
  const std::string e = absl::StrCat(kVision, "embeddings.");
  return VisionNames{
      e + "patch_embedding.weight",
      e + "patch_embedding.bias",
      e + "position_embedding.weight",
      absl::StrCat(kVision, "post_layernorm.weight"),
      absl::StrCat(kVision, "post_layernorm.bias"),
  };
}

VisionLayerNames VisionLayerTensorNames(int64_t layer) {
  const std::string p = absl::StrCat(kVision, "encoder.layers.", layer, ".");
  return VisionLayerNames{
      p + "layer_norm1.weight",        p + "layer_norm1.bias",          //
      p + "self_attn.q_proj.weight",   p + "self_attn.q_proj.bias",     //
      p + "self_attn.k_proj.weight",   p + "self_attn.k_proj.bias",     //
      p + "self_attn.v_proj.weight",   p + "self_attn.v_proj.bias",     //
      p + "self_attn.out_proj.weight", p + "self_attn.out_proj.bias",   //
      p + "layer_norm2.weight",        p + "layer_norm2.bias",          //
      p + "mlp.fc1.weight",            p + "mlp.fc1.bias",              //
      p + "mlp.fc2.weight",            p + "mlp.fc2.bias",
  };
}

ProjectorNames ProjectorTensorNames() {
  return ProjectorNames{"multi_modal_projector.linear.weight", "multi_modal_projector.linear.bias"};
}

TextNames TextTensorNames() {
  return TextNames{
      absl::StrCat(kText, "embed_tokens.weight"),
      absl::StrCat(kText, "norm.weight"),
      "language_model.lm_head.weight",
  };
}

TextLayerNames TextLayerTensorNames(int64_t layer) {
  const std::string p = absl::StrCat(kText, "layers.", layer, ".");
  return TextLayerNames{
      p + "input_layernorm.weight",
      p + "self_attn.q_proj.weight",
      p + "self_attn.k_proj.weight",
      p + "self_attn.v_proj.weight",
      p + "self_attn.o_proj.weight",
      p + "post_attention_layernorm.weight",
      p + "pre_feedforward_layernorm.weight",
      p + "post_feedforward_layernorm.weight",
      p + "mlp.gate_proj.weight",
      p + "mlp.up_proj.weight",
      p + "mlp.down_proj.weight",
  };
}

std::vector<TensorSpec> ExpectedTensors(const ModelConfig& config) {
  std::vector<TensorSpec> specs;
  const VisionConfig& v = config.vision;
  const int64_t vh = v.hidden_size;
  const int64_t vi = v.intermediate_size;

  const VisionNames vn = VisionTensorNames();
  Add(&specs, vn.patch_embedding_weight, {vh, v.num_channels, v.patch_size, v.patch_size});
  Add(&specs, vn.patch_embedding_bias, {vh});
  Add(&specs, vn.position_embedding_weight, {v.num_patches(), vh});
  for (int64_t i = 0; i < v.num_hidden_layers; ++i) {
    const VisionLayerNames n = VisionLayerTensorNames(i);
    Add(&specs, n.layer_norm1_weight, {vh});
    Add(&specs, n.layer_norm1_bias, {vh});
    Add(&specs, n.q_proj_weight, {vh, vh});
    Add(&specs, n.q_proj_bias, {vh});
    Add(&specs, n.k_proj_weight, {vh, vh});
    Add(&specs, n.k_proj_bias, {vh});
    Add(&specs, n.v_proj_weight, {vh, vh});
    Add(&specs, n.v_proj_bias, {vh});
    Add(&specs, n.out_proj_weight, {vh, vh});
    Add(&specs, n.out_proj_bias, {vh});
    Add(&specs, n.layer_norm2_weight, {vh});
    Add(&specs, n.layer_norm2_bias, {vh});
    Add(&specs, n.fc1_weight, {vi, vh});
    Add(&specs, n.fc1_bias, {vi});
    Add(&specs, n.fc2_weight, {vh, vi});
    Add(&specs, n.fc2_bias, {vh});
  }
  Add(&specs, vn.post_layernorm_weight, {vh});
  Add(&specs, vn.post_layernorm_bias, {vh});

  const ProjectorNames pn = ProjectorTensorNames();
  Add(&specs, pn.weight, {config.projection_dim, vh});
  Add(&specs, pn.bias, {config.projection_dim});

  const TextConfig& t = config.text;
  const int64_t h = t.hidden_size;
  const int64_t q = t.num_attention_heads * t.head_dim;
  const int64_t kv = t.num_key_value_heads * t.head_dim;
  const TextNames tn = TextTensorNames();
  Add(&specs, tn.embed_tokens, {t.vocab_size, h});
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) {
    const TextLayerNames n = TextLayerTensorNames(i);
    Add(&specs, n.input_layernorm, {h});
    Add(&specs, n.q_proj, {q, h});
    Add(&specs, n.k_proj, {kv, h});
    Add(&specs, n.v_proj, {kv, h});
    Add(&specs, n.o_proj, {h, q});
    Add(&specs, n.post_attention_layernorm, {h});
    if (t.traits().pre_post_feedforward_norms) {
      Add(&specs, n.pre_feedforward_layernorm, {h});
      Add(&specs, n.post_feedforward_layernorm, {h});
    }
    Add(&specs, n.gate_proj, {t.intermediate_size, h});
    Add(&specs, n.up_proj, {t.intermediate_size, h});
    Add(&specs, n.down_proj, {h, t.intermediate_size});
  }
  Add(&specs, tn.final_norm, {h});
  Add(&specs, tn.lm_head, {t.vocab_size, h}, /*required=*/!config.tie_word_embeddings);
  return specs;
}

absl::Status ValidateCheckpoint(const ModelConfig& config, const WeightStore& weights) {
  for (const TensorSpec& spec : ExpectedTensors(config)) {
    if (!spec.required && weights.Find(spec.name) == nullptr) continue;
    absl::StatusOr<const WeightView*> w = weights.Require(spec.name, spec.shape);
    if (!w.ok()) return w.status();
    const WeightView& view = **w;
    switch (view.dtype) {
      case DType::kF32:
      case DType::kF16:
      case DType::kBF16:
        break;
      case DType::kI32:
        return absl::InvalidArgumentError(absl::StrCat("tensor '", spec.name, "' (stored as '", view.file_name,
                                                       "') has dtype ", DTypeName(view.dtype),
                                                       "; weights must be F32, F16 or BF16"));
    }
  }
  return absl::OkStatus();
}

}  // namespace drivelm::engine
