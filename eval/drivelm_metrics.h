// DriveLM's official challenge scoring (OpenDriveLab DriveLM challenge/evaluation.py), in C++:
// reading the ground truth and prediction files, the first-question gating, accuracy (tag 0),
// the judge score (tag 1, optional Judge), the language scores (tag 2, eval/coco_caption_metrics)
// and the match score (tag 3), and the final weighted score. tools/eval/drivelm_official.py is a
// line-by-line Python transcription used to produce the expected values of the tests.
//
// The official logic, quirks included (all reproduced):
//   - Questions of a key frame are numbered perception + prediction + planning + behavior; the
//     prediction id is scene_token + "_" + frame_token + "_" + i. Later duplicates of an id in the
//     prediction file replace earlier ones (the script builds a dict).
//   - Gating: the frame's FIRST question is always scored, and the points of its GROUND-TRUTH
//     answer that the PREDICTED answer matched (MatchResult below) become the frame's "graph".
//     Every later question whose text contains a decimal pair (x, y) not in the graph (exact float
//     equality) is skipped for all its tags; questions without decimal numbers are always scored.
//   - Accuracy: exact string equality of the answer with the ground truth ("B" != "B.").
//   - Match: numbers are the regex \d+\.\d+ (integers are ignored), taken in pairs; an odd count
//     of predicted numbers drops the last one. Greedy in prediction order: each predicted point
//     takes the closest remaining ground-truth point (L1 distance; the first on ties) when the
//     distance is < 16, which removes that point; otherwise it is a false positive.
//     P = TP/(TP+FP+1e-8), R = TP/(TP+FN+1e-8) with FN = #GT - TP, F1 = 2PR/(P+R+1e-8); the
//     question scores F1*100. match = (mean F1*100 + mean judge score on the tag-3 questions) / 2.
//   - Language: BLEU/ROUGE_L/CIDEr over all tag-2 (answer, ground truth) pairs as one corpus,
//     after the language_evaluation package's quirk of replacing "_UNK" by "_UNKNOWN" in the
//     ground truth.
//   - final = 0.4*chatgpt/100 + 0.2*language + 0.2*match/100 + 0.2*accuracy, with language =
//     sum(BLEU_k/4/3) + ROUGE_L/3 + CIDEr/10/3, each term and sum in the script's order.
// Where the official script would crash we go on and say so in ScoreReport::missing: a tag with
// no questions (its metric is 0), an odd count of decimal numbers in a ground-truth answer or a
// question (the last number is dropped, as for predictions). A missing stage list counts as
// empty (the official script raises KeyError).
// Only ASCII digits count for \d (Python's \d also takes other Unicode digits).
//
// Thread-safety: the functions are stateless; a Judge is called from the calling thread.
#ifndef DRIVELM_EVAL_DRIVELM_METRICS_H_
#define DRIVELM_EVAL_DRIVELM_METRICS_H_

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/judge.h"
#include "eval/score_report.h"

namespace drivelm::eval {

struct DriveLmQuestion {
  std::string id;        // scene_token + "_" + frame_token + "_" + i
  std::string stage;     // "perception", "prediction", "planning" or "behavior"
  std::string question;  // Q
  std::string answer;    // A ("" in a test layout without answers)
  std::vector<int> tags; // tag (empty in a layout without tags)
  bool has_answer = false;
  bool has_tag = false;
};

struct DriveLmFrame {
  std::string scene_token;
  std::string frame_token;
  std::vector<DriveLmQuestion> questions;  // perception + prediction + planning + behavior
};

struct DriveLmPrediction {
  std::string id;
  std::string question;
  std::string answer;
};

// Parses a DriveLM-nuScenes file ({scene: {"key_frames": {frame: {"QA": {...}}}}}), keeping the
// file's key order (the official script iterates it). INVALID_ARGUMENT naming the scene, frame
// and field on a malformed file.
absl::StatusOr<std::vector<DriveLmFrame>> ParseDriveLmGroundTruth(std::string_view json_text);
absl::StatusOr<std::vector<DriveLmFrame>> LoadDriveLmGroundTruth(const std::string& path);

// Parses an official prediction file: a JSON list of {"id", "question", "answer"} ("question"
// may be absent).
absl::StatusOr<std::vector<DriveLmPrediction>> ParseDriveLmPredictions(std::string_view json_text);
absl::StatusOr<std::vector<DriveLmPrediction>> LoadDriveLmPredictions(const std::string& path);

// re.findall(r'\d+\.\d+', text), converted with float().
std::vector<double> ExtractDecimalNumbers(std::string_view text);

// evaluation_suit.match_result(answer, GT).
struct MatchResult {
  std::vector<std::array<double, 2>> matched_gt;  // the ground-truth points matched, in order
  double f1 = 0;                                  // 0-1
  bool gt_odd = false;  // the ground truth had an odd count of numbers (official: crash)
};
MatchResult DriveLmMatchResult(std::string_view answer, std::string_view gt);

// evaluation_suit.eval_graph(question): every decimal pair of the question is in `graph`.
bool QuestionInGraph(std::string_view question,
                     const std::vector<std::array<double, 2>>& graph);

struct ScoreOptions {
  Judge* judge = nullptr;  // not owned; null: judge-free scores, flagged in the report
  // A ground-truth question without a prediction is an error (the official script raises
  // KeyError); with this set it is scored as the empty answer and counted.
  bool missing_prediction_is_empty = false;
};

// Scores predictions against the ground truth as challenge/evaluation.py does. INVALID_ARGUMENT
// when the ground truth lacks answers or tags, or a prediction is missing (see ScoreOptions);
// a judge error is returned as is.
absl::StatusOr<ScoreReport> ScoreDriveLm(const std::vector<DriveLmFrame>& ground_truth,
                                         const std::vector<DriveLmPrediction>& predictions,
                                         const ScoreOptions& options);

}  // namespace drivelm::eval

#endif  // DRIVELM_EVAL_DRIVELM_METRICS_H_
