#include "engine/stop_condition.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace drivelm::engine {

absl::Status ValidateStopParams(const StopParams& params) {
  if (params.max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens must be >= 1, got ", params.max_new_tokens));
  }
  for (size_t i = 0; i < params.stop_strings.size(); ++i) {
    if (params.stop_strings[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("stop_strings[", i, "] is empty"));
    }
  }
  for (size_t i = 0; i < params.eos_ids.size(); ++i) {
    if (params.eos_ids[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("eos_ids[", i, "] must be >= 0, got ", params.eos_ids[i]));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<StopCondition> StopCondition::Create(StopParams params) {
  if (absl::Status s = ValidateStopParams(params); !s.ok()) return s;
  return StopCondition(std::move(params));
}

size_t StopCondition::HeldSuffixLength(std::string_view text) const {
  size_t longest = 0;
  for (const std::string& stop : params_.stop_strings) {
    const size_t max_len = std::min(stop.size() - 1, text.size());
    for (size_t len = max_len; len > longest; --len) {
      if (text.substr(text.size() - len) == std::string_view(stop).substr(0, len)) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

absl::StatusOr<StopStep> StopCondition::Append(int32_t token_id, std::string_view text_delta) {
  if (finished_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "StopCondition::Append: sequence already finished after ", num_tokens_, " tokens"));
  }
  ++num_tokens_;
  StopStep step;

  if (std::find(params_.eos_ids.begin(), params_.eos_ids.end(), token_id) !=
      params_.eos_ids.end()) {
    step.text = std::move(held_);
    held_.clear();
    step.finish = FinishReason::kStop;
    finished_ = true;
    return step;
  }

  // Every stop string occurrence that could begin in emitted text was held back, so searching the
  // held text plus the delta finds them all.
  std::string text = held_;
  text.append(text_delta);
  held_.clear();
  size_t match = std::string::npos;
  for (const std::string& stop : params_.stop_strings) {
    match = std::min(match, text.find(stop));
  }
  if (match != std::string::npos) {
    text.resize(match);
    step.text = std::move(text);
    step.finish = FinishReason::kStop;
    finished_ = true;
    return step;
  }

  if (num_tokens_ >= params_.max_new_tokens) {
    step.text = std::move(text);
    step.finish = FinishReason::kLength;
    finished_ = true;
    return step;
  }

  // A held suffix starts where a stop string starts, so on valid UTF-8 it starts on a character
  // boundary and the emitted part stays valid UTF-8.
  const size_t held = HeldSuffixLength(text);
  held_ = text.substr(text.size() - held);
  text.resize(text.size() - held);
  step.text = std::move(text);
  return step;
}

}  // namespace drivelm::engine
