#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <utility>

#include "absl/strings/str_cat.h"

namespace drivelm::engine {
namespace {

// A token still in the running.
struct Candidate {
  int32_t id;
  float score;   // temperature-scaled logit
  float weight;  // exp(score - max score): unnormalized probability (top-p: normalized)
};

// Descending score; among equal scores the higher id first. This is the reverse of torch.sort's
// (stable) ascending order, which TopPLogitsWarper walks from its low end.
bool Before(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.id > b.id;
}

// TemperatureLogitsWarper: scores / temperature, in float as torch divides a float tensor by a
// Python scalar. Tokens at -inf (masked) have probability 0 and are left out. Returns the largest
// score.
absl::StatusOr<float> ScaledCandidates(absl::Span<const float> logits, double temperature,
                                       std::vector<Candidate>* out) {
  if (logits.empty()) return absl::InternalError("sampler: logits are empty (vocab size 0)");
  const float t = static_cast<float>(temperature);
  out->clear();
  out->reserve(logits.size());
  float max_score = -INFINITY;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float score = logits[i] / t;
    if (score == -INFINITY) continue;
    if (!std::isfinite(score)) {
      return absl::InternalError(absl::StrCat("sampler: logit of token ", i, " is ", logits[i],
                                              ", ", score, " after temperature ", temperature));
    }
    max_score = std::max(max_score, score);
    out->push_back({static_cast<int32_t>(i), score, 0.0f});
  }
  if (out->empty()) {
    return absl::InternalError(
        absl::StrCat("sampler: all ", logits.size(), " logits are -inf; nothing to sample"));
  }
  return max_score;
}

// TopKLogitsWarper: removes scores below the k-th largest; every token tied with it stays.
// Returns the smallest score that survives (-inf when nothing was removed).
float ApplyTopK(int top_k, std::vector<Candidate>* candidates) {
  if (top_k <= 0 || static_cast<size_t>(top_k) >= candidates->size()) return -INFINITY;
  // The k largest scores in a min-heap: one comparison for most of the vocabulary.
  std::priority_queue<float, std::vector<float>, std::greater<float>> largest;
  for (const Candidate& c : *candidates) {
    if (largest.size() < static_cast<size_t>(top_k)) {
      largest.push(c.score);
    } else if (c.score > largest.top()) {
      largest.pop();
      largest.push(c.score);
    }
  }
  const float kth = largest.top();
  candidates->erase(std::remove_if(candidates->begin(), candidates->end(),
                                   [kth](const Candidate& c) { return c.score < kth; }),
                    candidates->end());
  return kth;
}

// Sets each weight to exp(score - max_score) (float exp, as torch's softmax) and returns their
// sum, accumulated in double.
double ComputeWeights(float max_score, std::vector<Candidate>* candidates) {
  double sum = 0.0;
  for (Candidate& c : *candidates) {
    c.weight = std::exp(c.score - max_score);
    sum += c.weight;
  }
  return sum;
}

// The `keep` tokens TopPLogitsWarper keeps when tied scores straddle its cut. Which of the tied
// tokens survive depends on the order torch.sort leaves them in, and torch's CPU sort is
// std::sort (not stable) of (score, index) pairs in index order compared by score alone, so do
// the same over the whole vocabulary, masked tokens (-inf) included: libstdc++'s std::sort makes
// the same swaps. Costs a full sort, so it only runs when a tie straddles the cut.
std::vector<Candidate> TorchOrderKept(absl::Span<const float> logits, float temperature,
                                      float top_k_cut, size_t keep) {
  std::vector<std::pair<float, int32_t>> order(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    const float score = logits[i] / temperature;
    order[i] = {score >= top_k_cut ? score : -INFINITY, static_cast<int32_t>(i)};
  }
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Candidate> kept;
  kept.reserve(keep);
  for (size_t i = order.size() - keep; i < order.size(); ++i) {
    kept.push_back({order[i].second, order[i].first, 0.0f});
  }
  return kept;
}

// TopPLogitsWarper: in ascending order, removes every token whose cumulative probability is
// <= 1 - top_p, keeping at least the most likely one. The removed tokens form a prefix of the
// ascending order, so only a head of likely tokens needs sorting: the tokens with probability
// below threshold / n hold less than `threshold` in all, so they are all removed.
void ApplyTopP(double top_p, float max_score, absl::Span<const float> logits, float temperature,
               float top_k_cut, std::vector<Candidate>* candidates) {
  if (top_p >= 1.0) return;
  // The threshold as torch sees it: `1 - top_p` in double, compared against float32 sums.
  const float threshold = static_cast<float>(1.0 - top_p);
  std::vector<Candidate>& c = *candidates;
  const size_t n = c.size();
  const double inv_sum = 1.0 / ComputeWeights(max_score, candidates);
  const float tail_bound = threshold / static_cast<float>(n);

  // Probabilities (float, as torch stores them); the head moves to the front. Equal scores have
  // equal probabilities, so a tie never straddles the head's edge.
  size_t head = 0;
  double rest = 0.0;  // cumulative probability of everything outside the head
  for (size_t i = 0; i < n; ++i) {
    c[i].weight = static_cast<float>(c[i].weight * inv_sum);
    if (c[i].weight >= tail_bound) {
      std::swap(c[head++], c[i]);
    } else {
      rest += c[i].weight;
    }
  }
  if (static_cast<float>(rest) > threshold) {  // only by rounding; sort everything
    head = n;
    rest = 0.0;
  }
  std::sort(c.begin(), c.begin() + head, Before);

  // Walk the head from its least likely end; c[0] always stays (min_tokens_to_keep = 1).
  size_t keep = head;
  double cumulative = rest;
  for (size_t i = head; i-- > 1;) {
    cumulative += c[i].weight;
    if (static_cast<float>(cumulative) > threshold) break;
    keep = i;
  }
  // How many survive does not depend on the order of tied tokens (they have equal probabilities);
  // which ones do.
  if (keep < head && c[keep].score == c[keep - 1].score) {
    const std::vector<Candidate> kept = TorchOrderKept(logits, temperature, top_k_cut, keep);
    c.assign(kept.begin(), kept.end());  // keeps the scratch buffer's capacity
    return;
  }
  c.resize(keep);
}

// Temperature -> top-k -> top-p into `candidates` (a reusable buffer); on return each weight is
// the unnormalized probability of a surviving token, and the result is their sum.
absl::StatusOr<double> Warp(absl::Span<const float> logits, const SamplingParams& params,
                            std::vector<Candidate>* candidates) {
  absl::StatusOr<float> max_score = ScaledCandidates(logits, params.temperature, candidates);
  if (!max_score.ok()) return max_score.status();
  // Both warpers keep the most likely token, so max_score stays the maximum.
  const float top_k_cut = ApplyTopK(params.top_k, candidates);
  ApplyTopP(params.top_p, *max_score, logits, static_cast<float>(params.temperature), top_k_cut,
            candidates);
  return ComputeWeights(*max_score, candidates);
}

// Scratch space for the sampling thread, reused across steps: a vocabulary-sized buffer
// allocated per token would cost more than the sampling itself.
std::vector<Candidate>& ThreadScratch() {
  thread_local std::vector<Candidate> scratch;
  return scratch;
}

}  // namespace

absl::StatusOr<int32_t> GreedyToken(absl::Span<const float> logits) {
  if (logits.empty()) return absl::InternalError("sampler: logits are empty (vocab size 0)");
  size_t best = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i])) {
      return absl::InternalError(absl::StrCat("sampler: logit of token ", i, " is NaN"));
    }
    if (logits[i] > logits[best]) best = i;  // strict: ties keep the lowest id
  }
  return static_cast<int32_t>(best);
}

absl::StatusOr<std::vector<TokenProb>> WarpedDistribution(absl::Span<const float> logits,
                                                          const SamplingParams& params) {
  SamplingParams sampling = params;
  sampling.greedy = false;
  if (absl::Status s = ValidateSamplingParams(sampling); !s.ok()) return s;
  std::vector<Candidate>& candidates = ThreadScratch();
  absl::StatusOr<double> sum = Warp(logits, params, &candidates);
  if (!sum.ok()) return sum.status();
  std::vector<TokenProb> dist;
  dist.reserve(candidates.size());
  for (const Candidate& c : candidates) dist.push_back({c.id, c.weight / *sum});
  std::sort(dist.begin(), dist.end(),
            [](const TokenProb& a, const TokenProb& b) { return a.id < b.id; });
  return dist;
}

absl::StatusOr<Sampler> Sampler::Create(const SamplingParams& params) {
  if (absl::Status s = ValidateSamplingParams(params); !s.ok()) return s;
  return Sampler(params);
}

absl::StatusOr<int32_t> Sampler::Sample(absl::Span<const float> logits) {
  if (params_.greedy) return GreedyToken(logits);
  std::vector<Candidate>& candidates = ThreadScratch();
  absl::StatusOr<double> sum = Warp(logits, params_, &candidates);
  if (!sum.ok()) return sum.status();
  // A uniform double in [0, 1) from the top 53 bits: the same on every standard library, unlike
  // std::uniform_real_distribution.
  const double target = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * *sum;
  double cumulative = 0.0;
  for (const Candidate& c : candidates) {
    cumulative += c.weight;
    if (target < cumulative) return c.id;
  }
  // Rounding left target in the last sliver: take the last token that can be drawn at all (the
  // most likely one always can: its weight is 1).
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    if (it->weight > 0.0f) return it->id;
  }
  return candidates.back().id;
}

}  // namespace drivelm::engine
