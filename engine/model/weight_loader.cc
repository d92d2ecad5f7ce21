#include "engine/model/weight_loader.h"

namespace drivelm::engine {

Tensor WeightLoader::Load(const std::string& name, const Shape& shape) {
  if (!status_.ok()) return Tensor();
  absl::StatusOr<const WeightView*> view = store_->Require(name, shape);
  if (!view.ok()) {
    status_ = view.status();
    return Tensor();
  }
  bytes_loaded_ += (*view)->nbytes;
  return backend_->Upload((*view)->dtype, (*view)->shape, (*view)->data);
}

Tensor WeightLoader::LoadOptional(const std::string& name, const Shape& shape) {
  if (!status_.ok() || store_->Find(name) == nullptr) return Tensor();
  return Load(name, shape);
}

}  // namespace drivelm::engine
