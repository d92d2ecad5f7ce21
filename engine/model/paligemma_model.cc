#include "engine/model/paligemma_model.h"

#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model/architecture.h"

namespace drivelm::engine {

absl::StatusOr<std::unique_ptr<PaliGemmaModel>> PaliGemmaModel::Load(const std::string& dir,
                                                                      Backend* backend) {
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir);
  if (!config.ok()) return config.status();
  absl::StatusOr<std::unique_ptr<WeightStore>> store = WeightStore::Open(dir);
  if (!store.ok()) return store.status();
  if (absl::Status s = ValidateCheckpoint(*config, **store); !s.ok()) return s;

  std::unique_ptr<PaliGemmaModel> model(new PaliGemmaModel());
  model->config_ = *config;
  model->backend_ = backend;
  absl::StatusOr<std::unique_ptr<SiglipVisionEncoder>> vision =
      SiglipVisionEncoder::Load(*config, **store, backend);
  if (!vision.ok()) return vision.status();
  absl::StatusOr<std::unique_ptr<GemmaDecoder>> decoder =
      GemmaDecoder::Load(*config, **store, backend);
  if (!decoder.ok()) return decoder.status();
  model->vision_ = std::move(*vision);
  model->decoder_ = std::move(*decoder);
  for (const std::string& name : (*store)->Names()) {
    model->weight_bytes_ += (*store)->Find(name)->nbytes;
  }
  return model;
}

absl::StatusOr<Tensor> PaliGemmaModel::Prefill(absl::Span<const int32_t> ids,
                                               const Tensor& image_features,
                                               SequenceKvCache* cache) {
  const int64_t t = static_cast<int64_t>(ids.size());
  const int64_t vocab = config_.text.vocab_size;
  const int32_t image_id = static_cast<int32_t>(config_.image_token_index);
  if (t == 0) return absl::InvalidArgumentError("prefill: empty prompt");
  if (cache->length() != 0) return absl::InvalidArgumentError("prefill: cache is not empty");
  if (!cache->CanAppend(t)) {
    return absl::InvalidArgumentError(absl::StrCat("prefill: prompt of ", t,
                                                   " tokens exceeds the cache capacity of ",
                                                   cache->capacity()));
  }
  // Image slots are filled from image_features in order; their embedding-table id is 0 when the
  // image token lies outside the table (transformers does the same before masked_scatter).
  std::vector<int32_t> table_ids(ids.begin(), ids.end());
  std::vector<int64_t> image_rows;
  for (int64_t i = 0; i < t; ++i) {
    if (ids[i] == image_id) {
      image_rows.push_back(i);
      if (image_id >= vocab) table_ids[i] = 0;
    } else if (ids[i] < 0 || ids[i] >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("prefill: token id ", ids[i], " at position ", i,
                       " is outside the vocabulary of ", vocab));
    }
  }
  const int64_t feature_rows = image_features.empty() ? 0 : image_features.dim(0);
  if (static_cast<int64_t>(image_rows.size()) != feature_rows) {
    return absl::InvalidArgumentError(absl::StrCat("prefill: the prompt has ", image_rows.size(),
                                                   " image tokens but ", feature_rows,
                                                   " image feature rows were given"));
  }
  Tensor embeds = decoder_->EmbedTokens(table_ids);  // [t, hidden]
  // Image tokens come in runs (one per image); copy each run at once.
  for (size_t i = 0; i < image_rows.size();) {
    size_t j = i + 1;
    while (j < image_rows.size() && image_rows[j] == image_rows[j - 1] + 1) ++j;
    backend_->CopyRows(image_features.Rows(static_cast<int64_t>(i), static_cast<int64_t>(j)),
                       &embeds, image_rows[i]);
    i = j;
  }
  std::vector<int32_t> positions(t);
  std::iota(positions.begin(), positions.end(), 1);  // PaliGemma positions are 1-indexed
  cache->set_prefix_len(t);
  Tensor last = decoder_->Forward(embeds, positions, /*prefix_len=*/t, cache);
  return decoder_->Logits(last);
}

absl::StatusOr<Tensor> PaliGemmaModel::Decode(int32_t id, SequenceKvCache* cache) {
  if (id < 0 || id >= config_.text.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("decode: token id ", id,
                                                   " is outside the vocabulary"));
  }
  if (!cache->CanAppend(1)) {
    return absl::ResourceExhaustedError(absl::StrCat("decode: the cache of ", cache->capacity(),
                                                     " tokens is full"));
  }
  const int32_t pos = static_cast<int32_t>(cache->length() + 1);
  Tensor embed = decoder_->EmbedTokens({id});
  Tensor last = decoder_->Forward(embed, {pos}, cache->prefix_len(), cache);
  return decoder_->Logits(last);
}

absl::StatusOr<Tensor> PaliGemmaModel::Step(absl::Span<const StepSequence> seqs,
                                            PagedKvCache* kv) {
  const int64_t vocab = config_.text.vocab_size;
  const int32_t image_id = static_cast<int32_t>(config_.image_token_index);
  const int64_t bs = kv->block_size();
  int64_t total = 0;
  for (const StepSequence& s : seqs) total += static_cast<int64_t>(s.ids.size());
  if (total == 0) return absl::InvalidArgumentError("step: no tokens");

  // ---- Check everything, then compute ----
  std::vector<int32_t> table_ids;     // [total] embedding-table ids
  std::vector<int32_t> positions;     // [total]
  std::vector<int64_t> slots;         // [total] pool rows
  std::vector<int64_t> output_rows;
  std::vector<PagedSequence> paged;
  struct ImageCopy {
    const Tensor* features;
    int64_t src_row, dst_row, rows;
  };
  std::vector<ImageCopy> image_copies;
  table_ids.reserve(total);
  for (size_t si = 0; si < seqs.size(); ++si) {
    const StepSequence& s = seqs[si];
    const int64_t n = static_cast<int64_t>(s.ids.size());
    const int64_t q_begin = static_cast<int64_t>(table_ids.size());
    if (static_cast<int64_t>(s.block_table.size()) * bs < s.past + n) {
      return absl::InvalidArgumentError(absl::StrCat("step: sequence ", si, "'s block table covers ",
                                                     s.block_table.size() * bs, " tokens, needs ",
                                                     s.past + n));
    }
    if (s.image_tokens > 0 &&
        (s.image_features == nullptr || s.image_features->dim(0) < s.image_tokens)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "step: sequence ", si, " has ", s.image_tokens, " image slots but ",
          s.image_features == nullptr ? 0 : s.image_features->dim(0), " image feature rows"));
    }
    for (int64_t i = 0; i < n; ++i) {
      const int32_t id = s.ids[i];
      const int64_t row = q_begin + i;
      const int64_t pos = s.past + i;
      if (pos < s.image_tokens) {
        if (id != image_id) {
          return absl::InvalidArgumentError(absl::StrCat("step: sequence ", si, " position ", pos,
                                                         " is an image slot but holds token ", id));
        }
        if (!image_copies.empty() && image_copies.back().features == s.image_features &&
            image_copies.back().dst_row + image_copies.back().rows == row &&
            image_copies.back().src_row + image_copies.back().rows == pos) {
          ++image_copies.back().rows;
        } else {
          image_copies.push_back({s.image_features, pos, row, 1});
        }
        table_ids.push_back(image_id >= vocab ? 0 : id);
      } else if (id < 0 || id >= vocab) {
        return absl::InvalidArgumentError(absl::StrCat("step: token id ", id,
                                                       " is outside the vocabulary of ", vocab));
      } else {
        table_ids.push_back(id);
      }
      positions.push_back(static_cast<int32_t>(pos + 1));  // 1-indexed
      slots.push_back(static_cast<int64_t>(s.block_table[pos / bs]) * bs + pos % bs);
    }
    PagedSequence p;
    p.q_begin = q_begin;
    p.q_len = n;
    p.kv_len = s.past + n;
    p.block_table = s.block_table;
    p.params.q_start = s.past;
    p.params.prefix_len = s.prefix_len;
    paged.push_back(p);
    if (s.want_logits && n > 0) output_rows.push_back(q_begin + n - 1);
  }

  Tensor embeds = decoder_->EmbedTokens(table_ids);  // [total, hidden]
  for (const ImageCopy& c : image_copies) {
    backend_->CopyRows(c.features->Rows(c.src_row, c.src_row + c.rows), &embeds, c.dst_row);
  }
  Tensor hidden = decoder_->ForwardPaged(embeds, positions, slots, paged, kv, output_rows);
  if (output_rows.empty()) return Tensor();
  return decoder_->Logits(hidden);
}

double PaliGemmaModel::PrefillFlops(int64_t tokens) const {
  return decoder_->ForwardFlops(tokens, 0) + decoder_->LogitsFlops(1);
}

double PaliGemmaModel::ChunkFlops(int64_t tokens, int64_t past, bool logits) const {
  return decoder_->ForwardFlops(tokens, past) + (logits ? decoder_->LogitsFlops(1) : 0.0);
}

double PaliGemmaModel::DecodeFlops(int64_t past) const {
  return decoder_->ForwardFlops(1, past) + decoder_->LogitsFlops(1);
}

}  // namespace drivelm::engine
