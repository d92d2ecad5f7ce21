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

double PaliGemmaModel::PrefillFlops(int64_t tokens) const {
  return decoder_->ForwardFlops(tokens, 0) + decoder_->LogitsFlops(1);
}

double PaliGemmaModel::DecodeFlops(int64_t past) const {
  return decoder_->ForwardFlops(1, past) + decoder_->LogitsFlops(1);
}

}  // namespace drivelm::engine
