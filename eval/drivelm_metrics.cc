#include "eval/drivelm_metrics.h"

#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "eval/coco_caption_metrics.h"
#include "nlohmann/json.hpp"

namespace drivelm::eval {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kStages[] = {"perception", "prediction", "planning", "behavior"};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return ss.str();
}

absl::StatusOr<Json> ParseJson(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": not valid JSON: ", e.what()));
  }
}

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// Decimal pairs as the official code reshapes them (-1, 2); `odd` tells whether a number was
// left over (dropped here; the official code drops it for predictions and raises otherwise).
std::vector<std::array<double, 2>> Pairs(const std::vector<double>& nums, bool* odd) {
  std::vector<std::array<double, 2>> out;
  for (size_t i = 0; i + 1 < nums.size(); i += 2) out.push_back({nums[i], nums[i + 1]});
  if (odd != nullptr) *odd = nums.size() % 2 != 0;
  return out;
}

// Python's sum(xs) / len(xs): a left-to-right sum.
double PythonMean(const std::vector<double>& xs) {
  double s = 0;
  for (double x : xs) s += x;
  return xs.empty() ? 0.0 : s / static_cast<double>(xs.size());
}

}  // namespace

std::vector<double> ExtractDecimalNumbers(std::string_view text) {
  std::vector<double> out;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsAsciiDigit(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && IsAsciiDigit(text[j])) ++j;
    if (j + 1 < text.size() && text[j] == '.' && IsAsciiDigit(text[j + 1])) {
      size_t k = j + 1;
      while (k < text.size() && IsAsciiDigit(text[k])) ++k;
      double v = 0;
      std::from_chars(text.data() + i, text.data() + k, v);
      out.push_back(v);
      i = k;
    } else {
      i = j;  // no match can start inside this run of digits
    }
  }
  return out;
}

MatchResult DriveLmMatchResult(std::string_view answer, std::string_view gt) {
  MatchResult result;
  const std::vector<std::array<double, 2>> answer_nums =
      Pairs(ExtractDecimalNumbers(answer), nullptr);  // odd: answer_nums[:-1]
  std::vector<std::array<double, 2>> gt_nums = Pairs(ExtractDecimalNumbers(gt), &result.gt_odd);
  const size_t length = gt_nums.size();
  int64_t true_positives = 0;
  int64_t false_positives = 0;
  for (const auto& pred : answer_nums) {
    double closest_distance = std::numeric_limits<double>::infinity();
    size_t closest_id = 0;
    for (size_t i = 0; i < gt_nums.size(); ++i) {
      // np.sum(np.abs(pred - gt)) over two elements: (0 + |dx|) + |dy|.
      const double distance = std::abs(pred[0] - gt_nums[i][0]) + std::abs(pred[1] - gt_nums[i][1]);
      if (distance < closest_distance) {
        closest_distance = distance;
        closest_id = i;
      }
    }
    if (closest_distance < 16) {
      ++true_positives;
      result.matched_gt.push_back(gt_nums[closest_id]);
      gt_nums.erase(gt_nums.begin() + static_cast<std::ptrdiff_t>(closest_id));
    } else {
      ++false_positives;
    }
  }
  const int64_t false_negatives = static_cast<int64_t>(length) - true_positives;
  const double tp = static_cast<double>(true_positives);
  const double precision = tp / (static_cast<double>(true_positives + false_positives) + 1e-8);
  const double recall = tp / (static_cast<double>(true_positives + false_negatives) + 1e-8);
  result.f1 = 2 * precision * recall / (precision + recall + 1e-8);
  return result;
}

bool QuestionInGraph(std::string_view question,
                     const std::vector<std::array<double, 2>>& graph) {
  for (const auto& q : Pairs(ExtractDecimalNumbers(question), nullptr)) {
    bool found = false;
    for (const auto& g : graph) {
      if (g[0] == q[0] && g[1] == q[1]) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

absl::StatusOr<std::vector<DriveLmFrame>> ParseDriveLmGroundTruth(std::string_view json_text) {
  absl::StatusOr<Json> parsed = ParseJson(json_text, "DriveLM ground truth");
  if (!parsed.ok()) return parsed.status();
  const Json& root = *parsed;
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        "DriveLM ground truth: expected an object {scene_token: {\"key_frames\": ...}}");
  }
  std::vector<DriveLmFrame> frames;
  for (const auto& [scene, scene_data] : root.items()) {
    if (!scene_data.is_object() || !scene_data.contains("key_frames") ||
        !scene_data["key_frames"].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DriveLM ground truth: scene ", scene, ": expected an object with \"key_frames\""));
    }
    for (const auto& [frame, frame_data] : scene_data["key_frames"].items()) {
      const std::string where =
          absl::StrCat("DriveLM ground truth: scene ", scene, " frame ", frame);
      if (!frame_data.is_object() || !frame_data.contains("QA") || !frame_data["QA"].is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": expected an object with \"QA\""));
      }
      DriveLmFrame f;
      f.scene_token = scene;
      f.frame_token = frame;
      const Json& qa = frame_data["QA"];
      for (const char* stage : kStages) {
        if (!qa.contains(stage)) continue;
        if (!qa[stage].is_array()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": QA.", stage, " is not a list"));
        }
        for (const Json& item : qa[stage]) {
          const std::string item_where =
              absl::StrCat(where, " ", stage, " question ", f.questions.size());
          if (!item.is_object() || !item.contains("Q") || !item["Q"].is_string()) {
            return absl::InvalidArgumentError(
                absl::StrCat(item_where, ": expected an object with a string \"Q\""));
          }
          DriveLmQuestion q;
          q.id = absl::StrCat(scene, "_", frame, "_", f.questions.size());
          q.stage = stage;
          q.question = item["Q"].get<std::string>();
          if (item.contains("A")) {
            if (!item["A"].is_string()) {
              return absl::InvalidArgumentError(
                  absl::StrCat(item_where, ": \"A\" is not a string"));
            }
            q.answer = item["A"].get<std::string>();
            q.has_answer = true;
          }
          if (item.contains("tag")) {
            const Json& tag = item["tag"];
            if (tag.is_number_integer()) {
              q.tags.push_back(tag.get<int>());
            } else if (tag.is_array()) {
              for (const Json& t : tag) {
                if (!t.is_number_integer()) {
                  return absl::InvalidArgumentError(
                      absl::StrCat(item_where, ": \"tag\" holds a non-integer: ", t.dump()));
                }
                q.tags.push_back(t.get<int>());
              }
            } else {
              return absl::InvalidArgumentError(absl::StrCat(
                  item_where, ": \"tag\" must be a list of integers, got ", tag.dump()));
            }
            q.has_tag = true;
          }
          f.questions.push_back(std::move(q));
        }
      }
      frames.push_back(std::move(f));
    }
  }
  return frames;
}

absl::StatusOr<std::vector<DriveLmFrame>> LoadDriveLmGroundTruth(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<DriveLmFrame>> frames = ParseDriveLmGroundTruth(*text);
  if (!frames.ok()) {
    return absl::Status(frames.status().code(),
                        absl::StrCat(path, ": ", frames.status().message()));
  }
  return frames;
}

absl::StatusOr<std::vector<DriveLmPrediction>> ParseDriveLmPredictions(
    std::string_view json_text) {
  absl::StatusOr<Json> parsed = ParseJson(json_text, "DriveLM predictions");
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_array()) {
    return absl::InvalidArgumentError(
        "DriveLM predictions: expected a list of {\"id\", \"question\", \"answer\"}");
  }
  std::vector<DriveLmPrediction> out;
  for (size_t i = 0; i < parsed->size(); ++i) {
    const Json& item = (*parsed)[i];
    if (!item.is_object() || !item.contains("id") || !item["id"].is_string() ||
        !item.contains("answer") || !item["answer"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DriveLM predictions: entry ", i, ": expected string \"id\" and \"answer\", got ",
          item.dump().substr(0, 200)));
    }
    DriveLmPrediction p;
    p.id = item["id"].get<std::string>();
    p.answer = item["answer"].get<std::string>();
    if (item.contains("question") && item["question"].is_string()) {
      p.question = item["question"].get<std::string>();
    }
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<std::vector<DriveLmPrediction>> LoadDriveLmPredictions(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<DriveLmPrediction>> preds = ParseDriveLmPredictions(*text);
  if (!preds.ok()) {
    return absl::Status(preds.status().code(), absl::StrCat(path, ": ", preds.status().message()));
  }
  return preds;
}

absl::StatusOr<ScoreReport> ScoreDriveLm(const std::vector<DriveLmFrame>& ground_truth,
                                         const std::vector<DriveLmPrediction>& predictions,
                                         const ScoreOptions& options) {
  // pred_file = {p["id"]: p for p in pred_file}: the last entry of an id wins.
  std::unordered_map<std::string, const DriveLmPrediction*> by_id;
  for (const DriveLmPrediction& p : predictions) by_id[p.id] = &p;

  ScoreReport report;
  report.judge_used = options.judge != nullptr;
  // The lists of evaluation_suit.forward, in order.
  std::vector<std::pair<std::string, std::string>> acc;       // (answer, GT)
  std::vector<const DriveLmQuestion*> gpt_questions;          // tag 1
  std::vector<std::string> gpt_answers;
  std::vector<std::string> lang_answers, lang_gts;            // tag 2
  std::vector<const DriveLmQuestion*> match_questions;        // tag 3
  std::vector<std::string> match_answers;
  bool odd_gt = false;
  bool odd_question = false;

  for (const DriveLmFrame& frame : ground_truth) {
    ++report.frames;
    std::vector<std::array<double, 2>> graph;
    bool first = true;
    for (const DriveLmQuestion& q : frame.questions) {
      ++report.questions;
      if (!q.has_answer || !q.has_tag) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ground truth question ", q.id, " has no ", q.has_answer ? "\"tag\"" : "\"A\"",
            "; scoring needs an evaluation file with answers and tags"));
      }
      std::string predict;
      auto it = by_id.find(q.id);
      if (it != by_id.end()) {
        predict = it->second->answer;
      } else if (options.missing_prediction_is_empty) {
        ++report.predictions_missing;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "no prediction for question ", q.id, " (", q.question.substr(0, 80),
            "); the prediction file must answer every question of the ground truth"));
      }
      if (first) {
        first = false;
        const MatchResult m = DriveLmMatchResult(predict, q.answer);  // set_graph
        graph = m.matched_gt;
        odd_gt = odd_gt || m.gt_odd;
      } else {
        if (ExtractDecimalNumbers(q.question).size() % 2 != 0) odd_question = true;
        if (!QuestionInGraph(q.question, graph)) {
          ++report.questions_skipped;
          continue;
        }
      }
      auto has = [&q](int t) {
        for (int x : q.tags) {
          if (x == t) return true;
        }
        return false;
      };
      if (has(0)) {
        acc.emplace_back(predict, q.answer);
        ++report.counts.accuracy;
      }
      if (has(1)) {
        gpt_questions.push_back(&q);
        gpt_answers.push_back(predict);
        ++report.counts.judge;
      }
      if (has(2)) {
        lang_answers.push_back(predict);
        lang_gts.push_back(q.answer);
        ++report.counts.language;
      }
      if (has(3)) {
        match_questions.push_back(&q);
        match_answers.push_back(predict);
        ++report.counts.match;
        if (DriveLmMatchResult(predict, q.answer).gt_odd) odd_gt = true;
      }
    }
  }

  // eval_acc
  if (!acc.empty()) {
    std::vector<double> scores;
    for (const auto& [a, g] : acc) scores.push_back(a == g ? 1.0 : 0.0);
    report.accuracy = PythonMean(scores);
  } else {
    report.missing.push_back("accuracy: no tag-0 questions (scored 0)");
  }

  // eval_chatGPT(self.GPT)
  if (options.judge != nullptr) {
    std::vector<double> scores;
    for (size_t i = 0; i < gpt_questions.size(); ++i) {
      const DriveLmQuestion& q = *gpt_questions[i];
      absl::StatusOr<double> s = options.judge->Score(q.question, gpt_answers[i], q.answer);
      if (!s.ok()) {
        return absl::Status(s.status().code(),
                            absl::StrCat("judge failed on ", q.id, ": ", s.status().message()));
      }
      scores.push_back(*s);
    }
    report.chatgpt = PythonMean(scores);
    if (scores.empty()) report.missing.push_back("chatgpt: no tag-1 questions (scored 0)");
  } else {
    report.missing.push_back(absl::StrCat(
        "chatgpt (tag 1, weight 0.4, ", report.counts.judge,
        " questions): needs an LLM judge; counted as 0 in final_score"));
  }

  // eval_language
  if (!lang_answers.empty()) {
    // language_evaluation's CocoEvaluator: _answer.replace('_UNK', '_UNKNOWN') on the GT.
    for (std::string& g : lang_gts) g = absl::StrReplaceAll(g, {{"_UNK", "_UNKNOWN"}});
    absl::StatusOr<CaptionScores> cs = ComputeCocoCaptionMetrics(lang_answers, lang_gts);
    if (!cs.ok()) return cs.status();
    report.bleu_1 = cs->bleu[0];
    report.bleu_2 = cs->bleu[1];
    report.bleu_3 = cs->bleu[2];
    report.bleu_4 = cs->bleu[3];
    report.rouge_l = cs->rouge_l;
    report.cider = cs->cider;
  } else {
    report.missing.push_back("language: no tag-2 questions (scored 0)");
  }

  // eval_match: (mean F1*100 + judge) / 2
  if (!match_answers.empty()) {
    std::vector<double> outs1;
    for (size_t i = 0; i < match_answers.size(); ++i) {
      outs1.push_back(DriveLmMatchResult(match_answers[i], match_questions[i]->answer).f1 * 100);
    }
    report.match_f1 = PythonMean(outs1);
  } else {
    report.missing.push_back("match: no tag-3 questions (scored 0)");
  }
  if (options.judge != nullptr) {
    std::vector<double> scores;
    for (size_t i = 0; i < match_questions.size(); ++i) {
      const DriveLmQuestion& q = *match_questions[i];
      absl::StatusOr<double> s = options.judge->Score(q.question, match_answers[i], q.answer);
      if (!s.ok()) {
        return absl::Status(s.status().code(),
                            absl::StrCat("judge failed on ", q.id, ": ", s.status().message()));
      }
      scores.push_back(*s);
    }
    report.match_judge = PythonMean(scores);
    report.match = (report.match_f1 + *report.match_judge) / 2.0;
  } else {
    report.match = report.match_f1;
    report.missing.push_back(absl::StrCat(
        "match: judge half (tag 3, ", report.counts.match,
        " questions) needs an LLM judge; `match` is the F1 half alone, final_score counts "
        "match_f1/2"));
  }
  if (odd_gt) {
    report.missing.push_back(
        "a ground-truth answer has an odd count of decimal numbers: its last number was dropped "
        "(the official script raises an error)");
  }
  if (odd_question) {
    report.missing.push_back(
        "a question has an odd count of decimal numbers: its last number was dropped for the "
        "gating (the official script raises an error)");
  }
  if (report.predictions_missing > 0) {
    report.missing.push_back(absl::StrCat(report.predictions_missing,
                                          " questions had no prediction and were scored as \"\" "
                                          "(the official script raises KeyError)"));
  }

  // Final score, in the official order of operations.
  double language = 0;
  language += report.bleu_1 / 4. / 3.;
  language += report.bleu_2 / 4. / 3.;
  language += report.bleu_3 / 4. / 3.;
  language += report.bleu_4 / 4. / 3.;
  language += report.rouge_l / 3.;
  language += report.cider / 10. / 3.;
  report.language = language;
  auto final_score = [&](double chatgpt, double match) {
    const double scores[4] = {chatgpt / 100., language, match / 100., report.accuracy};
    const double weights[4] = {0.4, 0.2, 0.2, 0.2};
    double sum = 0;
    for (int i = 0; i < 4; ++i) sum += scores[i] * weights[i];
    return sum;
  };
  if (options.judge != nullptr) {
    report.final_score = final_score(*report.chatgpt, report.match);
  } else {
    report.final_score = final_score(0.0, (report.match_f1 + 0.0) / 2.0);
    report.final_score_upper_bound = final_score(100.0, (report.match_f1 + 100.0) / 2.0);
  }
  return report;
}

}  // namespace drivelm::eval
