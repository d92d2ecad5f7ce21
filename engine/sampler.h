// Sampler: picks a sequence's next token from the host logits of its last position, with the
// semantics of Hugging Face generate's logits warpers in their order (temperature -> top_k ->
// top_p), then a multinomial draw from the sequence's own seeded RNG.
//
// Exactness: which tokens survive top_k/top_p matches HF, ties included (top_k keeps every token
// equal to the k-th value; where equal scores straddle the top-p cut, the survivors are the ones
// torch.sort's unstable order leaves on top, reproduced with the same std::sort). Probabilities
// use float exp summed in double, not torch's vectorized float softmax, so a token whose
// cumulative probability lies within float rounding of `1 - top_p` may fall the other way
// (checked against transformers 4.47.1: 299 of 300 random cases identical, the other one token
// off on a flat 257k vocabulary). The random draw does not reproduce torch's RNG; it is
// deterministic per seed.
//
// Cost: a few passes over the vocabulary per sampled token; top-p sorts only the tokens with
// probability >= (1 - top_p) / vocab, plus a full sort on the rare steps where a tie straddles
// the cut. Greedy is one pass.
#ifndef DRIVELM_ENGINE_SAMPLER_H_
#define DRIVELM_ENGINE_SAMPLER_H_

#include <cstdint>
#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/sampling_params.h"

namespace drivelm::engine {

// One token of the warped distribution.
struct TokenProb {
  int32_t id;
  double prob;  // renormalized over the kept tokens; sums to 1
};

// Argmax of `logits` ([vocab]); ties go to the lowest id, as torch.argmax. Internal error on an
// empty span or a NaN logit (a model bug, not a client error).
absl::StatusOr<int32_t> GreedyToken(absl::Span<const float> logits);

// The distribution a sampling step draws from: temperature, top_k and top_p applied to `logits`
// ([vocab]) as HF's TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper do, softmax over
// the survivors. Returned ordered by id. `params.greedy` is ignored. InvalidArgument for bad
// params; Internal for empty logits, NaN or +inf logits, or all logits -inf.
absl::StatusOr<std::vector<TokenProb>> WarpedDistribution(absl::Span<const float> logits,
                                                          const SamplingParams& params);

// Sampling (not greedy) reuses a thread-local scratch buffer of 12 bytes per vocabulary entry
// (~3 MB for PaliGemma) in each thread that samples.
//
// Per-sequence sampler: owns the sequence's RNG, so it belongs to that sequence's state and is
// used by one thread at a time (the engine loop). Copyable (copies the RNG state).
class Sampler {
 public:
  // InvalidArgument for bad params (see ValidateSamplingParams).
  static absl::StatusOr<Sampler> Create(const SamplingParams& params);

  // The next token for `logits` ([vocab], host memory). Greedy: argmax, no RNG use. Sampling:
  // one 53-bit uniform draw from the RNG per call.
  absl::StatusOr<int32_t> Sample(absl::Span<const float> logits);

  const SamplingParams& params() const { return params_; }

 private:
  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_SAMPLER_H_
