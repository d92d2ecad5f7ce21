#include "engine/model/gemma_decoder.h"

#include <cmath>
#include <string>

#include "engine/model/architecture.h"
#include "engine/model/weight_loader.h"

namespace drivelm::engine {

absl::StatusOr<std::unique_ptr<GemmaDecoder>> GemmaDecoder::Load(const ModelConfig& config,
                                                                  const WeightStore& store,
                                                                  Backend* backend) {
  const TextConfig& tc = config.text;
  const DecoderTraits& traits = tc.traits();
  const int64_t h = tc.hidden_size;
  const int64_t qd = tc.num_attention_heads * tc.head_dim;
  const int64_t kvd = tc.num_key_value_heads * tc.head_dim;
  std::unique_ptr<GemmaDecoder> dec(new GemmaDecoder(tc, backend));
  WeightLoader w(&store, backend);
  const TextNames names = TextTensorNames();
  dec->embed_ = w.Load(names.embed_tokens, {tc.vocab_size, h});
  for (int64_t i = 0; i < tc.num_hidden_layers; ++i) {
    const TextLayerNames l = TextLayerTensorNames(i);
    Layer layer;
    layer.input_norm = w.Load(l.input_layernorm, {h});
    layer.q_w = w.Load(l.q_proj, {qd, h});
    layer.k_w = w.Load(l.k_proj, {kvd, h});
    layer.v_w = w.Load(l.v_proj, {kvd, h});
    layer.o_w = w.Load(l.o_proj, {h, qd});
    layer.post_attn_norm = w.Load(l.post_attention_layernorm, {h});
    if (traits.pre_post_feedforward_norms) {
      layer.pre_ff_norm = w.Load(l.pre_feedforward_layernorm, {h});
      layer.post_ff_norm = w.Load(l.post_feedforward_layernorm, {h});
    }
    layer.gate_w = w.Load(l.gate_proj, {tc.intermediate_size, h});
    layer.up_w = w.Load(l.up_proj, {tc.intermediate_size, h});
    layer.down_w = w.Load(l.down_proj, {h, tc.intermediate_size});
    dec->layers_.push_back(std::move(layer));
  }
  dec->final_norm_ = w.Load(names.final_norm, {h});
  // A tied head may still be stored (transformers >= 4.52 writes lm_head.weight); it is the
  // same matrix, so the embedding serves. An untied head must be stored.
  if (!config.tie_word_embeddings) dec->lm_head_ = w.Load(names.lm_head, {tc.vocab_size, h});
  if (!w.status().ok()) return w.status();
  if (dec->lm_head_.empty()) dec->lm_head_ = dec->embed_;
  return dec;
}

Tensor GemmaDecoder::EmbedTokens(absl::Span<const int32_t> ids) {
  Tensor y = backend_->Empty(DType::kF32, {static_cast<int64_t>(ids.size()), config_.hidden_size});
  backend_->Embed(embed_, ids, 1.0f, &y);
  return y;
}

Tensor GemmaDecoder::RunLayers(const Tensor& embeds, absl::Span<const int32_t> positions,
                               const AttentionStep& attend) {
  const TextConfig& tc = config_;
  const DecoderTraits& traits = tc.traits();
  Backend& b = *backend_;
  const int64_t t = embeds.dim(0);
  const int64_t h = tc.hidden_size;
  const int64_t heads = tc.num_attention_heads;
  const int64_t kv_heads = tc.num_key_value_heads;
  const int64_t hd = tc.head_dim;
  const float eps = static_cast<float>(tc.rms_norm_eps);
  const float theta = static_cast<float>(tc.rope_theta);

  // The residual stream. transformers multiplies the embeddings by a normalizer tensor of the
  // activation dtype: sqrt(hidden) rounded to float32 here.
  Tensor x = b.Empty(DType::kF32, {t, h});  // [t, hidden]
  b.CopyRows(embeds, &x, 0);
  b.ScaleInPlace(&x, static_cast<float>(std::sqrt(static_cast<double>(h))));

  Tensor normed = b.Empty(DType::kF32, {t, h});
  Tensor q = b.Empty(DType::kF32, {t, heads, hd});
  Tensor k = b.Empty(DType::kF32, {t, kv_heads, hd});
  Tensor v = b.Empty(DType::kF32, {t, kv_heads, hd});
  Tensor attn = b.Empty(DType::kF32, {t, heads, hd});
  Tensor proj = b.Empty(DType::kF32, {t, h});
  Tensor gate = b.Empty(DType::kF32, {t, tc.intermediate_size});
  Tensor up = b.Empty(DType::kF32, {t, tc.intermediate_size});

  for (size_t li = 0; li < layers_.size(); ++li) {
    Layer& layer = layers_[li];
    b.RmsNorm(x, layer.input_norm, eps, 1.0f, &normed);
    Tensor q2 = q.Reshape({t, heads * hd});
    Tensor k2 = k.Reshape({t, kv_heads * hd});
    Tensor v2 = v.Reshape({t, kv_heads * hd});
    b.Linear(normed, layer.q_w, nullptr, &q2);
    b.Linear(normed, layer.k_w, nullptr, &k2);
    b.Linear(normed, layer.v_w, nullptr, &v2);
    b.Rope(&q, positions, theta);
    b.Rope(&k, positions, theta);
    attend(static_cast<int64_t>(li), q, k, v, &attn);
    b.Linear(attn.Reshape({t, heads * hd}), layer.o_w, nullptr, &proj);
    if (traits.post_attention_norm_on_output) {
      b.RmsNorm(proj, layer.post_attn_norm, eps, 1.0f, &proj);
    }
    b.AddInPlace(&x, proj);

    const Tensor& pre_mlp_norm =
        traits.pre_post_feedforward_norms ? layer.pre_ff_norm : layer.post_attn_norm;
    b.RmsNorm(x, pre_mlp_norm, eps, 1.0f, &normed);
    b.Linear(normed, layer.gate_w, nullptr, &gate);
    b.Linear(normed, layer.up_w, nullptr, &up);
    b.GeluTanhMul(gate, up, &gate);
    b.Linear(gate, layer.down_w, nullptr, &proj);
    if (traits.pre_post_feedforward_norms) {
      b.RmsNorm(proj, layer.post_ff_norm, eps, 1.0f, &proj);
    }
    b.AddInPlace(&x, proj);
  }
  return x;
}

AttentionParams GemmaDecoder::BaseAttentionParams() const {
  AttentionParams ap;
  ap.scale = config_.attention_scale();
  ap.softcap = config_.traits().has_softcapping
                   ? static_cast<float>(config_.attn_logit_softcapping)
                   : 0.f;
  ap.causal = true;
  return ap;
}

Tensor GemmaDecoder::FinalNorm(const Tensor& rows) {
  Tensor out = backend_->Empty(DType::kF32, rows.shape());
  backend_->RmsNorm(rows, final_norm_, static_cast<float>(config_.rms_norm_eps), 1.0f, &out);
  return out;
}

Tensor GemmaDecoder::Forward(const Tensor& embeds, absl::Span<const int32_t> positions,
                             int64_t prefix_len, SequenceKvCache* cache, bool all_rows) {
  Backend& b = *backend_;
  const int64_t t = embeds.dim(0);
  const int64_t past = cache->length();
  AttentionParams ap = BaseAttentionParams();
  ap.q_start = past;
  ap.prefix_len = prefix_len;
  Tensor x = RunLayers(embeds, positions,
                       [&](int64_t li, const Tensor& q, const Tensor& k, const Tensor& v,
                           Tensor* attn) {
                         b.CopyRows(k, &cache->k(li), past);
                         b.CopyRows(v, &cache->v(li), past);
                         ap.sliding_window =
                             config_.is_sliding_layer(li) ? config_.sliding_window : 0;
                         b.Attention(q, cache->k(li).Rows(0, past + t),
                                     cache->v(li).Rows(0, past + t), ap, attn);
                       });
  cache->set_length(past + t);
  return FinalNorm(all_rows ? x : x.Rows(t - 1, t));
}

Tensor GemmaDecoder::ForwardPaged(const Tensor& embeds, absl::Span<const int32_t> positions,
                                  absl::Span<const int64_t> slots,
                                  absl::Span<const PagedSequence> seqs, PagedKvCache* kv,
                                  absl::Span<const int64_t> output_rows) {
  Backend& b = *backend_;
  const AttentionParams base = BaseAttentionParams();
  std::vector<PagedSequence> layer_seqs(seqs.begin(), seqs.end());
  Tensor x = RunLayers(embeds, positions,
                       [&](int64_t li, const Tensor& q, const Tensor& k, const Tensor& v,
                           Tensor* attn) {
                         b.ScatterRows(k, slots, &kv->k(li));
                         b.ScatterRows(v, slots, &kv->v(li));
                         const int64_t window =
                             config_.is_sliding_layer(li) ? config_.sliding_window : 0;
                         for (size_t i = 0; i < seqs.size(); ++i) {
                           AttentionParams p = seqs[i].params;
                           p.scale = base.scale;
                           p.softcap = base.softcap;
                           p.causal = true;
                           p.sliding_window = window;
                           layer_seqs[i].params = p;
                         }
                         b.PagedAttention(q, kv->k(li), kv->v(li), kv->block_size(), layer_seqs,
                                          attn);
                       });
  Tensor rows = b.Empty(DType::kF32, {static_cast<int64_t>(output_rows.size()), x.dim(1)});
  b.GatherRows(x, output_rows, &rows);
  return FinalNorm(rows);
}

Tensor GemmaDecoder::Logits(const Tensor& hidden) {
  Tensor logits = backend_->Empty(DType::kF32, {hidden.dim(0), config_.vocab_size});
  backend_->Linear(hidden, lm_head_, nullptr, &logits);
  if (config_.traits().has_softcapping && config_.final_logit_softcapping > 0) {
    backend_->SoftCapInPlace(&logits, static_cast<float>(config_.final_logit_softcapping));
  }
  return logits;
}

std::unique_ptr<SequenceKvCache> GemmaDecoder::NewCache(int64_t capacity) const {
  return std::make_unique<SequenceKvCache>(backend_, config_.num_hidden_layers, capacity,
                                           config_.num_key_value_heads, config_.head_dim);
}

std::unique_ptr<PagedKvCache> GemmaDecoder::NewPagedCache(int64_t num_blocks,
                                                          int64_t block_size) const {
  return std::make_unique<PagedKvCache>(backend_, config_.num_hidden_layers, num_blocks,
                                        block_size, config_.num_key_value_heads,
                                        config_.head_dim);
}

double GemmaDecoder::ForwardFlops(int64_t t, int64_t past) const {
  const TextConfig& tc = config_;
  const double h = tc.hidden_size;
  const double qd = static_cast<double>(tc.num_attention_heads * tc.head_dim);
  const double kvd = static_cast<double>(tc.num_key_value_heads * tc.head_dim);
  const double tt = static_cast<double>(t);
  // Keys each query sees, summed over the t queries (an upper bound for masked layers).
  const double keys = tt * static_cast<double>(past + t);
  const double per_layer = 2 * tt * (h * qd + 2 * h * kvd + qd * h)      // q, k, v, o
                           + 2 * tt * 3 * h * tc.intermediate_size       // gate, up, down
                           + 2 * 2 * keys * qd;                          // scores, weighted sum
  return per_layer * tc.num_hidden_layers;
}

double GemmaDecoder::LogitsFlops(int64_t rows) const {
  return 2.0 * rows * config_.hidden_size * config_.vocab_size;
}

}  // namespace drivelm::engine
