// AnswerDecoder: the per-sequence state that turns logits into answer text: sampler, stop
// condition (eos, stop strings, max tokens), incremental detokenizer and the coordinate stream
// that rescales <c,CAM,x,y> references back to camera pixels. One per question being answered;
// shared by the one-sequence Generator and the batching engine.
#ifndef DRIVELM_ENGINE_ANSWER_DECODER_H_
#define DRIVELM_ENGINE_ANSWER_DECODER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/coordinate_rescaler.h"
#include "engine/coordinate_stream.h"
#include "engine/finish_reason.h"
#include "engine/sampler.h"
#include "engine/stop_condition.h"
#include "engine/tokenizer/detokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace drivelm::engine {

struct DecodeStep {
  int32_t token = 0;
  std::string text;                    // text to emit now (may be empty)
  std::optional<FinishReason> finish;  // set when this token ends the answer
};

class AnswerDecoder {
 public:
  // `tokenizer` outlives the decoder. `rescaler`: answers' coordinates go back to camera pixels.
  static absl::StatusOr<AnswerDecoder> Create(const Tokenizer* tokenizer,
                                              const std::optional<CoordinateRescaler>& rescaler,
                                              const SamplingParams& sampling,
                                              const StopParams& stop);

  // Samples the next token from `logits` [vocab] and advances the text. After a step with
  // `finish` set, the tail of the answer (held bytes) has been appended to that step's text.
  absl::StatusOr<DecodeStep> Next(absl::Span<const float> logits);
  // Ends an answer that was cut short (cancelled): nothing more is emitted.
  void Abort() { finished_ = true; }

  const std::vector<int32_t>& token_ids() const { return token_ids_; }
  const std::string& text() const { return text_; }
  bool finished() const { return finished_; }

 private:
  AnswerDecoder(const Tokenizer* tokenizer, Sampler sampler, StopCondition stop,
                std::vector<int32_t> eos_ids, const std::optional<CoordinateRescaler>& rescaler);

  Sampler sampler_;
  StopCondition stop_;
  IncrementalDetokenizer detokenizer_;
  std::optional<CoordinateStream> coordinates_;
  std::vector<int32_t> eos_ids_;
  std::vector<int32_t> token_ids_;
  std::string text_;
  bool finished_ = false;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_ANSWER_DECODER_H_
