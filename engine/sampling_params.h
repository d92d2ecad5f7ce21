// SamplingParams: how one sequence picks its next token, with the meaning of Hugging Face
// generate's parameters (do_sample = !greedy, temperature, top_k, top_p).
#ifndef DRIVELM_ENGINE_SAMPLING_PARAMS_H_
#define DRIVELM_ENGINE_SAMPLING_PARAMS_H_

#include <cstdint>

#include "absl/status/status.h"

namespace drivelm::engine {

struct SamplingParams {
  // Argmax of the raw logits (HF do_sample=False); temperature/top_k/top_p are then ignored.
  bool greedy = true;
  // Doubles, as Python passes them: HF compares top_p's threshold `1 - top_p` computed in double,
  // so a float top_p would move the boundary by one float ulp.
  double temperature = 1.0;  // > 0; 1 = off
  int top_k = 0;             // >= 0; 0 = off
  double top_p = 1.0;        // (0, 1]; 1 = off
  uint64_t seed = 0;         // seeds the sequence's own RNG (std::mt19937_64)
};

// InvalidArgument naming the field and the accepted range: temperature must be finite and > 0
// unless greedy, 0 < top_p <= 1, top_k >= 0.
absl::Status ValidateSamplingParams(const SamplingParams& params);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_SAMPLING_PARAMS_H_
