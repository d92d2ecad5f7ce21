// ScoreDriveLmFiles: the official DriveLM challenge scores of a prediction file against an
// evaluation file with answers and tags, by the scoring library (//eval:drivelm_metrics). The one
// place drivelm_eval calls it.
//
// The judge (tag 1, and half of the match score) is optional. eval::ScoreDriveLm asks it one
// question at a time; the challenge asks 32 at a time, so the judge scores of every (answer,
// reference) pair that may need one (the tag-1 and tag-3 questions that have a prediction) are
// fetched first, `judge_concurrency` at a time, and ScoreDriveLm reads them back. Questions the
// first-question gating then skips cost a judge call they did not need; nothing else changes.
#ifndef DRIVELM_CLIENTS_DRIVELM_SCORING_H_
#define DRIVELM_CLIENTS_DRIVELM_SCORING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/client_scene.h"
#include "eval/judge.h"
#include "nlohmann/json.hpp"

namespace drivelm::clients {

struct ScoreOptions {
  // Not owned; must be safe to call from several threads at once (OpenAiJudge is). None: the
  // judge parts are reported missing.
  eval::Judge* judge = nullptr;
  int judge_concurrency = 8;
};

struct DriveLmScores {
  // eval::ScoreReportToJson: accuracy (0-1), bleu_1 .. bleu_4, rouge_l, cider, match (0-100),
  // final_score, judge_used, counts per tag, and what is missing.
  nlohmann::json summary;
  std::string table;  // eval::ScoreReportTable, for stdout
};

// Whether the frames carry what scoring needs: every question has an answer and tags.
bool HasAnswersAndTags(const std::vector<ClientScene>& frames);

// Scores `pred_path` (the official prediction file) against `gt_path` (the evaluation file).
// Every question of the evaluation file needs a prediction, as in the challenge's
// evaluation.py; errors name the files.
absl::StatusOr<DriveLmScores> ScoreDriveLmFiles(const std::string& gt_path,
                                                const std::string& pred_path,
                                                const ScoreOptions& options);

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_DRIVELM_SCORING_H_
