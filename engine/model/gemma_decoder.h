// GemmaDecoder: the Gemma / Gemma-2 language model of PaliGemma, one sequence at a time over a
// SequenceKvCache. Which norms exist, soft-capping and local (sliding-window) layers come from
// the DecoderTraits table of model_config.h.
#ifndef DRIVELM_ENGINE_MODEL_GEMMA_DECODER_H_
#define DRIVELM_ENGINE_MODEL_GEMMA_DECODER_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/backend/backend.h"
#include "engine/model/kv_cache.h"
#include "engine/model/model_config.h"
#include "engine/model/paged_kv_cache.h"
#include "engine/model/weight_store.h"

namespace drivelm::engine {

class GemmaDecoder {
 public:
  // Uploads the language model's weights. `backend` outlives the decoder.
  static absl::StatusOr<std::unique_ptr<GemmaDecoder>> Load(const ModelConfig& config,
                                                            const WeightStore& store,
                                                            Backend* backend);

  // Token embeddings, unscaled: [ids.size(), hidden]. Ids must be < vocab_size.
  Tensor EmbedTokens(absl::Span<const int32_t> ids);

  // Runs `embeds` [t, hidden] (already in embedding space, before the sqrt(hidden) normalizer,
  // which Forward applies) at cache rows [cache->length(), cache->length() + t) and appends
  // their keys and values. positions[i] is the RoPE position of row i. Keys [0, prefix_len)
  // are visible to every query (prefix-LM); later keys causally. Returns the final-normed
  // hidden state of the last row [1, hidden], or of every row when all_rows is set [t, hidden].
  // The caller checks cache->CanAppend(t) first.
  Tensor Forward(const Tensor& embeds, absl::Span<const int32_t> positions, int64_t prefix_len,
                 SequenceKvCache* cache, bool all_rows = false);

  // A batched step over the paged KV pools: embeds [T, hidden] are the new tokens of several
  // sequences (row ranges given by seqs[i].q_begin / q_len); positions [T] their RoPE
  // positions; slots [T] the pool rows their keys and values go to. Each sequence's
  // params.q_start and params.prefix_len are taken from seqs; scale, soft-capping and the
  // sliding window from the model. Returns the final-normed hidden states of `output_rows`
  // [output_rows.size(), hidden].
  Tensor ForwardPaged(const Tensor& embeds, absl::Span<const int32_t> positions,
                      absl::Span<const int64_t> slots, absl::Span<const PagedSequence> seqs,
                      PagedKvCache* kv, absl::Span<const int64_t> output_rows);

  // logits [rows, vocab] of final-normed hidden states [rows, hidden] (tied or separate head,
  // Gemma-2 final soft-capping applied).
  Tensor Logits(const Tensor& hidden);

  // A cache sized for this model.
  std::unique_ptr<SequenceKvCache> NewCache(int64_t capacity) const;
  // Paged pools of `num_blocks` x `block_size` tokens for this model.
  std::unique_ptr<PagedKvCache> NewPagedCache(int64_t num_blocks, int64_t block_size) const;

  // FLOPs of a forward of `t` tokens after `past` cached tokens, without / with the LM head
  // over `logit_rows` rows.
  double ForwardFlops(int64_t t, int64_t past) const;
  double LogitsFlops(int64_t rows) const;

  const TextConfig& config() const { return config_; }

 private:
  struct Layer {
    Tensor input_norm;            // [hidden]
    Tensor q_w;                   // [heads * head_dim, hidden]
    Tensor k_w, v_w;              // [kv_heads * head_dim, hidden]
    Tensor o_w;                   // [hidden, heads * head_dim]
    Tensor post_attn_norm;        // [hidden]
    Tensor pre_ff_norm;           // [hidden] (Gemma-2 only)
    Tensor post_ff_norm;          // [hidden] (Gemma-2 only)
    Tensor gate_w, up_w;          // [intermediate, hidden]
    Tensor down_w;                // [hidden, intermediate]
  };

  GemmaDecoder(const TextConfig& config, Backend* backend) : config_(config), backend_(backend) {}

  // Writes this layer's new keys/values and computes attention: (layer, q [t, heads, hd],
  // k and v [t, kv_heads, hd], attn out [t, heads, hd]).
  using AttentionStep = std::function<void(int64_t layer, const Tensor& q, const Tensor& k,
                                           const Tensor& v, Tensor* attn)>;
  // The layer stack shared by the contiguous and paged forwards; returns the residual stream
  // [t, hidden] before the final norm.
  Tensor RunLayers(const Tensor& embeds, absl::Span<const int32_t> positions,
                   const AttentionStep& attend);
  AttentionParams BaseAttentionParams() const;
  Tensor FinalNorm(const Tensor& rows);

  TextConfig config_;
  Backend* backend_;
  Tensor embed_;     // [vocab, hidden]
  Tensor lm_head_;   // [vocab, hidden]; shares embed_ when tied
  Tensor final_norm_;  // [hidden]
  std::vector<Layer> layers_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_GEMMA_DECODER_H_
