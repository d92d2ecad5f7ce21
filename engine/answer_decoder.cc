#include "engine/answer_decoder.h"

#include <algorithm>
#include <utility>

namespace drivelm::engine {

absl::StatusOr<AnswerDecoder> AnswerDecoder::Create(
    const Tokenizer* tokenizer, const std::optional<CoordinateRescaler>& rescaler,
    const SamplingParams& sampling, const StopParams& stop) {
  absl::StatusOr<Sampler> sampler = Sampler::Create(sampling);
  if (!sampler.ok()) return sampler.status();
  absl::StatusOr<StopCondition> condition = StopCondition::Create(stop);
  if (!condition.ok()) return condition.status();
  return AnswerDecoder(tokenizer, std::move(*sampler), std::move(*condition), stop.eos_ids,
                       rescaler);
}

AnswerDecoder::AnswerDecoder(const Tokenizer* tokenizer, Sampler sampler, StopCondition stop,
                             std::vector<int32_t> eos_ids,
                             const std::optional<CoordinateRescaler>& rescaler)
    : sampler_(std::move(sampler)),
      stop_(std::move(stop)),
      detokenizer_(*tokenizer),
      eos_ids_(std::move(eos_ids)) {
  if (rescaler) coordinates_.emplace(*rescaler);
}

absl::StatusOr<DecodeStep> AnswerDecoder::Next(absl::Span<const float> logits) {
  if (finished_) return absl::FailedPreconditionError("answer already finished");
  DecodeStep out;
  absl::StatusOr<int32_t> token = sampler_.Sample(logits);
  if (!token.ok()) return token.status();
  out.token = *token;
  token_ids_.push_back(*token);
  absl::StatusOr<StopStep> step = stop_.Append(*token, detokenizer_.Add(*token));
  if (!step.ok()) return step.status();
  std::string raw = std::move(step->text);
  out.finish = step->finish;
  if (out.finish) {
    finished_ = true;
    // Bytes of an unfinished character at the very end become U+FFFD, as a full decode does;
    // after a stop string nothing more of the answer is emitted.
    const bool eos = std::find(eos_ids_.begin(), eos_ids_.end(), *token) != eos_ids_.end();
    if (*out.finish == FinishReason::kLength || eos) raw += detokenizer_.Finish();
  }
  out.text = coordinates_ ? coordinates_->Append(raw) : raw;
  if (out.finish && coordinates_) out.text += coordinates_->Finish();
  text_ += out.text;
  return out;
}

}  // namespace drivelm::engine
