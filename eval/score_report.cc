#include "eval/score_report.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace drivelm::eval {
namespace {

nlohmann::ordered_json OrNull(const std::optional<double>& v) {
  return v.has_value() ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

std::string Fmt(const std::optional<double>& v, const char* format) {
  return v.has_value() ? absl::StrFormat(format, *v) : std::string("n/a (no judge)");
}

}  // namespace

nlohmann::ordered_json ScoreReportToJson(const ScoreReport& r) {
  nlohmann::ordered_json j;
  j["accuracy"] = r.accuracy;
  j["bleu_1"] = r.bleu_1;
  j["bleu_2"] = r.bleu_2;
  j["bleu_3"] = r.bleu_3;
  j["bleu_4"] = r.bleu_4;
  j["rouge_l"] = r.rouge_l;
  j["cider"] = r.cider;
  j["language"] = r.language;
  j["match"] = r.match;
  j["match_f1"] = r.match_f1;
  j["match_judge"] = OrNull(r.match_judge);
  j["chatgpt"] = OrNull(r.chatgpt);
  j["final_score"] = r.final_score;
  j["final_score_upper_bound"] = OrNull(r.final_score_upper_bound);
  j["judge_used"] = r.judge_used;
  j["counts"] = {{"tag0_accuracy", r.counts.accuracy},
                 {"tag1_judge", r.counts.judge},
                 {"tag2_language", r.counts.language},
                 {"tag3_match", r.counts.match}};
  j["frames"] = r.frames;
  j["questions"] = r.questions;
  j["questions_skipped"] = r.questions_skipped;
  j["predictions_missing"] = r.predictions_missing;
  j["missing"] = r.missing;
  return j;
}

std::string ScoreReportTable(const ScoreReport& r) {
  std::string out;
  absl::StrAppend(&out, "tag  metric                     questions  score\n");
  absl::StrAppend(&out, absl::StrFormat("0    accuracy (0-1)             %9d  %.4f\n",
                                        r.counts.accuracy, r.accuracy));
  absl::StrAppend(&out, absl::StrFormat("1    chatgpt judge (0-100)      %9d  %s\n", r.counts.judge,
                                        Fmt(r.chatgpt, "%.2f")));
  absl::StrAppend(&out,
                  absl::StrFormat("2    BLEU-1/2/3/4               %9d  %.4f %.4f %.4f %.4f\n",
                                  r.counts.language, r.bleu_1, r.bleu_2, r.bleu_3, r.bleu_4));
  absl::StrAppend(&out, absl::StrFormat("2    ROUGE_L / CIDEr                       %.4f / %.4f\n",
                                        r.rouge_l, r.cider));
  absl::StrAppend(&out, absl::StrFormat("3    match F1 (0-100)           %9d  %.2f\n",
                                        r.counts.match,
                                        r.match_f1));
  absl::StrAppend(&out, absl::StrFormat("3    match judge (0-100)                   %s\n",
                                        Fmt(r.match_judge, "%.2f")));
  absl::StrAppend(&out, absl::StrFormat("     final score%s                        %.4f\n",
                                        r.judge_used ? "" : " (>=)", r.final_score));
  if (r.final_score_upper_bound.has_value()) {
    absl::StrAppend(&out, absl::StrFormat("     final score if the judge gave 100     %.4f\n",
                                          *r.final_score_upper_bound));
  }
  for (const std::string& m : r.missing) absl::StrAppend(&out, "note: ", m, "\n");
  return out;
}

}  // namespace drivelm::eval
