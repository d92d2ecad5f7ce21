#include "engine/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace drivelm::engine {

absl::Status ValidateSamplingParams(const SamplingParams& params) {
  if (params.top_k < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling top_k must be >= 0 (0 = off), got ", params.top_k));
  }
  // `!(x > 0)` also rejects NaN.
  if (!(params.top_p > 0.0 && params.top_p <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling top_p must be in (0, 1], got ", params.top_p));
  }
  if (!params.greedy && !(params.temperature > 0.0 && std::isfinite(params.temperature))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sampling temperature must be finite and > 0 when sampling (greedy: false), got ",
        params.temperature));
  }
  return absl::OkStatus();
}

}  // namespace drivelm::engine
