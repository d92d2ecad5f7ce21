#include "clients/drivelm_scoring.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "eval/drivelm_metrics.h"
#include "eval/score_report.h"

namespace drivelm::clients {
namespace {

using AnswerPair = std::pair<std::string, std::string>;  // (answer, reference)

// Serves judge scores fetched beforehand; asks `live` for any pair it does not have.
class PrefetchedJudge final : public eval::Judge {
 public:
  PrefetchedJudge(eval::Judge* live, std::map<AnswerPair, double> scores)
      : live_(live), scores_(std::move(scores)) {}

  absl::StatusOr<double> Score(std::string_view question, std::string_view answer,
                               std::string_view gt) override {
    auto it = scores_.find({std::string(answer), std::string(gt)});
    if (it != scores_.end()) return it->second;
    return live_->Score(question, answer, gt);
  }

 private:
  eval::Judge* const live_;
  const std::map<AnswerPair, double> scores_;
};

// Judge scores of every (answer, reference) pair of a tag-1 or tag-3 question with a
// prediction, `concurrency` calls at a time. The first error is returned.
absl::StatusOr<std::map<AnswerPair, double>> FetchJudgeScores(
    const std::vector<eval::DriveLmFrame>& frames,
    const std::vector<eval::DriveLmPrediction>& predictions, eval::Judge* judge, int concurrency) {
  std::unordered_map<std::string, const eval::DriveLmPrediction*> by_id;
  for (const eval::DriveLmPrediction& p : predictions) by_id[p.id] = &p;  // later ones win
  std::map<AnswerPair, std::pair<std::string, double>> work;  // pair -> (question, score)
  for (const eval::DriveLmFrame& frame : frames) {
    for (const eval::DriveLmQuestion& q : frame.questions) {
      const bool judged = std::find(q.tags.begin(), q.tags.end(), 1) != q.tags.end() ||
                          std::find(q.tags.begin(), q.tags.end(), 3) != q.tags.end();
      auto it = by_id.find(q.id);
      if (!judged || it == by_id.end()) continue;
      work.emplace(AnswerPair{it->second->answer, q.answer}, std::make_pair(q.question, 0.0));
    }
  }
  std::vector<std::pair<const AnswerPair, std::pair<std::string, double>>*> items;
  for (auto& item : work) items.push_back(&item);
  std::atomic<size_t> next{0};
  std::mutex mu;
  absl::Status error;  // guarded by mu
  std::vector<std::thread> threads;
  const int n = std::max(1, std::min<int>(concurrency, static_cast<int>(items.size())));
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < items.size(); i = next.fetch_add(1)) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!error.ok()) return;
        }
        auto& [pair, value] = *items[i];
        absl::StatusOr<double> score = judge->Score(value.first, pair.first, pair.second);
        std::lock_guard<std::mutex> lock(mu);
        if (!score.ok()) {
          if (error.ok()) error = score.status();
          return;
        }
        value.second = *score;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (!error.ok()) return error;
  std::map<AnswerPair, double> scores;
  for (const auto& [pair, value] : work) scores.emplace(pair, value.second);
  return scores;
}

}  // namespace

bool HasAnswersAndTags(const std::vector<ClientScene>& frames) {
  bool any = false;
  for (const ClientScene& frame : frames) {
    for (const ClientQuestion& q : frame.questions) {
      if (!q.has_answer || q.tags.empty()) return false;
      any = true;
    }
  }
  return any;
}

absl::StatusOr<DriveLmScores> ScoreDriveLmFiles(const std::string& gt_path,
                                                const std::string& pred_path,
                                                const ScoreOptions& options) {
  absl::StatusOr<std::vector<eval::DriveLmFrame>> frames = eval::LoadDriveLmGroundTruth(gt_path);
  if (!frames.ok()) return frames.status();
  absl::StatusOr<std::vector<eval::DriveLmPrediction>> predictions =
      eval::LoadDriveLmPredictions(pred_path);
  if (!predictions.ok()) return predictions.status();
  std::unique_ptr<PrefetchedJudge> judge;
  if (options.judge != nullptr) {
    absl::StatusOr<std::map<AnswerPair, double>> scores =
        FetchJudgeScores(*frames, *predictions, options.judge, options.judge_concurrency);
    if (!scores.ok()) {
      return absl::Status(scores.status().code(),
                          absl::StrCat("judge: ", scores.status().message()));
    }
    judge = std::make_unique<PrefetchedJudge>(options.judge, *std::move(scores));
  }
  eval::ScoreOptions score_options;
  score_options.judge = judge.get();
  absl::StatusOr<eval::ScoreReport> report =
      eval::ScoreDriveLm(*frames, *predictions, score_options);
  if (!report.ok()) {
    return absl::Status(report.status().code(), absl::StrCat(pred_path, " against ", gt_path, ": ",
                                                             report.status().message()));
  }
  DriveLmScores out;
  out.summary = nlohmann::json::parse(eval::ScoreReportToJson(*report).dump());
  out.table = eval::ScoreReportTable(*report);
  return out;
}

}  // namespace drivelm::clients
