#include "eval/coco_caption_metrics.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "eval/ptb_tokenizer.h"
#include "nlohmann/json.hpp"

namespace drivelm::eval {
namespace {

using ::testing::HasSubstr;

nlohmann::json LoadJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path << " not found";
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

struct Parity {
  std::vector<std::string> predictions;
  std::vector<std::string> references;
  nlohmann::json reference;  // pycocoevalcap's values
};

Parity LoadParity() {
  Parity p;
  const nlohmann::json pairs = LoadJson("eval/testdata/caption_pairs.json");
  for (const auto& pair : pairs["pairs"]) {
    p.predictions.push_back(pair["prediction"]);
    p.references.push_back(pair["reference"]);
  }
  p.reference = LoadJson("eval/testdata/caption_reference.json");
  return p;
}

constexpr double kTolerance = 1e-6;

// The committed pairs (tools/eval/make_caption_pairs.py) scored by pycocoevalcap 1.2 with its
// Java PTB tokenizer (tools/eval/make_caption_reference.py).
TEST(CocoCaptionMetricsTest, MatchesPycocoevalcapOnCommittedPairs) {
  const Parity p = LoadParity();
  ASSERT_GE(p.predictions.size(), 200u);
  absl::StatusOr<CaptionScores> s = ComputeCocoCaptionMetrics(p.predictions, p.references);
  ASSERT_TRUE(s.ok()) << s.status();
  const nlohmann::json& corpus = p.reference["corpus"];
  const double want[6] = {corpus["bleu_1"], corpus["bleu_2"], corpus["bleu_3"],
                          corpus["bleu_4"], corpus["rouge_l"], corpus["cider"]};
  const double got[6] = {s->bleu[0], s->bleu[1], s->bleu[2], s->bleu[3], s->rouge_l, s->cider};
  const char* names[6] = {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE_L", "CIDEr"};
  double max_corpus = 0;
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(got[i], want[i], kTolerance) << names[i];
    max_corpus = std::max(max_corpus, std::abs(got[i] - want[i]));
  }
  double max_pair = 0;
  const nlohmann::json& per = p.reference["per_pair"];
  ASSERT_EQ(per.size(), p.predictions.size());
  for (size_t i = 0; i < per.size(); ++i) {
    const double rouge = per[i]["rouge_l"];
    const double cider = per[i]["cider"];
    EXPECT_NEAR(s->rouge_l_per_caption[i], rouge, kTolerance) << "pair " << i;
    EXPECT_NEAR(s->cider_per_caption[i], cider, kTolerance) << "pair " << i;
    max_pair = std::max({max_pair, std::abs(s->rouge_l_per_caption[i] - rouge),
                         std::abs(s->cider_per_caption[i] - cider)});
    for (int k = 0; k < 4; ++k) {
      const double b = per[i]["bleu"][k];
      EXPECT_NEAR(s->bleu_per_caption[i][k], b, kTolerance) << "pair " << i << " BLEU-" << k + 1;
      max_pair = std::max(max_pair, std::abs(s->bleu_per_caption[i][k] - b));
    }
  }
  std::cout << "max |C++ - pycocoevalcap|: corpus " << max_corpus << ", per pair " << max_pair
            << " over " << per.size() << " pairs\n";
}

TEST(CocoCaptionMetricsTest, TokenizationMatchesPycocoevalcap) {
  const Parity p = LoadParity();
  const std::vector<std::string> pred = PtbTokenizeCaptions(p.predictions);
  const std::vector<std::string> ref = PtbTokenizeCaptions(p.references);
  const nlohmann::json& per = p.reference["per_pair"];
  for (size_t i = 0; i < per.size(); ++i) {
    EXPECT_EQ(pred[i], per[i]["prediction_tokens"].get<std::string>()) << "pair " << i;
    EXPECT_EQ(ref[i], per[i]["reference_tokens"].get<std::string>()) << "pair " << i;
  }
}

TEST(CocoCaptionMetricsTest, IdenticalCorpus) {
  absl::StatusOr<CaptionScores> s = ScoreTokenizedCaptions(
      {"a car is moving", "the truck is parked ahead"},
      {{"a car is moving"}, {"the truck is parked ahead"}});
  ASSERT_TRUE(s.ok()) << s.status();
  for (double b : s->bleu) EXPECT_NEAR(b, 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(s->rouge_l, 1.0);
  // Two captions, every n-gram in one of them: idf = log(2) - log(1) for all, cosine 1.
  EXPECT_NEAR(s->cider, 10.0, 1e-9);
}

TEST(CocoCaptionMetricsTest, SingleCaptionCiderIsZero) {
  // log(1 caption) = 0: every reference n-gram has idf 0 (pycocoevalcap behaves so).
  absl::StatusOr<CaptionScores> s = ScoreTokenizedCaptions({"a car"}, {{"a car"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->cider, 0.0);
}

TEST(CocoCaptionMetricsTest, EmptyPrediction) {
  absl::StatusOr<CaptionScores> s =
      ScoreTokenizedCaptions({"", "a b"}, {{"a b c"}, {"a b"}});
  ASSERT_TRUE(s.ok());
  // ''.split(' ') is [''], one token that matches nothing.
  EXPECT_EQ(s->rouge_l_per_caption[0], 0.0);
  EXPECT_EQ(s->bleu_per_caption[0][0], 0.0);
}

TEST(CocoCaptionMetricsTest, ClosestReferenceLengthTiesPickShorter) {
  // testlen 2, references of length 1 and 3, both 1 away: "closest" takes the shorter, so no
  // brevity penalty and BLEU-1 = 1 (taking 3 would give exp(1 - 3/2)).
  absl::StatusOr<CaptionScores> s = ScoreTokenizedCaptions({"a b"}, {{"a", "a b c"}});
  ASSERT_TRUE(s.ok());
  EXPECT_NEAR(s->bleu[0], 1.0, 1e-9);
}

TEST(CocoCaptionMetricsTest, BadInput) {
  EXPECT_THAT(std::string(ScoreTokenizedCaptions({"a"}, {}).status().message()),
              HasSubstr("1 predictions but 0 reference lists"));
  EXPECT_EQ(ScoreTokenizedCaptions({}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ScoreTokenizedCaptions({"a"}, {{}}).status().message()),
              HasSubstr("caption 0 has no reference"));
  EXPECT_FALSE(ComputeCocoCaptionMetrics(std::vector<std::string>{"a", "b"},
                                         std::vector<std::string>{"a"})
                   .ok());
}

TEST(CocoCaptionMetricsTest, NumpyMeanIsPairwise) {
  EXPECT_EQ(NumpyMean({}), 0.0);
  EXPECT_EQ(NumpyMean({1, 2, 3}), 2.0);
  // 9 values: numpy sums 8 in lanes, ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then adds the 9th.
  std::vector<double> v = {1e16, 1, -1e16, 1, 1, 1, 1, 1, 1};
  const double lanes = ((1e16 + 1.0) + (-1e16 + 1.0)) + ((1.0 + 1.0) + (1.0 + 1.0));
  EXPECT_EQ(NumpyMean(v), (lanes + 1.0) / 9.0);
}

}  // namespace
}  // namespace drivelm::eval
