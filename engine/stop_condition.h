// StopCondition: decides when one sequence is finished (eos token, stop string, max_new_tokens)
// and which of its detokenized text may be emitted yet. Stop strings are matched on the text, not
// on tokens, so a stop string split over several tokens is found; the stop string itself and
// anything after it are never emitted. Text that could still be the start of a stop string is
// held back until the next token settles it.
//
// Apply it to the model's own text (before coordinates are rescaled back to camera pixels), so
// stop strings mean what the model wrote.
#ifndef DRIVELM_ENGINE_STOP_CONDITION_H_
#define DRIVELM_ENGINE_STOP_CONDITION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/finish_reason.h"

namespace drivelm::engine {

struct StopParams {
  std::vector<int32_t> eos_ids;           // e.g. PaliGemma's eos 1; its text is never emitted
  std::vector<std::string> stop_strings;  // non-empty strings
  int max_new_tokens = 256;               // >= 1; counts every generated token, eos included
};

// InvalidArgument naming the field: max_new_tokens < 1, an empty stop string, a negative eos id.
absl::Status ValidateStopParams(const StopParams& params);

// What one generated token yields.
struct StopStep {
  std::string text;                    // text to emit now; may be empty while text is held back
  std::optional<FinishReason> finish;  // set on the token that ends the sequence
};

// One per sequence, used by one thread at a time (the engine loop). Copyable.
class StopCondition {
 public:
  static absl::StatusOr<StopCondition> Create(StopParams params);

  // Feeds the next generated token and its detokenized text (the incremental detokenizer's delta;
  // may be empty). Checks in this order: eos id (kStop; held text is flushed, the eos text
  // dropped), stop strings (kStop; text before the earliest match is emitted), max_new_tokens
  // (kLength; everything held is flushed). FailedPrecondition once the sequence has finished.
  absl::StatusOr<StopStep> Append(int32_t token_id, std::string_view text_delta);

  int num_tokens() const { return num_tokens_; }
  bool finished() const { return finished_; }

 private:
  explicit StopCondition(StopParams params) : params_(std::move(params)) {}

  // Length of the longest suffix of `text` that is a proper prefix of some stop string.
  size_t HeldSuffixLength(std::string_view text) const;

  StopParams params_;
  std::string held_;  // detokenized text not yet emitted: a possible stop string start
  int num_tokens_ = 0;
  bool finished_ = false;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_STOP_CONDITION_H_
