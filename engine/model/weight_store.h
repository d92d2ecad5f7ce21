// WeightStore: the tensors of a safetensors checkpoint (one file, or shards listed by
// model.safetensors.index.json), memory-mapped, looked up by canonical name.
//
// Canonical names are the Hub layout of transformers < 4.52 ("language_model.model.layers.0...",
// "vision_tower.vision_model...", "multi_modal_projector.linear..."). Checkpoints written by
// transformers >= 4.52 ("model.language_model.layers.0...", "model.vision_tower...",
// "model.multi_modal_projector...", "lm_head.weight") are found under the same canonical names.
//
// Open() fails (naming the file, shard or tensor) on: a malformed file or index, a shard the index
// lists that is missing or lacks a tensor the index places in it, the same tensor in two shards,
// and two stored names that map to one canonical name. Tensors of a dtype the engine has no
// DType for (I64) are neither listed by Names() nor returned by Find(); Require() names them.
//
// Thread-safety: immutable after Open(); lookups may run concurrently. Views returned by Find()
// stay valid while the WeightStore lives.
#ifndef DRIVELM_ENGINE_MODEL_WEIGHT_STORE_H_
#define DRIVELM_ENGINE_MODEL_WEIGHT_STORE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/tensor.h"

namespace drivelm::engine {

// A tensor inside a mapped checkpoint file. Not owned.
struct WeightView {
  std::string name;       // canonical name
  std::string file_name;  // as stored in the checkpoint (for error messages)
  DType dtype;
  Shape shape;
  const void* data;
  size_t nbytes;
};

// The canonical name of a stored tensor name: transformers >= 4.52 names are mapped
// ("model.language_model.X" -> "language_model.model.X", "model.vision_tower.X" ->
// "vision_tower.X", "model.multi_modal_projector.X" -> "multi_modal_projector.X",
// "lm_head.X" -> "language_model.lm_head.X"); any other name is returned unchanged.
std::string CanonicalWeightName(std::string_view stored_name);

class WeightStore {
 public:
  // Opens `dir`/model.safetensors.index.json if present (sharded), else `dir`/model.safetensors.
  // `path` may also name a .safetensors file directly.
  static absl::StatusOr<std::unique_ptr<WeightStore>> Open(const std::string& path);

  virtual ~WeightStore() = default;

  // nullptr when absent.
  virtual const WeightView* Find(const std::string& canonical_name) const = 0;
  // The tensor with this canonical name and exactly this shape, or NotFound / InvalidArgument
  // naming the tensor, the expected shape and what the checkpoint holds.
  virtual absl::StatusOr<const WeightView*> Require(const std::string& canonical_name,
                                                    const Shape& expected_shape) const = 0;
  // All canonical names, sorted.
  virtual std::vector<std::string> Names() const = 0;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_WEIGHT_STORE_H_
