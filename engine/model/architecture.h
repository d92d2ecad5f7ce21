// Architecture: the PaliGemma tensor table. Given a ModelConfig it lists every canonical tensor
// name with its shape; the name structs below are the only place that spells tensor names, so the
// model code and the checkpoint check cannot drift apart.
//
// Shapes are PyTorch's: nn.Linear weight [out, in], Conv2d weight [out, in, kh, kw].
#ifndef DRIVELM_ENGINE_MODEL_ARCHITECTURE_H_
#define DRIVELM_ENGINE_MODEL_ARCHITECTURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/backend/tensor.h"
#include "engine/model/model_config.h"
#include "engine/model/weight_store.h"

namespace drivelm::engine {

// SigLIP tensors outside the encoder layers.
struct VisionNames {
  std::string patch_embedding_weight;     // [hidden, channels, patch, patch]
  std::string patch_embedding_bias;       // [hidden]
  std::string position_embedding_weight;  // [num_patches, hidden]
  std::string post_layernorm_weight;      // [hidden]
  std::string post_layernorm_bias;        // [hidden]
};

// One SigLIP encoder layer (pre-LN).
struct VisionLayerNames {
  std::string layer_norm1_weight;  // [hidden]
  std::string layer_norm1_bias;    // [hidden]
  std::string q_proj_weight;       // [hidden, hidden]
  std::string q_proj_bias;         // [hidden]
  std::string k_proj_weight;       // [hidden, hidden]
  std::string k_proj_bias;         // [hidden]
  std::string v_proj_weight;       // [hidden, hidden]
  std::string v_proj_bias;         // [hidden]
  std::string out_proj_weight;     // [hidden, hidden]
  std::string out_proj_bias;       // [hidden]
  std::string layer_norm2_weight;  // [hidden]
  std::string layer_norm2_bias;    // [hidden]
  std::string fc1_weight;          // [intermediate, hidden]
  std::string fc1_bias;            // [intermediate]
  std::string fc2_weight;          // [hidden, intermediate]
  std::string fc2_bias;            // [hidden]
};

// multi_modal_projector.linear: vision hidden -> projection_dim (== text hidden).
struct ProjectorNames {
  std::string weight;  // [projection_dim, vision_hidden]
  std::string bias;    // [projection_dim]
};

// Gemma tensors outside the decoder layers.
struct TextNames {
  std::string embed_tokens;  // [vocab, hidden]
  std::string final_norm;    // [hidden]
  std::string lm_head;       // [vocab, hidden]; absent or ignored when embeddings are tied
};

// One Gemma / Gemma-2 decoder layer; all are ".weight" (no biases). The two feed-forward norms
// exist only where TraitsFor(kind).pre_post_feedforward_norms.
struct TextLayerNames {
  std::string input_layernorm;             // [hidden]
  std::string q_proj;                      // [heads * head_dim, hidden]
  std::string k_proj;                      // [kv_heads * head_dim, hidden]
  std::string v_proj;                      // [kv_heads * head_dim, hidden]
  std::string o_proj;                      // [hidden, heads * head_dim]
  std::string post_attention_layernorm;    // [hidden]
  std::string pre_feedforward_layernorm;   // [hidden] (Gemma-2)
  std::string post_feedforward_layernorm;  // [hidden] (Gemma-2)
  std::string gate_proj;                   // [intermediate, hidden]
  std::string up_proj;                     // [intermediate, hidden]
  std::string down_proj;                   // [hidden, intermediate]
};

VisionNames VisionTensorNames();
VisionLayerNames VisionLayerTensorNames(int64_t layer);
ProjectorNames ProjectorTensorNames();
TextNames TextTensorNames();
TextLayerNames TextLayerTensorNames(int64_t layer);

struct TensorSpec {
  std::string name;  // canonical
  Shape shape;
  bool required;  // false only for lm_head when embeddings are tied (checked if present)
};

// Every tensor the model reads, in forward order: vision embeddings, vision layers, post
// layernorm, projector, text embeddings, text layers, final norm, lm_head.
std::vector<TensorSpec> ExpectedTensors(const ModelConfig& config);

// Checks the checkpoint against ExpectedTensors(config): the first tensor that is missing, has
// another shape, or has a dtype other than F32/F16/BF16 is returned as an error naming it and
// the expected shape. Tensors the table does not list are ignored.
absl::Status ValidateCheckpoint(const ModelConfig& config, const WeightStore& weights);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_ARCHITECTURE_H_
