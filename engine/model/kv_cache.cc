#include "engine/model/kv_cache.h"

namespace drivelm::engine {

SequenceKvCache::SequenceKvCache(Backend* backend, int64_t num_layers, int64_t capacity,
                                 int64_t kv_heads, int64_t head_dim)
    : capacity_(capacity) {
  k_.reserve(num_layers);
  v_.reserve(num_layers);
  for (int64_t i = 0; i < num_layers; ++i) {
    k_.push_back(backend->Empty(DType::kF32, {capacity, kv_heads, head_dim}));
    v_.push_back(backend->Empty(DType::kF32, {capacity, kv_heads, head_dim}));
  }
}

}  // namespace drivelm::engine
