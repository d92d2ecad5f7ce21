// TinyModelSpec: the sizes of a generated PaliGemma-architecture checkpoint, and the writer that
// turns a spec into a checkpoint directory a Hugging Face transformers install loads as is
// (config.json, model.safetensors, tokenizer.model, tokenizer/processor JSON) plus our profile.
#ifndef DRIVELM_TOOLS_TINY_MODEL_SPEC_H_
#define DRIVELM_TOOLS_TINY_MODEL_SPEC_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "engine/backend/tensor.h"
#include "engine/model/model_config.h"

namespace drivelm::tools {

struct TinyModelSpec {
  uint64_t seed = 1;
  engine::DecoderKind decoder = engine::DecoderKind::kGemma;
  engine::DType dtype = engine::DType::kF32;  // stored dtype of the weights (F32, BF16, F16)
  // Vision tower.
  int64_t image_size = 224;
  int64_t patch_size = 14;
  int64_t vision_hidden = 64;
  int64_t vision_intermediate = 128;
  int64_t vision_layers = 2;
  int64_t vision_heads = 4;
  // Language model.
  int64_t hidden = 64;
  int64_t intermediate = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 1;
  int64_t head_dim = 16;
  int64_t sliding_window = 64;  // Gemma-2 only
  // SentencePiece pieces (>= 1412: specials, <loc>/<seg> tokens and bytes come first). The image
  // token gets id = pieces; the embedding table has pieces + vocab_padding rows (PaliGemma pads
  // by 64). The default pads by the image token alone: a random model would otherwise emit ids
  // that no tokenizer can decode (transformers' slow tokenizer raises on them).
  int tokenizer_pieces = 2048;
  int vocab_padding = 1;
  bool write_profile = true;
};

// The ModelConfig a spec describes (what config.json will say).
engine::ModelConfig ConfigForSpec(const TinyModelSpec& spec);

// Writes the checkpoint directory (created if missing; existing files are replaced).
absl::Status WriteTinyModel(const TinyModelSpec& spec, const std::string& out_dir);

}  // namespace drivelm::tools

#endif  // DRIVELM_TOOLS_TINY_MODEL_SPEC_H_
