#include "engine/model/siglip_vision_encoder.h"

#include <cmath>
#include <string>

#include "engine/model/architecture.h"
#include "engine/model/weight_loader.h"

namespace drivelm::engine {

absl::StatusOr<std::unique_ptr<SiglipVisionEncoder>> SiglipVisionEncoder::Load(
    const ModelConfig& config, const WeightStore& store, Backend* backend) {
  const VisionConfig& vc = config.vision;
  const int64_t h = vc.hidden_size;
  const int64_t inter = vc.intermediate_size;
  const int64_t c = vc.num_channels;
  const int64_t p = vc.patch_size;
  std::unique_ptr<SiglipVisionEncoder> enc(new SiglipVisionEncoder(config, backend));
  WeightLoader w(&store, backend);
  const VisionNames names = VisionTensorNames();
  enc->patch_w_ = w.Load(names.patch_embedding_weight, {h, c, p, p});
  if (!enc->patch_w_.empty()) enc->patch_w_ = enc->patch_w_.Reshape({h, c * p * p});
  enc->patch_b_ = w.Load(names.patch_embedding_bias, {h});
  enc->pos_emb_ = w.Load(names.position_embedding_weight, {vc.num_patches(), h});
  for (int64_t i = 0; i < vc.num_hidden_layers; ++i) {
    const VisionLayerNames l = VisionLayerTensorNames(i);
    Layer layer;
    layer.ln1_w = w.Load(l.layer_norm1_weight, {h});
    layer.ln1_b = w.Load(l.layer_norm1_bias, {h});
    layer.q_w = w.Load(l.q_proj_weight, {h, h});
    layer.q_b = w.Load(l.q_proj_bias, {h});
    layer.k_w = w.Load(l.k_proj_weight, {h, h});
    layer.k_b = w.Load(l.k_proj_bias, {h});
    layer.v_w = w.Load(l.v_proj_weight, {h, h});
    layer.v_b = w.Load(l.v_proj_bias, {h});
    layer.o_w = w.Load(l.out_proj_weight, {h, h});
    layer.o_b = w.Load(l.out_proj_bias, {h});
    layer.ln2_w = w.Load(l.layer_norm2_weight, {h});
    layer.ln2_b = w.Load(l.layer_norm2_bias, {h});
    layer.fc1_w = w.Load(l.fc1_weight, {inter, h});
    layer.fc1_b = w.Load(l.fc1_bias, {inter});
    layer.fc2_w = w.Load(l.fc2_weight, {h, inter});
    layer.fc2_b = w.Load(l.fc2_bias, {h});
    enc->layers_.push_back(std::move(layer));
  }
  enc->post_ln_w_ = w.Load(names.post_layernorm_weight, {h});
  enc->post_ln_b_ = w.Load(names.post_layernorm_bias, {h});
  const ProjectorNames proj = ProjectorTensorNames();
  enc->proj_w_ = w.Load(proj.weight, {config.projection_dim, h});
  enc->proj_b_ = w.Load(proj.bias, {config.projection_dim});
  if (!w.status().ok()) return w.status();
  return enc;
}

Tensor SiglipVisionEncoder::Encode(const Tensor& pixels) {
  const VisionConfig& vc = config_.vision;
  const int64_t n = pixels.dim(0);
  const int64_t np = vc.num_patches();
  const int64_t t = n * np;
  const int64_t h = vc.hidden_size;
  const int64_t heads = vc.num_attention_heads;
  const int64_t hd = vc.head_dim();
  const float eps = static_cast<float>(vc.layer_norm_eps);
  Backend& b = *backend_;

  // Patch embedding: a conv with kernel = stride = patch is a matmul over patches.
  Tensor patches = b.Empty(DType::kF32, {t, vc.num_channels * vc.patch_size * vc.patch_size});
  b.Im2Patches(pixels, static_cast<int>(vc.patch_size), &patches);
  Tensor x = b.Empty(DType::kF32, {t, h});  // [n * patches, hidden]: the residual stream
  b.Linear(patches, patch_w_, &patch_b_, &x);
  b.AddInPlace(&x, pos_emb_);  // the same position embedding for every image

  Tensor normed = b.Empty(DType::kF32, {t, h});
  Tensor q = b.Empty(DType::kF32, {t, h});
  Tensor k = b.Empty(DType::kF32, {t, h});
  Tensor v = b.Empty(DType::kF32, {t, h});
  Tensor attn = b.Empty(DType::kF32, {t, h});
  Tensor proj = b.Empty(DType::kF32, {t, h});
  Tensor mlp = b.Empty(DType::kF32, {t, vc.intermediate_size});
  AttentionParams ap;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  ap.causal = false;
  for (Layer& layer : layers_) {
    b.LayerNorm(x, layer.ln1_w, layer.ln1_b, eps, &normed);
    b.Linear(normed, layer.q_w, &layer.q_b, &q);
    b.Linear(normed, layer.k_w, &layer.k_b, &k);
    b.Linear(normed, layer.v_w, &layer.v_b, &v);
    for (int64_t i = 0; i < n; ++i) {  // each image attends to its own patches only
      Tensor qi = q.Rows(i * np, (i + 1) * np).Reshape({np, heads, hd});
      Tensor ki = k.Rows(i * np, (i + 1) * np).Reshape({np, heads, hd});
      Tensor vi = v.Rows(i * np, (i + 1) * np).Reshape({np, heads, hd});
      Tensor oi = attn.Rows(i * np, (i + 1) * np).Reshape({np, heads, hd});
      b.Attention(qi, ki, vi, ap, &oi);
    }
    b.Linear(attn, layer.o_w, &layer.o_b, &proj);
    b.AddInPlace(&x, proj);
    b.LayerNorm(x, layer.ln2_w, layer.ln2_b, eps, &normed);
    b.Linear(normed, layer.fc1_w, &layer.fc1_b, &mlp);
    b.GeluTanh(&mlp);
    b.Linear(mlp, layer.fc2_w, &layer.fc2_b, &proj);
    b.AddInPlace(&x, proj);
  }
  b.LayerNorm(x, post_ln_w_, post_ln_b_, eps, &x);

  Tensor features = b.Empty(DType::kF32, {t, config_.projection_dim});
  b.Linear(x, proj_w_, &proj_b_, &features);
  // transformers: image_features / text_config.hidden_size**0.5
  b.ScaleInPlace(&features,
                 static_cast<float>(1.0 / std::sqrt(static_cast<double>(config_.text.hidden_size))));
  return features;
}

double SiglipVisionEncoder::Flops(int64_t n_images) const {
  const VisionConfig& vc = config_.vision;
  const double t = static_cast<double>(n_images * vc.num_patches());
  const double h = vc.hidden_size, inter = vc.intermediate_size;
  const double patch_in = static_cast<double>(vc.num_channels * vc.patch_size * vc.patch_size);
  double f = 2 * t * patch_in * h;
  const double per_layer = 2 * t * (4 * h * h + 2 * h * inter)  // q, k, v, o and the MLP
                           + 2 * 2 * t * vc.num_patches() * h;  // scores and weighted sum
  f += per_layer * vc.num_hidden_layers;
  f += 2 * t * h * config_.projection_dim;
  return f;
}

}  // namespace drivelm::engine
