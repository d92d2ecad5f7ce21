// WeightLoader: moves checkpoint tensors from a WeightStore onto a Backend, checking each name
// and shape as it goes. The first problem is kept and reported by status(), so a model's Load()
// can request all of its tensors and then check once.
#ifndef DRIVELM_ENGINE_MODEL_WEIGHT_LOADER_H_
#define DRIVELM_ENGINE_MODEL_WEIGHT_LOADER_H_

#include <string>

#include "absl/status/status.h"
#include "engine/backend/backend.h"
#include "engine/model/weight_store.h"

namespace drivelm::engine {

class WeightLoader {
 public:
  // Neither is owned; both outlive the loader.
  WeightLoader(const WeightStore* store, Backend* backend) : store_(store), backend_(backend) {}

  // The tensor `name` with `shape`, uploaded. After the first error returns empty tensors.
  Tensor Load(const std::string& name, const Shape& shape);
  // Like Load, but an absent tensor is not an error (returns an empty tensor).
  Tensor LoadOptional(const std::string& name, const Shape& shape);

  const absl::Status& status() const { return status_; }
  size_t bytes_loaded() const { return bytes_loaded_; }

 private:
  const WeightStore* store_;
  Backend* backend_;
  absl::Status status_;
  size_t bytes_loaded_ = 0;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_WEIGHT_LOADER_H_
