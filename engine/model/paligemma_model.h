// PaliGemmaModel: SigLIP + projector + Gemma/Gemma-2 decoder, loaded from a Hugging Face
// checkpoint directory, computing exactly what PaliGemmaForConditionalGeneration computes:
// image features scattered into the <image> slots, 1-indexed positions, the whole prefill
// (images + bos + prompt + "\n") attending bidirectionally, generated tokens causally.
#ifndef DRIVELM_ENGINE_MODEL_PALIGEMMA_MODEL_H_
#define DRIVELM_ENGINE_MODEL_PALIGEMMA_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/backend/backend.h"
#include "engine/model/gemma_decoder.h"
#include "engine/model/kv_cache.h"
#include "engine/model/model_config.h"
#include "engine/model/siglip_vision_encoder.h"
#include "engine/model/weight_store.h"

namespace drivelm::engine {

class PaliGemmaModel {
 public:
  // Reads config.json (+ preprocessor_config.json) and the safetensors weights under `dir`,
  // validates them against the architecture, and uploads them to `backend` (outlives the model).
  static absl::StatusOr<std::unique_ptr<PaliGemmaModel>> Load(const std::string& dir,
                                                              Backend* backend);

  const ModelConfig& config() const { return config_; }
  Backend* backend() const { return backend_; }
  size_t weight_bytes() const { return weight_bytes_; }

  // pixels [n_images, 3, H, W] -> image features [n_images * tokens_per_image, text hidden].
  Tensor EncodeImages(const Tensor& pixels) { return vision_->Encode(pixels); }

  // Runs the prompt `ids` (with image_token_index in the image slots, in order) through the
  // decoder as one bidirectional prefix starting at cache row 0, filling `cache`. Returns the
  // logits of the last position [1, vocab]. InvalidArgument when the number of image slots does
  // not match image_features' rows, an id is out of the vocabulary, or the cache is too small.
  absl::StatusOr<Tensor> Prefill(absl::Span<const int32_t> ids, const Tensor& image_features,
                                 SequenceKvCache* cache);
  // One generated token at the next cache row; returns its logits [1, vocab].
  absl::StatusOr<Tensor> Decode(int32_t id, SequenceKvCache* cache);

  std::unique_ptr<SequenceKvCache> NewCache(int64_t capacity) const {
    return decoder_->NewCache(capacity);
  }

  // FLOPs by phase, from the shapes.
  double VisionFlops(int64_t n_images) const { return vision_->Flops(n_images); }
  double PrefillFlops(int64_t tokens) const;
  double DecodeFlops(int64_t past) const;

 private:
  PaliGemmaModel() = default;

  ModelConfig config_;
  Backend* backend_ = nullptr;
  size_t weight_bytes_ = 0;
  std::unique_ptr<SiglipVisionEncoder> vision_;
  std::unique_ptr<GemmaDecoder> decoder_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_PALIGEMMA_MODEL_H_
