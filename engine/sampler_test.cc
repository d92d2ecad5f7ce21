#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// Logits shared by the Hugging Face comparisons below.
const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.5f, 3.0f, -1.0f, 2.5f, 0.0f};

SamplingParams Sampling(double temperature, int top_k, double top_p, uint64_t seed = 0) {
  SamplingParams p;
  p.greedy = false;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.seed = seed;
  return p;
}

std::vector<int32_t> KeptIds(const std::vector<float>& logits, const SamplingParams& params) {
  absl::StatusOr<std::vector<TokenProb>> dist = WarpedDistribution(logits, params);
  EXPECT_TRUE(dist.ok()) << dist.status();
  std::vector<int32_t> ids;
  if (dist.ok()) {
    for (const TokenProb& t : *dist) ids.push_back(t.id);
  }
  return ids;
}

TEST(SamplingParamsTest, RejectsOutOfRangeValuesNamingTheField) {
  struct Case {
    SamplingParams params;
    const char* field;
  };
  const Case cases[] = {
      {Sampling(1.0, -1, 1.0), "top_k"},
      {Sampling(1.0, 0, 0.0), "top_p"},
      {Sampling(1.0, 0, 1.5), "top_p"},
      {Sampling(1.0, 0, NAN), "top_p"},
      {Sampling(0.0, 0, 1.0), "temperature"},
      {Sampling(-0.5, 0, 1.0), "temperature"},
      {Sampling(INFINITY, 0, 1.0), "temperature"},
      {Sampling(NAN, 0, 1.0), "temperature"},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateSamplingParams(c.params);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(s.message(), HasSubstr(c.field));
    EXPECT_EQ(Sampler::Create(c.params).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(SamplingParamsTest, GreedyIgnoresTemperature) {
  SamplingParams p;
  p.greedy = true;
  p.temperature = 0.0;  // OpenAI-style "temperature 0" means greedy; harmless here
  EXPECT_TRUE(ValidateSamplingParams(p).ok());
  EXPECT_TRUE(ValidateSamplingParams(Sampling(0.5, 0, 1.0)).ok());
}

TEST(GreedyTokenTest, TiesGoToTheLowestId) {
  EXPECT_EQ(*GreedyToken(std::vector<float>{1.0f, 3.0f, 3.0f, 2.0f}), 1);  // torch.argmax: 1
  EXPECT_EQ(*GreedyToken(kLogits), 1);
  EXPECT_EQ(*GreedyToken(std::vector<float>{-INFINITY, -5.0f, -INFINITY}), 1);
  EXPECT_EQ(*GreedyToken(std::vector<float>{-2.0f}), 0);
}

TEST(GreedyTokenTest, BadLogitsAreErrorsNotCrashes) {
  EXPECT_EQ(GreedyToken({}).status().code(), absl::StatusCode::kInternal);
  absl::Status s = GreedyToken(std::vector<float>{1.0f, NAN}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("token 1"));
}

TEST(SamplerTest, GreedyIgnoresSeedAndWarpers) {
  SamplingParams p;
  p.greedy = true;
  p.top_k = 1;
  for (uint64_t seed : {0u, 1u, 42u}) {
    p.seed = seed;
    Sampler sampler = *Sampler::Create(p);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(*sampler.Sample(kLogits), 1);
  }
}

// Expected sets and probabilities computed with transformers 4.47.1's TemperatureLogitsWarper,
// TopKLogitsWarper and TopPLogitsWarper on kLogits (then torch.softmax):
//   T=1,   top_k=3           -> {1, 4, 6}     (0.383652, 0.383652, 0.232697)
//   T=1,   top_k=2           -> {1, 4}
//   T=1,   top_k=4           -> {1, 2, 4, 6}
//   T=1,   top_p=0.8         -> {1, 2, 4, 6}  (0.336201, 0.123681, 0.336201, 0.203916)
//   T=1,   top_p=0.5         -> {1, 4}
//   T=0.5, top_p=0.8         -> {1, 4, 6}     (0.422319, 0.422319, 0.155362)
//   T=2,   top_p=0.8         -> {0, 1, 2, 4, 6}
//   T=0.7, top_k=5, top_p=.8 -> {1, 4, 6}     (0.40168, 0.40168, 0.196639)
//   T=1,   top_p=0.01        -> {4}  (1 and 4 tie; torch's stable ascending sort puts 1 first,
//                                     so 1 is removed and the higher id stays)
TEST(WarpedDistributionTest, KeepsTheSameSetsAsHuggingFace) {
  EXPECT_THAT(KeptIds(kLogits, Sampling(1.0, 0, 1.0)), ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
  EXPECT_THAT(KeptIds(kLogits, Sampling(1.0, 3, 1.0)), ElementsAre(1, 4, 6));
  EXPECT_THAT(KeptIds(kLogits, Sampling(1.0, 2, 1.0)), ElementsAre(1, 4));
  EXPECT_THAT(KeptIds(kLogits, Sampling(1.0, 4, 1.0)), ElementsAre(1, 2, 4, 6));
  EXPECT_THAT(KeptIds(kLogits, Sampling(1.0, 100, 1.0)), ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
  EXPECT_THAT(KeptIds(kLogits, Sampling(1.0, 0, 0.8)), ElementsAre(1, 2, 4, 6));
  EXPECT_THAT(KeptIds(kLogits, Sampling(1.0, 0, 0.5)), ElementsAre(1, 4));
  EXPECT_THAT(KeptIds(kLogits, Sampling(0.5, 0, 0.8)), ElementsAre(1, 4, 6));
  EXPECT_THAT(KeptIds(kLogits, Sampling(2.0, 0, 0.8)), ElementsAre(0, 1, 2, 4, 6));
  EXPECT_THAT(KeptIds(kLogits, Sampling(0.7, 5, 0.8)), ElementsAre(1, 4, 6));
  EXPECT_THAT(KeptIds(kLogits, Sampling(1.0, 0, 0.01)), ElementsAre(4));
}

TEST(WarpedDistributionTest, ProbabilitiesMatchHuggingFace) {
  absl::StatusOr<std::vector<TokenProb>> dist = WarpedDistribution(kLogits, Sampling(0.7, 5, 0.8));
  ASSERT_TRUE(dist.ok()) << dist.status();
  ASSERT_EQ(dist->size(), 3u);
  EXPECT_NEAR((*dist)[0].prob, 0.40168, 1e-5);
  EXPECT_NEAR((*dist)[1].prob, 0.40168, 1e-5);
  EXPECT_NEAR((*dist)[2].prob, 0.196639, 1e-5);

  dist = WarpedDistribution(kLogits, Sampling(1.0, 0, 0.8));
  ASSERT_TRUE(dist.ok());
  const double expected[] = {0.336201, 0.123681, 0.336201, 0.203916};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR((*dist)[i].prob, expected[i], 1e-5);
}

// Uniform logits put cumulative probabilities exactly on the threshold: HF removes a token whose
// cumulative probability equals 1 - top_p (`<=`), and top_k keeps every token tied with the k-th.
//   [0,0,0,0] top_p=0.5 -> {2, 3}  (cumsum 0.25, 0.5 <= 0.5 removed)
//   [0,0,0,0] top_p=0.6 -> {1, 2, 3}
//   [0,0,0,0] top_k=2   -> {0, 1, 2, 3}
TEST(WarpedDistributionTest, BoundaryAndTiesFollowHuggingFace) {
  const std::vector<float> uniform(4, 0.0f);
  EXPECT_THAT(KeptIds(uniform, Sampling(1.0, 0, 0.5)), ElementsAre(2, 3));
  EXPECT_THAT(KeptIds(uniform, Sampling(1.0, 0, 0.6)), ElementsAre(1, 2, 3));
  EXPECT_THAT(KeptIds(uniform, Sampling(1.0, 2, 1.0)), ElementsAre(0, 1, 2, 3));
}

// A tie straddling the top-p cut: logits 2 appear at ids 4, 13, 14, 19, 30, 32 and one of them
// survives. transformers keeps {4, 23, 39} (torch.sort is not stable at this size); a stable sort
// would keep {23, 32, 39}. From torch.round(torch.randn(1, 40, generator=seed 0) * 2), top_p 0.5.
TEST(WarpedDistributionTest, TiesAtTheTopPCutFollowTorchSortOrder) {
  const std::vector<float> logits = {-2, -2, -1, -1, 2, 1, -1, -4, 1,  -3, 1,  1,  0, 2,
                                     2,  0,  -3, -3, 1, 2, 1,  -3, -1, 4,  0,  -1, 1, 1,
                                     0,  -1, 2,  1,  2, 0, -2, 0,  -1, -1, -3, 3};
  EXPECT_THAT(KeptIds(logits, Sampling(1.0, 0, 0.5)), ElementsAre(4, 23, 39));
}

// The straightforward TopPLogitsWarper: ascending sort of the whole vocabulary.
std::vector<int32_t> ReferenceTopP(const std::vector<float>& logits, double top_p) {
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  // torch.sort on CPU: std::sort of indices in id order, compared by value alone.
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return logits[a] < logits[b]; });
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(x - max);
  const float threshold = static_cast<float>(1.0 - top_p);
  std::vector<int32_t> kept;
  double cumulative = 0.0;
  for (size_t i = 0; i < order.size(); ++i) {
    cumulative += static_cast<float>(std::exp(logits[order[i]] - max) / sum);
    if (static_cast<float>(cumulative) > threshold || i + 1 == order.size()) {
      kept.push_back(order[i]);
    }
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

// Flat distributions keep many tokens (and put many in the sorted head); peaked ones few.
TEST(WarpedDistributionTest, LargeVocabularyMatchesFullSort) {
  std::mt19937 rng(7);
  for (float stddev : {0.3f, 3.0f}) {
    std::normal_distribution<float> normal(0.0f, stddev);
    std::vector<float> logits(257216);
    for (float& x : logits) x = normal(rng);
    if (stddev > 1.0f) {
      for (int id : {17, 4242, 99999}) logits[id] = 22.0f + id % 3;  // a peaked head
      logits[123] = logits[4242];                                    // with a tie
    }
    for (double top_p : {0.05, 0.5, 0.9, 0.999}) {
      std::vector<int32_t> expected = ReferenceTopP(logits, top_p);
      if (stddev < 1.0f) {
        EXPECT_GT(expected.size(), 64u);
      }
      EXPECT_THAT(KeptIds(logits, Sampling(1.0, 0, top_p)), ElementsAreArray(expected))
          << "stddev " << stddev << " top_p " << top_p;
    }
  }
}

TEST(WarpedDistributionTest, MaskedTokensNeverSurvive) {
  std::vector<float> logits = kLogits;
  logits[1] = -INFINITY;
  logits[4] = -INFINITY;
  EXPECT_THAT(KeptIds(logits, Sampling(1.0, 2, 1.0)), ElementsAre(2, 6));
  EXPECT_THAT(KeptIds(logits, Sampling(1.0, 0, 1.0)), ElementsAre(0, 2, 3, 5, 6, 7));
}

TEST(WarpedDistributionTest, BadLogitsAreErrors) {
  const SamplingParams p = Sampling(1.0, 0, 0.9);
  EXPECT_EQ(WarpedDistribution({}, p).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(WarpedDistribution(std::vector<float>{0.0f, NAN}, p).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(WarpedDistribution(std::vector<float>{0.0f, INFINITY}, p).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(WarpedDistribution(std::vector<float>(3, -INFINITY), p).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(WarpedDistribution(kLogits, Sampling(1.0, 0, 2.0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Pearson chi-square of observed counts against the warped distribution.
double ChiSquare(const std::vector<TokenProb>& dist, const std::vector<int>& counts, int draws) {
  double chi2 = 0.0;
  for (const TokenProb& t : dist) {
    const double expected = t.prob * draws;
    const double d = counts[t.id] - expected;
    chi2 += d * d / expected;
  }
  return chi2;
}

TEST(SamplerTest, FrequenciesMatchTheWarpedDistribution) {
  struct Case {
    SamplingParams params;
    double chi2_bound;  // chi-square quantile at p = 0.001 for (kept - 1) degrees of freedom
  };
  const Case cases[] = {
      {Sampling(1.0, 0, 1.0, 11), 24.32},  // 8 tokens, 7 dof
      {Sampling(0.7, 5, 0.8, 12), 13.82},  // {1, 4, 6}, 2 dof
      {Sampling(2.0, 0, 0.8, 13), 18.47},  // 5 tokens, 4 dof
  };
  constexpr int kDraws = 20000;
  for (const Case& c : cases) {
    std::vector<TokenProb> dist = *WarpedDistribution(kLogits, c.params);
    Sampler sampler = *Sampler::Create(c.params);
    std::vector<int> counts(kLogits.size(), 0);
    for (int i = 0; i < kDraws; ++i) ++counts[*sampler.Sample(kLogits)];
    int kept_total = 0;
    for (const TokenProb& t : dist) kept_total += counts[t.id];
    EXPECT_EQ(kept_total, kDraws) << "a filtered token was drawn";
    EXPECT_LT(ChiSquare(dist, counts, kDraws), c.chi2_bound);
  }
}

TEST(SamplerTest, DeterministicPerSeed) {
  auto draw = [](uint64_t seed) {
    Sampler sampler = *Sampler::Create(Sampling(1.5, 0, 1.0, seed));
    std::vector<int32_t> ids;
    for (int i = 0; i < 64; ++i) ids.push_back(*sampler.Sample(kLogits));
    return ids;
  };
  EXPECT_EQ(draw(5), draw(5));
  EXPECT_NE(draw(5), draw(6));

  // A copy carries the RNG state: both continue identically.
  Sampler a = *Sampler::Create(Sampling(1.5, 0, 1.0, 9));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a.Sample(kLogits).ok());
  Sampler b = a;
  for (int i = 0; i < 16; ++i) EXPECT_EQ(*a.Sample(kLogits), *b.Sample(kLogits));
}

TEST(SamplerTest, SamplingErrorsPropagate) {
  Sampler sampler = *Sampler::Create(Sampling(1.0, 0, 1.0));
  EXPECT_EQ(sampler.Sample({}).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(sampler.Sample(std::vector<float>{NAN}).status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace drivelm::engine
