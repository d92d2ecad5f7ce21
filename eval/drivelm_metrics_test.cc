#include "eval/drivelm_metrics.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "eval/score_report.h"
#include "nlohmann/json.hpp"

namespace drivelm::eval {
namespace {

using ::testing::HasSubstr;

// The expected values come from tools/eval/drivelm_official.py, a transcription of the official
// challenge/evaluation.py run on the same inputs.
nlohmann::json Expected() {
  std::ifstream in("eval/testdata/drivelm_official_expected.json");
  EXPECT_TRUE(in.good()) << "eval/testdata/drivelm_official_expected.json not found";
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

// The stand-in judge of drivelm_official.py: (3 * len(answer) + 7 * len(gt)) % 101.
class LengthJudge : public Judge {
 public:
  absl::StatusOr<double> Score(std::string_view, std::string_view answer,
                               std::string_view gt) override {
    ++calls;
    return static_cast<double>((3 * answer.size() + 7 * gt.size()) % 101);
  }
  int calls = 0;
};

class FailingJudge : public Judge {
 public:
  absl::StatusOr<double> Score(std::string_view, std::string_view, std::string_view) override {
    return absl::UnavailableError("judge endpoint down");
  }
};

constexpr double kTol = 1e-9;

TEST(DriveLmMatchTest, OfficialMatchResultCases) {
  const nlohmann::json e = Expected();
  ASSERT_GE(e["match_result"].size(), 10u);
  for (const auto& c : e["match_result"]) {
    const MatchResult m = DriveLmMatchResult(c["answer"].get<std::string>(),
                                             c["gt"].get<std::string>());
    EXPECT_NEAR(m.f1, c["f1"].get<double>(), 1e-15) << c["name"];
    ASSERT_EQ(m.matched_gt.size(), c["matched_gt"].size()) << c["name"];
    for (size_t i = 0; i < m.matched_gt.size(); ++i) {
      EXPECT_EQ(m.matched_gt[i][0], c["matched_gt"][i][0].get<double>()) << c["name"];
      EXPECT_EQ(m.matched_gt[i][1], c["matched_gt"][i][1].get<double>()) << c["name"];
    }
  }
}

TEST(DriveLmMatchTest, OfficialEvalGraphCases) {
  const nlohmann::json e = Expected();
  for (const auto& c : e["eval_graph"]) {
    std::vector<std::array<double, 2>> graph;
    for (const auto& p : c["graph"]) graph.push_back({p[0].get<double>(), p[1].get<double>()});
    EXPECT_EQ(QuestionInGraph(c["question"].get<std::string>(), graph), c["in_graph"].get<bool>())
        << c["name"];
  }
}

TEST(DriveLmMatchTest, DecimalNumbers) {
  EXPECT_EQ(ExtractDecimalNumbers("<c1,CAM_FRONT,1088.3,497.5> 12 3. .5 1.2.3"),
            (std::vector<double>{1088.3, 497.5, 1.2}));
  EXPECT_TRUE(ExtractDecimalNumbers("").empty());
}

void ExpectReport(const ScoreReport& r, const nlohmann::json& want, bool judge) {
  EXPECT_NEAR(r.accuracy, want["accuracy"].get<double>(), kTol);
  EXPECT_NEAR(r.bleu_1, want["bleu_1"].get<double>(), 1e-6);
  EXPECT_NEAR(r.bleu_2, want["bleu_2"].get<double>(), 1e-6);
  EXPECT_NEAR(r.bleu_3, want["bleu_3"].get<double>(), 1e-6);
  EXPECT_NEAR(r.bleu_4, want["bleu_4"].get<double>(), 1e-6);
  EXPECT_NEAR(r.rouge_l, want["rouge_l"].get<double>(), 1e-6);
  EXPECT_NEAR(r.cider, want["cider"].get<double>(), 1e-6);
  EXPECT_NEAR(r.language, want["language"].get<double>(), 1e-6);
  EXPECT_NEAR(r.match_f1, want["match_f1"].get<double>(), kTol);
  EXPECT_NEAR(r.final_score, want["final_score"].get<double>(), 1e-6);
  EXPECT_EQ(r.judge_used, judge);
  if (judge) {
    ASSERT_TRUE(r.chatgpt.has_value());
    EXPECT_NEAR(*r.chatgpt, want["chatgpt"].get<double>(), kTol);
    EXPECT_NEAR(r.match, want["match"].get<double>(), kTol);
  } else {
    EXPECT_FALSE(r.chatgpt.has_value());
    EXPECT_EQ(r.match, r.match_f1);
    ASSERT_TRUE(r.final_score_upper_bound.has_value());
    EXPECT_GE(*r.final_score_upper_bound, r.final_score);
  }
  const nlohmann::json& counts = want["counts"];
  EXPECT_EQ(r.counts.accuracy, counts["tag0_accuracy"].get<int64_t>());
  EXPECT_EQ(r.counts.judge, counts["tag1_judge"].get<int64_t>());
  EXPECT_EQ(r.counts.language, counts["tag2_language"].get<int64_t>());
  EXPECT_EQ(r.counts.match, counts["tag3_match"].get<int64_t>());
  EXPECT_EQ(r.questions_skipped, want["questions_skipped"].get<int64_t>());
}

struct Synthetic {
  std::vector<DriveLmFrame> gt;
  std::vector<DriveLmPrediction> preds;
};

Synthetic LoadSynthetic(const nlohmann::json& e) {
  Synthetic s;
  absl::StatusOr<std::vector<DriveLmFrame>> gt =
      ParseDriveLmGroundTruth(e["synthetic"]["ground_truth"].dump());
  EXPECT_TRUE(gt.ok()) << gt.status();
  s.gt = *gt;
  absl::StatusOr<std::vector<DriveLmPrediction>> preds =
      ParseDriveLmPredictions(e["synthetic"]["predictions"].dump());
  EXPECT_TRUE(preds.ok()) << preds.status();
  s.preds = *preds;
  return s;
}

// Gating by the first question (a missed object skips its questions; an empty first answer
// skips every question naming a point), integers ignored, exact-match accuracy ("B." != "B"),
// a duplicated prediction id (the last wins), multi-tag questions.
TEST(DriveLmScoreTest, SyntheticWithoutJudge) {
  const nlohmann::json e = Expected();
  const Synthetic s = LoadSynthetic(e);
  ASSERT_EQ(s.gt.size(), 3u);
  absl::StatusOr<ScoreReport> r = ScoreDriveLm(s.gt, s.preds, ScoreOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectReport(*r, e["synthetic"]["no_judge"], /*judge=*/false);
  EXPECT_EQ(r->frames, 3);
  EXPECT_EQ(r->questions, 15);
  ASSERT_GE(r->missing.size(), 2u);
  EXPECT_THAT(r->missing[0], HasSubstr("needs an LLM judge"));
}

TEST(DriveLmScoreTest, SyntheticWithJudge) {
  const nlohmann::json e = Expected();
  const Synthetic s = LoadSynthetic(e);
  LengthJudge judge;
  ScoreOptions options;
  options.judge = &judge;
  absl::StatusOr<ScoreReport> r = ScoreDriveLm(s.gt, s.preds, options);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectReport(*r, e["synthetic"]["length_judge"], /*judge=*/true);
  EXPECT_EQ(judge.calls, r->counts.judge + r->counts.match);
  EXPECT_TRUE(r->missing.empty());
}

TEST(DriveLmScoreTest, JudgeErrorIsReturned) {
  const nlohmann::json e = Expected();
  const Synthetic s = LoadSynthetic(e);
  FailingJudge judge;
  ScoreOptions options;
  options.judge = &judge;
  absl::StatusOr<ScoreReport> r = ScoreDriveLm(s.gt, s.preds, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("judge failed on scene_a_frame_1_4"));
}

TEST(DriveLmScoreTest, MissingPrediction) {
  const nlohmann::json e = Expected();
  Synthetic s = LoadSynthetic(e);
  s.preds.pop_back();  // scene_b_frame_3_3
  absl::StatusOr<ScoreReport> r = ScoreDriveLm(s.gt, s.preds, ScoreOptions{});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no prediction for question "
                                                           "scene_b_frame_3_3"));
  ScoreOptions lenient;
  lenient.missing_prediction_is_empty = true;
  r = ScoreDriveLm(s.gt, s.preds, lenient);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->predictions_missing, 1);
}

TEST(DriveLmScoreTest, GroundTruthWithoutTagsOrAnswers) {
  absl::StatusOr<std::vector<DriveLmFrame>> gt = ParseDriveLmGroundTruth(
      R"({"s": {"key_frames": {"f": {"QA": {"perception": [{"Q": "q?", "A": "a"}]}}}}})");
  ASSERT_TRUE(gt.ok()) << gt.status();
  absl::StatusOr<ScoreReport> r =
      ScoreDriveLm(*gt, {{"s_f_0", "q?", "a"}}, ScoreOptions{});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("s_f_0 has no \"tag\""));
}

TEST(DriveLmScoreTest, EmptyTagsAreReportedNotDividedByZero) {
  absl::StatusOr<std::vector<DriveLmFrame>> gt = ParseDriveLmGroundTruth(
      R"({"s": {"key_frames": {"f": {"QA": {"perception": [{"Q": "q?", "A": "D", "tag": [0]}],
          "prediction": [], "planning": [], "behavior": []}}}}})");
  ASSERT_TRUE(gt.ok()) << gt.status();
  absl::StatusOr<ScoreReport> r = ScoreDriveLm(*gt, {{"s_f_0", "q?", "D"}}, ScoreOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->accuracy, 1.0);
  EXPECT_EQ(r->counts.language, 0);
  EXPECT_NEAR(r->final_score, 0.2, 1e-15);
  bool noted = false;
  for (const std::string& m : r->missing) noted = noted || m.find("no tag-2") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(DriveLmParseTest, BadFiles) {
  EXPECT_EQ(ParseDriveLmGroundTruth("[").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ParseDriveLmGroundTruth(R"({"s": {"frames": {}}})").status().message()),
              HasSubstr("scene s: expected an object with \"key_frames\""));
  EXPECT_THAT(std::string(ParseDriveLmGroundTruth(
                              R"({"s": {"key_frames": {"f": {"QA": {"perception": [{"Q": 1}]}}}}})")
                              .status()
                              .message()),
              HasSubstr("scene s frame f perception question 0"));
  EXPECT_THAT(std::string(ParseDriveLmGroundTruth(
                              R"({"s": {"key_frames": {"f": {"QA": {"perception": [
                                 {"Q": "q", "A": "a", "tag": "x"}]}}}}})")
                              .status()
                              .message()),
              HasSubstr("\"tag\" must be a list of integers"));
  EXPECT_THAT(std::string(ParseDriveLmPredictions(R"([{"id": "x"}])").status().message()),
              HasSubstr("entry 0: expected string \"id\" and \"answer\""));
  EXPECT_EQ(ParseDriveLmPredictions("{}").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadDriveLmPredictions("/no/such/file.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DriveLmReportTest, JsonKeys) {
  ScoreReport r;
  r.accuracy = 0.5;
  r.final_score_upper_bound = 0.9;
  r.missing.push_back("chatgpt: no judge");
  const nlohmann::ordered_json j = ScoreReportToJson(r);
  for (const char* key : {"accuracy", "bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider",
                          "match", "final_score", "judge_used", "counts", "missing"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_TRUE(j["chatgpt"].is_null());
  EXPECT_EQ(j["counts"]["tag0_accuracy"], 0);
  EXPECT_THAT(ScoreReportTable(r), HasSubstr("n/a (no judge)"));
}

// The real DriveLM sample frames (../shared), when present: predictions equal to the ground
// truth (with the stand-in judge), and first sentences only (no judge).
TEST(DriveLmScoreTest, RealMiniFrames) {
  const char* shared = std::getenv("DRIVELM_SHARED_DIR");
  const std::string path = std::string(shared ? shared : "/work/shared") +
                           "/data/drivelm-nuscenes-mini/data/test_eval.json";
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << "DriveLM samples not found at " << path
                 << " (set DRIVELM_SHARED_DIR to the shared folder)";
  }
  const nlohmann::json e = Expected();
  ASSERT_TRUE(e.contains("real_mini"));
  absl::StatusOr<std::vector<DriveLmFrame>> gt = LoadDriveLmGroundTruth(path);
  ASSERT_TRUE(gt.ok()) << gt.status();
  std::vector<DriveLmPrediction> same, first;
  for (const DriveLmFrame& f : *gt) {
    for (const DriveLmQuestion& q : f.questions) {
      same.push_back({q.id, q.question, q.answer});
      // answer.split(". ")[0]
      const size_t dot = q.answer.find(". ");
      first.push_back({q.id, q.question, q.answer.substr(0, dot)});
    }
  }
  LengthJudge judge;
  ScoreOptions with_judge;
  with_judge.judge = &judge;
  absl::StatusOr<ScoreReport> r = ScoreDriveLm(*gt, same, with_judge);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectReport(*r, e["real_mini"]["gt_answers"], /*judge=*/true);
  r = ScoreDriveLm(*gt, first, ScoreOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectReport(*r, e["real_mini"]["first_sentence"], /*judge=*/false);
}

}  // namespace
}  // namespace drivelm::eval
