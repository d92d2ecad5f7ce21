// Judge: the LLM rating that DriveLM's official evaluation uses for tag-1 questions ("ChatGPT
// score") and for half of the match score (tag 3). Pluggable: drivelm_eval supplies one that
// calls an OpenAI-compatible endpoint; scoring without a judge reports the judge-free parts and
// says which parts are missing (ScoreReport::missing).
//
// The official judge (OpenDriveLab DriveLM challenge/gpt_eval.py, GPTEvaluation.forward) sends
// one chat request per question: system kDriveLmJudgeSystemPrompt, user DriveLmJudgeUserPrompt(
// answer, gt), temperature 0.6, and the reply is read with Python's float() (a reply that is not
// a number aborts the official run). It never sees the question; Score gets it anyway for judges
// that want it.
#ifndef DRIVELM_EVAL_JUDGE_H_
#define DRIVELM_EVAL_JUDGE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace drivelm::eval {

class Judge {
 public:
  virtual ~Judge() = default;
  // Rates `answer` against the ground truth `gt`, 0-100. An error aborts scoring (as a failed
  // request aborts the official script); retries belong inside the implementation. Called from
  // one thread at a time by ScoreDriveLm.
  virtual absl::StatusOr<double> Score(std::string_view question, std::string_view answer,
                                       std::string_view gt) = 0;
};

inline constexpr char kDriveLmJudgeSystemPrompt[] =
    "an evaluator who rates my answer based on the correct answer";
inline constexpr double kDriveLmJudgeTemperature = 0.6;

// The official user message for one question.
std::string DriveLmJudgeUserPrompt(std::string_view answer, std::string_view gt);

// Python's float(reply) for the judge's reply text (surrounding whitespace allowed; "62",
// "62.5", "1e1"); INVALID_ARGUMENT naming the reply otherwise. The official code also strips
// <think>...</think> blocks first; so does this.
absl::StatusOr<double> ParseJudgeReply(std::string_view reply);

}  // namespace drivelm::eval

#endif  // DRIVELM_EVAL_JUDGE_H_
