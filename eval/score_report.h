// ScoreReport: the official DriveLM challenge scores of one prediction file, as ScoreDriveLm
// computes them, and their JSON form (the keys issue 6 names, which drivelm_eval's
// --summary_json writes and may extend with its latency summary).
#ifndef DRIVELM_EVAL_SCORE_REPORT_H_
#define DRIVELM_EVAL_SCORE_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace drivelm::eval {

// Questions scored per tag, after the first-question gating (a question with several tags
// counts under each).
struct TagCounts {
  int64_t accuracy = 0;  // tag 0
  int64_t judge = 0;     // tag 1 ("chatgpt")
  int64_t language = 0;  // tag 2
  int64_t match = 0;     // tag 3
};

struct ScoreReport {
  double accuracy = 0;  // tag 0: exact-match rate, 0-1
  double bleu_1 = 0, bleu_2 = 0, bleu_3 = 0, bleu_4 = 0;  // tag 2, 0-1
  double rouge_l = 0;   // tag 2, 0-1
  double cider = 0;     // tag 2, 0-10
  // The language term of the final score: mean(BLEU-1..4)/3 + ROUGE_L/3 + CIDEr/30, summed in
  // the official code's order.
  double language = 0;
  double match_f1 = 0;                 // tag 3: mean of F1*100 (the judge-free half), 0-100
  std::optional<double> match_judge;   // tag 3: mean judge score, 0-100 (judge only)
  // tag 3, 0-100: (match_f1 + match_judge) / 2 with a judge (official); without one, match_f1
  // alone (listed in `missing`).
  double match = 0;
  std::optional<double> chatgpt;       // tag 1: mean judge score, 0-100 (judge only)
  // 0.4*chatgpt/100 + 0.2*language + 0.2*match/100 + 0.2*accuracy. Without a judge the judge
  // parts count as 0 (chatgpt = 0, match = match_f1/2): a lower bound of the official score;
  // final_score_upper_bound counts them as 100.
  double final_score = 0;
  std::optional<double> final_score_upper_bound;  // without a judge only
  bool judge_used = false;
  TagCounts counts;
  int64_t frames = 0;
  int64_t questions = 0;               // all ground-truth questions
  int64_t questions_skipped = 0;       // skipped by the first-question gating
  int64_t predictions_missing = 0;     // scored as "" (ScoreOptions::missing_prediction_is_empty)
  // Plain-language notes on what the scores leave out or where this run departs from what the
  // official script would do (no judge, a tag with no questions, odd coordinate counts).
  std::vector<std::string> missing;
};

// {"accuracy", "bleu_1".."bleu_4", "rouge_l", "cider", "language", "match", "match_f1",
//  "match_judge", "chatgpt", "final_score", "final_score_upper_bound", "judge_used",
//  "counts": {"tag0_accuracy", "tag1_judge", "tag2_language", "tag3_match"}, "frames",
//  "questions", "questions_skipped", "predictions_missing", "missing"}; judge-only values are null
// without a judge.
nlohmann::ordered_json ScoreReportToJson(const ScoreReport& report);

// A fixed-width per-tag table for the terminal.
std::string ScoreReportTable(const ScoreReport& report);

}  // namespace drivelm::eval

#endif  // DRIVELM_EVAL_SCORE_REPORT_H_
