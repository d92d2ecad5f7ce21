// PredictionFile: the DriveLM challenge's prediction file, a JSON list of
// {"id", "question", "answer"}, kept in memory and rewritten atomically (a temporary file in the
// same directory, flushed, then renamed over the old one), so that an interrupted run leaves
// either the old or the new complete file, never a torn one; drivelm_eval resumes from it.
//
// Not thread-safe: the caller serializes Add and Write.
#ifndef DRIVELM_CLIENTS_PREDICTION_FILE_H_
#define DRIVELM_CLIENTS_PREDICTION_FILE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace drivelm::clients {

struct Prediction {
  std::string id;  // scene_token + "_" + frame_token + "_" + i
  std::string question;
  std::string answer;
};

class PredictionFile {
 public:
  // The predictions in `path` when it exists; an empty set when it does not. InvalidArgument
  // naming the file and entry for a file that is not such a list (it is never overwritten
  // then: the caller stops), or for an id given twice.
  static absl::StatusOr<PredictionFile> Open(const std::string& path);

  // Parses the file's text (`source` names it in messages).
  static absl::StatusOr<std::vector<Prediction>> Parse(std::string_view json_text,
                                                       std::string_view source);

  const std::string& path() const { return path_; }
  bool Has(const std::string& id) const { return index_.count(id) > 0; }
  size_t size() const { return predictions_.size(); }
  // In the order they were loaded, then added.
  const std::vector<Prediction>& predictions() const { return predictions_; }

  // Adds a prediction; one with the same id is replaced in place.
  void Add(Prediction prediction);

  // Writes every prediction to path() atomically. Internal/PermissionDenied naming the file
  // when it cannot be written.
  absl::Status Write() const;

 private:
  std::string path_;
  std::vector<Prediction> predictions_;
  std::unordered_map<std::string, size_t> index_;  // id -> position in predictions_
};

}  // namespace drivelm::clients

#endif  // DRIVELM_CLIENTS_PREDICTION_FILE_H_
