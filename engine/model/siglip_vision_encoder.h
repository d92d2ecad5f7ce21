// SiglipVisionEncoder: the SigLIP vision tower of PaliGemma (no pooling head) followed by the
// multi-modal projector. Turns normalized pixels into image features in the language model's
// embedding space, already divided by sqrt(text hidden size) as transformers does
// (PaliGemmaForConditionalGeneration.get_image_features), so the decoder's embedding
// normalizer brings them back to their projected scale.
#ifndef DRIVELM_ENGINE_MODEL_SIGLIP_VISION_ENCODER_H_
#define DRIVELM_ENGINE_MODEL_SIGLIP_VISION_ENCODER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/model/model_config.h"
#include "engine/model/weight_store.h"

namespace drivelm::engine {

class SiglipVisionEncoder {
 public:
  // Uploads the vision tower and projector weights. `backend` outlives the encoder.
  static absl::StatusOr<std::unique_ptr<SiglipVisionEncoder>> Load(const ModelConfig& config,
                                                                   const WeightStore& store,
                                                                   Backend* backend);

  // pixels [n_images, channels, image_size, image_size] (normalized, F32)
  // -> features [n_images * num_patches, text hidden size]. Images are independent: each one
  // attends only to its own patches.
  Tensor Encode(const Tensor& pixels);

  // FLOPs of Encode for `n_images` (2 per multiply-add, matmuls and attention).
  double Flops(int64_t n_images) const;

 private:
  struct Layer {
    Tensor ln1_w, ln1_b;        // [hidden]
    Tensor q_w, q_b, k_w, k_b;  // [hidden, hidden], [hidden]
    Tensor v_w, v_b, o_w, o_b;  // [hidden, hidden], [hidden]
    Tensor ln2_w, ln2_b;        // [hidden]
    Tensor fc1_w, fc1_b;        // [intermediate, hidden], [intermediate]
    Tensor fc2_w, fc2_b;        // [hidden, intermediate], [hidden]
  };

  SiglipVisionEncoder(const ModelConfig& config, Backend* backend)
      : config_(config), backend_(backend) {}

  ModelConfig config_;
  Backend* backend_;
  Tensor patch_w_;   // [hidden, channels * patch * patch] (the conv weight, flattened)
  Tensor patch_b_;   // [hidden]
  Tensor pos_emb_;   // [num_patches, hidden]
  std::vector<Layer> layers_;
  Tensor post_ln_w_, post_ln_b_;  // [hidden]
  Tensor proj_w_;                 // [projection_dim, hidden]
  Tensor proj_b_;                 // [projection_dim]
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_SIGLIP_VISION_ENCODER_H_
