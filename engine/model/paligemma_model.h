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

// One sequence's part of a batched step (PaliGemmaModel::Step).
struct StepSequence {
  absl::Span<const int32_t> ids;  // the tokens of this step: a prompt chunk or one generated id
  int64_t past = 0;               // tokens of this sequence already in the KV cache
  // Keys [0, prefix_len) are visible to every query of the sequence: the whole prompt in exact
  // mode (PaliGemma's bidirectional prefill); the image tokens alone for a shared image prefix.
  int64_t prefix_len = 0;
  // Positions [0, image_tokens) of the sequence are its image slots (PaliGemma puts the images
  // first): their ids must be image_token_index and their embeddings are image_features rows of
  // the same index [image_tokens, hidden]. An image_token_index id elsewhere (a random model
  // may generate one) is embedded as an ordinary token, as transformers does.
  const Tensor* image_features = nullptr;
  int64_t image_tokens = 0;
  absl::Span<const int32_t> block_table;   // covers tokens [0, past + ids.size())
  bool want_logits = true;                 // return logits for the last token of `ids`
};

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

  // A batched step of several sequences over the paged KV cache: writes their keys/values and
  // returns the logits [number of sequences with want_logits, vocab], in order. Positions are
  // 1-indexed (past + i + 1). InvalidArgument for ids outside the vocabulary, image tokens
  // without feature rows, or block tables that do not cover the tokens.
  absl::StatusOr<Tensor> Step(absl::Span<const StepSequence> seqs, PagedKvCache* kv);

  std::unique_ptr<PagedKvCache> NewPagedCache(int64_t num_blocks, int64_t block_size) const {
    return decoder_->NewPagedCache(num_blocks, block_size);
  }

  std::unique_ptr<SequenceKvCache> NewCache(int64_t capacity) const {
    return decoder_->NewCache(capacity);
  }

  // FLOPs by phase, from the shapes.
  double VisionFlops(int64_t n_images) const { return vision_->Flops(n_images); }
  double PrefillFlops(int64_t tokens) const;
  double DecodeFlops(int64_t past) const;
  // `tokens` new tokens after `past` cached ones, plus the LM head for one row when `logits`.
  double ChunkFlops(int64_t tokens, int64_t past, bool logits) const;

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
