// PagedKvCache: the key and value pools of the paged KV cache, one pair per layer, each
// [num_blocks * block_size, kv_heads, head_dim]. Block ids and tables come from the scheduler's
// KvCacheManager (engine/cache/); this class only holds the memory.
#ifndef DRIVELM_ENGINE_MODEL_PAGED_KV_CACHE_H_
#define DRIVELM_ENGINE_MODEL_PAGED_KV_CACHE_H_

#include <cstdint>
#include <vector>

#include "engine/backend/backend.h"

namespace drivelm::engine {

class PagedKvCache {
 public:
  // Allocates the pools on `backend` (F32 on the CPU backend).
  PagedKvCache(Backend* backend, int64_t num_layers, int64_t num_blocks, int64_t block_size,
               int64_t kv_heads, int64_t head_dim);

  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  Tensor& k(int64_t layer) { return k_[layer]; }  // [num_blocks * block_size, kv_heads, head_dim]
  Tensor& v(int64_t layer) { return v_[layer]; }
  // Bytes of one block over all layers, keys and values (for budgets).
  static int64_t BlockBytes(int64_t num_layers, int64_t block_size, int64_t kv_heads,
                            int64_t head_dim, int64_t dtype_bytes) {
    return 2 * num_layers * block_size * kv_heads * head_dim * dtype_bytes;
  }

 private:
  int64_t num_blocks_;
  int64_t block_size_;
  std::vector<Tensor> k_, v_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_MODEL_PAGED_KV_CACHE_H_
