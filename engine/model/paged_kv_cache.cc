#include "engine/model/paged_kv_cache.h"

namespace drivelm::engine {

PagedKvCache::PagedKvCache(Backend* backend, int64_t num_layers, int64_t num_blocks,
                           int64_t block_size, int64_t kv_heads, int64_t head_dim)
    : num_blocks_(num_blocks), block_size_(block_size) {
  for (int64_t i = 0; i < num_layers; ++i) {
    k_.push_back(backend->Empty(DType::kF32, {num_blocks * block_size, kv_heads, head_dim}));
    v_.push_back(backend->Empty(DType::kF32, {num_blocks * block_size, kv_heads, head_dim}));
  }
}

}  // namespace drivelm::engine
